"""Progress over Server-Sent Events, against real server processes sharing a database."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from uuid import uuid4

import httpx
import pytest

from backend.codes import now_brasilia
from tests.conftest import free_port
from tests.servers import running_server, server_env, wait_for
from tests.sse import Event, collect

UFS = ["SP", "MG", "BA"]


def search_body(search_id: str) -> dict:
    today = now_brasilia().date()  # Brasília's day when the search is made
    return {"search_id": search_id, "ufs": UFS, "data_inicial": str(today - timedelta(days=10)),
            "data_final": str(today), "setor_id": "alimentos"}


@pytest.fixture
def env(tmp_path: Path, redis_url: str) -> dict[str, str]:
    return server_env(tmp_path, redis_url, SSE_WAIT_FOR_SEARCH="5")


def stages(events: list[Event]) -> list[str]:
    return [e.stage for e in events]


def assert_full_story(events: list[Event]) -> None:
    names = stages(events)
    assert names[0] == "connecting"
    assert names.count("fetching") == len(UFS)
    assert names.count("partial_results") == len(UFS)  # each UF's matches, before the final answer
    assert names.index("partial_results") < names.index("filtering")
    # The summary and the report come from two jobs: either may settle first.
    assert names[-4] == "results_ready" and names[-1] == "complete"
    assert sorted(names[-3:-1]) == ["excel_ready", "llm_ready"]
    assert names.index("filtering") < names.index("results_ready")
    ids = [tuple(map(int, e.id.split("-"))) for e in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    fetching = [e.data for e in events if e.stage == "fetching"]
    assert [f["detail"]["ufs_done"] for f in fetching] == [1, 2, 3]
    assert all(10 < f["progress"] <= 55 for f in fetching)
    progress = {e.stage: e.data["progress"] for e in events}
    assert [progress[s] for s in ("results_ready", "llm_ready", "excel_ready", "complete")] == [70, 85, 98, 100]


def settled_status(url: str, search_id: str) -> dict:
    def settled() -> dict | None:
        status = httpx.get(f"{url}/v1/buscar/{search_id}/status", timeout=10).json()
        return status if "processing" not in (status["llm_status"], status["excel_status"]) else None

    return wait_for(settled, 60, "the search to settle")


def test_late_client_gets_every_event_and_reconnects_from_its_cursor(env, tmp_path) -> None:
    with running_server(env, tmp_path / "a.log") as server:
        search_id = str(uuid4())
        answer = httpx.post(f"{server.url}/v1/buscar", json=search_body(search_id), timeout=60).json()
        assert answer["processamento"] == "fila"  # the embedded worker produces the summary and report
        answer = {**answer, **settled_status(server.url, search_id)}

        status, events = collect(f"{server.url}/v1/buscar-progress/{search_id}")
        assert status == 200
        assert_full_story(events)
        by_stage = {e.stage: e for e in events}
        assert by_stage["results_ready"].data["detail"] == {"total_filtrado": answer["total_filtrado"]}
        # The partial results a late client gets are the final answer's, UF by UF, at most 50 each.
        partials = [e for e in events if e.stage == "partial_results"]
        assert sorted(p.data["detail"]["uf"] for p in partials) == sorted(UFS)
        assert sum(p.data["detail"]["total"] for p in partials) == answer["total_filtrado"] > 0
        final = {lic["codigo_pncp"]: lic for lic in answer["licitacoes"]}
        for p in partials:
            detail = p.data["detail"]
            assert detail["falha"] is None and len(detail["licitacoes"]) == min(detail["total"], 50)
            assert all(final[lic["codigo_pncp"]] == lic for lic in detail["licitacoes"])
            assert all(lic["uf"] == detail["uf"] for lic in detail["licitacoes"])

        # Reconnecting after the first partial result: the others are replayed, once each.
        _, missed = collect(f"{server.url}/v1/buscar-progress/{search_id}", headers={"Last-Event-ID": partials[0].id})
        assert [e.id for e in missed if e.stage == "partial_results"] == [p.id for p in partials[1:]]
        assert by_stage["llm_ready"].data["detail"]["resumo"] == answer["resumo"]
        assert by_stage["excel_ready"].data["detail"]["download_url"] == answer["excel_url"]

        # Reconnection: by header, then by query, only what came after the cursor.
        cursor = by_stage["results_ready"].id
        _, missed = collect(f"{server.url}/v1/buscar-progress/{search_id}", headers={"Last-Event-ID": cursor})
        assert stages(missed) == stages(events)[-3:]
        _, missed = collect(f"{server.url}/v1/buscar-progress/{search_id}?last_event_id={events[-3].id}")
        assert stages(missed) == stages(events)[-2:]

        # A client that saw `complete` is told there is nothing more, so EventSource stops retrying.
        status, _ = collect(f"{server.url}/v1/buscar-progress/{search_id}", headers={"Last-Event-ID": events[-1].id})
        assert status == 204

        download = httpx.get(server.url + answer["excel_url"], timeout=10)
        assert download.status_code == 200 and download.content[:2] == b"PK"


def test_unknown_search_is_204(env, tmp_path) -> None:
    env["SSE_WAIT_FOR_SEARCH"] = "0.5"
    with running_server(env, tmp_path / "a.log") as server:
        status, _ = collect(f"{server.url}/v1/buscar-progress/{uuid4()}")
    assert status == 204


def _watch(url: str, into: list) -> threading.Thread:
    thread = threading.Thread(target=lambda: into.append(collect(url, timeout=60)), daemon=True)
    thread.start()
    return thread


def test_stream_served_by_another_process_through_redis(env, tmp_path) -> None:
    with running_server(env, tmp_path / "a.log") as a, running_server(env, tmp_path / "b.log") as b:
        search_id = str(uuid4())
        seen: list = []
        watcher = _watch(f"{b.url}/v1/buscar-progress/{search_id}", seen)  # opened before the search
        answer = httpx.post(f"{a.url}/v1/buscar", json=search_body(search_id), timeout=60)
        assert answer.status_code == 200
        watcher.join(timeout=60)
    [(status, events)] = seen
    assert status == 200
    assert_full_story(events)


def test_stream_served_by_another_process_without_redis(env, tmp_path) -> None:
    """No Redis: no queue either, so the search runs inline in the process that got it."""
    env["REDIS_URL"] = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    with running_server(env, tmp_path / "a.log") as a, running_server(env, tmp_path / "b.log") as b:
        assert httpx.get(f"{b.url}/v1/health").json()["redis"] == "unavailable"
        search_id = str(uuid4())
        seen: list = []
        watcher = _watch(f"{b.url}/v1/buscar-progress/{search_id}", seen)
        answer = httpx.post(f"{a.url}/v1/buscar", json=search_body(search_id), timeout=60).json()
        assert answer["processamento"] == "inline"
        watcher.join(timeout=60)

        # The process that ran the search has every event in memory.
        status, own = collect(f"{a.url}/v1/buscar-progress/{search_id}")
        assert status == 200
        assert_full_story(own)
    [(status, events)] = seen
    assert status == 200
    assert stages(events) == ["results_ready", "llm_ready", "excel_ready", "complete"]
    assert events[1].data["detail"]["resumo"] == answer["resumo"]
    assert events[2].data["detail"]["download_url"] == answer["excel_url"]
