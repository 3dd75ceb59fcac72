"""The search page in a real browser (Debian's Chromium) against the real server: a search from
the form to the results, the summary and the Excel download, with the queue and without it."""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from openpyxl import load_workbook
from playwright.sync_api import Page, Response, expect

from backend.codes import BRASILIA
from tests.clocks import latest_late_evening
from tests.conftest import free_port
from tests.e2e.conftest import BROWSER_TIMEZONE
from tests.fakes.pncp import FakePNCP, Hold
from tests.servers import ROOT, Server, queue_healthy, running_server, server_env, wait_for

ARTIFACTS = ROOT / "artifacts"  # git-ignored; CI keeps what is there
UF_CHECKBOX = re.compile(r"^uf-[A-Z]{2}$")
CHOSEN_UFS = ("SP", "MG")
SHEET = "Licitações"

# Records every value the progress element's data-stage takes, from the first render on: the
# stages stream in over SSE and React may replace the element, so watch the whole document.
RECORD_STAGES = """
window.__stages = [];
new MutationObserver(() => {
  const el = document.querySelector('[data-testid="progress"]');
  const stage = el && el.getAttribute('data-stage');
  if (stage && window.__stages[window.__stages.length - 1] !== stage) window.__stages.push(stage);
}).observe(document, {subtree: true, childList: true, attributes: true, attributeFilter: ['data-stage']});
"""


@contextmanager
def search_server(tmp_path: Path, redis_url: str, **env: str) -> Iterator[Server]:
    """The real app (uvicorn, demo PNCP data) serving the built page at `/`."""
    with running_server(server_env(tmp_path, redis_url, **env), tmp_path / "server.log") as server:
        page = httpx.get(f"{server.url}/", timeout=10)
        assert page.status_code == 200, (
            f"GET / answered {page.status_code}: the page is not built "
            f"(cd frontend && npm ci && npm run build -> frontend/dist/index.html)\n{page.text[:500]}"
        )
        yield server


def open_page(page: Page, server: Server, *, at: datetime | None = None) -> None:
    """The page at `server`; its clock reads `at` (timers run as usual) when given."""
    page.add_init_script(RECORD_STAGES)
    if at is not None:
        page.clock.set_fixed_time(at)
    page.goto(f"{server.url}/")
    expect(page.get_by_test_id("search-form")).to_be_visible()


def check_only(page: Page, ufs: tuple[str, ...]) -> None:
    """Unchecks every UF checkbox, then checks `ufs`."""
    boxes = page.get_by_test_id(UF_CHECKBOX)
    expect(boxes).to_have_count(27)  # one per state
    for index in range(boxes.count()):
        box = boxes.nth(index)
        if box.is_checked():
            box.uncheck()
    for uf in ufs:
        page.get_by_test_id(f"uf-{uf}").check()
    checked = {boxes.nth(i).get_attribute("data-testid") for i in range(boxes.count()) if boxes.nth(i).is_checked()}
    assert checked == {f"uf-{uf}" for uf in ufs}, checked


def fill_form(page: Page, *, at: datetime | None = None) -> None:
    """Sector and UFs chosen; the default dates kept: the last ten days up to Brasília's day at
    `at` (the page's clock), whatever the browser's time zone says."""
    page.get_by_test_id("setor-select").select_option("alimentos")  # waits for the sectors to load
    check_only(page, CHOSEN_UFS)
    if at is None:
        expect(page.get_by_test_id("data-final")).to_have_value(re.compile(r"^\d{4}-\d{2}-\d{2}$"))
        return
    today = at.astimezone(BRASILIA).date()
    assert at.astimezone(ZoneInfo(BROWSER_TIMEZONE)).date() != today  # the browser's calendar says otherwise
    expect(page.get_by_test_id("data-final")).to_have_value(today.isoformat())
    expect(page.get_by_test_id("data-inicial")).to_have_value((today - timedelta(days=10)).isoformat())


def is_search(response: Response) -> bool:
    return response.request.method == "POST" and response.url.split("?")[0].endswith("/v1/buscar")


def submit_search(page: Page) -> dict[str, Any]:
    """Clicks submit; the answer the page got from POST /v1/buscar."""
    with page.expect_response(is_search) as answer:
        page.get_by_test_id("submit").click()
    response = answer.value
    assert response.status == 200, response.text()
    return response.json()


def expect_finished_search(page: Page) -> int:
    """Results, a ready summary, a download link and the progress at `complete`; the row count."""
    table = page.get_by_test_id("results-table")
    expect(table).to_be_visible()
    rows = table.get_by_test_id("result-row")
    expect(rows.first).to_be_visible()
    resumo = page.get_by_test_id("resumo")
    expect(resumo).to_have_attribute("data-status", "ready")
    expect(resumo).to_have_text(re.compile(r"\w{3,}"))
    link = page.get_by_test_id("excel-download")
    expect(link).to_be_visible()
    expect(link).to_have_attribute("href", re.compile(r"\S"))
    expect(page.get_by_test_id("progress")).to_have_attribute("data-stage", "complete")
    expect(page.get_by_test_id("excel-error")).to_have_count(0)
    stages = page.evaluate("window.__stages")
    assert "error" not in stages and stages[-1] == "complete", stages
    return rows.count()


def download_report(page: Page, folder: Path) -> Path:
    """Clicks the download link as a person would; where the file was saved."""
    with page.expect_download() as started:
        page.get_by_test_id("excel-download").click()
    download = started.value
    assert download.failure() is None, download.failure()
    assert download.suggested_filename.endswith(".xlsx"), download.suggested_filename
    path = folder / download.suggested_filename
    download.save_as(path)
    return path


def check_report(path: Path, page: Page, shown_rows: int, total: int) -> None:
    """The workbook has a "Licitações" sheet: the header, then every licitação of the search
    (`total`, at least the `shown_rows` on the page)."""
    workbook = load_workbook(path, read_only=True)
    try:
        assert SHEET in workbook.sheetnames, workbook.sheetnames
        rows = list(workbook[SHEET].iter_rows(values_only=True))
    finally:
        workbook.close()
    header = rows[0]
    # The licitações run from the header to the first blank row (a totals row follows it).
    data = list(itertools.takewhile(lambda row: any(value is not None for value in row), rows[1:]))
    assert "Objeto" in header, header
    assert len(data) == total >= shown_rows >= 1, (len(data), total, shown_rows)
    # The same search: the first row on the page is one of the report's licitações.
    objetos = [str(row[header.index("Objeto")]) for row in data]
    first_row = page.get_by_test_id("result-row").first.inner_text()
    assert any(objeto[:60] in first_row for objeto in objetos), first_row


def test_search_with_the_queue(page: Page, tmp_path: Path, redis_url: str) -> None:
    with search_server(tmp_path, redis_url, INDEX_DAYS="40") as server:  # the page's default period fits
        wait_for(lambda: queue_healthy(server), 30, "the embedded worker")
        wait_for(lambda: index_ready(server), 60, "the index to be ready")
        late = latest_late_evening("23:30 Brasília")
        open_page(page, server, at=late)
        fill_form(page, at=late)
        answer = submit_search(page)
        assert answer["processamento"] == "fila" and answer["total_filtrado"] > 0, answer["processamento"]
        assert answer["fonte"] == "indice", answer["fonte"]
        expect(page.get_by_test_id("fonte")).to_have_attribute("data-fonte", "indice")
        expect(page.get_by_test_id("fonte")).to_contain_text("índice local")
        shown = expect_finished_search(page)
        check_report(download_report(page, tmp_path), page, shown, answer["total_filtrado"])
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=ARTIFACTS / "search-page.png", full_page=True)


def test_search_without_the_queue(page: Page, tmp_path: Path) -> None:
    nowhere = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    with search_server(tmp_path, nowhere) as server:
        assert httpx.get(f"{server.url}/v1/health", timeout=5).json()["queue"] == "unavailable"
        late = latest_late_evening("01:30 UTC")
        open_page(page, server, at=late)
        fill_form(page, at=late)
        answer = submit_search(page)
        assert answer["processamento"] == "inline" and answer["total_filtrado"] > 0, answer["processamento"]
        expect(page.get_by_test_id("fonte")).to_have_attribute("data-fonte", "pncp")  # INDEX_DAYS=0
        shown = expect_finished_search(page)
        check_report(download_report(page, tmp_path), page, shown, answer["total_filtrado"])


def test_each_ufs_rows_show_before_the_answer_and_the_final_table_after(
    page: Page, tmp_path: Path, redis_url: str,
) -> None:
    released = threading.Event()
    with FakePNCP() as fake:
        fake.script([Hold(released)] * 4, uf="MG")  # MG's first page of each modalidade waits for the test
        env = {"PNCP_BASE_URL": fake.base_url, "PNCP_TIMEOUT": "60"}  # INDEX_DAYS=0: read live, UF by UF
        with search_server(tmp_path, redis_url, **env) as server:
            open_page(page, server)
            fill_form(page)
            answers: list[Response] = []
            page.on("response", lambda response: answers.append(response) if is_search(response) else None)
            page.get_by_test_id("submit").click()

            table = page.get_by_test_id("results-table")
            expect(table).to_have_attribute("data-parcial", "true")
            rows = table.get_by_test_id("result-row")
            expect(rows.first).to_be_visible()
            expect(page.get_by_test_id("resultados-parciais")).to_contain_text("1 de 2 UFs")
            partial = rows.all_inner_texts()
            assert answers == [], "the answer waits for MG: these rows came before it"
            assert partial and all("\tSP" in row for row in partial), partial[:3]

            released.set()
            expect(table).to_have_attribute("data-parcial", "false")
            expect(page.get_by_test_id("resultados-parciais")).to_have_count(0)
            shown = expect_finished_search(page)
            assert len(answers) == 1 and answers[0].status == 200
            answer = answers[0].json()
            assert shown == answer["total_filtrado"] >= len(partial)
            assert {lic["uf"] for lic in answer["licitacoes"]} == {"SP", "MG"}
            final = rows.all_inner_texts()
            assert final[0].startswith(answer["licitacoes"][0]["objeto"][:40]), final[0]  # the final ranking


def test_no_uf_chosen_is_explained_and_searches_nothing(page: Page, tmp_path: Path) -> None:
    with search_server(tmp_path, f"redis://127.0.0.1:{free_port()}/0") as server:
        searches: list[str] = []
        page.on("request", lambda request: searches.append(request.url) if "/v1/buscar" in request.url else None)
        open_page(page, server)
        page.get_by_test_id("setor-select").select_option("alimentos")
        check_only(page, ())
        before = uf_lines(page)
        page.get_by_test_id("submit").click()
        message = wait_for(lambda: uf_lines(page) - before, 30, "a message about the missing UF")
        assert all(len(line) > 5 for line in message), message
        expect(page.get_by_test_id("results-table")).to_have_count(0)
        assert searches == []


def index_ready(server: Server) -> bool:
    return httpx.get(f"{server.url}/v1/health", timeout=5).json()["index"]["status"] == "ready"


def uf_lines(page: Page) -> set[str]:
    """The lines of visible text on the page that mention UFs."""
    return {line.strip() for line in page.locator("body").inner_text().splitlines() if "UF" in line}
