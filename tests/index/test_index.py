"""Searches over the local PNCP index, in one process: the app over ASGI, the PNCP double over
HTTP, a real Redis, and the database on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any

import httpx

from backend.codes import now_brasilia
from tests.records import pncp_record
from tests.servers import eventually

FMT = "%Y-%m-%dT%H:%M:%S"


def search_body(first: date, last: date, *, ufs: tuple[str, ...] = ("SP", "RJ", "MG"), setor_id: str = "software",
                modalidades: list[int] | None = None, somente_abertas: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {"ufs": list(ufs), "data_inicial": first.isoformat(), "data_final": last.isoformat(),
                            "setor_id": setor_id, "somente_abertas": somente_abertas}
    if modalidades is not None:
        body["modalidades"] = modalidades
    return body


async def buscar(client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/v1/buscar", json=body)
    assert response.status_code == 200, response.text
    return response.json()


async def settled(client: httpx.AsyncClient, answer: dict[str, Any]) -> None:
    """Until the search's summary and report are done: the worker then stops with nothing to drain."""
    async def done() -> bool:
        status = (await client.get(f"/v1/buscar/{answer['search_id']}/status")).json()
        return status["llm_status"] != "processing" and status["excel_status"] != "processing"

    await eventually(done, timeout=30, step=0.1, what="the search's summary and report")


async def index_state(client: httpx.AsyncClient) -> dict[str, Any]:
    return (await client.get("/v1/health")).json()["index"]


async def ready(client: httpx.AsyncClient) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        state = await index_state(client)
        return state if state["status"] == "ready" else None

    return await eventually(check, timeout=30, step=0.1, what="the index to be ready")


def national_publicacao_pages(fake: Any) -> Counter[tuple[str, str, str]]:
    return Counter((r.params.get("codigoModalidadeContratacao", ""), r.params.get("dataInicial", ""),
                    r.params.get("pagina", "1"))
                   for r in fake.requests if r.endpoint == "publicacao" and not r.uf)


async def test_the_index_fills_and_then_answers_without_asking_pncp_what_a_live_read_gives(
    make_settings, client_for, fake_pncp, database_url, tmp_path,
) -> None:
    settings = make_settings(database_url=database_url, pncp_base_url=fake_pncp.base_url, embedded_worker=True,
                             index_days=3, index_modalidades="4,5,6,7", ops_token="ops")
    today = now_brasilia().date()  # Brasília's day when the test runs
    body = search_body(today - timedelta(days=2), today)
    async with client_for(settings) as client:
        assert (await index_state(client))["status"] == "warming"
        state = await ready(client)
        assert state["days_ready"] == 3 and state["records"] > 0
        assert datetime.fromisoformat(state["refreshed_at"]) <= datetime.now().astimezone()
        assert national_publicacao_pages(fake_pncp)  # the index reads every UF at once
        async def first_pass() -> dict[str, Any] | None:  # ready may come before its pass has ended
            ops = (await client.get("/ops/data", headers={"Authorization": "Bearer ops"})).json()["index"]
            return ops if ops["last_pass"] is not None else None

        ops = await eventually(first_pass, timeout=30, step=0.1, what="the ingestion's first pass")
        assert (ops["status"], ops["slices_ready"], ops["slices_total"]) == ("ready", 12, 12)
        assert ops["last_pass"]["reads"] >= 1 and ops["last_pass"]["failed"] == 0
        fake_pncp.reset()
        indexed = await buscar(client, body)
        status = (await client.get(f"/v1/buscar/{indexed['search_id']}/status")).json()
        assert fake_pncp.requests == []  # covered slices: PNCP is not asked
        await settled(client, indexed)
    assert indexed["fonte"] == "indice" and status["fonte"] == "indice"
    assert indexed["atualizado_em"] is not None and status["atualizado_em"] == indexed["atualizado_em"]

    live_settings = make_settings(database_url=f"sqlite:///{tmp_path / 'live.db'}", pncp_base_url=fake_pncp.base_url)
    async with client_for(live_settings) as client:
        live = await buscar(client, body)
    assert fake_pncp.requests  # read live this time
    assert live["fonte"] == "pncp"
    assert indexed["total_filtrado"] > 0
    assert (indexed["total_raw"], indexed["total_filtrado"]) == (live["total_raw"], live["total_filtrado"])
    assert indexed["licitacoes"] == live["licitacoes"]
    assert indexed["resumo"] == live["resumo"]


async def test_a_missing_slice_is_read_once_for_two_searches_at_once_and_then_comes_from_the_index(
    make_settings, client_for, fake_pncp, database_url,
) -> None:
    # No worker: no ingestion; the window is empty, so every slice is missing.
    settings = make_settings(database_url=database_url, pncp_base_url=fake_pncp.base_url, index_days=30)
    fake_pncp.latency = 0.05  # the second search arrives while the first one's reads are in flight
    old = now_brasilia().date() - timedelta(days=45)
    body = search_body(old, old + timedelta(days=4), ufs=("SP", "RJ"))
    async with client_for(settings) as client:
        first, second = await asyncio.gather(buscar(client, body), buscar(client, body))
        asked = [(r.uf, r.modalidade, r.params["dataInicial"], r.params["dataFinal"], r.pagina)
                 for r in fake_pncp.requests]
        fake_pncp.reset()
        third = await buscar(client, body)
        assert fake_pncp.requests == []
    assert asked and len(asked) == len(set(asked))  # each page once, for both searches
    assert {uf for uf, *_ in asked} == {"SP", "RJ"}  # a cold index reads per UF, as a live search would
    assert first["fonte"] == second["fonte"] == "pncp" and third["fonte"] == "indice"
    assert first["licitacoes"] == second["licitacoes"] == third["licitacoes"]
    assert first["total_raw"] == third["total_raw"] > 0


async def test_a_publication_pncp_later_cancels_changes_its_row(
    make_settings, client_for, fake_pncp, database_url,
) -> None:
    published = (now_brasilia() - timedelta(days=3)).replace(microsecond=0)
    record = pncp_record("Licenciamento de software de gestão escolar", uf="SP", publicado=published,
                         encerramento=published + timedelta(days=20), atualizado=published.strftime(FMT))
    other = pncp_record("Aquisição de software de prontuário eletrônico", uf="SP", publicado=published,
                        encerramento=published + timedelta(days=20), atualizado=published.strftime(FMT))
    fake_pncp.set_records([record, other])
    settings = make_settings(database_url=database_url, pncp_base_url=fake_pncp.base_url, embedded_worker=True,
                             index_days=5, index_modalidades="6", index_refresh_seconds=1)
    body = search_body(published.date(), published.date(), ufs=("SP",), somente_abertas=True)
    async with client_for(settings) as client:
        await ready(client)
        before = await buscar(client, body)
        assert {lic["codigo_pncp"] for lic in before["licitacoes"]} == {record["numeroControlePNCP"],
                                                                         other["numeroControlePNCP"]}
        changed_at = now_brasilia().replace(microsecond=0).strftime(FMT)
        cancelled = record | {"situacaoCompraId": 2, "situacaoCompraNome": "Revogada",
                              "dataAtualizacao": changed_at, "dataAtualizacaoGlobal": changed_at}
        fake_pncp.set_records([cancelled, other])

        async def revoked() -> dict[str, Any] | None:
            answer = await buscar(client, body | {"somente_abertas": False})
            found = {lic["codigo_pncp"]: lic for lic in answer["licitacoes"]}
            row = found.get(record["numeroControlePNCP"])
            return answer if row and row["situacao"] == "Revogada" else None

        await eventually(revoked, timeout=20, step=0.2, what="the cancellation to reach the index")
        after = await buscar(client, body)
        await settled(client, after)
    assert any(r.endpoint == "atualizacao" for r in fake_pncp.requests)
    # Its day is older than yesterday: only /atualizacao could have told (the slice is not read again).
    assert [lic["codigo_pncp"] for lic in after["licitacoes"]] == [other["numeroControlePNCP"]]
    assert after["fonte"] == "indice"


async def test_ingestion_carries_on_after_redis_is_flushed_and_after_a_restart(
    make_settings, client_for, fake_pncp, database_url, redis_url,
) -> None:
    import redis.asyncio as aioredis

    fake_pncp.latency = 0.02
    # The double makes a national day of demo data on its first request (seconds on a busy machine,
    # more on some days than others): past the 2 s of the tests' settings that page would be asked
    # again, by design, and this test counts requests.
    settings = make_settings(database_url=database_url, pncp_base_url=fake_pncp.base_url, embedded_worker=True,
                             index_days=6, index_modalidades="4,6", pncp_timeout=30.0, ops_token="ops")
    async with client_for(settings) as client:
        async def some_days() -> bool:
            return (await index_state(client))["days_ready"] >= 1

        async def pass_ended() -> bool:  # ready may come before the pass has written all it read
            ops = (await client.get("/ops/data", headers={"Authorization": "Bearer ops"})).json()["index"]
            return ops["last_pass"] is not None

        await eventually(some_days, timeout=30, step=0.05, what="a first day in the index")
        flusher = aioredis.Redis.from_url(redis_url)
        await flusher.flushdb()  # the lease, the pacer's schedule and the queue go
        await flusher.aclose()
        await ready(client)
        await eventually(pass_ended, timeout=60, step=0.1, what="the ingestion's pass to end")
    read_before = national_publicacao_pages(fake_pncp)
    fake_pncp.reset()
    async with client_for(settings) as client:  # a restart: what is in the database stays
        state = await ready(client)
    assert state["days_ready"] == 6
    assert all(count == 1 for count in read_before.values())  # no slice read twice, flush or not
    assert national_publicacao_pages(fake_pncp) == Counter()  # nothing to read again after the restart
