"""Normalisation of PNCP wire records, quirks included."""

from __future__ import annotations

from datetime import datetime

from backend.pncp.records import normalize_records, parse_datetime, to_licitacao
from tests.records import pncp_record


def test_fields_map_to_licitacao() -> None:
    record = pncp_record(
        "Aquisição de uniformes", uf="MG", valor=117000.0, publicado=datetime(2026, 11, 20, 7, 40, 47),
        encerramento=datetime(2026, 12, 2, 9, 30), municipio="Uberaba", cnpj="12345678000199", sequencial=346,
    )
    lic = to_licitacao(record)
    assert lic is not None
    assert lic.codigo_pncp == "12345678000199-1-000346/2026"
    assert lic.objeto == "Aquisição de uniformes"
    assert lic.orgao == "MUNICIPIO DE UBERABA"
    assert (lic.uf, lic.municipio, lic.codigo_ibge) == ("MG", "Uberaba", "3509502")
    assert lic.valor_estimado == 117000.0
    assert (lic.modalidade_id, lic.modalidade) == (6, "Pregão - Eletrônico")
    assert lic.data_publicacao == datetime(2026, 11, 20, 7, 40, 47)
    assert lic.data_encerramento == datetime(2026, 12, 2, 9, 30)
    assert (lic.situacao_id, lic.situacao) == (1, "Divulgada no PNCP")
    assert lic.link == "https://compras.example.gov.br/edital/1"
    assert lic.link_pncp == "https://pncp.gov.br/app/editais/12345678000199/2026/346"


def test_confidential_budget_is_no_value() -> None:
    assert to_licitacao(pncp_record("x", valor=None)).valor_estimado is None  # PNCP sends 0


def test_missing_origin_link_falls_back_to_pncp_page() -> None:
    for link in (None, "", "   ", "compras"):
        lic = to_licitacao(pncp_record("x", link=link, cnpj="12345678000199", sequencial=7))
        assert lic.link == lic.link_pncp == f"https://pncp.gov.br/app/editais/12345678000199/{lic.data_publicacao.year}/7"


def test_null_proposal_dates_and_odd_values() -> None:
    record = pncp_record("x", encerramento=None)
    record["unidadeOrgao"]["codigoIbge"] = 3106200  # a number where PNCP usually sends a string
    record["valorTotalEstimado"] = "abc"
    lic = to_licitacao(record)
    assert lic.data_abertura is None and lic.data_encerramento is None
    assert lic.codigo_ibge == "3106200"
    assert lic.valor_estimado is None


def test_record_without_control_number_is_dropped() -> None:
    record = pncp_record("x")
    del record["numeroControlePNCP"]
    assert to_licitacao(record) is None


def test_parse_datetime() -> None:
    assert parse_datetime("2025-06-17T08:00:00") == datetime(2025, 6, 17, 8, 0)
    assert parse_datetime("2025-06-17T11:00:00Z") == datetime(2025, 6, 17, 8, 0)  # UTC -> Brasília
    assert parse_datetime(None) is None
    assert parse_datetime("") is None
    assert parse_datetime("17/06/2025") is None


def test_dedupe_keeps_latest_update() -> None:
    old = pncp_record("versão antiga", sequencial=900, atualizado="2026-11-01T10:00:00")
    new = dict(old, objetoCompra="versão nova", dataAtualizacaoGlobal="2026-11-05T10:00:00")
    other = pncp_record("outra", sequencial=901)
    result = normalize_records([new, old, other, old])
    assert [lic.objeto for lic in result] == ["versão nova", "outra"]
