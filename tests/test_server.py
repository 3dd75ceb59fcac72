"""The real server as ops run it: ./start.sh web (gunicorn, two uvicorn processes, each with its
embedded ARQ worker), and the separate-worker mode."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from uuid import uuid4

import httpx
import pytest

from backend.api.health import AUTH_OFF
from backend.codes import now_brasilia
from tests.conftest import free_port
from tests.fakes.openai_server import FakeOpenAI, answer, slow
from tests.servers import ROOT, queue_healthy, running_server, server_env, wait_for
from tests.sse import collect


def search_body() -> dict:
    today = now_brasilia().date()  # Brasília's day when the search is made
    return {"search_id": str(uuid4()), "ufs": ["SP", "MG", "BA"], "data_inicial": str(today - timedelta(days=10)),
            "data_final": str(today), "setor_id": "alimentos"}


def follow_to_the_end(url: str, search_id: str) -> dict[str, dict]:
    """Every stage of the search from a fresh connection (either process may serve it)."""
    status, events = collect(f"{url}/v1/buscar-progress/{search_id}", timeout=60)
    assert status == 200
    stages = [e.stage for e in events]
    assert stages[-1] == "complete" and {"results_ready", "llm_ready", "excel_ready"} <= set(stages), stages
    return {e.stage: e.data for e in events}


def run_one_search(url: str) -> None:
    body = search_body()
    answer = httpx.post(f"{url}/v1/buscar", json=body, timeout=60).json()
    assert answer["total_filtrado"] > 0 and answer["processamento"] == "fila"
    assert (answer["llm_status"], answer["excel_status"]) == ("processing", "processing")
    assert answer["resumo"]["origem"] == "fallback"  # provisional, from the data
    assert {"fetch", "filter", "persist", "enqueue"} <= set(answer["tempos_ms"])
    stages = follow_to_the_end(url, body["search_id"])
    assert stages["llm_ready"]["detail"]["resumo"]["origem"] == "llm"
    link = stages["excel_ready"]["detail"]["download_url"]
    for _ in range(4):  # fresh connections: both processes serve the report (one signing key)
        with httpx.Client(base_url=url, timeout=10) as fresh:
            assert fresh.get(link).status_code == 200


def test_gunicorn_runs_jobs_in_both_processes_and_any_process_streams_them(tmp_path: Path, redis_url: str) -> None:
    # 16 jobs at once, each summary taking 1 s, two job slots per process: one process alone
    # cannot hold them all, so both take part whichever wakes first.
    with FakeOpenAI(api_key="sk-test", latency=1.0) as llm:
        env = {**server_env(tmp_path, redis_url), "WEB_CONCURRENCY": "2", "WORKER_MAX_JOBS": "2",
               "OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": llm.base_url}
        with running_server(env, tmp_path / "server.log", gunicorn=True) as server:
            wait_for(lambda: queue_healthy(server), 10, "the embedded workers")
            with ThreadPoolExecutor(8) as pool:
                list(pool.map(lambda _: run_one_search(server.url), range(8)))
            log = server.log()
    worker_pids = set(re.findall(r"Booting worker with pid: (\d+)", log))
    finished = r"\[(\d+)\] INFO arq\.worker: +[\d.]+s ← (?:llm|excel):\S+:(?:llm_summary_job|excel_generation_job)"
    job_pids = set(re.findall(finished, log))
    assert len(worker_pids) == 2
    assert job_pids == worker_pids, (job_pids, worker_pids)  # jobs ran in both processes
    assert server.process.returncode == 0


def test_separate_worker_process(tmp_path: Path, redis_url: str) -> None:
    env = {**server_env(tmp_path, redis_url), "EMBEDDED_WORKER": "false", "OPS_TOKEN": "ops"}
    with running_server(env, tmp_path / "web.log") as web:
        health = httpx.get(f"{web.url}/v1/health").json()
        assert health["queue"] == "unavailable" and health["worker"]["mode"] == "separate"
        inline = httpx.post(f"{web.url}/v1/buscar", json=search_body(), timeout=60).json()
        assert inline["processamento"] == "inline" and inline["excel_status"] == "ready"

        log = (tmp_path / "worker.log").open("wb")
        metrics_port = free_port()
        worker_env = {**os.environ, **env, "WORKER_METRICS_PORT": str(metrics_port)}
        worker_env.pop("PROMETHEUS_MULTIPROC_DIR")  # its own process, its own registry
        worker = subprocess.Popen(
            [sys.executable, "-m", "arq", "backend.job_queue.WorkerSettings"],
            cwd=ROOT, env=worker_env, stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            wait_for(lambda: queue_healthy(web), 10, "the separate worker")
            body = search_body()
            queued = httpx.post(f"{web.url}/v1/buscar", json=body, timeout=60).json()
            assert queued["processamento"] == "fila"
            stages = follow_to_the_end(web.url, body["search_id"])
            assert stages["llm_ready"]["detail"]["resumo"]["total_oportunidades"] == queued["total_filtrado"]
            ops = httpx.get(f"{web.url}/ops/data", params={"token": "ops"}).json()
            assert [w["mode"] for w in ops["workers"]] == ["separate"]  # the web process runs none
            assert {j["job_id"] for j in ops["jobs"]} >= {f"llm:{body['search_id']}", f"excel:{body['search_id']}"}
            scraped = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text
            assert 'smartlic_jobs_total{event="succeeded",job="excel"} 1.0' in scraped
        finally:
            worker.terminate()
            assert worker.wait(timeout=30) == 0
            log.close()
    assert "excel_generation_job" in (tmp_path / "worker.log").read_text()


def test_replyleaves_before_the_jobs_finish(tmp_path: Path, redis_url: str) -> None:
    summary = {"resumo_executivo": "Resumo do modelo.", "destaques": ["Um destaque"], "alerta_urgencia": None}
    with FakeOpenAI(api_key="sk-test") as llm:
        llm.script([slow(3, answer(summary))])
        env = {**server_env(tmp_path, redis_url), "OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": llm.base_url}
        with running_server(env, tmp_path / "server.log") as server:
            wait_for(lambda: queue_healthy(server), 10, "the embedded worker")
            body = search_body()
            reply = httpx.post(f"{server.url}/v1/buscar", json=body, timeout=60).json()
            assert reply["processamento"] == "fila" and reply["llm_status"] == "processing"
            # The summary is still being written when the answer is already here.
            status = httpx.get(f"{server.url}/v1/buscar/{body['search_id']}/status").json()
            assert status["llm_status"] == "processing"
            stages = follow_to_the_end(server.url, body["search_id"])
    assert stages["llm_ready"]["detail"]["resumo"]["resumo_executivo"] == "Resumo do modelo."
    assert stages["llm_ready"]["detail"]["resumo"]["total_oportunidades"] == reply["total_filtrado"]


def queued_search_reaches_both_outputs(url: str) -> None:
    """A search queued for the embedded worker whose summary and report arrive over SSE."""
    wait_for(lambda: queue_healthy_at(url), 20, "the embedded worker")
    body = search_body()
    answer = httpx.post(f"{url}/v1/buscar", json=body, timeout=60).json()
    assert answer["processamento"] == "fila" and answer["total_filtrado"] > 0
    stages = follow_to_the_end(url, body["search_id"])
    assert stages["llm_ready"]["detail"]["resumo"]["total_oportunidades"] == answer["total_filtrado"]
    assert stages["excel_ready"]["detail"]["download_url"]


def queue_healthy_at(url: str) -> bool:
    try:
        return httpx.get(f"{url}/v1/health", timeout=2).json()["queue"] == "healthy"
    except httpx.HTTPError:
        return False


@pytest.mark.parametrize("where", ["root", "backend", "reload"])
def test_uvicorn_main_app_runs_the_service_with_its_worker(tmp_path: Path, redis_url: str, where: str) -> None:
    """`uvicorn backend.main:app` (root), `uvicorn main:app` (in backend/), and with --reload, with
    AUTH_MODE=off: searches, summaries and reports without signing in."""
    arguments, cwd = {
        "root": (["backend.main:app"], ROOT),
        "backend": (["main:app"], ROOT / "backend"),
        "reload": (["backend.main:app", "--reload", "--reload-dir", "backend"], ROOT),
    }[where]
    env = server_env(tmp_path, redis_url, AUTH_MODE="off")  # no sign-in: development and demo
    with running_server(env, tmp_path / "server.log", uvicorn=arguments, cwd=cwd) as server:
        assert AUTH_OFF in httpx.get(f"{server.url}/v1/health", timeout=5).json()["avisos"]
        queued_search_reaches_both_outputs(server.url)
    assert not (ROOT / "backend" / "var").exists()  # DATABASE_URL and STORAGE_DIR were given: nothing left there


def _enqueue(redis_url: str, function: str, *args: object, job_id: str) -> None:
    import asyncio

    from backend.adapters.queue_client import get_arq_pool
    from backend.config import Settings

    async def enqueue() -> None:
        pool = get_arq_pool(Settings(_env_file=None, redis_url=redis_url))
        try:
            await pool.enqueue_job(function, *args, _job_id=job_id)
        finally:
            await pool.aclose()

    asyncio.run(enqueue())


def test_a_worker_on_another_database_is_named_and_searches_run_inline(tmp_path: Path, redis_url: str) -> None:
    env = {**server_env(tmp_path, redis_url), "EMBEDDED_WORKER": "false", "OPS_TOKEN": "ops",
           "WORKER_HEALTH_INTERVAL": "1"}
    worker_env = {**os.environ, **env, "DATABASE_URL": f"sqlite:///{tmp_path / 'worker.db'}"}  # a second service's
    worker_env.pop("PROMETHEUS_MULTIPROC_DIR")
    with running_server(env, tmp_path / "web.log") as web:
        log = (tmp_path / "worker.log").open("wb")
        worker = subprocess.Popen([sys.executable, "-m", "arq", "backend.job_queue.WorkerSettings"],
                                  cwd=ROOT, env=worker_env, stdout=log, stderr=subprocess.STDOUT)
        try:
            health = wait_for(lambda: ((h := httpx.get(f"{web.url}/v1/health").json())["live_workers"] or {})
                              .get("other_database") and h, 20,
                              "the health check to name the worker on another database")
            assert health["status"] == "degraded" and health["queue"] == "unavailable"
            assert health["live_workers"] == {"same_database": 0, "other_database": 1}
            assert "outro banco de dados" in health["avisos"][0]
            ops = httpx.get(f"{web.url}/ops", params={"token": "ops"}).text
            assert "OUTRO" in ops and "DATABASE_URL diferente" in ops

            body = search_body()
            answer = httpx.post(f"{web.url}/v1/buscar", json=body, timeout=60).json()
            assert answer["processamento"] == "inline"  # never queued for a worker that cannot see it
            assert answer["llm_status"] == "ready" and answer["excel_status"] == "ready"

            # A job queued for it all the same (by a process that did not check) fails, and says why.
            sid = body["search_id"]
            _enqueue(redis_url, "llm_summary_job", sid, [], "Alimentos", job_id=f"llm:{sid}")
            wait_for(lambda: "is not in this worker's database" in (tmp_path / "worker.log").read_text(), 20,
                     "the worker's error line")
        finally:
            worker.terminate()
            assert worker.wait(timeout=30) == 0
            log.close()
    line = next(li for li in (tmp_path / "worker.log").read_text().splitlines() if "not in this worker's" in li)
    assert "ERROR" in line and "DATABASE_URL the same as the web service's" in line


def test_a_search_orphaned_on_purpose_settles_by_its_deadline(tmp_path: Path, redis_url: str) -> None:
    """A search left processing with nobody to finish it (here: written straight into the database,
    as a process that died after storing its results would leave it): the web process settles it."""
    import asyncio

    from backend.store.search_cache import SearchCache

    env = {**server_env(tmp_path, redis_url), "EMBEDDED_WORKER": "false", "STALLED_SEARCH_SECONDS": "1"}
    with running_server(env, tmp_path / "web.log") as web:
        sid = uuid4()

        async def orphan() -> None:
            store = SearchCache.from_url(env["DATABASE_URL"])
            try:
                await store.save_results(sid, request=search_body(), setor_id="alimentos", total_raw=0,
                                         licitacoes=[], ufs_com_falha=[], avisos=[])
            finally:
                await store.close()

        asyncio.run(orphan())
        status = wait_for(
            lambda: (s := httpx.get(f"{web.url}/v1/buscar/{sid}/status").json())["excel_status"] != "processing" and s,
            30, "the orphaned search to settle",
        )
        _, events = collect(f"{web.url}/v1/buscar-progress/{sid}", timeout=30)
    assert status["llm_status"] == "ready" and status["resumo"]["origem"] == "fallback"
    assert status["excel_status"] == "failed" and status["excel_error"]
    assert [e.stage for e in events][-1] == "complete"


def test_sixty_people_searching_at_once_are_all_queued(tmp_path: Path, redis_url: str) -> None:
    """Sixty searches at once (each opening its progress stream, then posting) on gunicorn with two
    processes and a live worker in each: every one is queued, every stream reaches `complete`."""
    with FakeOpenAI(api_key="sk-test", latency=1.0) as llm:
        env = {**server_env(tmp_path, redis_url), "WEB_CONCURRENCY": "2", "OPENAI_API_KEY": "sk-test",
               "OPENAI_BASE_URL": llm.base_url}
        with running_server(env, tmp_path / "server.log", gunicorn=True) as server:
            wait_for(lambda: queue_healthy(server), 20, "the embedded workers")

            def person(_: int) -> tuple[str, list[str]]:
                body = {**search_body(), "ufs": ["SP"]}
                with ThreadPoolExecutor(1) as stream:
                    events = stream.submit(collect, f"{server.url}/v1/buscar-progress/{body['search_id']}",
                                           timeout=120)
                    answer = httpx.post(f"{server.url}/v1/buscar", json=body, timeout=120).json()
                    status, received = events.result()
                assert status == 200
                return answer["processamento"], [e.stage for e in received]

            with ThreadPoolExecutor(60) as pool:
                outcomes = list(pool.map(person, range(60)))
    modes = [mode for mode, _ in outcomes]
    assert modes.count("fila") == 60, modes
    for _, stages in outcomes:
        assert stages[-1] == "complete" and {"llm_ready", "excel_ready"} <= set(stages), stages
