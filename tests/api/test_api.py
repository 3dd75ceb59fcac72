"""The HTTP API through the app's own lifespan (asgi-lifespan), PNCP behind its local double."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from backend.api.health import AUTH_OFF
from backend.codes import UFS, now_brasilia
from tests.fakes.pncp import db_error_500, rate_limited
from tests.records import pncp_record
from tests.servers import eventually


class DaysAgo(int):
    """A date field given as days before today: `busca` turns it into the date when the test runs."""


def busca(**overrides):
    today = now_brasilia().date()  # Brasília's day when the search is made, not when this module was imported
    body = {
        "ufs": ["SP", "RJ"],
        "data_inicial": str(today - timedelta(days=10)),
        "data_final": str(today),
        "setor_id": "vestuario",
    }
    body.update({k: str(today - timedelta(days=v)) if isinstance(v, DaysAgo) else v for k, v in overrides.items()})
    return {k: v for k, v in body.items() if v is not None}


@pytest.fixture
async def client(make_settings, client_for, fake_pncp):
    async with client_for(make_settings(pncp_base_url=fake_pncp.base_url)) as client:
        yield client


async def test_search_answers_matches_ranked_and_stores_them(client, fake_pncp) -> None:
    now = now_brasilia().replace(microsecond=0)
    records = [
        pncp_record("Aquisição de uniformes escolares: camisetas e bermudas", uf="SP", valor=80_000, sequencial=1),
        pncp_record("Aquisição de camisetas para agentes", uf="RJ", valor=500_000, sequencial=2),
        pncp_record("Aquisição de uniformes com valor sigiloso", uf="RJ", valor=None, sequencial=3),
        pncp_record("Pavimentação asfáltica de vias urbanas", uf="SP", sequencial=4),
        pncp_record("Aquisição de uniformes (encerrada)", uf="SP", sequencial=5, encerramento=now - timedelta(hours=1)),
        pncp_record("Aquisição de uniformes (revogada)", uf="SP", sequencial=6, situacao=2),
        pncp_record("Aquisição de uniformes em MG", uf="MG", sequencial=7),
        pncp_record("Aquisição de uniformes, pregão presencial", uf="SP", modalidade=7, sequencial=8),
        pncp_record("Aquisição de uniformes por dispensa", uf="SP", modalidade=8, sequencial=9),
    ]
    fake_pncp.set_records(records)
    search_id = str(uuid4())
    response = await client.post("/v1/buscar", json=busca(search_id=search_id))
    assert response.status_code == 200, response.text
    body = response.json()
    codes = [lic["codigo_pncp"] for lic in body["licitacoes"]]
    # Three keywords beat one; then value; the confidential budget ranks last among one-keyword matches.
    assert codes == [records[i]["numeroControlePNCP"] for i in (0, 1, 7, 2)]
    assert body["search_id"] == search_id
    assert body["total_filtrado"] == 4
    assert body["total_raw"] == 7  # MG was not asked for; dispensa (8) is not a default modalidade
    assert body["ufs_com_falha"] == []
    first = body["licitacoes"][0]
    assert first["palavras_encontradas"] == ["uniforme escolar", "camiseta", "bermuda"]
    assert first["uf"] == "SP" and first["valor_estimado"] == 80_000
    assert set(body["tempos_ms"]) == {"fetch", "filter", "persist", "resumo", "excel"}
    # Inline (no queue): the summary and the report are settled in the answer itself.
    assert body["llm_status"] == "ready" and body["resumo"]["origem"] == "fallback"  # no OPENAI_API_KEY
    assert body["resumo"]["total_oportunidades"] == 4
    assert body["resumo"]["valor_total"] == 80_000 + 500_000 + 150_000
    assert body["excel_status"] == "ready" and body["excel_error"] is None
    assert body["excel_url"].startswith(f"/v1/arquivos/{search_id}.xlsx?")

    status = await client.get(f"/v1/buscar/{search_id}/status")
    assert status.status_code == 200
    stored = status.json()
    assert stored["search_id"] == search_id
    assert stored["total_filtrado"] == 4
    assert {k: stored[k] for k in ("llm_status", "excel_status", "resumo", "excel_url", "excel_error")} == {
        k: body[k] for k in ("llm_status", "excel_status", "resumo", "excel_url", "excel_error")
    }
    download = await client.get(body["excel_url"])
    assert download.status_code == 200 and download.content[:2] == b"PK"


async def test_requests_follow_pncp_rules(client, fake_pncp) -> None:
    fake_pncp.set_records(
        [pncp_record(f"Aquisição de uniformes item {i}", uf="SP", sequencial=100 + i) for i in range(120)]
    )
    body = busca(ufs=["SP"], modalidades=[6], valor_minimo=0)
    response = await client.post("/v1/buscar", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["total_filtrado"] == 120
    params = [r.params for r in fake_pncp.requests]
    assert sorted(int(p["pagina"]) for p in params) == [1, 2, 3]
    for p in params:
        assert p["tamanhoPagina"] == "50"
        assert p["codigoModalidadeContratacao"] == "6"
        assert p["uf"] == "SP"
        assert p["dataInicial"] == body["data_inicial"].replace("-", "")  # PNCP's AAAAMMDD
        assert p["dataFinal"] == body["data_final"].replace("-", "")


async def test_failing_uf_is_named_and_other_ufs_still_answer(client, fake_pncp) -> None:
    fake_pncp.set_records([
        pncp_record("Aquisição de uniformes", uf="SP", sequencial=1),
        pncp_record("Aquisição de uniformes", uf="RJ", sequencial=2),
    ])
    fake_pncp.script([rate_limited()] * 3, uf="RJ", modalidade=6)
    response = await client.post("/v1/buscar", json=busca())
    assert response.status_code == 200, response.text
    body = response.json()
    assert [lic["uf"] for lic in body["licitacoes"]] == ["SP"]
    [falha] = body["ufs_com_falha"]
    assert falha["uf"] == "RJ"
    assert "limitou o número de consultas (HTTP 429)" in falha["mensagem"]
    status = (await client.get(f"/v1/buscar/{body['search_id']}/status")).json()
    assert status["ufs_com_falha"] == body["ufs_com_falha"]


async def test_search_fails_readably_when_pncp_answers_no_uf(client, fake_pncp) -> None:
    fake_pncp.script([db_error_500()] * 3 * 4)
    response = await client.post("/v1/buscar", json=busca(ufs=["AC"]))
    assert response.status_code == 502
    assert "O PNCP não respondeu para nenhuma das UFs" in response.json()["mensagem"]
    assert "AC: " in response.json()["mensagem"]


async def test_termos_busca_narrow_the_sector(client, fake_pncp) -> None:
    fake_pncp.set_records([
        pncp_record("Aquisição de jalecos para a saúde", uf="SP", sequencial=1),
        pncp_record("Aquisição de camisetas", uf="SP", sequencial=2),
    ])
    body = (await client.post("/v1/buscar", json=busca(termos_busca="jaleco, avental"))).json()
    assert [lic["objeto"] for lic in body["licitacoes"]] == ["Aquisição de jalecos para a saúde"]


async def test_user_value_range_replaces_sector_range(client, fake_pncp) -> None:
    fake_pncp.set_records([
        pncp_record("Aquisição de uniformes A", uf="SP", valor=10_000, sequencial=1),
        pncp_record("Aquisição de uniformes B", uf="SP", valor=90_000, sequencial=2),
        pncp_record("Aquisição de uniformes C", uf="SP", valor=None, sequencial=3),
    ])
    body = (await client.post("/v1/buscar", json=busca(valor_minimo=50_000, valor_maximo=100_000))).json()
    assert sorted(lic["objeto"][-1] for lic in body["licitacoes"]) == ["B", "C"]


async def test_somente_abertas_false_keeps_closed(client, fake_pncp) -> None:
    past = now_brasilia() - timedelta(days=1)
    fake_pncp.set_records([pncp_record("Aquisição de uniformes", uf="SP", encerramento=past, sequencial=1)])
    assert (await client.post("/v1/buscar", json=busca())).json()["total_filtrado"] == 0
    assert (await client.post("/v1/buscar", json=busca(somente_abertas=False))).json()["total_filtrado"] == 1


async def test_setores_lists_every_sector(client) -> None:
    response = await client.get("/v1/setores")
    assert response.status_code == 200
    setores = response.json()
    assert len(setores) >= 12
    assert all(set(s) == {"id", "nome", "descricao"} and s["nome"] and s["descricao"] for s in setores)
    assert "vestuario" in {s["id"] for s in setores}


async def test_status_of_unknown_search_is_404_and_bad_id_422(client) -> None:
    response = await client.get(f"/v1/buscar/{uuid4()}/status")
    assert response.status_code == 404
    assert "não encontrada" in response.json()["detail"]
    response = await client.get("/v1/buscar/../../etc/status")
    assert response.status_code in (404, 422)
    response = await client.get("/v1/buscar/nao-e-uuid/status")
    assert response.status_code == 422
    assert response.json()["detail"][0]["campo"] == "search_id"


@pytest.mark.parametrize(
    ("overrides", "campo", "fragment"),
    [
        ({"ufs": ["SP", "XX"]}, "ufs", "UF desconhecida: XX"),
        ({"ufs": []}, "ufs", "ao menos 1"),
        ({"ufs": ["SP"] * 28}, "ufs", "no máximo 27"),
        ({"data_final": DaysAgo(20)}, "data_final", "anterior à data inicial"),
        ({"data_inicial": DaysAgo(400)}, "data_final", "365 dias"),
        ({"data_inicial": "28/11/2026"}, "data_inicial", "AAAA-MM-DD"),
        ({"data_inicial": "0088-07-17", "data_final": "0088-08-03"}, "data_inicial", "a partir de 01/01/2021"),
        ({"setor_id": "astronautas"}, "setor_id", "setor desconhecido"),
        ({"valor_minimo": 500, "valor_maximo": 100}, "valor_maximo", "menor que o valor mínimo"),
        ({"valor_minimo": -1}, "valor_minimo", "maior ou igual a 0"),
        ({"search_id": "1234; DROP TABLE"}, "search_id", "UUID"),
        ({"modalidades": [6, 99]}, "modalidades", "Modalidade desconhecida"),
        ({"setor_id": None}, "setor_id", "obrigatório"),
        ({"colunas": 1}, "colunas", "não reconhecido"),
    ],
)
async def test_bad_fields_get_422_naming_the_field(client, fake_pncp, overrides, campo, fragment) -> None:
    response = await client.post("/v1/buscar", json=busca(**overrides))
    assert response.status_code == 422, response.text
    body = response.json()
    fields = {d["campo"].split(".")[0]: d["msg"] for d in body["detail"]}
    assert campo in fields, body
    assert fragment in fields[campo], body
    assert campo in body["mensagem"]
    assert fake_pncp.requests == []  # nothing was fetched for a bad request


async def test_body_that_is_not_json_gets_422(client) -> None:
    response = await client.post("/v1/buscar", content=b"{nope", headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert "JSON" in response.json()["mensagem"]


async def test_health_reports_every_dependency_and_the_worker(make_settings, client_for) -> None:
    async with client_for(make_settings(embedded_worker=True)) as client:

        async def healthy() -> dict | None:
            body = (await client.get("/v1/health")).json()
            return body if body["queue"] == "healthy" and body["worker"]["jobs_in_flight"] == 0 else None

        # The worker's first heartbeat comes with its first poll; the cron jobs it runs at startup
        # (the index and the arbiter, both off here) end at once.
        body = await eventually(healthy, timeout=5, step=0.1, what="the worker's first heartbeat, idle")
    assert isinstance(body.pop("jobs_queued"), int)  # a cron run may be waiting in the queue
    assert body == {
        "status": "ok", "queue": "healthy", "redis": "ok", "database": "ok", "storage": "ok",
        "worker": {"mode": "embedded", "running": True, "jobs_in_flight": 0, "max_jobs": 4, "restarts": 0},
        "live_workers": {"same_database": 1, "other_database": 0}, "avisos": [AUTH_OFF],
        "index": {"status": "off", "days_ready": 0, "records": 0, "refreshed_at": None},  # INDEX_DAYS=0
    }


async def test_health_without_a_worker_says_the_queue_is_unavailable(client) -> None:
    body = (await client.get("/v1/health")).json()
    assert (body["status"], body["queue"], body["redis"]) == ("degraded", "unavailable", "ok")
    assert body["worker"] == {"mode": "separate", "running": False, "jobs_in_flight": 0, "max_jobs": 4, "restarts": 0}


async def test_health_is_degraded_without_redis(make_settings, client_for) -> None:
    from tests.conftest import free_port

    settings = make_settings(redis_url=f"redis://127.0.0.1:{free_port()}/0", embedded_worker=True)
    async with client_for(settings) as client:
        response = await client.get("/v1/health")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["queue"], body["redis"]) == ("degraded", "unavailable", "unavailable")
    assert body["jobs_queued"] is None and body["live_workers"] is None
    assert body["database"] == "ok"
    assert body["worker"]["mode"] == "embedded" and body["worker"]["running"] is False


async def test_demo_mode_finds_every_sector_in_every_region(make_settings, client_for) -> None:
    async with client_for(make_settings(pncp_base_url="demo")) as client:
        setores = (await client.get("/v1/setores")).json()
        seen_ufs: set[str] = set()
        for setor in setores:
            response = await client.post("/v1/buscar", json=busca(ufs=list(UFS), setor_id=setor["id"]))
            assert response.status_code == 200, response.text
            body = response.json()
            assert body["total_filtrado"] > 0, setor["id"]
            assert body["ufs_com_falha"] == []
            seen_ufs |= {lic["uf"] for lic in body["licitacoes"]}
    assert seen_ufs == set(UFS)


def test_the_answer_written_with_its_licitacoes_json_reads_as_the_model_writes_it() -> None:
    import orjson

    from backend.pncp.records import to_licitacao
    from backend.schemas import LICITACOES, BuscaResponse, ResumoLicitacoes
    from tests.records import pncp_record

    licitacoes = [to_licitacao(pncp_record(f"Uniformes escolares {n}", valor=None if n else 10.5)) for n in range(3)]
    answer = BuscaResponse(
        search_id=uuid4(), licitacoes=licitacoes, total_raw=9, total_filtrado=3, llm_status="processing",
        excel_status="processing", resumo=ResumoLicitacoes(resumo_executivo="x", total_oportunidades=3, valor_total=1.0),
        fonte="indice", atualizado_em=datetime.now(UTC), tempos_ms={"fetch": 1.5},
    )
    written = answer.model_copy().with_licitacoes_json(LICITACOES.dump_json(licitacoes)).json_bytes()
    assert orjson.loads(written) == orjson.loads(answer.model_dump_json())
    assert list(orjson.loads(written)) == list(BuscaResponse.model_fields)  # fields in the same order
