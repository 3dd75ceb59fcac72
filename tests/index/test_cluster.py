"""The index and the PNCP budget across real processes: two servers share one rate limit, a 429
pauses both, and the ingestion of a process killed with -9 is taken over and resumes."""

from __future__ import annotations

import sqlite3
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from backend.codes import now_brasilia
from tests.fakes.pncp import FakePNCP, rate_limited
from tests.servers import running_server, running_servers, server_env, wait_for

RATE = 8  # requests per second for the whole cluster
PAUSE = 2  # the 429's Retry-After


def arrivals_per_second(fake: FakePNCP) -> int:
    """The most requests the double received within any one second."""
    times = sorted(r.started for r in fake.requests)
    most, first = 0, 0
    for last, moment in enumerate(times):
        while moment - times[first] >= 1.0:
            first += 1
        most = max(most, last - first + 1)
    return most


def search(url: str, ufs: list[str]) -> dict[str, Any]:
    today = now_brasilia().date()  # Brasília's day when the search is made
    body = {"ufs": ufs, "data_inicial": str(today - timedelta(days=2)), "data_final": str(today),
            "setor_id": "software", "somente_abertas": False}
    response = httpx.post(f"{url}/v1/buscar", json=body, timeout=120)
    assert response.status_code == 200, response.text
    return response.json()


def test_two_processes_share_one_pncp_budget_and_a_429_pauses_both(tmp_path: Path, redis_url: str) -> None:
    with FakePNCP(latency=0.02) as fake:
        fake.script(rate_limited(retry_after=PAUSE), uf="MG", modalidade=6)  # one 429, to whichever process asks
        env = server_env(tmp_path, redis_url, PNCP_BASE_URL=fake.base_url, PNCP_RATE_LIMIT=f"{RATE}/second",
                         EMBEDDED_WORKER="false")
        with running_servers([env, env], tmp_path) as servers:
            with ThreadPoolExecutor(4) as pool:
                answers = list(pool.map(lambda job: search(*job), [
                    (servers[0].url, ["SP", "RJ"]), (servers[1].url, ["MG", "BA"]),
                    (servers[0].url, ["PR", "SC"]), (servers[1].url, ["RS", "GO"]),
                ]))
    requests = fake.requests
    assert all(a["fonte"] == "pncp" and not a["ufs_com_falha"] for a in answers)  # the 429 was retried, paced
    # Each process alone may send RATE a second; together they still do (one slot of jitter allowed).
    assert len(requests) >= 4 * RATE
    assert arrivals_per_second(fake) <= RATE + 1
    span = max(r.started for r in requests) - min(r.started for r in requests)
    assert span >= (len(requests) - 2) / RATE  # paced, not merely few
    [limited] = [r for r in requests if r.status == 429]
    assert limited.finished is not None
    # No process sent anything while the cluster was paused (requests already on their way excepted).
    during_pause = [r for r in requests
                    if limited.finished + 0.3 < r.started < limited.finished + PAUSE - 0.1]
    assert during_pause == []


def test_ingestion_of_a_killed_process_is_taken_over_and_resumes(tmp_path: Path, redis_url: str) -> None:
    database = tmp_path / "smartlic.db"
    first_day = now_brasilia().date()  # Brasília's day when the test starts (it may end on the next)
    with FakePNCP(latency=0.05) as fake:
        env = server_env(tmp_path, redis_url, PNCP_BASE_URL=fake.base_url, INDEX_DAYS="8",
                         INDEX_MODALIDADES="6", PNCP_RATE_LIMIT="10/second", WORKER_HEALTH_INTERVAL="1")
        with running_server(env, tmp_path / "first.log") as first:
            def some_days_ready() -> bool:
                return httpx.get(f"{first.url}/v1/health", timeout=5).json()["index"]["days_ready"] >= 2

            wait_for(some_days_ready, 30, "the first days in the index")
            first.process.kill()  # kill -9: no lease released, reads cut mid-way
            first.process.wait()
        with sqlite3.connect(database) as db:
            done_before = {row[0] for row in db.execute("SELECT dia FROM pncp_fatia WHERE completo AND uf = ''")}
        asked_before = len(fake.requests)
        with running_server(env, tmp_path / "second.log") as second:
            def ready() -> dict[str, Any] | None:
                index = httpx.get(f"{second.url}/v1/health", timeout=5).json()["index"]
                return index if index["status"] == "ready" else None

            index = wait_for(ready, 60, "the second process to finish the index")
    assert index["days_ready"] == 8
    assert len(done_before) >= 2
    later = [r.params["dataInicial"] for r in fake.requests[asked_before:] if r.endpoint == "publicacao"]
    read_again = {f"{day[:4]}-{day[4:6]}-{day[6:]}" for day in later} & done_before
    last_day = now_brasilia().date()
    # Today and yesterday are refreshed on their own schedule (whichever day the reads came on).
    recent = {str(first_day - timedelta(days=1)), str(first_day), str(last_day)}
    assert read_again <= recent, read_again
