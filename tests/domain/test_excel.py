"""The Excel export, read back with openpyxl (normal mode) and as raw sheet XML."""

from __future__ import annotations

import math
import re
import zipfile
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from io import BytesIO
from typing import Any

import pytest
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from backend.domain.excel import create_excel
from backend.pncp.demo import recent_records
from backend.pncp.records import to_licitacao
from backend.schemas import Licitacao, ResumoLicitacoes

HEADERS = [
    "Código PNCP", "Objeto", "Classificação", "Termos encontrados", "Órgão", "UF", "Município", "Valor Estimado",
    "Modalidade", "Publicação", "Abertura", "Encerramento", "Situação", "Link",
]
COL = {header: index for index, header in enumerate(HEADERS, 1)}
LAST = get_column_letter(len(HEADERS))
GERADO_EM = datetime(2026, 11, 28, 14, 30, 5)
PARAMETROS = {"Setor": "Vestuário e uniformes", "UFs": "SP, MG", "Período": "18/11/2026 a 28/11/2026",
              "Modalidades": "Pregão - Eletrônico"}
INJECTIONS = ['=HYPERLINK("http://evil")', "+1+1", "-2", "@SUM(A1)", "\t=1+1"]


def licitacao(n: int = 1, **overrides: Any) -> Licitacao:
    fields: dict[str, Any] = {
        "codigo_pncp": f"11222333000181-1-{n:06d}/2026",
        "objeto": f"Aquisição de uniformes escolares, lote {n}",
        "orgao": "MUNICIPIO DE CAMPINAS",
        "uf": "SP",
        "municipio": "Campinas",
        "valor_estimado": 150_000.0 + n,
        "modalidade": "Pregão - Eletrônico",
        "modalidade_id": 6,
        "data_publicacao": datetime(2026, 11, 20, 7, 40, 47),
        "data_abertura": datetime(2026, 11, 21, 8, 0),
        "data_encerramento": datetime(2026, 12, 2, 9, 30),
        "situacao": "Divulgada no PNCP",
        "situacao_id": 1,
        "link": f"https://compras.example.gov.br/edital/{n}",
    }
    fields.update(overrides)
    return Licitacao(**fields)


def resumo(**overrides: Any) -> ResumoLicitacoes:
    fields: dict[str, Any] = {
        "resumo_executivo": "Foram encontradas 3 licitações de uniformes em SP.",
        "total_oportunidades": 3,
        "valor_total": 450_006.0,
        "destaques": ["Campinas compra uniformes escolares", "Pregão de R$ 150 mil encerra em 02/12"],
        "alerta_urgencia": "1 licitação encerra em até 3 dias.",
        "origem": "llm",
    }
    fields.update(overrides)
    return ResumoLicitacoes(**fields)


def build(licitacoes: list[Licitacao], **kwargs: Any) -> bytes:
    kwargs.setdefault("parametros", PARAMETROS)
    kwargs.setdefault("resumo", None)
    kwargs.setdefault("gerado_em", GERADO_EM)
    return create_excel(licitacoes, **kwargs)


def sheets(data: bytes) -> tuple[Worksheet, Worksheet]:
    workbook = load_workbook(BytesIO(data))
    assert workbook.sheetnames == ["Licitações", "Resumo"]
    return workbook["Licitações"], workbook["Resumo"]


def sheet_xml(data: bytes) -> dict[str, str]:
    with zipfile.ZipFile(BytesIO(data)) as archive:
        return {name: archive.read(name).decode() for name in archive.namelist()
                if name.startswith("xl/worksheets/") and name.endswith(".xml")}


def resumo_lines(ws: Worksheet) -> dict[str, Any]:
    """Label -> value cell of the Resumo sheet (the first row of each label)."""
    lines: dict[str, Any] = {}
    for label, value in ws.iter_rows(min_col=1, max_col=2):
        if label.value is not None and label.value not in lines:
            lines[label.value] = value
    return lines


def demo_licitacoes(count: int) -> list[Licitacao]:
    return [lic for lic in map(to_licitacao, recent_records(count, datetime(2026, 11, 27).date())) if lic is not None]


# --------------------------------------------------------------------------------------------
# "Licitações"
# --------------------------------------------------------------------------------------------


def test_headers_are_styled_frozen_and_filtered() -> None:
    ws, _ = sheets(build([licitacao(1), licitacao(2)]))
    header = ws[1]
    assert [cell.value for cell in header] == HEADERS
    for cell in header:
        assert cell.font.b and cell.font.color.rgb.endswith("FFFFFF")
        assert cell.fill.fill_type == "solid" and cell.fill.fgColor.rgb.endswith("1F4E78")
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == f"A1:{LAST}3"
    assert ws.column_dimensions["B"].width == 60
    assert all(ws.column_dimensions[get_column_letter(col)].width for col in COL.values())


def test_row_values_have_real_types_and_formats() -> None:
    ws, _ = sheets(build([licitacao(7)]))
    row = {header: ws.cell(row=2, column=col) for header, col in COL.items()}
    assert row["Código PNCP"].value == "11222333000181-1-000007/2026"
    assert row["Objeto"].value == "Aquisição de uniformes escolares, lote 7"
    assert row["Objeto"].alignment.wrap_text
    assert (row["Órgão"].value, row["UF"].value, row["Município"].value) == ("MUNICIPIO DE CAMPINAS", "SP", "Campinas")
    assert row["Modalidade"].value == "Pregão - Eletrônico"
    assert row["Situação"].value == "Divulgada no PNCP"

    valor = row["Valor Estimado"]
    assert valor.data_type == "n" and isinstance(valor.value, int | float) and valor.value == 150_007.0
    assert valor.number_format == '"R$" #,##0.00'

    for header, expected in (("Publicação", datetime(2026, 11, 20, 7, 40, 47)),
                             ("Abertura", datetime(2026, 11, 21, 8, 0)),
                             ("Encerramento", datetime(2026, 12, 2, 9, 30))):
        cell = row[header]
        assert cell.is_date and cell.value == expected
        assert cell.number_format == "dd/mm/yyyy"

    link = row["Link"]
    assert link.value == "https://compras.example.gov.br/edital/7"
    assert link.hyperlink is not None and link.hyperlink.target == "https://compras.example.gov.br/edital/7"
    assert link.font.u == "single" and link.font.color.rgb.endswith("0563C1")


def test_classificacao_says_why_each_row_is_in_the_sector() -> None:
    ws, _ = sheets(build([
        licitacao(1, classificacao="palavras", palavras_encontradas=["uniforme", "camiseta"]),
        licitacao(2, objeto="Aquisição de enxoval hospitalar", classificacao="ia", palavras_encontradas=[]),
        licitacao(3),  # the default: its terms matched
    ]))
    classificacao, termos = COL["Classificação"], COL["Termos encontrados"]
    assert ws.cell(row=2, column=classificacao).value == "Palavras-chave"
    assert ws.cell(row=2, column=termos).value == "uniforme, camiseta"
    assert ws.cell(row=2, column=termos).alignment.wrap_text
    assert ws.cell(row=3, column=classificacao).value == "Sugerido por IA"
    assert ws.cell(row=3, column=termos).value is None  # the AI put it in: no terms
    assert ws.cell(row=4, column=classificacao).value == "Palavras-chave"
    assert ws.column_dimensions[get_column_letter(classificacao)].width == 16
    assert ws.column_dimensions[get_column_letter(termos)].width == 30
    # the totals row keeps its cells under the new columns
    totals = ws[6]
    assert totals[COL["Valor Estimado"] - 1].value == pytest.approx(450_006.0)


def test_confidential_value_and_missing_dates_are_empty_cells() -> None:
    ws, _ = sheets(build([licitacao(1, valor_estimado=None, municipio=None, data_abertura=None,
                                    data_encerramento=None)]))
    assert ws.cell(row=2, column=COL["Valor Estimado"]).value is None
    assert ws.cell(row=2, column=COL["Município"]).value is None
    assert ws.cell(row=2, column=COL["Abertura"]).value is None
    assert ws.cell(row=2, column=COL["Encerramento"]).value is None
    assert ws.cell(row=2, column=COL["Publicação"]).value == datetime(2026, 11, 20, 7, 40, 47)


def test_aware_dates_are_shown_in_brasilia_time() -> None:
    ws, _ = sheets(build([licitacao(1, data_encerramento=datetime(2026, 12, 2, 12, 30, tzinfo=UTC))]))
    assert ws.cell(row=2, column=COL["Encerramento"]).value == datetime(2026, 12, 2, 9, 30)


def test_totals_row_counts_and_sums_known_values() -> None:
    licitacoes = [licitacao(1, valor_estimado=1000.10), licitacao(2, valor_estimado=None),
                  licitacao(3, valor_estimado=2000.25)]
    data = build(licitacoes)
    ws, _ = sheets(data)
    assert ws.max_row == 6  # header, 3 rows, a blank row, totals
    assert all(cell.value is None for cell in ws[5])
    totals = ws[6]
    assert totals[0].value == "Total"
    assert totals[1].value == 3
    assert totals[2].value == "licitações"
    value = totals[COL["Valor Estimado"] - 1]
    assert value.value == pytest.approx(3000.35) and value.data_type == "n"
    assert value.number_format == '"R$" #,##0.00'
    assert totals[0].font.b
    # computed numbers, not formulas: no formula anywhere in the workbook
    assert not any(re.search(r"<f[ >]", xml) for xml in sheet_xml(data).values())


def test_empty_list_gives_headers_and_a_zero_totals_row() -> None:
    ws, rs = sheets(build([]))
    assert [cell.value for cell in ws[1]] == HEADERS
    assert ws.auto_filter.ref == f"A1:{LAST}1"
    assert ws.max_row == 3
    totals = ws[3]
    assert (totals[0].value, totals[1].value, totals[COL["Valor Estimado"] - 1].value) == ("Total", 0, 0)
    lines = resumo_lines(rs)
    assert lines["Licitações"].value == 0
    assert lines["Valor total estimado (conhecido)"].value == 0


def test_links_excel_cannot_take_stay_plain_text() -> None:
    long_url = "https://compras.example.gov.br/" + "a" * 2100
    ws, _ = sheets(build([licitacao(1, link=long_url), licitacao(2, link="javascript:alert(1)"),
                          licitacao(3, link="https://compras.example.gov.br/edital 3")]))
    for row, text in ((2, long_url), (3, "javascript:alert(1)"), (4, "https://compras.example.gov.br/edital 3")):
        cell = ws.cell(row=row, column=COL["Link"])
        assert cell.value == text
        assert cell.hyperlink is None


# --------------------------------------------------------------------------------------------
# "Resumo"
# --------------------------------------------------------------------------------------------


def test_resumo_sheet_has_parameters_counts_and_summary() -> None:
    licitacoes = [licitacao(1, valor_estimado=100.0), licitacao(2, valor_estimado=None), licitacao(3)]
    _, rs = sheets(build(licitacoes, resumo=resumo()))
    lines = resumo_lines(rs)
    labels = [row[0] for row in rs.iter_rows(values_only=True) if row[0] is not None]
    assert labels[labels.index("Parâmetros da busca") + 1:][:4] == list(PARAMETROS)
    for label, value in PARAMETROS.items():
        assert lines[label].value == value
    gerado = lines["Gerado em (horário de Brasília)"]
    assert gerado.value == GERADO_EM and gerado.number_format == "dd/mm/yyyy hh:mm"
    assert lines["Licitações"].value == 3
    assert lines["Valor total estimado (conhecido)"].value == pytest.approx(100.0 + 150_003.0)
    assert lines["Valor total estimado (conhecido)"].number_format == '"R$" #,##0.00'
    assert lines["Com orçamento sigiloso"].value == 1
    assert lines["Resumo"].value == "Foram encontradas 3 licitações de uniformes em SP."
    values = [row[1] for row in rs.iter_rows(values_only=True)]
    assert "• Campinas compra uniformes escolares" in values
    assert "• Pregão de R$ 150 mil encerra em 02/12" in values
    assert lines["Alerta de urgência"].value == "1 licitação encerra em até 3 dias."
    assert lines["Alerta de urgência"].font.b
    assert lines["Origem do resumo"].value == "gerado por IA"


def test_resumo_without_summary_and_aware_generation_time() -> None:
    _, rs = sheets(build([licitacao(1)], gerado_em=datetime(2026, 11, 28, 15, 0, 0, 123456, tzinfo=UTC)))
    lines = resumo_lines(rs)
    assert lines["Gerado em (horário de Brasília)"].value == datetime(2026, 11, 28, 12, 0, 0)
    assert "Resumo executivo" not in lines and "Resumo" not in lines
    assert lines["Licitações"].value == 1


# --------------------------------------------------------------------------------------------
# Hostile text
# --------------------------------------------------------------------------------------------


def _assert_literal(cell: Any, text: str) -> None:
    assert cell.value == text
    assert cell.data_type == "s"


@pytest.mark.parametrize("payload", INJECTIONS)
def test_formula_like_text_is_stored_as_literal_string(payload: str) -> None:
    lic = licitacao(1, objeto=payload, orgao=payload, municipio=payload, modalidade=payload, situacao=payload,
                    codigo_pncp=payload, link=payload, palavras_encontradas=[payload])
    data = build([lic], parametros={payload: payload},
                 resumo=resumo(resumo_executivo=payload, destaques=[payload], alerta_urgencia=payload))
    ws, rs = sheets(data)
    for header in ("Código PNCP", "Objeto", "Termos encontrados", "Órgão", "Município", "Modalidade", "Situação",
                   "Link"):
        cell = ws.cell(row=2, column=COL[header])
        _assert_literal(cell, payload)
        assert cell.quotePrefix, header
        assert cell.hyperlink is None
    lines = resumo_lines(rs)
    for label in (payload, "Resumo", "Alerta de urgência"):
        _assert_literal(lines[label], payload)
        assert lines[label].quotePrefix
    _assert_literal(rs[lines[payload].row][0], payload)
    assert f"• {payload}" in [row[1] for row in rs.iter_rows(values_only=True)]
    assert not any(re.search(r"<f[ >]", xml) for xml in sheet_xml(data).values())


def test_error_codes_and_hash_text_stay_strings() -> None:
    ws, _ = sheets(build([licitacao(1, objeto="#N/A", orgao="#REF!", municipio="#1 lote")]))
    for header, text in (("Objeto", "#N/A"), ("Órgão", "#REF!"), ("Município", "#1 lote")):
        _assert_literal(ws.cell(row=2, column=COL[header]), text)


def test_ordinary_text_gets_no_quote_prefix() -> None:
    ws, _ = sheets(build([licitacao(1, objeto="Compra de 2-3 mil unidades")]))
    assert not ws.cell(row=2, column=COL["Objeto"]).quotePrefix
    assert not ws.cell(row=2, column=COL["Órgão"]).quotePrefix


def test_control_characters_are_stripped() -> None:
    dirty = "Aquisição\x00 de\x0b papel\x1f A4\x08"
    data = build([licitacao(1, objeto=dirty, orgao="PREFEITURA\x01 X", municipio="Sal\x1bvador")],
                 parametros={"Setor\x02": "Papelaria\x03"},
                 resumo=resumo(resumo_executivo="Resumo\x0c ok", destaques=["um\x10"], alerta_urgencia="alerta\x07"))
    ws, rs = sheets(data)
    assert ws.cell(row=2, column=COL["Objeto"]).value == "Aquisição de papel A4"
    assert ws.cell(row=2, column=COL["Órgão"]).value == "PREFEITURA X"
    assert ws.cell(row=2, column=COL["Município"]).value == "Salvador"
    lines = resumo_lines(rs)
    assert lines["Setor"].value == "Papelaria"
    assert lines["Resumo"].value == "Resumo ok"
    assert lines["Alerta de urgência"].value == "alerta"
    assert "• um" in [row[1] for row in rs.iter_rows(values_only=True)]


def test_text_beyond_excel_cell_limit_is_cut() -> None:
    ws, _ = sheets(build([licitacao(1, objeto="x" * 40_000)]))
    assert ws.cell(row=2, column=COL["Objeto"]).value == "x" * 32_767


def test_non_finite_value_is_left_empty() -> None:
    ws, rs = sheets(build([licitacao(1, valor_estimado=math.inf), licitacao(2, valor_estimado=10.0)]))
    assert ws.cell(row=2, column=COL["Valor Estimado"]).value is None
    assert resumo_lines(rs)["Valor total estimado (conhecido)"].value == 10


# --------------------------------------------------------------------------------------------
# Volume and concurrency
# --------------------------------------------------------------------------------------------


def test_5000_realistic_rows_build() -> None:
    licitacoes = demo_licitacoes(5000)
    data = build(licitacoes, resumo=resumo())
    ws, rs = sheets(data)
    assert ws.max_row == 5003
    assert ws.auto_filter.ref == f"A1:{LAST}5001"
    known = [lic.valor_estimado for lic in licitacoes if lic.valor_estimado is not None]
    assert len(known) < 5000  # the demo has confidential budgets
    totals = ws[5003]
    assert totals[1].value == 5000
    assert totals[COL["Valor Estimado"] - 1].value == pytest.approx(round(math.fsum(known), 2))
    assert [ws.cell(row=i, column=1).value for i in (2, 5001)] == [licitacoes[0].codigo_pncp,
                                                                     licitacoes[-1].codigo_pncp]
    assert sum(1 for row in ws.iter_rows(min_row=2, max_row=5001, min_col=COL["Link"], max_col=COL["Link"])
               if row[0].hyperlink is not None) == 5000
    assert resumo_lines(rs)["Com orçamento sigiloso"].value == 5000 - len(known)


def test_concurrent_builds_do_not_mix() -> None:
    """Styles are shared module objects: workbooks built at once in threads stay identical."""
    licitacoes = demo_licitacoes(300)
    expected = sheet_xml(build(licitacoes, resumo=resumo()))
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: sheet_xml(build(licitacoes, resumo=resumo())), range(8)))
    assert all(result == expected for result in results)
