"""Who is asking: AUTH_MODE=supabase against the Supabase Auth double, and AUTH_MODE=off."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import uuid4

import pytest

from backend.api.health import AUTH_OFF
from tests.fakes.supabase_auth import FakeSupabaseAuth, SigningKey

SEARCH = {"setor_id": "vestuario", "ufs": ["SP"], "data_inicial": "2026-11-30", "data_final": "2026-12-04"}


@pytest.fixture(scope="module")
def auth() -> Iterator[FakeSupabaseAuth]:
    with FakeSupabaseAuth() as fake:
        yield fake


@pytest.fixture
def signed_in_settings(make_settings, auth: FakeSupabaseAuth):
    return make_settings(supabase_url=auth.url, supabase_anon_key="anon-key-of-the-project")


async def test_config_tells_the_page_how_to_sign_in(client_for, signed_in_settings, auth: FakeSupabaseAuth) -> None:
    async with client_for(signed_in_settings) as client:
        answer = await client.get("/v1/config")
    assert answer.json() == {"auth": "supabase", "supabase_url": auth.url,
                             "supabase_anon_key": "anon-key-of-the-project"}


async def test_without_a_good_token_no_search_and_no_status(client_for, signed_in_settings,
                                                            auth: FakeSupabaseAuth) -> None:
    stranger = auth.mint(key=SigningKey.new())
    cases = {
        None: "Entre na sua conta para usar o SmartLic.",
        auth.mint(exp=-5): "Sua sessão expirou; entre novamente.",
        auth.mint(aud="anon"): "Token de acesso de outra aplicação; entre novamente.",
        stranger: "Token de acesso assinado por chave desconhecida; entre novamente.",
    }
    async with client_for(signed_in_settings) as client:
        for token, detail in cases.items():
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            for answer in (await client.post("/v1/buscar", json=SEARCH, headers=headers),
                           await client.get(f"/v1/buscar/{uuid4()}/status", headers=headers),
                           await client.get(f"/v1/buscar-progress/{uuid4()}", headers=headers)):
                assert answer.status_code == 401, (token, answer.text)
                assert answer.json()["detail"] == detail and answer.headers["www-authenticate"] == "Bearer"
        assert (await client.get("/v1/setores")).status_code == 200  # open to all
        assert (await client.get("/v1/health")).json()["avisos"] == []  # signing in is on: nothing to say


async def test_a_signed_in_user_searches_and_follows_the_stream_by_query_token(
        client_for, signed_in_settings, auth: FakeSupabaseAuth) -> None:
    token = auth.sign_up(f"{uuid4().hex}@example.com", "segredo123")["access_token"]
    async with client_for(signed_in_settings) as client:
        answer = await client.post("/v1/buscar", json=SEARCH, headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200, answer.text
        search_id = answer.json()["search_id"]
        status = await client.get(f"/v1/buscar/{search_id}/status", headers={"Authorization": f"Bearer {token}"})
        assert status.status_code == 200
        stream = await client.get(f"/v1/buscar-progress/{search_id}", params={"access_token": token})
        assert stream.status_code == 200 and '"stage":"complete"' in stream.text.replace(" ", ""), stream.text[-300:]


async def test_auth_off_is_one_local_user_and_health_says_so(client_for, make_settings) -> None:
    async with client_for(make_settings()) as client:
        assert (await client.get("/v1/config")).json() == {"auth": "off", "supabase_url": None,
                                                           "supabase_anon_key": None}
        assert (await client.post("/v1/buscar", json=SEARCH)).status_code == 200
        assert AUTH_OFF in (await client.get("/v1/health")).json()["avisos"]


async def test_keys_that_cannot_be_read_are_a_503_not_a_401(client_for, make_settings,
                                                            auth: FakeSupabaseAuth) -> None:
    with FakeSupabaseAuth() as gone:
        url = gone.url
    async with client_for(make_settings(supabase_url=url, supabase_anon_key="anon")) as client:
        answer = await client.get(f"/v1/buscar/{uuid4()}/status", headers={"Authorization": f"Bearer {auth.mint()}"})
    assert answer.status_code == 503 and "tente de novo" in answer.json()["detail"]
