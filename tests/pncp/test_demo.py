"""The generated PNCP records and the demo app that serves them."""

from __future__ import annotations

import collections
import json
import re
import subprocess
import sys
import unicodedata
from datetime import date, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from backend.codes import DEFAULT_MODALIDADES, MODALIDADES, UFS
from backend.pncp import demo as pncp_demo
from backend.pncp.demo import DEMO_BASE_URL, UF_IBGE, create_demo_app, demo_transport, generate_records

ROOT = Path(__file__).resolve().parents[2]
DAY = date(2026, 3, 10)  # a Tuesday
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")

TOP_LEVEL_TYPES: dict[str, tuple[type, ...]] = {
    "amparoLegal": (dict,),
    "anoCompra": (int,),
    "dataAberturaProposta": (str, type(None)),
    "dataAtualizacao": (str,),
    "dataAtualizacaoGlobal": (str,),
    "dataEncerramentoProposta": (str, type(None)),
    "dataInclusao": (str,),
    "dataPublicacaoPncp": (str,),
    "emendaParlamentar": (bool, type(None)),
    "fontesOrcamentarias": (list,),
    "informacaoComplementar": (str, type(None)),
    "justificativaPresencial": (str, type(None)),
    "linkProcessoEletronico": (str, type(None)),
    "linkSistemaOrigem": (str, type(None)),
    "modalidadeId": (int,),
    "modalidadeNome": (str,),
    "modoDisputaId": (int,),
    "modoDisputaNome": (str,),
    "numeroCompra": (str,),
    "numeroControlePNCP": (str,),
    "objetoCompra": (str,),
    "orgaoEntidade": (dict,),
    "orgaoSubRogado": (dict, type(None)),
    "processo": (str,),
    "sequencialCompra": (int,),
    "situacaoCompraId": (int,),
    "situacaoCompraNome": (str,),
    "srp": (bool,),
    "tipoInstrumentoConvocatorioCodigo": (int,),
    "tipoInstrumentoConvocatorioNome": (str,),
    "unidadeOrgao": (dict,),
    "unidadeSubRogada": (dict, type(None)),
    "usuarioNome": (str,),
    "valorTotalEstimado": (float,),
    "valorTotalHomologado": (float, type(None)),
}
ORGAO_KEYS = {"cnpj", "razaoSocial", "poderId", "esferaId"}
UNIDADE_KEYS = {"ufSigla", "ufNome", "municipioNome", "codigoIbge", "codigoUnidade", "nomeUnidade"}
AMPARO_KEYS = {"codigo", "nome", "descricao"}

# Words (accent-free, lower case) of each theme a demo search must find.
THEME_WORDS: dict[str, tuple[str, ...]] = {
    "uniformes": ("uniforme", "fardamento", "jaleco", "camiseta"),
    "alimentacao": ("alimenticio", "merenda", "alimentacao escolar", "refeic", "hortifruti", "cestas basicas"),
    "informatica": ("computador", "notebook", "impressora", "informatica"),
    "software": ("software", "sistema informatizado", "licenciamento"),
    "mobiliario": ("mobiliario", "cadeira", "armario", "moveis"),
    "expediente": ("expediente", "papel sulfite", "papelaria", "material escolar"),
    "limpeza": ("limpeza",),
    "saude": ("medicamento", "medico-hospitalar", "odontologic", "hospitalar"),
    "seguranca": ("vigilancia", "videomonitoramento", "seguranca eletronica", "coletes balisticos"),
    "transporte": ("veiculo", "combustive", "frota", "transporte escolar", "onibus", "ambulancia"),
    "manutencao_predial": ("manutencao predial", "reforma", "ar condicionado", "material de construcao"),
    "eletrico": ("material eletrico", "iluminacao publica", "led", "fotovoltaica"),
    "outros": ("pavimentacao", "eventos", "consultoria", "obra de construcao"),
}


def plain(text: str) -> str:
    return unicodedata.normalize("NFKD", text.lower()).encode("ascii", "ignore").decode("ascii")


def window(start: date, days: int) -> list[date]:
    return [start + timedelta(days=i) for i in range(days)]


@pytest.fixture(scope="module")
def sample() -> list[dict]:
    """A few thousand records: every UF, the default modalidades plus dispensa, two weeks."""
    records: list[dict] = []
    for day in window(date(2026, 3, 2), 14):
        for uf in UFS:
            for modalidade in (*DEFAULT_MODALIDADES, 8):
                records.extend(generate_records(uf, modalidade, day))
    assert len(records) > 3000
    return records


# --- determinism ---------------------------------------------------------------------------


def test_same_call_same_records() -> None:
    first = generate_records("MG", 6, DAY)
    assert first, "a Tuesday in MG has pregões"
    assert generate_records("MG", 6, DAY) == first
    assert generate_records("mg", 6, DAY) == first
    assert generate_records("MG", 6, DAY + timedelta(days=1)) != first
    assert generate_records("MG", 4, DAY) != first
    assert generate_records("SP", 6, DAY) != first


def test_returns_fresh_dicts() -> None:
    records = generate_records("SP", 6, DAY)
    records[0]["objetoCompra"] = "mudado"
    assert generate_records("SP", 6, DAY)[0]["objetoCompra"] != "mudado"


def test_same_records_in_another_process() -> None:
    """No salted hash(): a fresh interpreter with another PYTHONHASHSEED gives identical records."""
    code = (
        "import json, sys; from datetime import date; "
        "from backend.pncp.demo import generate_records; "
        "sys.stdout.write(json.dumps(generate_records('BA', 6, date(2026, 3, 10)), sort_keys=True))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
        env={"PYTHONHASHSEED": "12345", "PATH": "/usr/bin:/bin"},
    ).stdout
    assert json.loads(out) == generate_records("BA", 6, date(2026, 3, 10))


def test_unknown_uf_or_modalidade_is_an_error() -> None:
    with pytest.raises(ValueError):
        generate_records("XX", 6, DAY)
    with pytest.raises(ValueError):
        generate_records("SP", 99, DAY)


# --- wire format ---------------------------------------------------------------------------


def test_wire_format_keys_and_types(sample: list[dict]) -> None:
    for r in sample:
        assert set(r) == set(TOP_LEVEL_TYPES)
        for key, types in TOP_LEVEL_TYPES.items():
            assert isinstance(r[key], types), (key, r[key])
        assert set(r["orgaoEntidade"]) == ORGAO_KEYS
        assert set(r["unidadeOrgao"]) == UNIDADE_KEYS
        assert set(r["amparoLegal"]) == AMPARO_KEYS
        assert all(isinstance(v, str) for v in r["orgaoEntidade"].values())
        assert all(isinstance(v, str) for v in r["unidadeOrgao"].values())
        assert not isinstance(r["anoCompra"], bool) and not isinstance(r["sequencialCompra"], bool)


def test_identifiers(sample: list[dict]) -> None:
    seen = set()
    for r in sample:
        cnpj = r["orgaoEntidade"]["cnpj"]
        assert re.fullmatch(r"\d{14}", cnpj)
        assert r["numeroControlePNCP"] == f"{cnpj}-1-{r['sequencialCompra']:06d}/{r['anoCompra']}"
        seen.add(r["numeroControlePNCP"])
        unidade = r["unidadeOrgao"]
        uf = unidade["ufSigla"]
        assert unidade["ufNome"] == UFS[uf]
        assert re.fullmatch(r"\d{7}", unidade["codigoIbge"]) and unidade["codigoIbge"].startswith(UF_IBGE[uf])
        assert r["modalidadeNome"] == MODALIDADES[r["modalidadeId"]]
        assert r["situacaoCompraNome"] == pncp_demo.SITUACOES[r["situacaoCompraId"]]
        assert r["orgaoEntidade"]["esferaId"] in {"M", "E", "F", "D"}
        assert r["orgaoEntidade"]["poderId"] in {"E", "L", "J", "N"}
    assert len(seen) == len(sample), "numeroControlePNCP is unique"


def test_cnpj_check_digits_are_valid(sample: list[dict]) -> None:
    def valid(cnpj: str) -> bool:
        d = [int(c) for c in cnpj]
        for n, weights in ((12, (5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)), (13, (6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2))):
            rest = sum(a * b for a, b in zip(d, weights)) % 11
            if d[n] != (0 if rest < 2 else 11 - rest):
                return False
        return True

    assert all(valid(r["orgaoEntidade"]["cnpj"]) for r in sample)


def test_capitals_have_their_real_ibge_code() -> None:
    records = [r for d in window(DAY, 5) for r in generate_records("SP", 6, d)]
    codes = {r["unidadeOrgao"]["municipioNome"]: r["unidadeOrgao"]["codigoIbge"] for r in records}
    assert codes.get("São Paulo") == "3550308"


def test_dates(sample: list[dict]) -> None:
    for r in sample:
        for key in ("dataPublicacaoPncp", "dataInclusao", "dataAtualizacao", "dataAtualizacaoGlobal"):
            assert DATE_RE.match(r[key]), r[key]
        published = datetime.fromisoformat(r["dataPublicacaoPncp"])
        assert r["dataInclusao"] == r["dataPublicacaoPncp"]
        assert r["dataAtualizacao"] >= r["dataPublicacaoPncp"]
        assert r["dataAtualizacaoGlobal"] >= r["dataAtualizacao"]
        assert r["anoCompra"] in (published.year, published.year - 1)
        opening, closing = r["dataAberturaProposta"], r["dataEncerramentoProposta"]
        assert (opening is None) == (closing is None), "null together"
        if opening is None:
            continue
        assert DATE_RE.match(opening) and DATE_RE.match(closing)
        assert datetime.fromisoformat(opening) > published
        updated = datetime.fromisoformat(r["dataAtualizacao"])
        assert 5 <= (datetime.fromisoformat(closing).date() - published.date()).days <= 30 or (
            # proposal dates moved by a change: counted from the change instead
            updated - published >= timedelta(days=1)
            and datetime.fromisoformat(opening) > updated
            and 8 <= (datetime.fromisoformat(closing).date() - updated.date()).days <= 40
        ), (r["numeroControlePNCP"], published, updated, opening, closing)
        assert closing > opening


def test_records_are_published_on_their_day() -> None:
    for day in window(DAY, 3):
        for r in generate_records("RS", 6, day):
            assert r["dataPublicacaoPncp"].startswith(day.isoformat())


# --- quirks at their real rates ------------------------------------------------------------


def rate(sample: list[dict], predicate) -> float:
    return sum(1 for r in sample if predicate(r)) / len(sample)


def test_confidential_budget_about_one_in_ten(sample: list[dict]) -> None:
    assert 0.06 <= rate(sample, lambda r: r["valorTotalEstimado"] == 0) <= 0.14


def test_homologado_mostly_null(sample: list[dict]) -> None:
    assert rate(sample, lambda r: r["valorTotalHomologado"] is None) >= 0.6
    assert any(r["valorTotalHomologado"] for r in sample)
    assert all(r["valorTotalHomologado"] is None for r in sample if r["valorTotalEstimado"] == 0)


def test_link_null_or_empty_about_one_in_five(sample: list[dict]) -> None:
    assert 0.14 <= rate(sample, lambda r: not r["linkSistemaOrigem"]) <= 0.27
    assert any(r["linkSistemaOrigem"] is None for r in sample)
    assert any(r["linkSistemaOrigem"] == "" for r in sample)
    assert rate(sample, lambda r: (r["linkSistemaOrigem"] or "").startswith("https://")) >= 0.7


def test_situacao_mostly_divulgada(sample: list[dict]) -> None:
    counts = collections.Counter(r["situacaoCompraId"] for r in sample)
    assert counts[1] / len(sample) >= 0.9
    assert counts[2] and counts[3] and counts[4]
    assert set(counts) <= {1, 2, 3, 4}


def test_proposal_dates_sometimes_null(sample: list[dict]) -> None:
    assert 0.03 <= rate(sample, lambda r: r["dataEncerramentoProposta"] is None) <= 0.2


def test_values_look_like_budgets(sample: list[dict]) -> None:
    values = sorted(r["valorTotalEstimado"] for r in sample if r["valorTotalEstimado"] > 0)
    assert 1_000 <= values[0] < 10_000
    assert values[-1] >= 10_000_000
    median = values[len(values) // 2]
    assert 50_000 <= median <= 1_000_000
    assert rate(sample, lambda r: r["valorTotalEstimado"] > 0 and r["valorTotalEstimado"] % 1000 == 0) >= 0.1
    assert any(r["valorTotalEstimado"] != int(r["valorTotalEstimado"]) for r in sample), "some with cents"


def test_objeto_styles(sample: list[dict]) -> None:
    objetos = [r["objetoCompra"] for r in sample]
    assert rate(sample, lambda r: r["objetoCompra"].isupper()) >= 0.05
    assert any(o.startswith("Aquisição de") for o in objetos)
    assert any(o.startswith("Registro de preços para futura e eventual aquisição de") for o in objetos)
    assert any(o.startswith("Contratação de empresa especializada") for o in objetos)
    assert any(o != o.strip() for o in objetos), "stray whitespace, as PNCP has"


def test_every_theme_present(sample: list[dict]) -> None:
    texts = [plain(r["objetoCompra"]) for r in sample]
    for theme, words in THEME_WORDS.items():
        hits = sum(1 for t in texts if any(w in t for w in words))
        assert hits >= 20, f"theme {theme}: {hits} records"


def test_orgao_kinds(sample: list[dict]) -> None:
    razoes = [r["orgaoEntidade"]["razaoSocial"] for r in sample]
    assert any(x.startswith("MUNICIPIO DE ") for x in razoes)
    assert any(x.startswith("SECRETARIA DE ESTADO") for x in razoes)
    assert any(r["orgaoEntidade"]["esferaId"] == "F" for r in sample)
    municipal_share = rate(sample, lambda r: r["orgaoEntidade"]["esferaId"] == "M")
    assert 0.6 <= municipal_share <= 0.97


# --- histories: update dates and changed records --------------------------------------------


def lag(r: dict, key: str = "dataAtualizacaoGlobal") -> timedelta:
    return datetime.fromisoformat(r[key]) - datetime.fromisoformat(r["dataPublicacaoPncp"])


def test_most_records_never_updated(sample: list[dict]) -> None:
    assert 0.7 <= rate(sample, lambda r: r["dataAtualizacaoGlobal"] == r["dataPublicacaoPncp"]) <= 0.85
    assert all(timedelta(0) <= lag(r) <= timedelta(days=pncp_demo.MAX_UPDATE_LAG_DAYS) for r in sample)
    assert any(timedelta(0) < lag(r) < timedelta(hours=1) for r in sample), "most edits come soon"
    assert any(lag(r) > timedelta(days=10) for r in sample)
    assert any(r["dataAtualizacao"] == r["dataPublicacaoPncp"] != r["dataAtualizacaoGlobal"] for r in sample), (
        "an edit of documents or items moves only the global date"
    )


def test_changed_records_about_three_in_a_hundred(sample: list[dict]) -> None:
    """Revogada, anulada, suspensa, or proposal dates moved: 1 to 10 days after publication."""
    not_divulgada = [r for r in sample if r["situacaoCompraId"] != 1]
    assert 0.018 <= len(not_divulgada) / len(sample) <= 0.035
    for r in not_divulgada:
        assert timedelta(days=1) <= lag(r) <= timedelta(days=10)
        assert r["dataAtualizacao"] == r["dataAtualizacaoGlobal"], "the contratação itself changed"
        assert r["valorTotalHomologado"] is None
    moved = [
        r for r in sample if r["dataEncerramentoProposta"]
        and (datetime.fromisoformat(r["dataEncerramentoProposta"]) - datetime.fromisoformat(r["dataPublicacaoPncp"]))
        > timedelta(days=31)
    ]
    assert moved, "only moved dates close more than a month after publication"
    for r in moved:
        assert r["situacaoCompraId"] == 1 and timedelta(days=1) <= lag(r) <= timedelta(days=10)
        assert r["dataAberturaProposta"] > r["dataAtualizacao"], "moved to after the change"


# --- volumes ---------------------------------------------------------------------------------


def count(uf: str, modalidade: int, days: list[date]) -> int:
    return sum(len(generate_records(uf, modalidade, d)) for d in days)


def test_volume_scales_with_uf_and_modalidade() -> None:
    days = window(date(2026, 3, 2), 14)
    assert count("SP", 6, days) > 5 * count("AC", 6, days)
    assert count("MG", 6, days) > 5 * count("RR", 6, days)
    assert count("SP", 6, days) > count("SP", 4, days) > count("SP", 5, days)
    assert count("SP", 6, days) > count("SP", 7, days)
    assert count("SP", 2, days) * 20 < count("SP", 6, days), "rare modalidades are rare"


def test_weekends_and_some_days_are_empty() -> None:
    saturdays = [date(2026, 3, 7) + timedelta(weeks=w) for w in range(10)]
    assert count("SP", 6, saturdays) < 15
    days = window(date(2026, 3, 2), 30)
    assert any(not generate_records("AP", 6, d) for d in days if d.weekday() < 5)


def test_every_uf_has_records_in_ten_days() -> None:
    days = window(date(2026, 11, 9), 10)
    for uf in UFS:
        total = sum(count(uf, m, days) for m in DEFAULT_MODALIDADES)
        assert total > 0, uf


def test_municipalities_of_the_uf() -> None:
    records = [r for d in window(DAY, 5) for r in generate_records("RJ", 6, d)]
    municipios = {r["unidadeOrgao"]["municipioNome"] for r in records}
    assert "Rio de Janeiro" in municipios
    assert len(municipios) >= 5
    assert municipios <= set(pncp_demo._MUNICIPIOS["RJ"])


# --- the demo app through httpx --------------------------------------------------------------


def params(**extra: object) -> dict[str, object]:
    base: dict[str, object] = {
        "dataInicial": "20260302", "dataFinal": "20260313", "codigoModalidadeContratacao": 6,
        "uf": "SP", "pagina": 1, "tamanhoPagina": 50,
    }
    base.update(extra)
    return {k: v for k, v in base.items() if v is not None}


def expected_window(uf: str | None, modalidade: int, start: date, end: date) -> list[dict]:
    ufs = [uf] if uf else sorted(UFS)
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    return [r for d in days for u in ufs for r in generate_records(u, modalidade, d)]


@pytest.mark.asyncio
async def test_pagination_through_the_app() -> None:
    expected = expected_window("SP", 6, date(2026, 3, 2), date(2026, 3, 13))
    assert len(expected) > 100
    got: list[dict] = []
    async with httpx.AsyncClient(transport=demo_transport(), base_url=DEMO_BASE_URL) as client:
        first = await client.get("/v1/contratacoes/publicacao", params=params())
        assert first.status_code == 200
        assert first.headers["content-type"].startswith("application/json")
        body = first.json()
        assert set(body) == {"data", "totalRegistros", "totalPaginas", "numeroPagina", "paginasRestantes", "empty"}
        assert body["totalRegistros"] == len(expected)
        assert body["totalPaginas"] == -(-len(expected) // 50)
        assert body["numeroPagina"] == 1 and body["paginasRestantes"] == body["totalPaginas"] - 1
        assert body["empty"] is False
        got.extend(body["data"])
        for pagina in range(2, body["totalPaginas"] + 1):
            page = await client.get("/v1/contratacoes/publicacao", params=params(pagina=pagina))
            assert page.status_code == 200
            assert page.json()["numeroPagina"] == pagina
            assert page.json()["paginasRestantes"] == body["totalPaginas"] - pagina
            got.extend(page.json()["data"])
        past = await client.get("/v1/contratacoes/publicacao", params=params(pagina=body["totalPaginas"] + 1))
        assert past.status_code == 204 and past.content == b""
    assert got == expected
    assert len(got[0:50]) == 50


@pytest.mark.asyncio
async def test_small_pages_and_stable_order() -> None:
    async with httpx.AsyncClient(transport=demo_transport(), base_url=DEMO_BASE_URL) as client:
        a = await client.get("/v1/contratacoes/publicacao", params=params(tamanhoPagina=10, pagina=3))
        b = await client.get("/v1/contratacoes/publicacao", params=params(tamanhoPagina=10, pagina=3))
        big = await client.get("/v1/contratacoes/publicacao", params=params(tamanhoPagina=50, pagina=1))
    assert a.json() == b.json()
    assert len(a.json()["data"]) == 10
    assert a.json()["data"] == big.json()["data"][20:30]


@pytest.mark.asyncio
async def test_without_uf_all_ufs() -> None:
    async with httpx.AsyncClient(transport=demo_transport(), base_url=DEMO_BASE_URL) as client:
        r = await client.get(
            "/v1/contratacoes/publicacao", params=params(uf=None, dataInicial="20260310", dataFinal="20260310")
        )
    assert r.status_code == 200
    expected = expected_window(None, 6, date(2026, 3, 10), date(2026, 3, 10))
    assert r.json()["totalRegistros"] == len(expected)
    assert len({x["unidadeOrgao"]["ufSigla"] for x in expected}) >= 20


@pytest.mark.asyncio
async def test_empty_window_is_204() -> None:
    empty_day = next(
        d for d in window(date(2026, 3, 1), 60) if not generate_records("RR", 2, d)
    )
    day = empty_day.strftime("%Y%m%d")
    async with httpx.AsyncClient(transport=demo_transport(), base_url=DEMO_BASE_URL) as client:
        r = await client.get(
            "/v1/contratacoes/publicacao",
            params=params(uf="RR", codigoModalidadeContratacao=2, dataInicial=day, dataFinal=day),
        )
    assert r.status_code == 204
    assert r.content == b""


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "bad",
    [
        {"tamanhoPagina": 51},
        {"tamanhoPagina": 9},
        {"dataInicial": None},
        {"dataFinal": None},
        {"codigoModalidadeContratacao": None},
        {"codigoModalidadeContratacao": 99},
        {"dataInicial": "2026-03-02"},
        {"dataFinal": "20260301"},
        {"pagina": 0},
        {"pagina": "um"},
        {"uf": "XX"},
    ],
)
async def test_bad_requests_are_400_json(bad: dict) -> None:
    async with httpx.AsyncClient(transport=demo_transport(), base_url=DEMO_BASE_URL) as client:
        r = await client.get("/v1/contratacoes/publicacao", params=params(**bad))
    assert r.status_code == 400
    body = r.json()
    assert body["status"] == 400 and body["error"] == "Bad Request" and body["message"]


@pytest.mark.asyncio
async def test_served_under_each_root() -> None:
    app = create_demo_app()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://pncp") as client:
        for root in ("", "/api/consulta", "/pncp-consulta"):
            for path in (pncp_demo.PUBLICACAO_PATH, pncp_demo.ATUALIZACAO_PATH):
                r = await client.get(f"{root}{path}", params=params())
                assert r.status_code == 200, root + path
        assert (await client.get("/v1/outra", params=params())).status_code == 404


@pytest.mark.asyncio
async def test_optional_filters() -> None:
    records = expected_window("SP", 6, date(2026, 3, 2), date(2026, 3, 13))
    cnpj = records[0]["orgaoEntidade"]["cnpj"]
    ibge = records[0]["unidadeOrgao"]["codigoIbge"]
    async with httpx.AsyncClient(transport=demo_transport(), base_url=DEMO_BASE_URL) as client:
        by_cnpj = await client.get("/v1/contratacoes/publicacao", params=params(cnpj=cnpj))
        by_ibge = await client.get("/v1/contratacoes/publicacao", params=params(codigoMunicipioIbge=ibge))
    assert by_cnpj.json()["totalRegistros"] == sum(r["orgaoEntidade"]["cnpj"] == cnpj for r in records)
    assert by_ibge.json()["totalRegistros"] == sum(r["unidadeOrgao"]["codigoIbge"] == ibge for r in records)


# --- /v1/contratacoes/atualizacao --------------------------------------------------------------

ATUALIZACAO = "/v1/contratacoes/atualizacao"


def expected_updates(uf: str | None, modalidade: int, start: date, end: date) -> list[dict]:
    """Written apart from `demo_updates`: published from 60 days before, updated in the window,
    oldest update first."""
    published = expected_window(uf, modalidade, start - timedelta(days=60), end)
    inside = [r for r in published if start.isoformat() <= r["dataAtualizacaoGlobal"][:10] <= end.isoformat()]
    return sorted(inside, key=lambda r: r["dataAtualizacaoGlobal"])


@pytest.mark.asyncio
async def test_atualizacao_lists_what_changed_in_the_window() -> None:
    start, end = date(2026, 3, 9), date(2026, 3, 13)
    expected = expected_updates("SP", 6, start, end)
    got: list[dict] = []
    async with httpx.AsyncClient(transport=demo_transport(), base_url=DEMO_BASE_URL) as client:
        query = params(dataInicial="20260309", dataFinal="20260313", tamanhoPagina=20)
        first = await client.get(ATUALIZACAO, params=query)
        assert first.status_code == 200
        body = first.json()
        assert set(body) == {"data", "totalRegistros", "totalPaginas", "numeroPagina", "paginasRestantes", "empty"}
        assert body["totalRegistros"] == len(expected) and body["totalPaginas"] == -(-len(expected) // 20)
        got.extend(body["data"])
        for pagina in range(2, body["totalPaginas"] + 1):
            page = await client.get(ATUALIZACAO, params={**query, "pagina": pagina})
            assert page.json()["paginasRestantes"] == body["totalPaginas"] - pagina
            got.extend(page.json()["data"])
        past = await client.get(ATUALIZACAO, params={**query, "pagina": body["totalPaginas"] + 1})
        assert past.status_code == 204 and past.content == b""
    assert got == expected
    published_before = [r for r in got if r["dataPublicacaoPncp"] < start.isoformat()]
    assert published_before, "records published earlier and changed in the window"
    assert any(r["situacaoCompraId"] != 1 for r in published_before)
    in_window = expected_window("SP", 6, start, end)
    assert any(r not in got for r in in_window), "published in the window, updated after it"


@pytest.mark.asyncio
async def test_a_changed_record_looks_the_same_on_both_endpoints() -> None:
    changed = next(
        r for r in expected_updates("SP", 6, date(2026, 3, 9), date(2026, 3, 13))
        if r["situacaoCompraId"] != 1 and r["dataPublicacaoPncp"] < "2026-03-09"
    )
    day = changed["dataPublicacaoPncp"][:10].replace("-", "")
    async with httpx.AsyncClient(transport=demo_transport(), base_url=DEMO_BASE_URL) as client:
        r = await client.get(
            "/v1/contratacoes/publicacao",
            params=params(dataInicial=day, dataFinal=day, cnpj=changed["orgaoEntidade"]["cnpj"]),
        )
    same = [x for x in r.json()["data"] if x["numeroControlePNCP"] == changed["numeroControlePNCP"]]
    assert same == [changed]
    assert changed["situacaoCompraNome"] == pncp_demo.SITUACOES[changed["situacaoCompraId"]]


@pytest.mark.asyncio
async def test_atualizacao_without_uf_all_ufs() -> None:
    expected = expected_updates(None, 4, date(2026, 3, 10), date(2026, 3, 10))
    async with httpx.AsyncClient(transport=demo_transport(), base_url=DEMO_BASE_URL) as client:
        r = await client.get(ATUALIZACAO, params=params(uf=None, codigoModalidadeContratacao=4,
                                                        dataInicial="20260310", dataFinal="20260310"))
    assert r.status_code == 200
    assert r.json()["totalRegistros"] == len(expected)
    assert r.json()["data"] == expected[:50]
    assert len({x["unidadeOrgao"]["ufSigla"] for x in expected}) >= 10


@pytest.mark.asyncio
async def test_atualizacao_empty_window_is_204() -> None:
    empty_day = next(d for d in window(date(2026, 3, 1), 60) if not expected_updates("RR", 2, d, d))
    day = empty_day.strftime("%Y%m%d")
    async with httpx.AsyncClient(transport=demo_transport(), base_url=DEMO_BASE_URL) as client:
        r = await client.get(
            ATUALIZACAO, params=params(uf="RR", codigoModalidadeContratacao=2, dataInicial=day, dataFinal=day)
        )
    assert r.status_code == 204 and r.content == b""


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "bad",
    [
        {"codigoModalidadeContratacao": None},
        {"tamanhoPagina": 51},
        {"tamanhoPagina": 9},
        {"dataInicial": None},
        {"dataFinal": "2026-03-13"},
        {"dataFinal": "20260301"},
        {"pagina": 0},
    ],
)
async def test_atualizacao_bad_requests_are_400_json(bad: dict) -> None:
    async with httpx.AsyncClient(transport=demo_transport(), base_url=DEMO_BASE_URL) as client:
        r = await client.get(ATUALIZACAO, params=params(**bad))
    assert r.status_code == 400
    body = r.json()
    assert body["status"] == 400 and body["message"] and body["path"].endswith(ATUALIZACAO)


def test_demo_updates_memoized_and_sorted() -> None:
    first = pncp_demo.demo_updates("MG", 6, date(2026, 3, 9), date(2026, 3, 10))
    assert pncp_demo.demo_updates("MG", 6, date(2026, 3, 9), date(2026, 3, 10)) is first
    moments = [pncp_demo.update_moment(r) for r in first]
    assert moments == sorted(moments) and moments
    assert all("2026-03-09" <= m[:10] <= "2026-03-10" for m in moments)
