"""Stages 6-7 inline through the whole app: the LLM and Supabase Storage behind local doubles."""

from __future__ import annotations

import json
from datetime import timedelta
from uuid import uuid4

import httpx
import pytest

from backend.codes import now_brasilia
from tests.fakes import openai_server as openai_fake
from tests.fakes import supabase_storage as storage_fake
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.supabase_storage import FakeSupabaseStorage
from tests.records import pncp_record

KEY = "service-role-key-for-tests"


def busca(**overrides):
    today = now_brasilia().date()  # Brasília's day when the search is made
    body = {"ufs": ["SP"], "data_inicial": str(today - timedelta(days=10)), "data_final": str(today),
            "setor_id": "vestuario", "search_id": str(uuid4())}
    return {**body, **overrides}


@pytest.fixture
def licitacoes_sp(fake_pncp):
    fake_pncp.set_records([
        pncp_record("Aquisição de uniformes escolares", uf="SP", valor=120_000.0, sequencial=1),
        pncp_record("Aquisição de camisetas e bermudas", uf="SP", valor=None, sequencial=2),
    ])


@pytest.fixture
def llm():
    with FakeOpenAI(api_key="sk-test") as fake:
        yield fake


@pytest.fixture
def supabase():
    with FakeSupabaseStorage(key=KEY) as fake:
        yield fake


def events_of(body: str) -> list[dict]:
    return [json.loads(line[len("data: "):]) for line in body.splitlines() if line.startswith("data: ")]


async def test_summary_comes_from_the_llm_with_totals_from_the_data(
    make_settings, client_for, fake_pncp, licitacoes_sp, llm
) -> None:
    llm.script(openai_fake.answer({
        "resumo_executivo": "Duas oportunidades de uniformes em SP.",
        "destaques": ["Uniformes escolares: R$ 120.000,00"],
        "alerta_urgencia": None,
        "total_oportunidades": 99,  # the model's numbers are never used
    }))
    settings = make_settings(pncp_base_url=fake_pncp.base_url, openai_api_key="sk-test",
                             openai_base_url=llm.base_url, llm_model="modelo-local")
    async with client_for(settings) as client:
        body = (await client.post("/v1/buscar", json=busca())).json()
    assert body["llm_status"] == "ready"
    resumo = body["resumo"]
    assert resumo["origem"] == "llm"
    assert resumo["resumo_executivo"] == "Duas oportunidades de uniformes em SP."
    assert resumo["total_oportunidades"] == 2 and resumo["valor_total"] == 120_000.0
    [request] = llm.requests
    assert request.model == "modelo-local"  # the configured model, at the configured base URL
    assert request.status == 200  # a request OpenAI would take (the double refuses the rest with OpenAI's 400)
    assert request.authorization == "Bearer sk-test"


@pytest.mark.parametrize("failure", [openai_fake.server_error(500), openai_fake.invalid_json(), openai_fake.refusal()])
async def test_failing_llm_falls_back_and_still_ends_ready(
    make_settings, client_for, fake_pncp, licitacoes_sp, llm, failure
) -> None:
    llm.script(failure)
    settings = make_settings(pncp_base_url=fake_pncp.base_url, openai_api_key="sk-test", openai_base_url=llm.base_url)
    async with client_for(settings) as client:
        body = (await client.post("/v1/buscar", json=busca())).json()
    assert body["llm_status"] == "ready"
    assert body["resumo"]["origem"] == "fallback"
    assert body["resumo"]["total_oportunidades"] == 2
    assert "Vestuário" in body["resumo"]["resumo_executivo"]


async def test_report_goes_to_supabase_behind_a_signed_link(
    make_settings, client_for, fake_pncp, licitacoes_sp, supabase
) -> None:
    settings = make_settings(pncp_base_url=fake_pncp.base_url, supabase_url=supabase.url,
                             supabase_service_role_key=KEY, signed_url_ttl=600)
    async with client_for(settings) as client:
        body = (await client.post("/v1/buscar", json=busca())).json()
        health = (await client.get("/v1/health")).json()
    assert health["storage"] == "ok"
    assert body["excel_status"] == "ready"
    assert body["excel_url"].startswith(supabase.url + "/storage/v1/object/sign/excel-reports/excel/")
    stored = supabase.get("excel-reports", f"excel/{body['search_id']}.xlsx")
    assert stored is not None and stored.content_type.startswith("application/vnd.openxmlformats")
    download = httpx.get(body["excel_url"])
    assert download.status_code == 200 and download.content == stored.data


async def test_storage_failure_keeps_the_results_and_says_why(
    make_settings, client_for, fake_pncp, licitacoes_sp, supabase
) -> None:
    supabase.script([storage_fake.server_error(503)], op="upload")
    settings = make_settings(pncp_base_url=fake_pncp.base_url, supabase_url=supabase.url,
                             supabase_service_role_key=KEY)
    async with client_for(settings) as client:
        body = (await client.post("/v1/buscar", json=busca())).json()
        status = (await client.get(f"/v1/buscar/{body['search_id']}/status")).json()
        stream = await client.get(f"/v1/buscar-progress/{body['search_id']}")
    assert body["total_filtrado"] == 2 and len(body["licitacoes"]) == 2
    assert body["excel_status"] == "failed" and body["excel_url"] is None
    assert body["excel_error"].startswith("Não foi possível gerar a planilha")
    assert KEY not in body["excel_error"]
    assert (status["excel_status"], status["excel_error"]) == ("failed", body["excel_error"])
    events = events_of(stream.text)
    assert [e["stage"] for e in events][-2:] == ["excel_failed", "complete"]
    assert events[-2]["detail"] == {"error": body["excel_error"]}


async def test_slow_storage_hits_the_excel_timeout(
    make_settings, client_for, fake_pncp, licitacoes_sp, supabase
) -> None:
    supabase.script([storage_fake.slow(5)], op="upload")
    settings = make_settings(pncp_base_url=fake_pncp.base_url, supabase_url=supabase.url,
                             supabase_service_role_key=KEY, excel_job_timeout=0.5, storage_timeout=10)
    async with client_for(settings) as client:
        body = (await client.post("/v1/buscar", json=busca())).json()
    assert body["excel_status"] == "failed"
    assert "tempo limite" in body["excel_error"]
    assert body["total_filtrado"] == 2


async def test_failed_search_sends_an_error_event(make_settings, client_for, fake_pncp) -> None:
    from tests.fakes.pncp import db_error_500

    fake_pncp.script([db_error_500()] * 12)
    async with client_for(make_settings(pncp_base_url=fake_pncp.base_url)) as client:
        body = busca(ufs=["AC"])
        answer = await client.post("/v1/buscar", json=body)
        stream = await client.get(f"/v1/buscar-progress/{body['search_id']}")
        status = (await client.get(f"/v1/buscar/{body['search_id']}/status")).json()
    assert answer.status_code == 502
    events = events_of(stream.text)
    assert events[-1]["stage"] == "error" and events[-1]["progress"] == -1
    assert events[-1]["detail"]["message"] == answer.json()["mensagem"]
    assert status["erro"] == answer.json()["mensagem"]
