"""The PNCP double over real HTTP: demo and fixed records, scripted faults, recorded requests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import date, timedelta

import httpx
import pytest

from backend.pncp.demo import demo_updates, demo_window, generate_records
from tests.fakes import (
    FakePNCP,
    db_error_500,
    delay,
    hang,
    json_body,
    maintenance_page,
    no_content,
    rate_limited,
    server_error,
)

PATH = "/v1/contratacoes/publicacao"
ATUALIZACAO = "/v1/contratacoes/atualizacao"


def params(uf: str | None = "SP", pagina: int = 1, modalidade: int = 6, **extra: object) -> dict[str, object]:
    out: dict[str, object] = {
        "dataInicial": "20260302", "dataFinal": "20260306", "codigoModalidadeContratacao": modalidade,
        "pagina": pagina, "tamanhoPagina": 50,
    }
    if uf:
        out["uf"] = uf
    out.update(extra)
    return out


@pytest.fixture(scope="module")
def server() -> Iterator[FakePNCP]:
    with FakePNCP() as running:
        yield running


@pytest.fixture
def fake(server: FakePNCP) -> FakePNCP:
    """The module's server, as good as new: no requests, scripts or latency, demo records."""
    server.reset()
    server.latency = 0.0
    server.set_records(None)
    return server


@pytest.fixture
def client(fake: FakePNCP) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fake.base_url, timeout=5) as http:
        yield http


# --- lifecycle and normal service --------------------------------------------------------


def test_base_url_and_lifecycle() -> None:
    fake = FakePNCP().start()
    try:
        assert fake.base_url == f"http://127.0.0.1:{fake.port}/api/consulta"
        r = httpx.get(fake.base_url + PATH, params=params())
        assert r.status_code == 200
    finally:
        fake.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(fake.base_url + PATH, params=params(), timeout=1)


def test_two_fakes_side_by_side() -> None:
    with FakePNCP() as a, FakePNCP() as b:
        assert a.port != b.port
        assert httpx.get(a.base_url + PATH, params=params()).status_code == 200
        assert httpx.get(b.base_url + PATH, params=params()).status_code == 200
        assert len(a.requests) == len(b.requests) == 1


def test_serves_demo_records_by_default(client: httpx.Client) -> None:
    expected = demo_window("SP", 6, date(2026, 3, 2), date(2026, 3, 6))
    r = client.get(PATH, params=params())
    assert r.status_code == 200
    body = r.json()
    assert body["totalRegistros"] == len(expected)
    assert body["data"] == list(expected[:50])
    assert body["numeroPagina"] == 1 and body["empty"] is False
    last = body["totalPaginas"]
    assert client.get(PATH, params=params(pagina=last)).status_code == 200
    past = client.get(PATH, params=params(pagina=last + 1))
    assert past.status_code == 204 and past.content == b""


def test_same_validation_as_pncp(client: httpx.Client) -> None:
    r = client.get(PATH, params=params(tamanhoPagina=51))
    assert r.status_code == 400 and r.json()["status"] == 400
    assert client.get(PATH, params={"dataInicial": "20260302"}).status_code == 400


def test_root_path_also_served(fake: FakePNCP) -> None:
    assert httpx.get(fake.root_url + PATH, params=params()).status_code == 200


# --- scripted responses ----------------------------------------------------------------------


def test_204(fake: FakePNCP, client: httpx.Client) -> None:
    fake.script([no_content()])
    r = client.get(PATH, params=params())
    assert r.status_code == 204 and r.content == b""


def test_429_html_with_retry_after(fake: FakePNCP, client: httpx.Client) -> None:
    fake.script([rate_limited(retry_after=7), rate_limited()])
    r = client.get(PATH, params=params())
    assert r.status_code == 429
    assert r.headers["content-type"].startswith("text/html")
    assert r.headers["retry-after"] == "7"
    assert r.text.startswith("<html>") and "Limite de requisições excedido" in r.text
    r = client.get(PATH, params=params())
    assert r.status_code == 429 and "retry-after" not in r.headers


def test_500_plain_string_labelled_json(fake: FakePNCP, client: httpx.Client) -> None:
    fake.script([db_error_500()])
    r = client.get(PATH, params=params())
    assert r.status_code == 500
    assert r.headers["content-type"] == "application/json"
    assert r.text == "Erro na comunicação com o banco de dados."
    with pytest.raises(ValueError):
        r.json()


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_spring_json(fake: FakePNCP, client: httpx.Client, status: int) -> None:
    fake.script([server_error(status)])
    r = client.get(PATH, params=params())
    assert r.status_code == status
    body = r.json()
    assert set(body) >= {"timestamp", "status", "error", "message"}
    assert body["status"] == status


def test_200_html_maintenance(fake: FakePNCP, client: httpx.Client) -> None:
    fake.script([maintenance_page()])
    r = client.get(PATH, params=params())
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    with pytest.raises(ValueError):
        r.json()


def test_200_unexpected_json(fake: FakePNCP, client: httpx.Client) -> None:
    fake.script([json_body({"mensagem": "ok"})])
    r = client.get(PATH, params=params())
    assert r.status_code == 200 and r.json() == {"mensagem": "ok"}


def test_delay_then_normal_page(fake: FakePNCP, client: httpx.Client) -> None:
    fake.script([delay(0.4)])
    t0 = time.monotonic()
    r = client.get(PATH, params=params())
    assert time.monotonic() - t0 >= 0.38
    assert r.status_code == 200 and r.json()["data"]
    assert fake.requests[-1].kind == "delay"


def test_error_after_a_wait(fake: FakePNCP, client: httpx.Client) -> None:
    fake.script([db_error_500(after=0.3)])
    t0 = time.monotonic()
    assert client.get(PATH, params=params()).status_code == 500
    assert time.monotonic() - t0 >= 0.28


def test_hang_makes_the_client_time_out_and_stop_is_prompt() -> None:
    fake = FakePNCP().start()
    try:
        fake.script([hang(60)])
        with pytest.raises(httpx.ReadTimeout):
            httpx.get(fake.base_url + PATH, params=params(), timeout=0.3)
        # the next request is served normally
        assert httpx.get(fake.base_url + PATH, params=params(), timeout=5).status_code == 200
        fake.script([hang(60)])
        with pytest.raises(httpx.ReadTimeout):
            httpx.get(fake.base_url + PATH, params=params(), timeout=0.2)
    finally:
        t0 = time.monotonic()
        fake.stop()
        assert time.monotonic() - t0 < 5


def test_scripts_consumed_in_order_and_matched(fake: FakePNCP, client: httpx.Client) -> None:
    fake.script([rate_limited(), db_error_500(), server_error(503)], uf="SP", pagina=2)
    fake.script([no_content()], uf="RJ")
    assert fake.pending == 4
    statuses = [
        client.get(PATH, params=params(uf="MG", pagina=2)).status_code,  # unmatched: normal
        client.get(PATH, params=params(uf="SP", pagina=1)).status_code,  # wrong page: normal
        client.get(PATH, params=params(uf="SP", pagina=2)).status_code,
        client.get(PATH, params=params(uf="RJ", pagina=1)).status_code,
        client.get(PATH, params=params(uf="SP", pagina=2)).status_code,
        client.get(PATH, params=params(uf="SP", pagina=2)).status_code,
        client.get(PATH, params=params(uf="SP", pagina=2)).status_code,  # scripts used up
        client.get(PATH, params=params(uf="RJ", pagina=1)).status_code,
    ]
    assert statuses == [200, 200, 429, 204, 500, 503, 200, 200]
    assert fake.pending == 0


def test_script_matched_by_modalidade(fake: FakePNCP, client: httpx.Client) -> None:
    fake.script([rate_limited()], modalidade=4)
    assert client.get(PATH, params=params(modalidade=6)).status_code == 200
    assert client.get(PATH, params=params(modalidade=4)).status_code == 429


def test_script_without_filters_matches_any(fake: FakePNCP, client: httpx.Client) -> None:
    fake.script(rate_limited())
    assert client.get(PATH, params=params(uf=None)).status_code == 429


def test_script_rejects_other_things(fake: FakePNCP) -> None:
    with pytest.raises(TypeError):
        fake.script([429])  # type: ignore[list-item]


# --- recorded requests, latency, concurrency -------------------------------------------------


def test_requests_recorded(fake: FakePNCP, client: httpx.Client) -> None:
    fake.script([rate_limited()], pagina=1)
    calls = []  # when each call was made and answered, by the clock the fake records with
    for pagina in (1, 1, 2):
        sent = time.monotonic()
        client.get(PATH, params=params(pagina=pagina))
        calls.append((sent, time.monotonic()))
    reqs = fake.requests
    assert [r.status for r in reqs] == [429, 200, 200]
    assert [r.pagina for r in reqs] == [1, 1, 2]
    assert [r.kind for r in reqs] == ["429", "normal", "normal"]
    assert reqs[0].params["uf"] == "SP" and reqs[0].params["dataInicial"] == "20260302"
    assert reqs[0].uf == "SP" and reqs[0].modalidade == 6
    assert reqs[0].path == "/api/consulta" + PATH
    # Each request recorded from its arrival to its answer, within the client's call.
    for r, (sent, answered) in zip(reqs, calls, strict=True):
        assert r.duration is not None and sent <= r.started <= r.started + r.duration <= answered
    fake.reset()
    assert fake.requests == [] and fake.pending == 0


def test_latency_applies_to_every_request(fake: FakePNCP, client: httpx.Client) -> None:
    fake.latency = 0.1
    fake.script([no_content()])
    for _ in range(2):
        t0 = time.monotonic()
        client.get(PATH, params=params())
        assert time.monotonic() - t0 >= 0.095
    assert all(r.duration >= 0.095 for r in fake.requests)


@pytest.mark.asyncio
async def test_concurrent_requests_async(fake: FakePNCP) -> None:
    fake.latency = 0.2
    async with httpx.AsyncClient(base_url=fake.base_url, timeout=5) as http:
        t0 = time.monotonic()
        responses = await asyncio.gather(*(http.get(PATH, params=params(pagina=p)) for p in (1, 2, 1, 2, 1, 2)))
        elapsed = time.monotonic() - t0
    assert [r.status_code for r in responses] == [200] * 6
    assert elapsed < 1.0, "served concurrently, not one after another"
    assert fake.max_in_flight >= 3
    assert len(fake.requests) == 6


@pytest.mark.asyncio
async def test_async_client_times_out_on_hang(fake: FakePNCP) -> None:
    fake.script([hang(30)], uf="SP")
    async with httpx.AsyncClient(base_url=fake.base_url, timeout=0.3) as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.get(PATH, params=params())
        assert (await http.get(PATH, params=params(uf="RJ"))).status_code == 200


# --- fixed records -------------------------------------------------------------------------------


def fixed_records() -> list[dict]:
    records: list[dict] = []
    for i in range(10):
        day = date(2026, 3, 2) + timedelta(days=i)
        records += generate_records("SP", 6, day)[:3]
        records += generate_records("RJ", 6, day)[:1]
        records += generate_records("SP", 8, day)[:1]
    return records


def test_fixed_records_filtered_and_paginated() -> None:
    records = fixed_records()
    with FakePNCP(records) as fake, httpx.Client(base_url=fake.base_url) as http:
        sp = [r for r in records if r["unidadeOrgao"]["ufSigla"] == "SP" and r["modalidadeId"] == 6
              and "2026-03-02" <= r["dataPublicacaoPncp"][:10] <= "2026-03-06"]
        assert sp
        p1 = http.get(PATH, params=params(tamanhoPagina=10))
        assert p1.status_code == 200
        assert p1.json()["totalRegistros"] == len(sp)
        got = list(p1.json()["data"])
        for pagina in range(2, p1.json()["totalPaginas"] + 1):
            got += http.get(PATH, params=params(tamanhoPagina=10, pagina=pagina)).json()["data"]
        assert got == sp
        past = http.get(PATH, params=params(tamanhoPagina=10, pagina=p1.json()["totalPaginas"] + 1))
        assert past.status_code == 204

        every_uf = http.get(PATH, params=params(uf=None)).json()
        assert every_uf["totalRegistros"] == sum(
            1 for r in records
            if r["modalidadeId"] == 6 and "2026-03-02" <= r["dataPublicacaoPncp"][:10] <= "2026-03-06"
        )
        assert http.get(PATH, params=params(uf="BA")).status_code == 204

        fake.set_records([])
        assert http.get(PATH, params=params()).status_code == 204
        fake.set_records(None)  # back to demo records
        assert http.get(PATH, params=params()).json()["totalRegistros"] == len(
            demo_window("SP", 6, date(2026, 3, 2), date(2026, 3, 6))
        )


# --- /v1/contratacoes/atualizacao -----------------------------------------------------------------


def test_atualizacao_serves_demo_updates_by_default(fake: FakePNCP, client: httpx.Client) -> None:
    expected = demo_updates("SP", 6, date(2026, 3, 2), date(2026, 3, 6))
    r = client.get(ATUALIZACAO, params=params())
    assert r.status_code == 200
    assert r.json()["totalRegistros"] == len(expected)
    assert r.json()["data"] == list(expected[:50])
    assert httpx.get(fake.root_url + ATUALIZACAO, params=params()).status_code == 200
    assert client.get(ATUALIZACAO, params=params(codigoModalidadeContratacao="")).status_code == 400
    reqs = fake.requests
    assert [x.endpoint for x in reqs] == ["atualizacao"] * 3
    assert reqs[0].path == "/api/consulta" + ATUALIZACAO and reqs[1].path == ATUALIZACAO


def test_endpoint_of_a_request(fake: FakePNCP, client: httpx.Client) -> None:
    client.get(PATH, params=params())
    client.get(ATUALIZACAO, params=params())
    httpx.get(fake.root_url + "/pncp-consulta" + ATUALIZACAO, params=params())
    assert [r.endpoint for r in fake.requests] == ["publicacao", "atualizacao", "atualizacao"]


def test_script_matched_by_endpoint(fake: FakePNCP, client: httpx.Client) -> None:
    fake.script([rate_limited()], endpoint="atualizacao")
    assert client.get(PATH, params=params()).status_code == 200
    assert client.get(ATUALIZACAO, params=params()).status_code == 429
    assert fake.pending == 0


def at(record: dict, **changes: object) -> dict:
    return {**record, **changes}


def test_fixed_records_atualizacao_by_update_date() -> None:
    base = fixed_records()
    # three SP pregões published on 2 March: one untouched, one edited on the 9th, one on the 20th
    sp = [r for r in base if r["unidadeOrgao"]["ufSigla"] == "SP" and r["modalidadeId"] == 6][:3]
    assert all(r["dataPublicacaoPncp"].startswith("2026-03-02") for r in sp)
    edited = at(sp[1], dataAtualizacaoGlobal="2026-03-09T10:00:00")
    late = at(sp[2], dataAtualizacaoGlobal="2026-03-20T10:00:00")
    untouched = at(sp[0], dataAtualizacaoGlobal=None, dataAtualizacao="2026-03-02T09:00:00")  # fallback
    dispensa = at(next(r for r in base if r["modalidadeId"] == 8), dataAtualizacaoGlobal="2026-03-09T11:00:00")
    rj = at(next(r for r in base if r["unidadeOrgao"]["ufSigla"] == "RJ"), dataAtualizacaoGlobal="2026-03-09T12:00:00")
    with FakePNCP([untouched, edited, late, dispensa, rj]) as fake, httpx.Client(base_url=fake.base_url) as http:
        def numeros(**query: object) -> list[str]:
            r = http.get(ATUALIZACAO, params=params(**query))
            return [] if r.status_code == 204 else [x["numeroControlePNCP"] for x in r.json()["data"]]

        march_9 = {"dataInicial": "20260309", "dataFinal": "20260309"}
        assert numeros(**march_9) == [edited["numeroControlePNCP"]]
        assert numeros(**march_9, uf=None) == [edited["numeroControlePNCP"], rj["numeroControlePNCP"]]
        assert numeros(**march_9, modalidade=8, uf=None) == [dispensa["numeroControlePNCP"]]
        assert numeros(dataInicial="20260302", dataFinal="20260302") == [untouched["numeroControlePNCP"]]
        assert numeros(dataInicial="20260301", dataFinal="20260331") == [
            untouched["numeroControlePNCP"], edited["numeroControlePNCP"], late["numeroControlePNCP"]
        ]
        assert http.get(ATUALIZACAO, params=params(dataInicial="20260310", dataFinal="20260319")).status_code == 204
        # /publicacao still goes by publication date
        assert len(http.get(PATH, params=params(dataInicial="20260302", dataFinal="20260302")).json()["data"]) == 3


def test_fixed_records_atualizacao_paginated() -> None:
    records = [
        at(r, dataAtualizacaoGlobal="2026-03-12T08:00:00") for r in fixed_records()
        if r["unidadeOrgao"]["ufSigla"] == "SP" and r["modalidadeId"] == 6
    ]
    assert 21 <= len(records) <= 30, "three pages of ten"
    with FakePNCP(records) as fake, httpx.Client(base_url=fake.base_url) as http:
        query = params(dataInicial="20260312", dataFinal="20260312", tamanhoPagina=10)
        pages = [http.get(ATUALIZACAO, params={**query, "pagina": p}) for p in (1, 2, 3, 4)]
    assert [p.status_code for p in pages] == [200, 200, 200, 204]
    assert [p.json()["paginasRestantes"] for p in pages[:3]] == [2, 1, 0]
    assert [x for p in pages[:3] for x in p.json()["data"]] == records


def test_a_record_changed_with_set_records_shows_on_both_endpoints() -> None:
    records = fixed_records()
    target = next(r for r in records if r["unidadeOrgao"]["ufSigla"] == "SP" and r["modalidadeId"] == 6)
    published = target["dataPublicacaoPncp"][:10].replace("-", "")
    later = {"dataInicial": "20260420", "dataFinal": "20260421"}  # after every demo update of these
    with FakePNCP(records) as fake, httpx.Client(base_url=fake.base_url) as http:
        assert http.get(ATUALIZACAO, params=params(**later)).status_code == 204

        revogada = at(target, situacaoCompraId=2, situacaoCompraNome="Revogada",
                      dataAtualizacao="2026-04-20T15:30:00", dataAtualizacaoGlobal="2026-04-20T15:30:00")
        fake.set_records([revogada if r is target else r for r in records])

        updates = http.get(ATUALIZACAO, params=params(**later)).json()
        assert updates["totalRegistros"] == 1 and updates["data"] == [revogada]
        on_publicacao = http.get(PATH, params=params(dataInicial=published, dataFinal=published)).json()["data"]
        same = [x for x in on_publicacao if x["numeroControlePNCP"] == target["numeroControlePNCP"]]
        assert same == [revogada]
