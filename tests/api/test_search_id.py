"""A `search_id` names one search, and only its first request: the same request posted again is
answered from the stored search (nothing read or queued again), another one is a 409 that
changes nothing. In one process, and over two web processes sharing a database."""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from collections.abc import Iterator
from uuid import UUID, uuid4

import httpx
import pytest

from backend.codes import today_brasilia
from backend.schemas import BuscaRequest
from backend.store.search_cache import SearchCache
from tests.fakes.pncp import FakePNCP, Hold
from tests.records import pncp_record
from tests.servers import eventually, running_server, server_env, wait_for
from tests.sse import collect


def records() -> list[dict[str, Any]]:
    return [pncp_record(f"Aquisição de software de gestão, lote {n}", uf="SP", modalidade=6) for n in range(3)]


def body(search_id: str, **changes: Any) -> dict[str, Any]:
    today = today_brasilia()
    return {"search_id": search_id, "ufs": ["SP"], "modalidades": [6], "setor_id": "software",
            "data_inicial": str(today - timedelta(days=5)), "data_final": str(today), "somente_abertas": False,
            **changes}


def waiting(lines: Any) -> bool:
    """The log says a re-post is waiting for the search its id names (`lines`: records or text)."""
    text = lines if isinstance(lines, str) else "\n".join(r.getMessage() for r in lines)
    return "posted again while it runs: waiting for its answer" in text


def publicacao_requests(pncp: FakePNCP) -> int:
    return sum(1 for r in pncp.requests if r.endpoint == "publicacao")


@pytest.fixture
def pipeline_log() -> Iterator[list[logging.LogRecord]]:
    """What the search pipeline logs (the app sets the root logger's handlers when it starts)."""
    lines: list[logging.LogRecord] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = lines.append  # type: ignore[method-assign]
    logger = logging.getLogger("backend.search_pipeline")
    logger.addHandler(handler)
    try:
        yield lines
    finally:
        logger.removeHandler(handler)


async def test_the_same_post_twice_at_once_runs_one_search_and_both_get_its_answer(
    make_settings, client_for, pipeline_log: list[logging.LogRecord],
) -> None:
    released = threading.Event()
    sid = str(uuid4())
    with FakePNCP(records()) as pncp:
        pncp.script(Hold(released), uf="SP", endpoint="publicacao")
        # PNCP held longer than its timeout would be read again: the test releases it sooner.
        async with client_for(make_settings(pncp_base_url=pncp.base_url, pncp_timeout=60.0)) as client:
            first = asyncio.create_task(client.post("/v1/buscar", json=body(sid)))
            await eventually(lambda: publicacao_requests(pncp) == 1, what="the first search to ask PNCP")
            second = asyncio.create_task(client.post("/v1/buscar", json=body(sid)))
            await eventually(lambda: waiting(pipeline_log), what="the second POST to wait for the first")
            assert not second.done() and publicacao_requests(pncp) == 1
            released.set()
            answers = [(await first), (await second)]

            assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
            one, two = (a.json() for a in answers)
            assert one["search_id"] == two["search_id"] == sid
            assert one["total_filtrado"] == two["total_filtrado"] == 3
            assert one["licitacoes"] == two["licitacoes"]
            # The stored search as it stood when the first answered: what is still processing follows
            # over the progress stream, as for a queued search.
            assert two["excel_status"] in ("processing", one["excel_status"])
            assert (two["processamento"] == "fila") == ("processing" in (two["llm_status"], two["excel_status"]))
            assert publicacao_requests(pncp) == 1  # one search read PNCP

            again = await client.post("/v1/buscar", json=body(sid))  # a retry after the answer was lost
            assert again.status_code == 200
            assert again.json()["licitacoes"] == one["licitacoes"] and again.json()["excel_url"] == one["excel_url"]
            assert publicacao_requests(pncp) == 1


async def test_the_same_id_with_another_request_is_refused_and_changes_nothing(make_settings, client_for) -> None:
    sid = str(uuid4())
    with FakePNCP(records()) as pncp:
        async with client_for(make_settings(pncp_base_url=pncp.base_url)) as client:
            first = (await client.post("/v1/buscar", json=body(sid))).json()
            before = (await client.get(f"/v1/buscar/{sid}/status")).json()
            asked = len(pncp.requests)

            for other in (body(sid, setor_id="alimentos"), body(sid, ufs=["SP", "RJ"]), body(sid, termos_busca="lote 1")):
                refused = await client.post("/v1/buscar", json=other)
                assert refused.status_code == 409, refused.text
                assert sid in refused.json()["detail"] and "novo search_id" in refused.json()["detail"]

            assert len(pncp.requests) == asked
            assert (await client.get(f"/v1/buscar/{sid}/status")).json() == before
            again = (await client.post("/v1/buscar", json=body(sid))).json()
            assert again["licitacoes"] == first["licitacoes"] and again["total_filtrado"] == 3


async def test_a_search_whose_process_died_is_run_again_by_its_retry(
    make_settings, client_for, tmp_path: Path,
) -> None:
    """Its row says "searching" and nobody has given a sign of life for a minute: a retry runs it."""
    sid = str(uuid4())
    with FakePNCP(records()) as pncp:
        settings = make_settings(pncp_base_url=pncp.base_url)
        async with client_for(settings):  # the database migrated
            pass
        request = BuscaRequest.model_validate(body(sid))
        two_minutes_ago = datetime.now(UTC) - timedelta(minutes=2)
        dead = SearchCache.from_url(settings.database_url, clock=lambda: two_minutes_ago)
        try:
            assert await dead.begin(UUID(sid), request=request.model_dump(mode="json"), setor_id="software")
        finally:
            await dead.close()

        async with client_for(settings) as client:
            response = await client.post("/v1/buscar", json=body(sid))
            assert response.status_code == 200, response.text
            assert response.json()["total_filtrado"] == 3
            assert publicacao_requests(pncp) == 1


def test_two_web_processes_given_the_same_post_run_one_search(tmp_path: Path, redis_url: str) -> None:
    released = threading.Event()
    sid = str(uuid4())
    with FakePNCP(records()) as pncp:
        pncp.script(Hold(released), uf="SP", endpoint="publicacao")
        env = server_env(tmp_path, redis_url, PNCP_BASE_URL=pncp.base_url, PNCP_TIMEOUT="60")
        with running_server(env, tmp_path / "a.log") as a, running_server(env, tmp_path / "b.log") as b, \
                ThreadPoolExecutor(2) as pool:
            posts = [pool.submit(httpx.post, f"{server.url}/v1/buscar", json=body(sid), timeout=60)
                     for server in (a, b)]
            wait_for(lambda: publicacao_requests(pncp) == 1 and waiting(a.log() + b.log()), 30,
                     "one search to ask PNCP and the other POST to wait for it")
            released.set()
            answers = [post.result() for post in posts]
            assert [r.status_code for r in answers] == [200, 200], [r.text for r in answers]
            assert answers[0].json()["licitacoes"] == answers[1].json()["licitacoes"]
            assert answers[0].json()["total_filtrado"] == 3
            assert publicacao_requests(pncp) == 1

            status, events = collect(f"{b.url}/v1/buscar-progress/{sid}", timeout=60)
            stages = [e.stage for e in events]
            assert status == 200 and stages[-1] == "complete", stages
            assert stages.count("connecting") == 1 and stages.count("results_ready") == 1, stages

            refused = httpx.post(f"{a.url}/v1/buscar", json=body(sid, setor_id="alimentos"), timeout=30)
            assert refused.status_code == 409
            assert httpx.get(f"{b.url}/v1/buscar/{sid}/status", timeout=10).json()["total_filtrado"] == 3
