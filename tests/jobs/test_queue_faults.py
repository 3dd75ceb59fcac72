"""Faults around the job queue, over real processes: nothing lost, nothing stuck in processing."""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from uuid import uuid4

import httpx
import pytest

from backend.codes import now_brasilia
from tests.conftest import free_port, start_redis
from tests.fakes.openai_server import FakeOpenAI, answer, invalid_json, server_error, slow
from tests.servers import Server, queue_healthy, running_server, server_env, wait_for
from tests.sse import collect

SUMMARY = {"resumo_executivo": "Resumo do modelo.", "destaques": ["Um destaque"], "alerta_urgencia": None}


def search_body() -> dict:
    today = now_brasilia().date()  # Brasília's day when the search is made
    return {"search_id": str(uuid4()), "ufs": ["SP", "RJ"], "data_inicial": str(today - timedelta(days=10)),
            "data_final": str(today), "setor_id": "alimentos"}


@pytest.fixture
def llm():
    with FakeOpenAI(api_key="sk-test") as fake:
        yield fake


def env_for(tmp_path: Path, redis_url: str, llm: FakeOpenAI, **extra: str) -> dict[str, str]:
    return server_env(
        tmp_path, redis_url, OPENAI_API_KEY="sk-test", OPENAI_BASE_URL=llm.base_url,
        WORKER_HEALTH_INTERVAL="1", JOB_RETRY_BACKOFF="0.2", **extra,
    )


def status(server: Server, search_id: str) -> dict:
    return httpx.get(f"{server.url}/v1/buscar/{search_id}/status", timeout=5).json()


def settled(server: Server, search_id: str) -> dict | None:
    current = status(server, search_id)
    return current if "processing" not in (current["llm_status"], current["excel_status"]) else None


def job_started_in(servers: list[Server], job_id: str) -> Server | None:
    for server in servers:
        if re.search(rf"→ {re.escape(job_id)}:", server.log()):
            return server
    return None


def test_kill_9_of_the_process_running_a_job(tmp_path, redis_url, llm) -> None:
    llm.script([slow(60, answer(SUMMARY))])  # the first attempt hangs in whichever process takes it
    # ARQ hands a job on once its in-progress key expires: the longest job timeout + 5 + 10 s.
    env = env_for(tmp_path, redis_url, llm, LLM_JOB_TIMEOUT="3", EXCEL_JOB_TIMEOUT="3")
    with running_server(env, tmp_path / "a.log") as a, running_server(env, tmp_path / "b.log") as b:
        wait_for(lambda: queue_healthy(a), 10, "a worker")
        body = search_body()
        assert httpx.post(f"{a.url}/v1/buscar", json=body, timeout=60).json()["processamento"] == "fila"
        victim = wait_for(lambda: job_started_in([a, b], f"llm:{body['search_id']}"), 10, "the job to start")
        survivor = b if victim is a else a
        os.kill(victim.process.pid, signal.SIGKILL)

        final = wait_for(lambda: settled(survivor, body["search_id"]), 45, "the job to finish elsewhere")
        assert final["llm_status"] == "ready" and final["resumo"]["origem"] == "llm"
        assert final["excel_status"] == "ready"
        code, events = collect(f"{survivor.url}/v1/buscar-progress/{body['search_id']}")
        assert code == 200 and events[-1].stage == "complete"


def sigterm_during_a_job(env: dict[str, str], log: Path) -> tuple[dict, str]:
    """Starts a server, runs a search, sends SIGTERM while its summary job runs; returns the
    search and the server's log once it has exited."""
    with running_server(env, log) as server:
        wait_for(lambda: queue_healthy(server), 10, "a worker")
        body = search_body()
        httpx.post(f"{server.url}/v1/buscar", json=body, timeout=60)
        wait_for(lambda: job_started_in([server], f"llm:{body['search_id']}"), 10, "the job to start")
        server.process.send_signal(signal.SIGTERM)
        # uvicorn re-raises the signal once it has shut down cleanly.
        assert server.process.wait(timeout=30) in (0, -signal.SIGTERM)
        assert "embedded worker stopped" in server.log()  # the lifespan's shutdown ran
        return body, server.log()


def test_sigterm_drains_a_running_job(tmp_path, redis_url, llm) -> None:
    llm.script([slow(2, answer(SUMMARY))])
    env = env_for(tmp_path, redis_url, llm, WORKER_DRAIN_SECONDS="15")
    body, _ = sigterm_during_a_job(env, tmp_path / "a.log")
    # The process finished the summary's job before it left, and handed the report on to the queue.
    with running_server({**env, "EMBEDDED_WORKER": "false"}, tmp_path / "check.log") as check:
        status = httpx.get(f"{check.url}/v1/buscar/{body['search_id']}/status").json()
    assert status["llm_status"] == "ready" and status["resumo"]["origem"] == "llm"
    import redis as redis_py

    client = redis_py.Redis.from_url(redis_url)
    try:
        assert client.zscore("smartlic:queue", f"excel:{body['search_id']}") is not None
    finally:
        client.close()
    with running_server(env, tmp_path / "b.log") as b:  # the next process builds it
        final = wait_for(lambda: settled(b, body["search_id"]), 30, "the report")
    assert final["excel_status"] == "ready"


def test_sigterm_hands_back_a_job_that_outlives_the_drain(tmp_path, redis_url, llm) -> None:
    llm.script([slow(30, answer(SUMMARY))])
    env = env_for(tmp_path, redis_url, llm, WORKER_DRAIN_SECONDS="1", LLM_JOB_TIMEOUT="20")
    body, log = sigterm_during_a_job(env, tmp_path / "a.log")
    assert "cancelled, will be run again" in log
    # The job went back to the queue: the next process runs it.
    with running_server(env, tmp_path / "b.log") as b:
        final = wait_for(lambda: settled(b, body["search_id"]), 30, "the handed-back job")
    assert final["llm_status"] == "ready" and final["resumo"]["origem"] == "llm"


def outage_seen(server: Server) -> bool:
    """The web process counts the queue unavailable and its embedded worker has stopped."""
    health = httpx.get(f"{server.url}/v1/health", timeout=5).json()
    return health["queue"] == "unavailable" and health["worker"]["running"] is False


def test_redis_stopped_during_a_burst_loses_nothing(tmp_path, llm) -> None:
    """Redis goes away in the middle of a burst of searches, while the first queued search's
    summary job is asking the model (so the report job it queues next is lost; searches queued
    behind it wait their turn, one job at a time, and their jobs are lost with Redis); it comes
    back, empty, once the service has noticed. Every search ends with its summary and its report
    ready: inline, by its jobs, or by the recovery job for what the lost jobs did not produce."""
    port = free_port()
    redis = start_redis(port, tmp_path)
    llm.latency = 1.0  # a summary job asks the model for a second
    # A search stalled for twice STALLED_SEARCH_SECONDS while the queue is unavailable is settled
    # with its report failed (the deadline, so every page ends): this outage ends well before.
    env = env_for(tmp_path, f"redis://127.0.0.1:{port}/0", llm, STALLED_SEARCH_SECONDS="5", WORKER_MAX_JOBS="1")
    try:
        with running_server(env, tmp_path / "a.log") as a:
            wait_for(lambda: queue_healthy(a), 10, "a worker")
            bodies = [search_body() for _ in range(8)]
            first_redis, stopped, lock = redis, threading.Event(), threading.Lock()

            def search(body: dict) -> httpx.Response:
                answer = httpx.post(f"{a.url}/v1/buscar", json=body, timeout=60)
                with lock:
                    if not stopped.is_set() and answer.json().get("processamento") == "fila":
                        wait_for(lambda: job_started_in([a], f"llm:{body['search_id']}"), 10, "its summary job")
                        first_redis.terminate()  # the outage begins
                        first_redis.wait()
                        stopped.set()
                return answer

            with ThreadPoolExecutor(4) as pool:
                running = [pool.submit(search, body) for body in bodies]
                assert stopped.wait(60), "no search of the burst was queued"
                wait_for(lambda: "could not queue its report" in a.log() and outage_seen(a), 15,
                         "the running summary job to lose its report's job, and the service to notice the outage")
                redis = start_redis(port, tmp_path)  # back, empty: the queued jobs were lost with it
                answers = [future.result() for future in running]
            # Every search answered with its results, Redis or not.
            assert [r.status_code for r in answers] == [200] * len(bodies)
            assert all(r.json()["total_filtrado"] > 0 for r in answers)

            health = wait_for(lambda: queue_healthy(a) and httpx.get(f"{a.url}/v1/health").json(), 40,
                              "the embedded worker to come back")
            assert health["worker"]["running"] is True and health["worker"]["restarts"] >= 1
            # Nothing lost: what the lost jobs did not produce, the recovery job does.
            for body in bodies:
                final = wait_for(lambda b=body: settled(a, b["search_id"]), 60, "every search to settle")
                assert final["llm_status"] == "ready" and final["resumo"] is not None, final
                assert final["excel_status"] == "ready", final
            assert "stalled; finishing it here" in a.log()
    finally:
        redis.terminate()
        redis.wait(timeout=10)


def test_redis_flushed_while_jobs_are_queued(tmp_path, redis_url, llm) -> None:
    import redis as redis_py

    llm.latency = 1.0
    env = env_for(tmp_path, redis_url, llm, STALLED_SEARCH_SECONDS="3", WORKER_MAX_JOBS="1")
    with running_server(env, tmp_path / "server.log") as server:
        wait_for(lambda: queue_healthy(server), 10, "the embedded worker")
        bodies = [search_body() for _ in range(4)]
        for body in bodies:  # 8 jobs, one at a time: most are still queued
            assert httpx.post(f"{server.url}/v1/buscar", json=body, timeout=60).json()["processamento"] == "fila"
        client = redis_py.Redis.from_url(redis_url)
        try:
            assert client.zcard("smartlic:queue") >= 4
            client.flushall()
        finally:
            client.close()
        for body in bodies:
            final = wait_for(lambda b=body: settled(server, b["search_id"]), 60, "every search to settle")
            assert final["resumo"] is not None and final["excel_status"] == "ready"
            status_code, events = collect(f"{server.url}/v1/buscar-progress/{body['search_id']}", timeout=30)
            stages = [e.stage for e in events]
            # Settled once each, whichever path finished it.
            assert status_code == 200 and stages.count("complete") == 1, stages
            assert stages.count("llm_ready") == 1 and stages.count("excel_ready") == 1, stages


def test_database_refusing_connections_during_the_jobs(tmp_path, redis_url, llm, postgres_url) -> None:
    from tests.fakes.tcp_proxy import TcpProxy

    target = httpx.URL(postgres_url.replace("postgresql://", "http://", 1))
    llm.latency = 1.5  # the summary is still being written when the database goes
    with TcpProxy(target.host, target.port or 5432) as proxy:
        database = postgres_url.replace(f":{target.port}/", f":{proxy.port}/", 1)
        env = {**env_for(tmp_path, redis_url, llm, DATABASE_URL=database), "JOB_RETRY_BACKOFF": "1"}
        with running_server(env, tmp_path / "server.log") as server:
            wait_for(lambda: queue_healthy(server), 10, "the embedded worker")
            body = search_body()
            answer = httpx.post(f"{server.url}/v1/buscar", json=body, timeout=60).json()
            assert answer["processamento"] == "fila" and answer["total_filtrado"] > 0
            wait_for(lambda: llm.requests, 10, "the summary job to ask the model")
            proxy.refuse()  # while the model is still writing the summary
            time.sleep(3)  # a sleep: the database refusing connections for 3 s is the fault under test
            proxy.accept()
            final = wait_for(lambda: settled(server, body["search_id"]), 60, "the search to settle")
            _, events = collect(f"{server.url}/v1/buscar-progress/{body['search_id']}", timeout=30)
            log = server.log()
    assert final["resumo"]["origem"] == "llm" and final["excel_status"] == "ready"  # nothing given up
    stages = [e.stage for e in events]
    assert stages.count("complete") == 1 and stages.count("llm_ready") == 1, stages
    assert re.search(r"llm:\S+ attempt 1/3 failed", log), log[-3000:]  # it waited for the database


def test_pncp_failing_for_some_ufs_over_gunicorn(tmp_path, redis_url, llm) -> None:
    from tests.fakes.pncp import FakePNCP, db_error_500, hang, maintenance_page, rate_limited

    with FakePNCP() as pncp:  # the demo records, with four UFs broken in four ways
        attempts = 4 * 2  # 4 modalidades x (first try + 1 retry)
        pncp.script([rate_limited()] * attempts, uf="RJ")
        pncp.script([db_error_500()] * attempts, uf="BA")
        pncp.script([maintenance_page(200)] * attempts, uf="MG")
        pncp.script([hang(5)] * attempts, uf="PR")
        env = env_for(tmp_path, redis_url, llm, PNCP_BASE_URL=pncp.base_url, PNCP_MAX_RETRIES="1",
                      PNCP_TIMEOUT="1", PNCP_BACKOFF_BASE="0.05", PNCP_BACKOFF_MAX="0.1", WEB_CONCURRENCY="2")
        with running_server(env, tmp_path / "server.log", gunicorn=True) as server:
            body = {**search_body(), "ufs": ["SP", "RJ", "BA", "MG", "PR"]}
            answer = httpx.post(f"{server.url}/v1/buscar", json=body, timeout=60)
            final = wait_for(lambda: settled(server, body["search_id"]), 60, "the search to settle")
            _, events = collect(f"{server.url}/v1/buscar-progress/{body['search_id']}", timeout=30)
    assert answer.status_code == 200
    data = answer.json()
    failed = {f["uf"]: f["mensagem"] for f in data["ufs_com_falha"]}
    assert set(failed) == {"RJ", "BA", "MG", "PR"}, failed
    assert "429" in failed["RJ"] and "HTTP 500" in failed["BA"] and "JSON" in failed["MG"]
    assert "não respondeu" in failed["PR"]
    assert data["total_filtrado"] > 0 and {item["uf"] for item in data["licitacoes"]} == {"SP"}
    assert final["resumo"] is not None and final["excel_status"] == "ready"
    assert [e.stage for e in events].count("complete") == 1


def test_llm_slow_then_failing_then_invalid_ends_with_the_summary_from_the_data(tmp_path, redis_url, llm) -> None:
    llm.script([slow(3, answer(SUMMARY)), server_error(), invalid_json()])  # one fault per attempt
    env = env_for(tmp_path, redis_url, llm, LLM_JOB_TIMEOUT="1", WEB_CONCURRENCY="2")
    with running_server(env, tmp_path / "server.log", gunicorn=True) as server:
        body = search_body()
        assert httpx.post(f"{server.url}/v1/buscar", json=body, timeout=60).json()["processamento"] == "fila"
        final = wait_for(lambda: settled(server, body["search_id"]), 60, "the search to settle")
        log = server.log()
    assert len(llm.requests) == 3  # every attempt asked the model
    assert final["resumo"]["origem"] == "fallback" and final["resumo"]["total_oportunidades"] > 0
    assert final["excel_status"] == "ready"
    assert len(re.findall(r"llm:\S+ attempt [12]/3 failed", log)) == 2 and "attempt 3/3 failed" in log


def test_storage_slow_then_failing_then_back_over_gunicorn(tmp_path, redis_url, llm) -> None:
    from tests.fakes import supabase_storage as storage_fake

    with storage_fake.FakeSupabaseStorage(key="service-role") as storage:
        storage.script([storage_fake.slow(3), storage_fake.server_error(503)], op="upload")
        env = env_for(tmp_path, redis_url, llm, SUPABASE_URL=storage.url, SUPABASE_SERVICE_ROLE_KEY="service-role",
                      EXCEL_JOB_TIMEOUT="1", WEB_CONCURRENCY="2")
        with running_server(env, tmp_path / "server.log", gunicorn=True) as server:
            body = search_body()
            answer = httpx.post(f"{server.url}/v1/buscar", json=body, timeout=60).json()
            assert answer["processamento"] == "fila"
            final = wait_for(lambda: settled(server, body["search_id"]), 60, "the search to settle")
            download = httpx.get(final["excel_url"], timeout=10)
            log = server.log()
        uploads = [r for r in storage.requests if r.op in ("upload", "update")]
    assert final["excel_status"] == "ready" and download.status_code == 200  # the third attempt got through
    assert len(uploads) == 3
    assert len(re.findall(r"excel:\S+ attempt [12]/3 failed", log)) == 2
