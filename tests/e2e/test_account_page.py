"""The page with accounts in a real browser (Debian's Chromium) against the real server, signing in
with supabase-js at the Supabase Auth double: password and magic-link sign-in, the free plan's
quota going down with a search, its report left out by the plan, "Minhas buscas" reopening a
search after a reload, and signing out."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
from playwright.sync_api import Page, Request, expect

from tests.e2e.test_search_page import ARTIFACTS, RECORD_STAGES, fill_form, is_search, search_server
from tests.fakes.supabase_auth import FakeSupabaseAuth
from tests.servers import Server

EMAIL = "ana@example.com"
PASSWORD = "segredo123"
ANON_KEY = "chave-publica-do-projeto"
PLAN_HAS_NO_REPORT = "A planilha faz parte do plano Pro."


def signing_in(tmp_path: Path, redis_url: str, auth: FakeSupabaseAuth) -> AbstractContextManager[Server]:
    """The real app with sign-in on: its Supabase project is the double."""
    return search_server(tmp_path, redis_url, SUPABASE_URL=auth.url, SUPABASE_ANON_KEY=ANON_KEY)


def open_signed_out(page: Page, server: Server) -> None:
    page.add_init_script(RECORD_STAGES)
    page.goto(f"{server.url}/")
    expect(page.get_by_test_id("login-form")).to_be_visible()
    expect(page.get_by_test_id("search-form")).to_have_count(0)
    expect(page.get_by_test_id("minhas-buscas")).to_have_count(0)


def bearer(request: Request) -> str:
    return request.headers.get("authorization", "")


def test_sign_in_search_reopen_and_sign_out(page: Page, tmp_path: Path, redis_url: str) -> None:
    with FakeSupabaseAuth(anon_key=ANON_KEY) as auth:
        auth.sign_up(EMAIL, PASSWORD)
        with signing_in(tmp_path, redis_url, auth) as server:
            api_calls: list[Request] = []
            page.on("request", lambda request: api_calls.append(request) if "/v1/" in request.url else None)
            open_signed_out(page, server)

            page.get_by_test_id("login-email").fill(EMAIL)
            page.get_by_test_id("login-password").fill("senha-errada")
            page.get_by_test_id("login-submit").click()
            expect(page.get_by_test_id("login-error")).to_have_text("E-mail ou senha incorretos.")

            page.get_by_test_id("login-password").fill(PASSWORD)
            page.get_by_test_id("login-submit").click()
            expect(page.get_by_test_id("conta-plano")).to_have_text("Gratuito")
            quota = page.get_by_test_id("quota")
            expect(quota).to_have_attribute("data-restantes", "10")
            expect(quota).to_contain_text("10 de 10 buscas restantes neste mês")
            expect(page.get_by_text(EMAIL)).to_be_visible()
            expect(page.get_by_test_id("minhas-buscas")).to_be_visible()
            expect(page.get_by_test_id("minha-busca")).to_have_count(0)

            fill_form(page)
            with page.expect_response(is_search) as answered:
                page.get_by_test_id("submit").click()
            response = answered.value
            assert response.status == 200, response.text()
            assert bearer(response.request).startswith("Bearer "), response.request.headers
            answer = response.json()
            assert answer["total_filtrado"] > 0 and answer["excel_status"] in ("processing", "skipped"), answer

            rows = page.get_by_test_id("results-table").get_by_test_id("result-row")
            expect(rows.first).to_be_visible()
            expect(quota).to_have_attribute("data-restantes", "9")
            expect(page.get_by_test_id("resumo")).to_have_attribute("data-status", "ready")
            expect(page.get_by_test_id("excel-skipped")).to_have_text(PLAN_HAS_NO_REPORT)
            expect(page.get_by_test_id("excel-download")).to_have_count(0)
            expect(page.get_by_test_id("progress")).to_have_attribute("data-stage", "complete")
            first_row = rows.first.inner_text()
            shown = rows.count()

            listed = page.get_by_test_id("minha-busca")
            expect(listed).to_have_count(1)
            sector = sector_name(server, "alimentos")
            expect(listed).to_contain_text(sector)
            expect(listed).to_contain_text("MG, SP")
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=ARTIFACTS / "account-page.png", full_page=True)

            streams = [r.url for r in api_calls if "/v1/buscar-progress/" in r.url]
            assert streams and all(parse_qs(urlsplit(url).query).get("access_token") for url in streams), streams
            others = [r for r in api_calls if "/v1/buscar-progress/" not in r.url
                      and not r.url.endswith(("/v1/config", "/v1/setores"))]
            assert others and all(bearer(r).startswith("Bearer ") for r in others), [
                (r.method, r.url) for r in others if not bearer(r)]

            page.reload()  # the session is kept: no sign-in asked
            expect(page.get_by_test_id("conta-plano")).to_have_text("Gratuito")
            expect(page.get_by_test_id("login-form")).to_have_count(0)
            expect(page.get_by_test_id("quota")).to_have_attribute("data-restantes", "9")
            expect(page.get_by_test_id("results-table")).to_have_count(0)

            page.get_by_test_id("minha-busca").click()
            rows = page.get_by_test_id("results-table").get_by_test_id("result-row")
            expect(rows).to_have_count(shown)
            assert rows.first.inner_text() == first_row
            expect(page.get_by_test_id("resumo")).to_have_attribute("data-status", "ready")
            expect(page.get_by_test_id("excel-skipped")).to_have_text(PLAN_HAS_NO_REPORT)
            expect(page.get_by_test_id("quota")).to_have_attribute("data-restantes", "9")  # reopening is no search

            page.get_by_test_id("logout").click()
            expect(page.get_by_test_id("login-form")).to_be_visible()
            expect(page.get_by_test_id("search-form")).to_have_count(0)
            assert "POST /auth/v1/logout?scope=global" in auth.calls, auth.calls
            page.reload()
            expect(page.get_by_test_id("login-form")).to_be_visible()


def test_magic_link_signs_in_once(page: Page, tmp_path: Path, redis_url: str) -> None:
    with FakeSupabaseAuth(anon_key=ANON_KEY) as auth, signing_in(tmp_path, redis_url, auth) as server:
        open_signed_out(page, server)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=ARTIFACTS / "login-page.png")
        page.get_by_test_id("login-email").fill("novo@example.com")
        page.get_by_test_id("login-magic-link").click()
        expect(page.get_by_text("Enviamos um link de acesso para novo@example.com.")).to_be_visible()

        link = auth.magic_link("novo@example.com")
        assert parse_qs(urlsplit(link).query)["redirect_to"] == [f"{server.url}/"], link
        page.goto(link)
        expect(page.get_by_test_id("conta-plano")).to_have_text("Gratuito")
        expect(page.get_by_text("novo@example.com")).to_be_visible()
        assert "access_token" not in page.url, page.url

        page.get_by_test_id("logout").click()
        expect(page.get_by_test_id("login-form")).to_be_visible()
        page.goto(link)  # a link signs in once
        expect(page.get_by_test_id("login-notice")).to_contain_text("O link de acesso expirou ou já foi usado.")
        assert "error" not in page.url, page.url


def sector_name(server: Server, sector_id: str) -> str:
    setores = httpx.get(f"{server.url}/v1/setores", timeout=10).json()
    return next(s["nome"] for s in setores if s["id"] == sector_id)
