"""backend.adapters.llm: the model's summary through the real openai client against a local double, and the fallback."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from typing import Any

import openai
import pytest

from backend.adapters import llm
from backend.adapters.llm import ResumoError, build_client, gerar_resumo
from backend.codes import now_brasilia
from backend.domain.formatting import formatar_moeda
from backend.domain.summary import gerar_resumo_fallback
from backend.pncp.records import to_licitacao
from backend.schemas import Licitacao
from tests.fakes.openai_server import (
    DEFAULT_SUMMARY,
    FakeOpenAI,
    answer,
    invalid_json,
    missing_keys,
    rate_limited,
    raw,
    refusal,
    server_error,
    slow,
    truncated,
)
from tests.records import pncp_record
from tests.servers import eventually

API_KEY = "sk-test-123"
MODEL = "gpt-test-mini"
SETOR = "Equipamentos de informática"
NOW = datetime(2026, 11, 20, 10, 0)  # naive Brasília time


def lic(
    objeto: str = "Aquisição de notebooks",
    *,
    uf: str = "SP",
    valor: float | None = 150_000.0,
    encerra_em: timedelta | None = timedelta(days=10),
    municipio: str = "Campinas",
) -> Licitacao:
    record = pncp_record(
        objeto,
        uf=uf,
        valor=valor,
        municipio=municipio,
        publicado=NOW - timedelta(days=2),
        encerramento=None if encerra_em is None else NOW + encerra_em,
    )
    licitacao = to_licitacao(record)
    assert licitacao is not None
    return licitacao


@pytest.fixture(scope="module")
def fake_server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(api_key=API_KEY) as server:
        yield server


@pytest.fixture
def fake(fake_server: FakeOpenAI) -> FakeOpenAI:
    fake_server.reset()
    return fake_server


@pytest.fixture
async def client(fake: FakeOpenAI) -> AsyncIterator[openai.AsyncOpenAI]:
    built = build_client(API_KEY, fake.base_url, timeout=5.0)
    try:
        yield built
    finally:
        await built.close()


async def resumir(items: list[Licitacao], client: openai.AsyncOpenAI, **kwargs: Any) -> Any:
    return await gerar_resumo(items, SETOR, client=client, model=MODEL, now=NOW, **kwargs)


def sample() -> list[Licitacao]:
    return [
        lic("Aquisição de notebooks para escolas", valor=250_000.0),
        lic("Compra de servidores de rede", uf="RJ", municipio="Niterói", valor=1_000_000.5),
        lic("Monitores e periféricos", uf="SP", valor=None),
    ]


# ------------------------------------------------------------------------------------------
# The model's path
# ------------------------------------------------------------------------------------------


async def test_valid_answer_totals_come_from_the_data(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    content = {
        **DEFAULT_SUMMARY,
        "destaques": ["Um", "  Dois  ", "", "Três", "Quatro", "Cinco", "Seis", "Sete"],
        "total_oportunidades": 999,  # not in the schema: must be ignored
        "valor_total": 1.0,
    }
    fake.script(answer(content))
    resumo = await resumir(sample(), client)
    assert resumo.origem == "llm"
    assert resumo.total_oportunidades == 3
    assert resumo.valor_total == pytest.approx(1_250_000.5)
    assert resumo.resumo_executivo == " ".join(DEFAULT_SUMMARY["resumo_executivo"].split())
    assert resumo.destaques == ["Um", "Dois", "Três", "Quatro", "Cinco"]
    assert resumo.alerta_urgencia is None


async def test_default_answer_is_valid(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    resumo = await resumir(sample(), client)
    assert resumo.origem == "llm"
    assert resumo.destaques == DEFAULT_SUMMARY["destaques"]
    assert [r.kind for r in fake.requests] == ["default"]


async def test_request_shape(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    await resumir(sample(), client)
    [request] = fake.requests
    assert request.path == "/v1/chat/completions"  # under the configured base URL (the double's /v1)
    assert request.authorization == f"Bearer {API_KEY}"
    assert request.model == MODEL
    # Taken as OpenAI takes a request: a temperature within 0..2, a schema name of OpenAI's
    # pattern, a strict schema that requires every field and allows no other (the double
    # refuses the rest with OpenAI's 400, as test_the_double_refuses_what_openai_refuses shows).
    assert request.status == 200
    assert request.body.get("stream") in (None, False)
    fmt = request.response_format
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["strict"] is True
    schema = fmt["json_schema"]["schema"]
    assert set(schema["properties"]) == {"resumo_executivo", "destaques", "alerta_urgencia"}
    assert set(schema["required"]) == set(schema["properties"])
    assert schema["additionalProperties"] is False
    assert [m["role"] for m in request.messages] == ["system", "user"]
    assert SETOR in request.system_prompt
    assert "português" in request.system_prompt
    # No retries by the client: one attempt only.
    assert request.headers.get("x-stainless-retry-count") in (None, "0")


async def test_prompt_has_truncated_objetos_totals_and_at_most_n_items(
    fake: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    long_tail = " ".join(["equipamento"] * 40)
    items = [
        lic(f"ITEM{i:02d} aquisição de computadores {long_tail}", valor=None if i % 10 == 0 else 1000.0 * (i + 1))
        for i in range(40)
    ]
    items[0] = lic("ITEM00 notebooks", valor=None, encerra_em=timedelta(days=1, hours=2))
    await resumir(items, client)
    prompt = fake.requests[0].user_prompt

    for i in range(llm.MAX_ITENS_PROMPT):
        assert f"ITEM{i:02d}" in prompt
    for i in range(llm.MAX_ITENS_PROMPT, 40):
        assert f"ITEM{i:02d}" not in prompt
    item_lines = [line for line in prompt.splitlines() if "| Órgão:" in line]
    assert len(item_lines) == llm.MAX_ITENS_PROMPT
    # Objetos are cut (about 160 chars) with an ellipsis; the full text is never sent.
    assert items[1].objeto not in prompt
    for line in item_lines[1:]:
        objeto = line.split(". ", 1)[1].split(" | Órgão:")[0]
        assert objeto.endswith("…")
        assert len(objeto) <= llm.OBJETO_MAX_CHARS
    # Ranked order is kept.
    assert prompt.index("ITEM00") < prompt.index("ITEM01") < prompt.index("ITEM29")
    # Exact totals over all 40, values R$-formatted, confidential named, dates dd/mm/aaaa HH:MM.
    known = sum(1000.0 * (i + 1) for i in range(40) if i % 10 != 0)
    assert "Oportunidades: 40" in prompt
    assert formatar_moeda(known) in prompt
    assert "4 com valor sigiloso" in prompt
    assert "Valor: sigiloso" in prompt
    assert "Valor: R$ 2.000,00" in prompt
    assert "Encerramento: 21/11/2026 12:00" in prompt
    assert "Encerram propostas nos próximos 3 dias: 1" in prompt
    assert "Local: SP - Campinas" in prompt
    assert "MUNICIPIO DE CAMPINAS" in prompt


async def test_empty_list_makes_no_request(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    resumo = await resumir([], client)
    assert resumo.origem == "fallback"
    assert resumo.total_oportunidades == 0
    assert fake.requests == []


async def test_alert_exists_only_when_data_says_so(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    hallucinated = {**DEFAULT_SUMMARY, "alerta_urgencia": "Corra: tudo encerra amanhã!"}
    fake.script([answer(hallucinated), answer(DEFAULT_SUMMARY), answer(hallucinated)])

    later = await resumir(sample(), client)  # nothing closes within 3 days
    assert later.alerta_urgencia is None

    urgent = [lic("Tablets educacionais", encerra_em=timedelta(days=2)), *sample()]
    filled = await resumir(urgent, client)  # model wrote none: the computed alert is used
    assert filled.alerta_urgencia is not None
    assert "1 licitação encerra propostas nos próximos 3 dias" in filled.alerta_urgencia
    assert "22/11/2026 às 10:00" in filled.alerta_urgencia

    kept = await resumir(urgent, client)  # model's wording kept when the data agrees
    assert kept.alerta_urgencia == "Corra: tudo encerra amanhã!"


@pytest.mark.parametrize(
    ("scripted", "kind", "fragment"),
    [
        (invalid_json(), "json_invalido", "JSON inválido"),
        (answer("   "), "resposta_vazia", "resposta vazia"),
        (answer("[1, 2]"), "esquema", "não é um objeto"),
        (missing_keys("destaques"), "esquema", "faltam os campos destaques"),
        (missing_keys(), "esquema", "destaques, alerta_urgencia"),
        (answer({**DEFAULT_SUMMARY, "destaques": "um só texto"}), "esquema", "destaques"),
        (answer({**DEFAULT_SUMMARY, "destaques": []}), "esquema", "nenhum destaque"),
        (answer({**DEFAULT_SUMMARY, "resumo_executivo": ""}), "esquema", "resumo_executivo"),
        (answer({**DEFAULT_SUMMARY, "alerta_urgencia": 3}), "esquema", "alerta_urgencia"),
        (refusal(), "recusa", "recusou"),
        (truncated(), "resposta_cortada", "cortada"),
        (raw(200, "<html>ok</html>", "text/html"), "resposta_inesperada", "inesperada"),
        (raw(200, "{not json", "application/json"), "resposta_inesperada", "inesperada"),
        (raw(200, "{}", "application/json"), "resposta_inesperada", "inesperada"),
    ],
)
async def test_bad_answers_raise_resumo_error(
    fake: FakeOpenAI, client: openai.AsyncOpenAI, scripted: Any, kind: str, fragment: str
) -> None:
    fake.script(scripted)
    with pytest.raises(ResumoError) as caught:
        await resumir(sample(), client)
    assert caught.value.kind == kind
    assert fragment in caught.value.message
    assert str(caught.value) == caught.value.message
    assert len(fake.requests) == 1


async def test_refusal_message_is_included(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.script(refusal("Não posso ajudar com isso."))
    with pytest.raises(ResumoError, match="Não posso ajudar com isso"):
        await resumir(sample(), client)


async def test_http_500_is_one_attempt(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.script([server_error(), answer(DEFAULT_SUMMARY)])
    with pytest.raises(ResumoError) as caught:
        await resumir(sample(), client)
    error = caught.value
    assert error.kind == "http" and error.status == 500
    assert "HTTP 500" in error.message
    assert "The server had an error" in error.message
    assert error.retryable
    assert len(fake.requests) == 1  # the client did not retry
    assert fake.pending == 1


async def test_http_429_is_not_retried_by_the_client(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.script(rate_limited(retry_after=0))
    with pytest.raises(ResumoError) as caught:
        await resumir(sample(), client)
    assert caught.value.status == 429
    assert "HTTP 429" in caught.value.message
    assert "limite" in caught.value.message
    assert caught.value.retryable
    assert len(fake.requests) == 1


async def test_wrong_api_key_is_http_401(fake: FakeOpenAI) -> None:
    other = build_client("sk-wrong", fake.base_url, timeout=5.0)
    try:
        with pytest.raises(ResumoError) as caught:
            await gerar_resumo(sample(), SETOR, client=other, model=MODEL, now=NOW)
    finally:
        await other.close()
    assert caught.value.status == 401
    assert "HTTP 401" in caught.value.message
    assert not caught.value.retryable
    assert "sk-wrong" not in caught.value.message


async def test_slow_answer_times_out_quickly(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.script(slow(5))
    started = time.monotonic()
    with pytest.raises(ResumoError) as caught:
        await resumir(sample(), client, timeout=0.3)
    elapsed = time.monotonic() - started
    assert caught.value.kind == "timeout"
    assert "tempo esgotado" in caught.value.message
    assert "0.3 s" in caught.value.message
    assert caught.value.retryable
    assert elapsed < 1.5
    [request] = fake.requests
    await eventually(lambda: request.finished is not None, timeout=2, step=0.02, what="the fake to stop waiting too")
    assert request.disconnected


async def test_slow_within_timeout_answers(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.script(slow(0.2))
    resumo = await resumir(sample(), client, timeout=3)
    assert resumo.origem == "llm"


async def test_client_stays_usable_after_a_timeout(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.script(slow(5))
    with pytest.raises(ResumoError):
        await resumir(sample(), client, timeout=0.2)
    resumo = await resumir(sample(), client)
    assert resumo.origem == "llm"


async def test_connection_refused() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = build_client(API_KEY, f"http://127.0.0.1:{port}/v1", timeout=5.0)
    started = time.monotonic()
    try:
        with pytest.raises(ResumoError) as caught:
            await gerar_resumo(sample(), SETOR, client=client, model=MODEL, now=NOW)
    finally:
        await client.close()
    assert caught.value.kind == "conexao"
    assert "conectar" in caught.value.message
    assert time.monotonic() - started < 2


def test_build_client_without_a_base_url_talks_to_openai_whatever_the_environment_says(
    fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The settings are the only source: the openai package's own OPENAI_BASE_URL (here the
    # double's) is not read. (A given base URL is used: see test_request_shape.)
    monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
    client = build_client(API_KEY, None, timeout=12.0)
    assert (client.base_url.scheme, client.base_url.host, client.base_url.path) == ("https", "api.openai.com", "/v1/")
    assert client.max_retries == 0
    assert client.timeout == 12.0


def strict_format(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "json_schema", "json_schema": {"name": name, "strict": True, "schema": schema}}


SCHEMA = {"type": "object", "properties": {"texto": {"type": "string"}}, "required": ["texto"],
          "additionalProperties": False}


@pytest.mark.parametrize(
    ("request_fields", "param"),
    [
        ({"temperature": 2.5}, "temperature"),
        ({"temperature": -0.1}, "temperature"),
        ({"response_format": strict_format("resumo das licitações", SCHEMA)}, "response_format.json_schema.name"),
        ({"response_format": strict_format("r" * 65, SCHEMA)}, "response_format.json_schema.name"),
        ({"response_format": strict_format("resumo", {**SCHEMA, "required": []})}, "response_format"),
        ({"response_format": strict_format("resumo", {**SCHEMA, "additionalProperties": True})}, "response_format"),
    ],
    ids=["temperature-above-2", "temperature-below-0", "name-with-spaces", "name-too-long", "strict-not-required",
         "strict-open-object"],
)
async def test_the_double_refuses_what_openai_refuses(
    fake: FakeOpenAI, client: openai.AsyncOpenAI, request_fields: dict[str, Any], param: str
) -> None:
    """What makes test_request_shape's `status == 200` mean that OpenAI would take the request."""
    with pytest.raises(openai.BadRequestError) as refused:
        await client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "oi"}],
                                             **request_fields)
    assert refused.value.param == param
    [request] = fake.requests
    assert request.status == 400
    fine = {"temperature": 0.0, "response_format": strict_format("resumo_licitacoes-2", SCHEMA)}
    await client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "oi"}], **fine)
    assert fake.requests[-1].status == 200


# ------------------------------------------------------------------------------------------
# Fallback
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("valor", "texto"),
    [
        (0, "R$ 0,00"),
        (5.5, "R$ 5,50"),
        (1234.5, "R$ 1.234,50"),
        (1_234_567.891, "R$ 1.234.567,89"),
        (1_000_000_000, "R$ 1.000.000.000,00"),
        (-42.1, "-R$ 42,10"),
    ],
)
def test_money_format(valor: float, texto: str) -> None:
    assert formatar_moeda(valor) == texto


def test_fallback_totals_and_confidential() -> None:
    items = sample()
    resumo = gerar_resumo_fallback(items, SETOR, now=NOW)
    assert resumo.origem == "fallback"
    assert resumo.total_oportunidades == 3
    assert resumo.valor_total == pytest.approx(1_250_000.5)
    text = resumo.resumo_executivo
    assert "3 licitações" in text and SETOR in text
    assert "2 UFs (SP, RJ)" in text
    assert "R$ 1.250.000,50" in text
    assert "1 licitação com valor sigiloso" in text
    assert "30/11/2026 às 10:00" in text  # the nearest closing date


def test_fallback_highlights_ordering() -> None:
    items = [
        lic("Pequena compra de mouses", valor=1_000.0, encerra_em=timedelta(days=20)),
        lic("Grande compra de servidores", uf="RJ", valor=900_000.0, encerra_em=timedelta(days=30)),
        lic("Média compra de notebooks", uf="MG", valor=300_000.0, encerra_em=timedelta(days=5)),
        lic("Compra sigilosa de firewalls", uf="SP", valor=None, encerra_em=timedelta(days=4)),
        lic("Licitação já encerrada", uf="SP", valor=50_000.0, encerra_em=timedelta(days=-1)),
        lic("Sem data de encerramento", uf="SP", valor=10.0, encerra_em=None),
    ]
    resumo = gerar_resumo_fallback(items, SETOR, now=NOW)
    d = resumo.destaques
    assert len(d) == 5
    assert d[0].startswith("Maior valor: R$ 900.000,00 - Grande compra de servidores")
    assert d[1].startswith("Segundo maior valor: R$ 300.000,00 - Média compra de notebooks")
    assert d[2].startswith("Encerra em 24/11/2026 10:00: Compra sigilosa de firewalls")
    assert d[3].startswith("Encerra em 25/11/2026 10:00: Média compra de notebooks")
    assert d[4] == "UFs com mais oportunidades: SP (4), MG (1), RJ (1)."
    assert "Licitação já encerrada" not in " ".join(d)
    assert resumo.valor_total == pytest.approx(1_251_010.0)
    assert resumo.alerta_urgencia is None


def test_fallback_urgency_within_three_days() -> None:
    items = [
        lic("Notebooks", encerra_em=timedelta(days=10)),
        lic("Impressoras urgentes", uf="BA", municipio="Salvador", encerra_em=timedelta(days=2, hours=23)),
        lic("Scanners urgentes", encerra_em=timedelta(hours=5)),
        lic("Já encerrada", encerra_em=timedelta(hours=-1)),
    ]
    resumo = gerar_resumo_fallback(items, SETOR, now=NOW)
    alerta = resumo.alerta_urgencia
    assert alerta is not None
    assert "2 licitações encerram propostas nos próximos 3 dias" in alerta
    assert "Scanners urgentes" in alerta
    assert "20/11/2026 às 15:00" in alerta


def test_fallback_no_urgency_when_all_close_later() -> None:
    items = [lic("Notebooks", encerra_em=timedelta(days=3, minutes=1)), lic("Tablets", encerra_em=None)]
    assert gerar_resumo_fallback(items, SETOR, now=NOW).alerta_urgencia is None


def test_fallback_uses_brasilia_now_by_default() -> None:
    """Without `now`, "now" is Brasília's wall clock: a tender closing a day from it is urgent."""
    now = now_brasilia()
    soon = Licitacao.model_validate({**lic("Scanners").model_dump(), "data_encerramento": now + timedelta(days=1)})
    later = Licitacao.model_validate({**lic("Scanners").model_dump(), "data_encerramento": now + timedelta(days=5)})
    assert gerar_resumo_fallback([soon], SETOR).alerta_urgencia is not None
    assert gerar_resumo_fallback([later], SETOR).alerta_urgencia is None


def test_fallback_empty_list() -> None:
    resumo = gerar_resumo_fallback([], SETOR, now=NOW)
    assert resumo.origem == "fallback"
    assert resumo.total_oportunidades == 0
    assert resumo.valor_total == 0
    assert resumo.destaques == []
    assert resumo.alerta_urgencia is None
    assert resumo.resumo_executivo.startswith(f"Nenhuma licitação encontrada para o setor {SETOR}")
    assert "amplie o período" in resumo.resumo_executivo.lower()
    assert "UFs" in resumo.resumo_executivo


def test_fallback_all_confidential_and_single() -> None:
    one = gerar_resumo_fallback([lic("Notebooks", valor=None, encerra_em=None)], SETOR, now=NOW)
    assert one.valor_total == 0
    assert "1 licitação no setor" in one.resumo_executivo
    assert "1 UF (SP)" in one.resumo_executivo
    assert "sigiloso" in one.resumo_executivo
    assert one.destaques == ["UFs com mais oportunidades: SP (1)."]
    many = gerar_resumo_fallback([lic("A", valor=None), lic("B", valor=None)], SETOR, now=NOW)
    assert "Todas têm valor estimado sigiloso" in many.resumo_executivo


def test_fallback_is_json_serialisable() -> None:
    resumo = gerar_resumo_fallback(sample(), SETOR, now=NOW)
    assert json.loads(resumo.model_dump_json())["origem"] == "fallback"
