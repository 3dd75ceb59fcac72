"""Accounts end to end over HTTP, against the Supabase Auth double and a real database: searches
belong to their users, plans count and limit them, and a plan without reports gets none."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest

from backend.codes import BRASILIA, today_brasilia
from backend.domain.plans import EXCEL_NOT_IN_PLAN
from tests.clocks import MovableClock
from tests.conftest import free_port
from tests.fakes.supabase_auth import FakeSupabaseAuth
from tests.servers import eventually, running_servers, server_env

PLANS = """
planos:
  - {id: free, nome: Gratuito, buscas_mes: 3, excel: false, max_ufs: 3, max_dias: 10, buscas_simultaneas: 1,
     historico_dias: 7}
  - {id: equipe, nome: Equipe, buscas_mes: 10, excel: true, max_ufs: 27, max_dias: 30, buscas_simultaneas: 20,
     historico_dias: 30}
"""


def search(**changes: Any) -> dict[str, Any]:
    today = today_brasilia()
    return {"setor_id": "vestuario", "ufs": ["SP"], "data_inicial": str(today - timedelta(days=4)),
            "data_final": str(today), **changes}


@pytest.fixture(scope="module")
def auth() -> Iterator[FakeSupabaseAuth]:
    with FakeSupabaseAuth() as fake:
        yield fake


@pytest.fixture
def plans_file(tmp_path: Path) -> Path:
    path = tmp_path / "plans.yaml"
    path.write_text(PLANS, encoding="utf-8")
    return path


@pytest.fixture
def accounts_settings(make_settings, auth: FakeSupabaseAuth, plans_file: Path):
    def build(**overrides: Any):
        return make_settings(**{"supabase_url": auth.url, "supabase_anon_key": "anon", "plans_file": plans_file,
                                **overrides})
    return build


def user(auth: FakeSupabaseAuth, plan: str | None = None, *, email: str | None = None) -> dict[str, str]:
    """The Authorization header of a new session of a new user (of `plan`, when given), or of `email`'s."""
    email = email or f"{uuid4().hex[:12]}@example.com"
    auth.sign_up(email, "segredo123")
    if plan is not None:
        auth.set_plan(email, plan)
    token = auth.sign_up(email, "segredo123")["access_token"]  # a new session of the same user, plan included
    return {"Authorization": f"Bearer {token}"}


async def test_a_search_is_its_owners_alone(client_for, accounts_settings, auth: FakeSupabaseAuth) -> None:
    ana, bia = user(auth), user(auth)
    async with client_for(accounts_settings()) as client:
        answer = await client.post("/v1/buscar", json=search(), headers=ana)
        assert answer.status_code == 200, answer.text
        sid = answer.json()["search_id"]
        for path in (f"/v1/buscar/{sid}/status", f"/v1/buscar/{sid}", f"/v1/buscar-progress/{sid}"):
            assert (await client.get(path, headers=bia)).status_code == 404, path
            assert (await client.get(path, headers=ana)).status_code == 200, path
        token = ana["Authorization"].removeprefix("Bearer ")
        assert (await client.get(f"/v1/buscar-progress/{sid}", params={"access_token": token})).status_code == 200
        assert (await client.get("/v1/buscas", headers=bia)).json() == {"buscas": [], "pagina": 1, "total": 0}
        mine = (await client.get("/v1/buscas", headers=ana)).json()
        taken = await client.post("/v1/buscar", json=search(search_id=sid), headers=bia)
        again = await client.post("/v1/buscar", json=search(search_id=sid), headers=ana)
        conta = (await client.get("/v1/conta", headers=ana)).json()
    assert mine["total"] == 1 and mine["pagina"] == 1
    assert mine["buscas"][0] | {"created_at": None} == {
        "search_id": sid, "created_at": None, "setor_id": "vestuario", "ufs": ["SP"], "modo": "publicacao",
        "data_inicial": search()["data_inicial"], "data_final": search()["data_final"],
        "total_filtrado": answer.json()["total_filtrado"], "llm_status": "ready", "excel_status": "skipped",
    }
    assert taken.status_code == 409 and "já pertence a outra busca" in taken.json()["detail"]
    assert again.status_code == 200 and again.json()["search_id"] == sid  # its owner's re-post: not counted
    assert conta["usadas"] == 1 and conta["restantes"] == 2


async def test_the_quota_counts_accepted_searches_only_and_says_when_it_renews(
        client_for, accounts_settings) -> None:
    clock = MovableClock(datetime(2026, 12, 30, 12, 0, tzinfo=BRASILIA).astimezone(UTC))
    with FakeSupabaseAuth(now=lambda: clock().timestamp()) as auth:  # its tokens issued at the service's time
        ana = user(auth)
        async with client_for(accounts_settings(supabase_url=auth.url), clock) as client:
            await _run_out_of_searches(client, ana)


async def _run_out_of_searches(client, ana: dict[str, str]) -> None:
    conta = (await client.get("/v1/conta", headers=ana)).json()
    assert conta | {"user_id": None} == {
        "user_id": None, "email": conta["email"], "plano": {"id": "free", "nome": "Gratuito"}, "buscas_mes": 3,
        "usadas": 0, "restantes": 3, "renova_em": "2027-01-01", "excel": False,
    }
    day = {"data_inicial": "2026-12-26", "data_final": "2026-12-30"}
    assert (await client.post("/v1/buscar", json=search(**day, ufs=["XX"]), headers=ana)).status_code == 422
    beyond = await client.post("/v1/buscar", json=search(**day, ufs=["SP", "RJ", "MG", "ES"]), headers=ana)
    assert beyond.status_code == 403
    assert beyond.json()["detail"] == "O plano Gratuito permite até 3 UFs por busca; esta pede 4."
    long = await client.post("/v1/buscar", json=search(data_inicial="2026-12-01", data_final="2026-12-30"),
                             headers=ana)
    assert long.json()["detail"] == "O plano Gratuito permite períodos de até 10 dias; este tem 30."
    for _ in range(3):
        assert (await client.post("/v1/buscar", json=search(**day), headers=ana)).status_code == 200
    over = await client.post("/v1/buscar", json=search(**day), headers=ana)
    assert over.status_code == 403
    assert over.json()["detail"] == ("Você usou as 3 buscas do plano Gratuito neste mês; "
                                     "elas renovam em 01/01/2027.")
    assert (await client.get("/v1/conta", headers=ana)).json()["restantes"] == 0
    assert (await client.get("/v1/buscas", headers=ana)).json()["total"] == 3  # the refused one left nothing


async def test_a_search_the_service_failed_is_given_back(client_for, accounts_settings, auth: FakeSupabaseAuth) -> None:
    ana = user(auth)
    down = f"http://127.0.0.1:{free_port()}/api/consulta"  # PNCP unreachable for every UF
    async with client_for(accounts_settings(pncp_base_url=down)) as client:
        failed = await client.post("/v1/buscar", json=search(), headers=ana)
        assert failed.status_code == 502, failed.text
        assert (await client.get("/v1/conta", headers=ana)).json()["usadas"] == 0


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
async def test_twenty_searches_at_once_with_five_left_accept_exactly_five(
        client_for, accounts_settings, auth: FakeSupabaseAuth, database_url: str) -> None:
    ana = user(auth, "equipe")
    async with client_for(accounts_settings(database_url=database_url)) as client:
        for _ in range(5):
            assert (await client.post("/v1/buscar", json=search(), headers=ana)).status_code == 200
        answers = await asyncio.gather(*(client.post("/v1/buscar", json=search(), headers=ana) for _ in range(20)))
        conta = (await client.get("/v1/conta", headers=ana)).json()
    codes = sorted(answer.status_code for answer in answers)
    assert codes == [200] * 5 + [403] * 15, [a.text for a in answers if a.status_code not in (200, 403)]
    assert (conta["usadas"], conta["restantes"]) == (10, 0)


async def test_searches_at_once_are_limited_by_the_plan(client_for, accounts_settings, auth: FakeSupabaseAuth) -> None:
    ana = user(auth)  # free: one at a time
    async with client_for(accounts_settings()) as client:
        answers = await asyncio.gather(*(client.post("/v1/buscar", json=search(), headers=ana) for _ in range(3)))
    codes = sorted(answer.status_code for answer in answers)
    assert 200 in codes and set(codes) <= {200, 429}, codes
    refused = [a for a in answers if a.status_code == 429]
    assert all("em andamento" in a.json()["detail"] and a.headers["retry-after"] for a in refused)


async def test_a_plan_without_reports_gets_the_report_skipped_by_its_job(
        client_for, accounts_settings, auth: FakeSupabaseAuth) -> None:
    free, team = user(auth), user(auth, "equipe")
    async with client_for(accounts_settings(embedded_worker=True)) as client:
        await eventually(lambda: _queue_healthy(client), timeout=10, step=0.1, what="the worker")
        sids = {}
        for name, headers in (("free", free), ("equipe", team)):
            answer = await client.post("/v1/buscar", json=search(), headers=headers)
            assert answer.json()["processamento"] == "fila", answer.text
            sids[name] = (answer.json()["search_id"], headers)

        async def settled(name: str) -> dict[str, Any] | None:
            sid, headers = sids[name]
            body = (await client.get(f"/v1/buscar/{sid}/status", headers=headers)).json()
            return body if body["excel_status"] != "processing" else None

        skipped = await eventually(lambda: settled("free"), timeout=30, step=0.2, what="the free plan's report")
        built = await eventually(lambda: settled("equipe"), timeout=30, step=0.2, what="the team plan's report")
    assert (skipped["excel_status"], skipped["excel_error"], skipped["excel_url"]) == ("skipped", EXCEL_NOT_IN_PLAN,
                                                                                       None)
    assert built["excel_status"] == "ready" and built["excel_url"]


async def _queue_healthy(client) -> bool | None:
    return (await client.get("/v1/health")).json()["queue"] == "healthy" or None


async def test_minhas_buscas_keeps_a_search_as_long_as_the_plan_says(
        client_for, accounts_settings) -> None:
    clock = MovableClock(datetime.now(UTC))
    with FakeSupabaseAuth(now=lambda: clock().timestamp()) as auth:
        async with client_for(accounts_settings(supabase_url=auth.url), clock) as client:
            await _keeps_seven_days(client, auth, clock)


async def _keeps_seven_days(client, auth: FakeSupabaseAuth, clock: MovableClock) -> None:
    email = f"{uuid4().hex[:12]}@example.com"
    ana = user(auth, email=email)  # free: 7 days of history
    sid = (await client.post("/v1/buscar", json=search(), headers=ana)).json()["search_id"]
    clock.advance(timedelta(days=6, hours=23))
    ana = user(auth, email=email)  # signed in again: a week later, the first session expired
    assert [b["search_id"] for b in (await client.get("/v1/buscas", headers=ana)).json()["buscas"]] == [sid]
    reopened = await client.get(f"/v1/buscar/{sid}", headers=ana)
    assert reopened.status_code == 200 and reopened.json()["search_id"] == sid
    clock.advance(timedelta(hours=2))
    ana = user(auth, email=email)
    assert (await client.get("/v1/buscas", headers=ana)).json()["total"] == 0
    assert (await client.get(f"/v1/buscar/{sid}", headers=ana)).status_code == 404


async def test_ops_and_metrics_count_searches_by_plan_users_at_limit_and_401s(
        client_for, accounts_settings, auth: FakeSupabaseAuth) -> None:
    ana, bia = user(auth), user(auth, "equipe")
    async with client_for(accounts_settings(ops_token="ops-secret")) as client:
        for _ in range(3):
            assert (await client.post("/v1/buscar", json=search(), headers=ana)).status_code == 200
        assert (await client.post("/v1/buscar", json=search(), headers=bia)).status_code == 200
        assert (await client.get("/v1/conta", headers={"Authorization": "Bearer nope"})).status_code == 401
        assert (await client.get("/v1/conta")).status_code == 401
        data = (await client.get("/ops/data", params={"token": "ops-secret"})).json()["accounts"]
        page = (await client.get("/ops", params={"token": "ops-secret"})).text
        exposition = (await client.get("/metrics")).text
    assert data["buscas_hoje"] == {"free": 3, "equipe": 1} and data["buscas_mes"] == {"free": 3, "equipe": 1}
    assert data["usuarios_no_limite"] == 1
    assert data["recusados_401_hoje"] == {"malformed": 1, "no_token": 1}
    assert "Usuários sem buscas restantes no mês: 1" in page and "no_token: 1" in page
    assert 'smartlic_searches_by_plan{period="today",plan="free"} 3.0' in exposition
    assert "smartlic_users_at_limit 1.0" in exposition
    assert 'smartlic_auth_refused_total{reason="no_token"}' in exposition


async def test_the_rate_limit_counts_each_user_and_refused_tokens_by_address(
        client_for, accounts_settings, auth: FakeSupabaseAuth) -> None:
    ana, bia = user(auth, "equipe"), user(auth, "equipe")  # the same address, as behind one office's NAT
    async with client_for(accounts_settings(search_rate_limit="2/minute")) as client:
        codes = [(await client.post("/v1/buscar", json=search(), headers=who)).status_code
                 for who in (ana, ana, bia, bia, ana)]
        refused = [(await client.get("/v1/conta", headers={"Authorization": f"Bearer bad{n}"})).status_code
                   for n in range(3)]
    assert codes == [200, 200, 200, 200, 429]
    assert refused == [401, 401, 429]


def test_two_processes_sharing_a_sqlite_file_accept_exactly_the_searches_left(
        tmp_path: Path, redis_url: str, auth: FakeSupabaseAuth, plans_file: Path) -> None:
    headers = user(auth, "equipe")  # 10 a month, 20 at once
    env = server_env(tmp_path, redis_url, SUPABASE_URL=auth.url, SUPABASE_ANON_KEY="anon", PLANS_FILE=str(plans_file))
    with running_servers([env, env], tmp_path) as servers, ThreadPoolExecutor(20) as pool:
        post = partial(httpx.post, json=search(), headers=headers, timeout=60)
        for server in servers:  # 6 of 10 used, 3 in each process
            for _ in range(3):
                assert post(f"{server.url}/v1/buscar").status_code == 200
        codes = sorted(pool.map(lambda n: post(f"{servers[n % 2].url}/v1/buscar").status_code, range(20)))
        conta = httpx.get(f"{servers[0].url}/v1/conta", headers=headers, timeout=10).json()
    assert codes == [200] * 4 + [403] * 16
    assert (conta["usadas"], conta["restantes"]) == (10, 0)
