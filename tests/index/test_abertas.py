"""Searches of what is open for proposals now (`modo: "abertas"`) and each UF's partial results:
the app over ASGI, the PNCP double over HTTP (`/proposta` as the manual describes it), a real
Redis, the database on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx

from backend.codes import now_brasilia
from tests.fakes.pncp import db_error_500
from tests.records import pncp_record
from tests.servers import eventually
from tests.sse import Event, read_events

def brasilia_now() -> datetime:
    """Brasília's wall-clock time when the test runs (not when this module was imported)."""
    return now_brasilia().replace(microsecond=0)


def tenders(now: datetime) -> dict[str, dict[str, Any]]:
    """Software tenders of SP and RJ: published long ago and still open, closed yesterday, revoked..."""
    return {
        "months_old_open": pncp_record("Aquisição de licenças de software de gestão", uf="SP",
                                       publicado=now - timedelta(days=95), encerramento=now + timedelta(days=7)),
        "closed_yesterday": pncp_record("Contratação de software de protocolo", uf="SP",
                                        publicado=now - timedelta(days=20), encerramento=now - timedelta(days=1)),
        "revoked": pncp_record("Licenças de software antivírus", uf="SP", situacao=2,
                               publicado=now - timedelta(days=10), encerramento=now + timedelta(days=5)),
        "recent_open": pncp_record("Sistema de software para a saúde", uf="RJ",
                                   publicado=now - timedelta(days=3), encerramento=now + timedelta(days=2)),
        "other_sector": pncp_record("Aquisição de cadeiras de escritório", uf="RJ",
                                    publicado=now - timedelta(days=3), encerramento=now + timedelta(days=4)),
    }


def abertas_body(ufs: tuple[str, ...] = ("SP", "RJ")) -> dict[str, Any]:
    return {"ufs": list(ufs), "modo": "abertas", "setor_id": "software"}


async def buscar(client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/v1/buscar", json=body)
    assert response.status_code == 200, response.text
    return response.json()


async def events_of(client: httpx.AsyncClient, search_id: str) -> list[Event]:
    """Every event of a finished search, as a client connecting late gets them."""
    response = await client.get(f"/v1/buscar-progress/{search_id}")
    assert response.status_code == 200
    return list(read_events(response))


def codes(answer: dict[str, Any]) -> list[str]:
    return [lic["codigo_pncp"] for lic in answer["licitacoes"]]


async def test_abertas_finds_a_tender_published_months_ago_and_not_one_closed_yesterday(
    make_settings, client_for, fake_pncp, database_url,
) -> None:
    now = brasilia_now()
    records = tenders(now)
    fake_pncp.set_records(records.values())
    settings = make_settings(database_url=database_url, pncp_base_url=fake_pncp.base_url, index_days=30)
    async with client_for(settings) as client:  # no worker: no ingestion; the search reads /proposta itself
        first = await buscar(client, abertas_body())
        asked = [r for r in fake_pncp.requests if r.endpoint == "proposta"]
        fake_pncp.reset()
        again = await buscar(client, abertas_body())
        again_events = await events_of(client, again["search_id"])
        wider = await buscar(client, abertas_body(("SP", "RJ", "MG")))  # MG's lists still to read
        wider_events = await events_of(client, wider["search_id"])

    wanted = [records["recent_open"]["numeroControlePNCP"], records["months_old_open"]["numeroControlePNCP"]]
    assert codes(first) == wanted  # nearest closing first
    assert first["modo"] == "abertas" and first["fonte"] == "pncp" and first["total_raw"] == 3
    assert all(lic["data_encerramento"] > now.isoformat() for lic in first["licitacoes"])
    # One read per UF and modalidade, up to a year ahead, no publication dates.
    assert sorted((r.uf, r.modalidade) for r in asked) == sorted((uf, m) for uf in ("SP", "RJ") for m in (4, 5, 6, 7))
    assert all("dataInicial" not in r.params and r.params["dataFinal"] >= now.strftime("%Y%m%d") for r in asked)
    # The lists are kept: asked again, the index answers.
    assert codes(again) == wanted and again["fonte"] == "indice"
    # Answered at once from the index: each UF's fetching event, no partial results ahead of it.
    assert [e.data["detail"]["uf"] for e in again_events if e.stage == "fetching"] == ["SP", "RJ"]
    assert "partial_results" not in [e.stage for e in again_events]
    # Reading MG from PNCP: SP and RJ go out from the index at once, MG once read.
    partials = [e.data["detail"] for e in wider_events if e.stage == "partial_results"]
    assert [p["uf"] for p in partials] == ["SP", "RJ", "MG"] and wider["fonte"] == "misto"
    assert [lic["codigo_pncp"] for p in partials for lic in p["licitacoes"]] == [
        records["months_old_open"]["numeroControlePNCP"], records["recent_open"]["numeroControlePNCP"]]
    assert {r.uf for r in fake_pncp.requests} == {"MG"}


async def test_abertas_without_an_index_reads_pncp_live(make_settings, client_for, fake_pncp) -> None:
    records = tenders(brasilia_now())
    fake_pncp.set_records(records.values())
    settings = make_settings(pncp_base_url=fake_pncp.base_url)  # INDEX_DAYS=0
    async with client_for(settings) as client:
        answer = await buscar(client, abertas_body())
        invalid = await client.post("/v1/buscar", json={"ufs": ["SP"], "setor_id": "software"})
    assert codes(answer) == [records["recent_open"]["numeroControlePNCP"],
                             records["months_old_open"]["numeroControlePNCP"]]
    assert answer["fonte"] == "pncp"
    assert {r.endpoint for r in fake_pncp.requests} == {"proposta"}
    # Without modo "abertas", the period is still asked for, field by field.
    assert invalid.status_code == 422
    fields = {item["campo"]: item["msg"] for item in invalid.json()["detail"]}
    assert set(fields) == {"data_inicial"} and "abertas" in fields["data_inicial"]


async def test_the_ingestion_keeps_what_is_open_so_abertas_asks_pncp_nothing(
    make_settings, client_for, fake_pncp, database_url,
) -> None:
    records = tenders(brasilia_now())
    fake_pncp.set_records(records.values())
    settings = make_settings(database_url=database_url, pncp_base_url=fake_pncp.base_url, embedded_worker=True,
                             index_days=2, index_modalidades="6", ops_token="ops")
    async with client_for(settings) as client:
        async def listed() -> bool:  # the ingestion's first pass reads /proposta before the days
            ops = (await client.get("/ops/data", headers={"Authorization": "Bearer ops"})).json()["index"]
            return ops["last_pass"] is not None

        await eventually(listed, timeout=30, step=0.1, what="the ingestion's first pass")
        assert any(r.endpoint == "proposta" and not r.uf for r in fake_pncp.requests)  # every UF at once
        ops = (await client.get("/ops/data", headers={"Authorization": "Bearer ops"})).json()["index"]
        [listing] = ops["abertas"]
        assert (listing["modalidade"], listing["completo"], listing["registros"]) == (6, True, 3)
        page = (await client.get("/ops?token=ops")).text
        assert "Abertas agora (listas do PNCP): modalidade 6: 3 em" in page
        fake_pncp.reset()
        answer = await buscar(client, {**abertas_body(), "modalidades": [6]})
        assert [r for r in fake_pncp.requests if r.endpoint == "proposta"] == []
    assert answer["fonte"] == "indice"
    assert codes(answer) == [records["recent_open"]["numeroControlePNCP"],
                             records["months_old_open"]["numeroControlePNCP"]]


async def test_each_uf_goes_out_as_partial_results_and_a_failing_uf_says_why(
    make_settings, client_for, fake_pncp,
) -> None:
    day = brasilia_now() - timedelta(days=1)
    sp = [pncp_record(f"Licenças de software {n}", uf="SP", publicado=day, valor=50_000.0 + 1000 * n) for n in range(1, 56)]
    fake_pncp.set_records(sp)
    fake_pncp.script([db_error_500()] * 12, uf="RJ")  # RJ fails every attempt of every modalidade
    settings = make_settings(pncp_base_url=fake_pncp.base_url)
    body = {"ufs": ["SP", "RJ", "MG"], "setor_id": "software", "data_inicial": day.date().isoformat(),
            "data_final": day.date().isoformat(), "somente_abertas": False}
    async with client_for(settings) as client:
        answer = await buscar(client, body)
        events = await events_of(client, answer["search_id"])

    partials = {e.data["detail"]["uf"]: e.data for e in events if e.stage == "partial_results"}
    assert set(partials) == {"SP", "RJ", "MG"}
    names = [e.stage for e in events]
    assert max(i for i, n in enumerate(names) if n == "partial_results") < names.index("results_ready")
    best = partials["SP"]["detail"]
    assert best["total"] == 55 and len(best["licitacoes"]) == 50  # the 50 best of the UF
    assert [lic["codigo_pncp"] for lic in best["licitacoes"]] == codes(answer)[:50]
    assert best["falha"] is None and partials["MG"]["detail"] == {"uf": "MG", "licitacoes": [], "total": 0,
                                                                  "falha": None}
    failed = partials["RJ"]["detail"]
    assert failed["licitacoes"] == [] and failed["falha"].startswith("RJ: ") and "sem resultados" in failed["falha"]
    assert 10 <= partials["RJ"]["progress"] <= 55
    assert [f["uf"] for f in answer["ufs_com_falha"]] == ["RJ"]
    assert answer["ufs_com_falha"][0]["mensagem"] == failed["falha"]
    assert answer["total_filtrado"] == 55


async def test_a_listed_tender_leaves_abertas_when_it_closes(make_settings, client_for, fake_pncp) -> None:
    closing = now_brasilia().replace(microsecond=0) + timedelta(seconds=3)
    soon = pncp_record("Licenças de software de BI", uf="SP", publicado=closing - timedelta(days=40),
                       encerramento=closing)
    later = pncp_record("Licenças de software de RH", uf="SP", publicado=closing - timedelta(days=40),
                        encerramento=closing + timedelta(days=3))
    fake_pncp.set_records([soon, later])
    settings = make_settings(pncp_base_url=fake_pncp.base_url, index_days=30)
    async with client_for(settings) as client:
        before = await buscar(client, abertas_body(("SP",)))
        assert codes(before) == [soon["numeroControlePNCP"], later["numeroControlePNCP"]]

        async def closed() -> dict[str, Any] | None:  # the same kept list, asked again once it closed
            return await buscar(client, abertas_body(("SP",))) if now_brasilia() > closing else None

        after = await eventually(closed, timeout=30, step=0.5, what="the first tender's closing")
    assert after["fonte"] == "indice"
    assert codes(after) == [later["numeroControlePNCP"]]
