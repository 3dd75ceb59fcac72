"""Real-browser fixtures: Debian's Chromium driven by Playwright, a fresh context per test.

Nothing skips: without Chromium the e2e tests fail, because CI must run them. Playwright's own
browser download cannot work on these machines, so the browser is the system's `chromium`.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright

from tests.servers import ROOT

ARTIFACTS = ROOT / "artifacts"
BROWSER_TIMEZONE = "Asia/Tokyo"
TIMEOUT_MS = 30_000  # the machine is small: two cores shared with the server and its worker
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """One headless Chromium for all the e2e tests.

    Package-scoped rather than session-scoped: between calls Playwright's sync API marks its own
    event loop as running in the main thread, which would break the asyncio tests run after these.
    """
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail(
            "Chromium is not installed, and the e2e tests need Debian's: scripts/services.sh chromium "
            "(apt-get install -y chromium). Playwright's own browser download does not work here."
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A page in a context of its own (no cookies or storage shared), downloads accepted.

    On failure the page's console, its uncaught errors and a screenshot
    (artifacts/e2e-failures/<test>.png) tell what the browser saw.
    """
    context = browser.new_context(
        accept_downloads=True,
        locale="pt-BR",
        # Never Brasília's zone: the page must say Brasília's dates whatever the browser's. Tokyo's
        # calendar is a day ahead of Brasília's half of each day.
        timezone_id=BROWSER_TIMEZONE,
        viewport={"width": 1280, "height": 900},
        reduced_motion="reduce",  # no transitions half way in a screenshot
    )
    context.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(_describe(message)))
    page.on("pageerror", lambda error: console.append(f"[uncaught] {error}"))
    page.on("requestfailed", lambda req: console.append(f"[request failed] {req.method} {req.url}: {req.failure}"))
    try:
        yield page
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            _save_failure(page, request.node.name)
            print("browser console:\n" + ("\n".join(console) or "(empty)"))
    finally:
        context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Keeps each phase's report on the item, so that `page` knows whether the test failed."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def _describe(message: ConsoleMessage) -> str:
    return f"[{message.type}] {message.text}"


def _save_failure(page: Page, name: str) -> None:
    folder = ARTIFACTS / "e2e-failures"
    folder.mkdir(parents=True, exist_ok=True)
    try:
        page.screenshot(path=folder / f"{name}.png", full_page=True, timeout=10_000)
        print(f"screenshot: {Path(folder / f'{name}.png').relative_to(ROOT)}")
    except Exception as exc:  # noqa: BLE001 - a page that cannot be drawn must not hide the failure
        print(f"no screenshot: {exc}")
