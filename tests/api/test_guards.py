"""What keeps clients from hurting the service: searches per client, body size, browser origins,
search size. In-process over ASGI, and across two gunicorn processes for the shared limit."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import httpx

from backend.codes import UFS, now_brasilia
from tests.conftest import free_port
from tests.servers import running_server, server_env


def busca(days: int = 6, **overrides: object) -> dict:
    """A search of the `days` days up to today, Brasília's day when the search is made."""
    today = now_brasilia().date()
    body = {"ufs": ["SP"], "data_inicial": str(today - timedelta(days=days - 1)), "data_final": str(today),
            "setor_id": "vestuario"}
    body.update(overrides)
    return body


async def test_searches_past_the_rate_get_429_with_retry_after(make_settings, client_for) -> None:
    async with client_for(make_settings(search_rate_limit="3/minute")) as client:
        answers = [await client.post("/v1/buscar", json=busca()) for _ in range(4)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        refused = answers[-1]
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert "Muitas buscas" in refused.json()["mensagem"]
        # Reading results back is not limited.
        search_id = answers[0].json()["search_id"]
        assert (await client.get(f"/v1/buscar/{search_id}/status")).status_code == 200


async def test_the_count_is_shared_by_processes_through_redis(make_settings, client_for) -> None:
    settings = make_settings(search_rate_limit="3/minute")
    async with client_for(settings) as first, client_for(settings) as second:
        assert (await first.post("/v1/buscar", json=busca())).status_code == 200
        assert (await second.post("/v1/buscar", json=busca())).status_code == 200
        assert (await first.post("/v1/buscar", json=busca())).status_code == 200
        assert (await second.post("/v1/buscar", json=busca())).status_code == 429


async def test_without_redis_each_process_still_limits(make_settings, client_for) -> None:
    settings = make_settings(search_rate_limit="2/minute", redis_url=f"redis://127.0.0.1:{free_port()}/0")
    async with client_for(settings) as client:
        codes = [(await client.post("/v1/buscar", json=busca())).status_code for _ in range(3)]
    assert codes == [200, 200, 429]


def test_gunicorn_with_two_processes_keeps_one_limit(tmp_path: Path, redis_url: str) -> None:
    env = {**server_env(tmp_path, redis_url), "WEB_CONCURRENCY": "2", "SEARCH_RATE_LIMIT": "5/minute"}
    with running_server(env, tmp_path / "server.log", gunicorn=True) as server:

        def search(_: int) -> int:
            with httpx.Client(base_url=server.url, timeout=60) as client:  # a connection each
                return client.post("/v1/buscar", json=busca()).status_code

        with ThreadPoolExecutor(8) as pool:
            codes = list(pool.map(search, range(8)))
    assert sorted(codes) == [200] * 5 + [429] * 3, codes


async def test_a_body_over_the_limit_gets_413(make_settings, client_for) -> None:
    async with client_for(make_settings(max_body_bytes=4096)) as client:
        big = busca(termos_busca="x" * 5000)
        declared = await client.post("/v1/buscar", json=big)
        assert declared.status_code == 413 and "bytes" in declared.json()["mensagem"]

        async def chunks():  # no Content-Length: counted while it is read
            for _ in range(10):
                yield b" " * 1000

        streamed = await client.post("/v1/buscar", content=chunks(), headers={"content-type": "application/json"})
        assert streamed.status_code == 413 and "bytes" in streamed.json()["mensagem"]
        assert (await client.post("/v1/buscar", json=busca())).status_code == 200


async def test_cors_is_closed_unless_configured(make_settings, client_for) -> None:
    preflight = {"Origin": "https://elsewhere.example", "Access-Control-Request-Method": "POST"}
    async with client_for(make_settings()) as client:
        answer = await client.options("/v1/buscar", headers=preflight)
        assert "access-control-allow-origin" not in answer.headers
        read = await client.get("/v1/setores", headers={"Origin": "https://elsewhere.example"})
        assert read.status_code == 200 and "access-control-allow-origin" not in read.headers

    settings = make_settings(cors_origins="https://app.smartlic.example, https://admin.smartlic.example/")
    async with client_for(settings) as client:
        allowed = await client.options("/v1/buscar", headers={**preflight, "Origin": "https://app.smartlic.example",
                                                              "Access-Control-Request-Headers": "authorization"})
        assert allowed.status_code == 200  # the page on another origin sends its access token
        assert allowed.headers["access-control-allow-origin"] == "https://app.smartlic.example"
        other = await client.options("/v1/buscar", headers=preflight)
        assert other.headers.get("access-control-allow-origin") != "https://elsewhere.example"
        read = await client.get("/v1/setores", headers={"Origin": "https://admin.smartlic.example"})
        assert read.headers["access-control-allow-origin"] == "https://admin.smartlic.example"


async def test_a_search_too_big_is_refused_with_its_size(make_settings, client_for) -> None:
    async with client_for(make_settings(max_uf_days=100)) as client:
        five_ufs_30_days = busca(30, ufs=sorted(UFS)[:5])
        answer = await client.post("/v1/buscar", json=five_ufs_30_days)
        assert answer.status_code == 422
        problem = answer.json()["detail"][0]
        assert problem["campo"] == "ufs" and "5 UFs x 30 dias = 150" in problem["msg"] and "100" in problem["msg"]
        assert (await client.post("/v1/buscar", json=busca(ufs=["SP", "RJ"]))).status_code == 200


async def test_more_pages_than_allowed_are_cut_and_the_answer_says_so(make_settings, client_for, fake_pncp) -> None:
    from tests.records import pncp_record

    published = now_brasilia().replace(microsecond=0) - timedelta(days=1)
    fake_pncp.set_records([pncp_record(f"Aquisição de uniformes escolares, lote {i}", modalidade=6, sequencial=i,
                                       publicado=published) for i in range(1, 131)])
    settings = make_settings(pncp_base_url=fake_pncp.base_url, pncp_max_pages=2)
    async with client_for(settings) as client:
        answer = (await client.post("/v1/buscar", json=busca(modalidades=[6], somente_abertas=False))).json()
    assert answer["total_raw"] == 100  # 2 pages of 50 out of 3
    assert any("SP: havia mais de 100 publicações" in aviso for aviso in answer["avisos"]), answer["avisos"]
