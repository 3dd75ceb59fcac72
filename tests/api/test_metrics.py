"""GET /metrics counts what happened, added up over gunicorn's processes."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from uuid import uuid4

import httpx
from prometheus_client.parser import text_string_to_metric_families

from backend.adapters.queue_client import JobQueue, get_arq_pool
from backend.codes import now_brasilia
from backend.config import Settings
from tests.fakes.openai_server import FakeOpenAI, server_error
from tests.servers import queue_healthy, running_server, server_env, wait_for
from tests.sse import collect


def search_body() -> dict:
    today = now_brasilia().date()  # Brasília's day when the search is made
    return {"search_id": str(uuid4()), "ufs": ["SP"], "data_inicial": str(today - timedelta(days=10)),
            "data_final": str(today), "setor_id": "alimentos"}


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = tuple(sorted((k, v) for k, v in sample.labels.items() if k != "pid"))
            found[(sample.name, labels)] = found.get((sample.name, labels), 0.0) + sample.value
    return found


def value(found: dict, name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_add_up_over_two_gunicorn_processes(tmp_path: Path, redis_url: str) -> None:
    with FakeOpenAI(api_key="sk-test", latency=0.5) as llm:
        llm.script([server_error()])  # the first summary attempt fails once, then is retried
        env = {**server_env(tmp_path, redis_url, OPENAI_API_KEY="sk-test", OPENAI_BASE_URL=llm.base_url,
                            JOB_RETRY_BACKOFF="0.2"), "WEB_CONCURRENCY": "2", "WORKER_MAX_JOBS": "2"}
        with running_server(env, tmp_path / "server.log", gunicorn=True) as server:
            wait_for(lambda: queue_healthy(server), 10, "the embedded workers")

            def search(_: int) -> str:
                body = search_body()
                with httpx.Client(base_url=server.url, timeout=60) as client:  # either process
                    assert client.post("/v1/buscar", json=body).json()["processamento"] == "fila"
                status, events = collect(f"{server.url}/v1/buscar-progress/{body['search_id']}", timeout=60)
                assert status == 200 and events[-1].stage == "complete"
                return body["search_id"]

            with ThreadPoolExecutor(4) as pool:
                list(pool.map(search, range(4)))

            def attempts_accounted() -> bool:  # a job's attempt is counted just after it sends its event
                found = samples(httpx.get(f"{server.url}/metrics", timeout=10).text)
                return sum(value(found, "smartlic_job_seconds_count", job=job) for job in ("llm", "excel")) >= 9

            wait_for(attempts_accounted, 10, "every job attempt to be counted")
            scrapes = []
            for _ in range(4):  # fresh connections: every process answers the same totals
                with httpx.Client(base_url=server.url, timeout=10) as client:
                    answer = client.get("/metrics")
                    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
                    scrapes.append(samples(answer.text))
            log = server.log()
    pids = {line.split("pid: ")[1] for line in log.splitlines() if "Booting worker with pid:" in line}
    assert len(pids) == 2
    for scrape in scrapes:  # read from Redis at each scrape, the rest added up from the processes
        # None of the searches' jobs is left waiting: at most the next runs of the three cron jobs.
        assert scrape.pop(("smartlic_queue_depth", ())) <= 3
    found = scrapes[0]
    assert all(s == found for s in scrapes[1:])
    assert value(found, "smartlic_searches_total", mode="fila") == 4
    assert value(found, "smartlic_searches_total", mode="inline") == 0
    assert value(found, "smartlic_search_stage_seconds_count", stage="fetch") == 4
    for job in ("llm", "excel"):
        assert value(found, "smartlic_jobs_total", job=job, event="enqueued") == 4
    assert value(found, "smartlic_jobs_total", job="llm", event="started") == 5
    assert value(found, "smartlic_jobs_total", job="llm", event="retried") == 1
    assert value(found, "smartlic_jobs_total", job="llm", event="succeeded") == 4
    assert value(found, "smartlic_jobs_total", job="llm", event="fallback") == 0
    assert value(found, "smartlic_jobs_total", job="excel", event="succeeded") == 4
    assert value(found, "smartlic_job_seconds_count", job="llm") == 5
    assert value(found, "smartlic_job_pickup_seconds_count", job="excel") == 4
    assert value(found, "smartlic_jobs_in_flight", job="llm") == 0
    assert value(found, "smartlic_sse_clients") == 0
    # PNCP: every request counted by who asked and how it ended, each after its turn in the budget.
    asked = {outcome: value(found, "smartlic_pncp_requests_total", caller="search", outcome=outcome)
             for outcome in ("ok", "empty", "rate_limited", "server_error", "unreachable", "invalid", "rejected")}
    assert asked["ok"] >= 4 and sum(asked.values()) == asked["ok"] + asked["empty"]  # the demo never fails
    assert value(found, "smartlic_pncp_pacer_wait_seconds_count", caller="search") == sum(asked.values())
    assert value(found, "smartlic_pncp_requests_total", caller="ingestion", outcome="ok") == 0  # INDEX_DAYS=0


async def enqueue_jobs(settings: Settings, count: int) -> None:
    """`count` jobs queued as a search queues them, with nobody to run them."""
    pool = get_arq_pool(settings)
    try:
        queue = JobQueue(pool, "no-worker")
        for n in range(count):
            assert await queue.enqueue_job("llm_summary_job", f"s{n}", [], "Alimentos", job_id=f"llm:s{n}")
    finally:
        await pool.aclose()


def test_searches_without_a_worker_count_as_inline_fallbacks(tmp_path: Path, redis_url: str, make_settings) -> None:
    env = server_env(tmp_path, redis_url, EMBEDDED_WORKER="false")
    with running_server(env, tmp_path / "server.log") as server:
        for _ in range(2):
            answer = httpx.post(f"{server.url}/v1/buscar", json=search_body(), timeout=60).json()
            assert answer["processamento"] == "inline"
        found = samples(httpx.get(f"{server.url}/metrics").text)
        asyncio.run(enqueue_jobs(make_settings(), 3))  # waiting: no worker runs them
        waiting = samples(httpx.get(f"{server.url}/metrics").text)
    assert value(found, "smartlic_searches_total", mode="inline") == 2
    assert value(found, "smartlic_inline_fallbacks_total", reason="queue_unavailable") == 2
    assert value(found, "smartlic_search_stage_seconds_count", stage="excel") == 2
    assert value(found, "smartlic_queue_depth") == 0  # the searches queued nothing
    assert value(waiting, "smartlic_queue_depth") == 3  # read from the queue at the scrape
