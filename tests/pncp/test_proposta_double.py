"""`/v1/contratacoes/proposta` in the PNCP double, over real HTTP: what is open now, by closing moment."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import pytest

from backend.codes import now_brasilia
from backend.pncp.demo import PROPOSTA_PATH, PUBLICACAO_PATH, demo_transport, generate_records
from tests.fakes import FakePNCP, rate_limited
from tests.fakes.pncp_live import LivePNCP
from tests.records import pncp_record

# The fixed clock of most tests: a Tuesday morning, Brasília wall-clock time.
NOW = datetime(2026, 3, 10, 11, 0)
TODAY = NOW.date()


def ymd(day: date) -> str:
    return day.strftime("%Y%m%d")


def params(data_final: date | None = TODAY + timedelta(days=10), **extra: object) -> dict[str, object]:
    out: dict[str, object] = {"codigoModalidadeContratacao": 6, "pagina": 1, "tamanhoPagina": 50}
    if data_final is not None:
        out["dataFinal"] = ymd(data_final)
    out.update(extra)
    return {name: value for name, value in out.items() if value is not None}


def record(name: str, encerramento: datetime | None, *, publicado: datetime = NOW - timedelta(days=3),
           **fields: Any) -> dict[str, Any]:
    """A divulgada Pregão Eletrônico in SP unless told otherwise; `name` is its objeto."""
    return pncp_record(name, publicado=publicado, encerramento=encerramento, **fields)


def listed(response: httpx.Response) -> list[str]:
    """The objetos of a page, in the order served."""
    assert response.status_code == 200, response.text
    return [r["objetoCompra"] for r in response.json()["data"]]


def closing(r: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(r["dataEncerramentoProposta"])


@pytest.fixture(scope="module")
def server() -> Iterator[FakePNCP]:
    with FakePNCP(now=lambda: NOW) as running:
        yield running


@pytest.fixture
def fake(server: FakePNCP) -> FakePNCP:
    """The module's fixed-clock server, as good as new: no requests or scripts, demo records."""
    server.reset()
    server.set_records(None)
    return server


@pytest.fixture
def client(fake: FakePNCP) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fake.base_url, timeout=10) as http:
        yield http


# --- what is listed ----------------------------------------------------------------------------


def test_lists_the_open_period_whatever_the_publication_date(fake: FakePNCP, client: httpx.Client) -> None:
    fake.set_records([
        record("antiga e aberta", NOW + timedelta(days=7), publicado=NOW - timedelta(days=90)),
        record("encerrada ontem", NOW - timedelta(days=1), publicado=NOW - timedelta(days=20)),
        record("revogada", NOW + timedelta(days=2), situacao=2),
        record("anulada", NOW + timedelta(days=2), situacao=3),
        record("suspensa", NOW + timedelta(days=2), situacao=4),
        record("sem encerramento", None),
        record("depois da data final", NOW + timedelta(days=20)),
    ])
    assert listed(client.get(PROPOSTA_PATH, params=params(TODAY + timedelta(days=10)))) == ["antiga e aberta"]
    # A later dataFinal takes the one closing after the first one in, after it.
    assert listed(client.get(PROPOSTA_PATH, params=params(TODAY + timedelta(days=30)))) == [
        "antiga e aberta", "depois da data final",
    ]


def test_open_means_closing_now_or_later_and_by_the_end_of_data_final(fake: FakePNCP, client: httpx.Client) -> None:
    fake.set_records([
        record("fechou há um minuto", NOW - timedelta(minutes=1)),
        record("fecha agora", NOW),
        record("fecha hoje à tarde", NOW.replace(hour=14)),
        record("fecha amanhã 23:59", datetime.combine(TODAY + timedelta(days=1), datetime.max.time()).replace(
            microsecond=0)),
        record("fecha depois de amanhã 00:00", datetime.combine(TODAY + timedelta(days=2), datetime.min.time())),
    ])
    assert listed(client.get(PROPOSTA_PATH, params=params(TODAY))) == ["fecha agora", "fecha hoje à tarde"]
    assert listed(client.get(PROPOSTA_PATH, params=params(TODAY + timedelta(days=1)))) == [
        "fecha agora", "fecha hoje à tarde", "fecha amanhã 23:59",
    ]


def test_ordered_by_closing_moment_then_numero_controle(fake: FakePNCP, client: httpx.Client) -> None:
    same = NOW + timedelta(days=4)
    fake.set_records([
        record("terceira", NOW + timedelta(days=6)),
        record("empate B", same, sequencial=902),
        record("primeira", NOW + timedelta(hours=2)),
        record("empate A", same, sequencial=901),
    ])
    assert listed(client.get(PROPOSTA_PATH, params=params())) == ["primeira", "empate A", "empate B", "terceira"]


def test_modalidade_omitted_lists_every_modalidade(fake: FakePNCP, client: httpx.Client) -> None:
    fake.set_records([
        record("pregão", NOW + timedelta(days=3), modalidade=6),
        record("dispensa", NOW + timedelta(days=1), modalidade=8),
        record("concorrência", NOW + timedelta(days=2), modalidade=4, uf="MG"),
    ])
    every = client.get(PROPOSTA_PATH, params=params(codigoModalidadeContratacao=None))
    assert listed(every) == ["dispensa", "concorrência", "pregão"]
    assert listed(client.get(PROPOSTA_PATH, params=params(codigoModalidadeContratacao=8))) == ["dispensa"]
    assert listed(client.get(PROPOSTA_PATH, params=params(codigoModalidadeContratacao=None, uf="MG"))) == [
        "concorrência",
    ]


def test_uf_filters(fake: FakePNCP, client: httpx.Client) -> None:
    fake.set_records([
        record("paulista", NOW + timedelta(days=3), uf="SP"),
        record("carioca", NOW + timedelta(days=4), uf="RJ"),
        record("outra carioca", NOW + timedelta(days=5), uf="RJ"),
    ])
    assert listed(client.get(PROPOSTA_PATH, params=params(uf="RJ"))) == ["carioca", "outra carioca"]
    assert listed(client.get(PROPOSTA_PATH, params=params(uf="sp"))) == ["paulista"]
    assert listed(client.get(PROPOSTA_PATH, params=params())) == ["paulista", "carioca", "outra carioca"]
    assert client.get(PROPOSTA_PATH, params=params(uf="BA")).status_code == 204


def test_pages(fake: FakePNCP, client: httpx.Client) -> None:
    opened = [record(f"aberta {i:02d}", NOW + timedelta(hours=1 + i)) for i in range(23)]
    closed = [record(f"encerrada {i}", NOW - timedelta(hours=1 + i)) for i in range(5)]
    fake.set_records(closed + opened[::-1])
    pages = [client.get(PROPOSTA_PATH, params=params(pagina=n, tamanhoPagina=10)) for n in (1, 2, 3)]
    bodies = [p.json() for p in pages]
    assert [len(b["data"]) for b in bodies] == [10, 10, 3]
    assert {b["totalRegistros"] for b in bodies} == {23} and {b["totalPaginas"] for b in bodies} == {3}
    assert [(b["numeroPagina"], b["paginasRestantes"], b["empty"]) for b in bodies] == [
        (1, 2, False), (2, 1, False), (3, 0, False),
    ]
    assert [name for p in pages for name in listed(p)] == [r["objetoCompra"] for r in opened]
    past = client.get(PROPOSTA_PATH, params=params(pagina=4, tamanhoPagina=10))
    assert past.status_code == 204 and past.content == b""


def test_204_when_nothing_is_open(fake: FakePNCP, client: httpx.Client) -> None:
    fake.set_records([record("encerrada", NOW - timedelta(hours=1)), record("revogada", NOW + timedelta(days=1),
                                                                            situacao=2)])
    r = client.get(PROPOSTA_PATH, params=params())
    assert r.status_code == 204 and r.content == b""


def test_optional_filters(fake: FakePNCP, client: httpx.Client) -> None:
    fake.set_records([
        record("do órgão A", NOW + timedelta(days=1), cnpj="11222333000181"),
        record("do órgão B", NOW + timedelta(days=2), cnpj="44555666000199"),
    ])
    assert listed(client.get(PROPOSTA_PATH, params=params(cnpj="44555666000199"))) == ["do órgão B"]
    assert client.get(PROPOSTA_PATH, params=params(codigoUnidadeAdministrativa="999")).status_code == 204
    assert listed(client.get(PROPOSTA_PATH, params=params(idUsuario=3))) == ["do órgão A", "do órgão B"]


# --- refusals ----------------------------------------------------------------------------------


def test_past_data_final_is_422_with_pncp_error_body(client: httpx.Client) -> None:
    r = client.get(PROPOSTA_PATH, params=params(TODAY - timedelta(days=1)))
    assert r.status_code == 422
    body = r.json()
    assert set(body) == {"timestamp", "status", "error", "message", "path"}
    assert body["status"] == 422 and body["error"] == "Unprocessable Entity"
    assert body["message"] and body["path"] == "/api/consulta" + PROPOSTA_PATH
    assert client.get(PROPOSTA_PATH, params=params(TODAY)).status_code in (200, 204)


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        ({"tamanhoPagina": 51}, "Tamanho de página inválido"),
        ({"tamanhoPagina": 9}, "Tamanho de página inválido"),
        ({"dataFinal": None}, "dataFinal"),
        ({"dataFinal": "2026-03-20"}, "dataFinal"),
        ({"codigoModalidadeContratacao": 99}, "modalidade"),
        ({"pagina": 0}, "página"),
        ({"uf": "XX"}, "UF"),
    ],
)
def test_bad_requests_are_400(client: httpx.Client, bad: dict[str, object], says: str) -> None:
    query = {**params(), **bad}
    r = client.get(PROPOSTA_PATH, params={k: v for k, v in query.items() if v is not None})
    assert r.status_code == 400
    body = r.json()
    assert body["status"] == 400 and body["error"] == "Bad Request" and says in body["message"]


def test_page_size_bounds_are_accepted(client: httpx.Client) -> None:
    for size in (10, 50):
        assert client.get(PROPOSTA_PATH, params=params(tamanhoPagina=size)).status_code == 200


# --- the double around the endpoint ------------------------------------------------------------


def test_served_under_every_root(fake: FakePNCP) -> None:
    fake.set_records([record("aberta", NOW + timedelta(days=1))])
    for root in ("", "/api/consulta", "/pncp-consulta"):
        r = httpx.get(fake.root_url + root + PROPOSTA_PATH, params=params())
        assert listed(r) == ["aberta"], root
    assert [r.endpoint for r in fake.requests] == ["proposta"] * 3


def test_set_records_serves_each_endpoint_by_its_rule(fake: FakePNCP, client: httpx.Client) -> None:
    old = record("publicada há 90 dias", NOW + timedelta(days=5), publicado=NOW - timedelta(days=90))
    fake.set_records([old])
    published_day = ymd((NOW - timedelta(days=90)).date())
    window = {"dataInicial": published_day, "dataFinal": published_day, "codigoModalidadeContratacao": 6}
    assert listed(client.get(PUBLICACAO_PATH, params=window)) == ["publicada há 90 dias"]
    recent = {**window, "dataInicial": ymd(TODAY - timedelta(days=10)), "dataFinal": ymd(TODAY)}
    assert client.get(PUBLICACAO_PATH, params=recent).status_code == 204
    assert client.get(PROPOSTA_PATH, params=params()).json()["data"] == [old]


def test_script_by_endpoint(fake: FakePNCP, client: httpx.Client) -> None:
    fake.set_records([record("aberta", NOW + timedelta(days=1), publicado=NOW - timedelta(days=1))])
    fake.script([rate_limited()], endpoint="proposta")
    day = ymd(TODAY - timedelta(days=1))
    publicacao = client.get(PUBLICACAO_PATH, params={"dataInicial": day, "dataFinal": day,
                                                     "codigoModalidadeContratacao": 6})
    assert listed(publicacao) == ["aberta"]
    assert client.get(PROPOSTA_PATH, params=params()).status_code == 429
    assert listed(client.get(PROPOSTA_PATH, params=params())) == ["aberta"]
    assert [(r.endpoint, r.kind, r.status) for r in fake.requests] == [
        ("publicacao", "normal", 200), ("proposta", "429", 429), ("proposta", "normal", 200),
    ]


def test_live_double_serves_proposta_too() -> None:
    now = now_brasilia()
    records = [pncp_record("aberta", encerramento=now + timedelta(days=3)),
               pncp_record("encerrada", encerramento=now - timedelta(days=1))]
    with LivePNCP(records, time_scale=0, errors=False, rate_limit=False) as live:
        r = httpx.get(live.base_url + PROPOSTA_PATH, params=params(now.date() + timedelta(days=5)))
    assert listed(r) == ["aberta"]


# --- the demo records --------------------------------------------------------------------------


def test_demo_records_at_a_fixed_moment_include_moved_dates(client: httpx.Client) -> None:
    """The demo source lists exactly what an independent scan of 120 days of MG records finds
    open, including a record published more than 30 days ago whose proposal dates were moved."""
    data_final = TODAY + timedelta(days=60)
    expected = []
    for back in range(120):
        for r in generate_records("MG", 6, TODAY - timedelta(days=back)):
            end = r["dataEncerramentoProposta"]
            if r["situacaoCompraId"] == 1 and end and NOW <= closing(r) and closing(r).date() <= data_final:
                expected.append(r)
    expected.sort(key=lambda r: (closing(r), r["numeroControlePNCP"]))
    assert any(TODAY - datetime.fromisoformat(r["dataPublicacaoPncp"]).date() > timedelta(days=30) for r in expected)
    served: list[dict[str, Any]] = []
    pagina = 1
    while (r := client.get(PROPOSTA_PATH, params=params(data_final, uf="MG", pagina=pagina))).status_code == 200:
        served += r.json()["data"]
        pagina += 1
    assert r.status_code == 204
    assert served == expected


def test_demo_national_request_on_the_real_clock() -> None:
    """No set_records and the default clock: every record served is open now, nationally."""
    before = now_brasilia()
    data_final = before.date() + timedelta(days=60)
    with FakePNCP() as fake, httpx.Client(base_url=fake.base_url, timeout=30) as http:
        r = http.get(PROPOSTA_PATH, params=params(data_final))
        assert r.status_code == 200
        body = r.json()
        page = body["data"]
        assert len(page) == 50 and body["totalRegistros"] > 1000
        assert all(x["situacaoCompraId"] == 1 and before <= closing(x) for x in page)
        assert all(closing(x).date() <= data_final for x in page)
        assert [closing(x) for x in page] == sorted(closing(x) for x in page)
        assert any(datetime.fromisoformat(x["dataPublicacaoPncp"]).date() < before.date() for x in page)
        last = http.get(PROPOSTA_PATH, params=params(data_final, pagina=body["totalPaginas"])).json()["data"]
        assert len({x["unidadeOrgao"]["ufSigla"] for x in page + last}) > 1
        # Each one is the very record `/publicacao` serves for its day.
        first = page[0]
        day = ymd(datetime.fromisoformat(first["dataPublicacaoPncp"]).date())
        same_day = http.get(PUBLICACAO_PATH, params={
            "dataInicial": day, "dataFinal": day, "codigoModalidadeContratacao": 6,
            "uf": first["unidadeOrgao"]["ufSigla"], "cnpj": first["orgaoEntidade"]["cnpj"],
        }).json()["data"]
        assert first in same_day


@pytest.mark.asyncio
async def test_demo_app_serves_proposta_under_every_root() -> None:
    """The service's demo mode (PNCP_BASE_URL=demo) talks to `create_demo_app()`: /proposta is there too."""
    today = now_brasilia().date()
    async with httpx.AsyncClient(transport=demo_transport(), base_url="http://pncp-demo") as http:
        for root in ("", "/api/consulta", "/pncp-consulta"):
            r = await http.get(root + PROPOSTA_PATH, params=params(today + timedelta(days=30), uf="DF"))
            assert r.status_code == 200, root
            assert all(x["unidadeOrgao"]["ufSigla"] == "DF" and x["situacaoCompraId"] == 1 for x in r.json()["data"])
        past = await http.get(PROPOSTA_PATH, params=params(today - timedelta(days=1), uf="DF"))
    assert past.status_code == 422 and past.json()["path"] == PROPOSTA_PATH
