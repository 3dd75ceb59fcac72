"""Brasília's today, whatever the hour of the machine: from 21:00 to 24:00 in Brasília a machine on
UTC is already on the next day, and that day holds no publication yet. The service runs here on a
clock the test gives it, at 01:30 UTC and at 23:30 in Brasília."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest

from backend.codes import now_brasilia
from tests.clocks import clock_from, utc_ahead_of_brasilia
from tests.fakes.pncp import FakePNCP
from tests.index.test_index import ready, search_body
from tests.records import pncp_record

DAY = date(2026, 3, 10)  # Brasília's day in these tests; the machine's UTC calendar says the 11th
MOMENTS = utc_ahead_of_brasilia(DAY)


@pytest.fixture(params=sorted(MOMENTS))
def clock(request: pytest.FixtureRequest) -> Any:
    return clock_from(MOMENTS[request.param])


def records() -> list[dict[str, Any]]:
    at = datetime(DAY.year, DAY.month, DAY.day, 9, 0)
    return [pncp_record("Licenciamento de software de gestão escolar", uf="SP", modalidade=6,
                        publicado=at - timedelta(days=1)),
            pncp_record("Aquisição de software de prontuário eletrônico", uf="RJ", modalidade=6, publicado=at)]


def asked_days(fake: FakePNCP) -> set[str]:
    """Every day named by a request for publications (AAAAMMDD), first and last."""
    return {r.params[name] for r in fake.requests if r.endpoint == "publicacao"
            for name in ("dataInicial", "dataFinal") if name in r.params}


def ymd(day: date) -> str:
    return day.strftime("%Y%m%d")


async def test_the_index_never_reads_a_day_that_has_not_begun_and_answers_it_as_covered(
    make_settings, client_for, clock,
) -> None:
    tomorrow = DAY + timedelta(days=1)  # the UTC date: what a browser or a server on UTC calls today
    with FakePNCP(records(), now=lambda: now_brasilia(clock)) as pncp:
        settings = make_settings(pncp_base_url=pncp.base_url, embedded_worker=True, index_days=2,
                                 index_modalidades="6")
        async with client_for(settings, clock) as client:
            state = await ready(client)
            assert state["days_ready"] == 2

            response = await client.post("/v1/buscar", json=search_body(DAY - timedelta(days=1), tomorrow,
                                                                       ufs=("SP", "RJ"), modalidades=[6]))
            assert response.status_code == 200, response.text
            answer = response.json()
            assert answer["fonte"] == "indice"  # the day after Brasília's today counts as covered
            assert answer["ufs_com_falha"] == [] and answer["avisos"] == []
            assert sorted(lic["uf"] for lic in answer["licitacoes"]) == ["RJ", "SP"]

            only_tomorrow = await client.post("/v1/buscar", json=search_body(tomorrow, tomorrow, ufs=("SP", "RJ"),
                                                                             modalidades=[6]))
            assert only_tomorrow.status_code == 200, only_tomorrow.text
            assert (only_tomorrow.json()["fonte"], only_tomorrow.json()["total_filtrado"]) == ("indice", 0)

            later = await client.post("/v1/buscar", json=search_body(DAY, DAY + timedelta(days=2), ufs=("SP",)))
            assert later.status_code == 422
            assert [problem["campo"] for problem in later.json()["detail"]] == ["data_final"]
            assert (DAY + timedelta(days=1)).strftime("%d/%m/%Y") in later.json()["mensagem"]

        assert ymd(tomorrow) not in asked_days(pncp)  # neither the ingestion nor a search asked for it


async def test_a_live_search_reads_up_to_brasilias_today(make_settings, client_for, clock) -> None:
    tomorrow = DAY + timedelta(days=1)
    with FakePNCP(records(), now=lambda: now_brasilia(clock)) as pncp:
        settings = make_settings(pncp_base_url=pncp.base_url, index_days=0)
        async with client_for(settings, clock) as client:
            response = await client.post("/v1/buscar", json=search_body(DAY, tomorrow, ufs=("RJ",), modalidades=[6]))
            assert response.status_code == 200, response.text
            assert response.json()["total_filtrado"] == 1
            assert {r.params["dataFinal"] for r in pncp.requests} == {ymd(DAY)}

            asked = len(pncp.requests)
            response = await client.post("/v1/buscar", json=search_body(tomorrow, tomorrow, ufs=("RJ",)))
            assert response.status_code == 200, response.text
            answer = response.json()
            assert (answer["total_filtrado"], answer["ufs_com_falha"], answer["avisos"]) == (0, [], [])
            assert len(pncp.requests) == asked  # nothing to ask: the day has not begun in Brasília
