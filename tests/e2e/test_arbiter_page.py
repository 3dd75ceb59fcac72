"""The AI arbiter seen in a real browser (Debian's Chromium) against the real server: an objeto the
sector's rules leave in doubt, put in the sector by the LLM in the worker's background task, shows
in the results as "sugerido por IA"; one the rules are sure of shows its matched terms; one the LLM
put in no sector is not shown.

The same scenario as tests/index/test_arbiter.py's search over the index, through the page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Locator, Page, expect

from backend.codes import now_brasilia
from tests.e2e.test_search_page import check_only, open_page, search_server, submit_search
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.pncp import FakePNCP
from tests.records import pncp_record
from tests.servers import Server, wait_for

MODALIDADE_CHECKBOX = re.compile(r"^modalidade-\d+$")
PAPER = "material_escritorio"  # "papel" alone is a generic word of it: the rules doubt
OPS_TOKEN = "ops-e2e"
DOUBTFUL = "Fornecimento de papel para o almoxarifado do prédio 1"  # the LLM puts it in the sector
SURE = "Aquisição de papel sulfite A4 e canetas esferográficas"  # the rules' terms match
NOTHING = "Fornecimento de papel para a gráfica do prédio 2"  # in doubt too; the LLM says no sector
ARBITER_TIMEOUT = 90  # ingestion, then the cron tick starting the arbiter, then its request, on two cores


@dataclass
class Published:
    """The three records the fake PNCP serves, all published yesterday (Brasília) in SP."""

    day: date
    doubtful: dict[str, Any]
    sure: dict[str, Any]
    nothing: dict[str, Any]


def classify(objeto: str) -> list[str]:
    """The fake LLM's verdicts: the almoxarifado's paper is office material, nothing else is."""
    return [PAPER] if "almoxarifado" in objeto else []


@contextmanager
def arbiter_server(tmp_path: Path, redis_url: str) -> Iterator[tuple[Server, Published]]:
    """The real app with the index on (yesterday and today, modalidade 6), its embedded worker, a
    fake PNCP serving the three records and a fake OpenAI-compatible LLM for the arbiter."""
    published = (now_brasilia() - timedelta(days=1)).replace(microsecond=0)
    records = Published(
        day=published.date(),
        doubtful=pncp_record(DOUBTFUL, publicado=published, sequencial=1),
        sure=pncp_record(SURE, publicado=published, sequencial=2),
        nothing=pncp_record(NOTHING, publicado=published, sequencial=3),
    )
    with FakePNCP() as pncp, FakeOpenAI(api_key="sk-test") as llm:
        pncp.set_records([records.doubtful, records.sure, records.nothing])
        llm.classifier = classify
        env = {
            "PNCP_BASE_URL": pncp.base_url,
            "INDEX_DAYS": "2",
            "INDEX_MODALIDADES": "6",
            "EMBEDDED_WORKER": "true",
            "OPENAI_API_KEY": "sk-test",
            "OPENAI_BASE_URL": llm.base_url,
            "LLM_CLASSIFY_DAILY_TOKENS": "200000",
            "OPS_TOKEN": OPS_TOKEN,
        }
        with search_server(tmp_path, redis_url, **env) as server:
            yield server, records


def arbiter_state(server: Server) -> dict[str, Any] | None:
    """The arbiter's part of /ops/data; None while the server cannot tell."""
    try:
        answer = httpx.get(f"{server.url}/ops/data", headers={"Authorization": f"Bearer {OPS_TOKEN}"}, timeout=5)
    except httpx.HTTPError:
        return None
    assert answer.status_code == 200, answer.text
    return answer.json()["arbiter"]


def arbiter_decided(server: Server) -> dict[str, Any] | None:
    """The arbiter's state once nothing is left in doubt and both doubtful objetos have a verdict."""
    state = arbiter_state(server)
    return state if state is not None and state["pending"] == 0 and state["decided"] >= 2 else None


def fill_form(page: Page, day: date) -> None:
    """Office material, only SP, only `day` (yesterday), every licitação (open or not), Pregão
    Eletrônico only: the modalidade the index holds, so the answer comes from it alone."""
    page.get_by_test_id("setor-select").select_option(PAPER)  # waits for the sectors to load
    check_only(page, ("SP",))
    # The final date first: the initial one may not pass it.
    page.get_by_test_id("data-final").fill(day.isoformat())
    page.get_by_test_id("data-inicial").fill(day.isoformat())
    expect(page.get_by_test_id("data-inicial")).to_have_value(day.isoformat())
    expect(page.get_by_test_id("data-final")).to_have_value(day.isoformat())
    page.get_by_test_id("somente-abertas").uncheck()
    modalidades = page.get_by_test_id(MODALIDADE_CHECKBOX)
    expect(modalidades.first).to_be_visible()
    for index in range(modalidades.count()):
        box = modalidades.nth(index)
        box.set_checked(box.get_attribute("data-testid") == "modalidade-6")
    expect(page.get_by_test_id(MODALIDADE_CHECKBOX).and_(page.locator(":checked"))).to_have_count(1)
    expect(page.get_by_test_id("modalidade-6")).to_be_checked()


def row_of(page: Page, objeto: str) -> Locator:
    return page.get_by_test_id("results-table").get_by_test_id("result-row").filter(has_text=objeto)


def test_the_arbiters_verdict_shows_as_sugerido_por_ia(page: Page, tmp_path: Path, redis_url: str) -> None:
    with arbiter_server(tmp_path, redis_url) as (server, records):
        state = wait_for(lambda: arbiter_decided(server), ARBITER_TIMEOUT, "the arbiter's verdicts")
        assert state["status"] == "on" and state["by_ai"] == 1 and state["today"]["spent"] > 0, state

        open_page(page, server)
        fill_form(page, records.day)
        answer = submit_search(page)
        assert answer["fonte"] == "indice", answer["fonte"]
        by_code = {lic["codigo_pncp"]: lic for lic in answer["licitacoes"]}
        sure_terms = by_code[records.sure["numeroControlePNCP"]]["palavras_encontradas"]
        assert sure_terms, by_code

        table = page.get_by_test_id("results-table")
        expect(table).to_be_visible()
        expect(table).to_have_attribute("data-parcial", "false")
        expect(table.get_by_test_id("result-row")).to_have_count(2)

        doubtful = row_of(page, DOUBTFUL)
        expect(doubtful).to_have_count(1)
        expect(doubtful).to_have_attribute("data-classificacao", "ia")
        expect(doubtful).to_contain_text("sugerido por IA")
        expect(doubtful.get_by_test_id("termos-encontrados")).to_have_count(0)

        sure = row_of(page, SURE)
        expect(sure).to_have_count(1)
        expect(sure).to_have_attribute("data-classificacao", "palavras")
        expect(sure.get_by_test_id("termos-encontrados")).to_have_text(f"termos: {', '.join(sure_terms)}")
        expect(sure).not_to_contain_text("sugerido por IA")

        expect(row_of(page, "gráfica do prédio 2")).to_have_count(0)  # the arbiter said no sector
        assert records.nothing["numeroControlePNCP"] not in by_code
