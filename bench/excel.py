"""The Excel export: `create_excel` (openpyxl, write-only) against xlsxwriter (constant_memory).

    .venv/bin/python -m bench.excel [--rows 5000 20000] [--repeat 3]

Both write the same cells with the same formats from the same demo licitações: the
"Licitações" sheet (styled header, frozen pane, autofilter, widths, wrapped objeto, R$ values,
dd/mm/yyyy dates, hyperlinks, quote prefix where a text looks like a formula, totals row) and
the "Resumo" sheet. Times are the best of --repeat runs without tracing; peak memory is
tracemalloc's peak in a separate run. The last column is create_excel's time over
xlsxwriter's (a figure to follow, not a goal: reports are built in child processes).
"""

from __future__ import annotations

import argparse
import gc
import math
import time
import tracemalloc
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from io import BytesIO
from typing import Any

import xlsxwriter

from backend.codes import UFS, now_brasilia
from backend.domain import excel
from backend.domain.excel import COLUMNS, HEADERS, VALUE_COLUMN, Kind, create_excel, licitacao_row
from backend.pncp.demo import recent_records
from backend.pncp.records import to_licitacao
from backend.schemas import Licitacao, ResumoLicitacoes


def demo_licitacoes(count: int) -> list[Licitacao]:
    return [lic for lic in map(to_licitacao, recent_records(count, now_brasilia().date())) if lic is not None]


PARAMETROS = {
    "Setor": "Vestuário e uniformes",
    "UFs": ", ".join(sorted(UFS)),
    "Período": "01/11/2026 a 28/11/2026",
    "Modalidades": "Concorrência - Eletrônica, Concorrência - Presencial, Pregão - Eletrônico, Pregão - Presencial",
}


def demo_resumo(licitacoes: Sequence[Licitacao]) -> ResumoLicitacoes:
    valores = [lic.valor_estimado for lic in licitacoes if lic.valor_estimado is not None]
    return ResumoLicitacoes(
        resumo_executivo=f"{len(licitacoes)} licitações encontradas nos 27 estados, a maioria pregões eletrônicos.",
        total_oportunidades=len(licitacoes),
        valor_total=sum(valores),
        destaques=[f"{lic.orgao}: {lic.objeto[:80]}" for lic in licitacoes[:5]],
        alerta_urgencia="3 licitações encerram em até 3 dias.",
    )


# --------------------------------------------------------------------------------------------
# The same workbook with xlsxwriter
# --------------------------------------------------------------------------------------------

def xlsxwriter_format(style: excel.Style) -> dict[str, Any]:
    """The xlsxwriter format of one of create_excel's styles (same font, fill, alignment, format, border)."""
    font, fill, alignment, number_format, border = style.value
    spec: dict[str, Any] = {}
    if font is not None:
        spec.update(bold=bool(font.b), font_size=font.sz)
        if font.color is not None:
            spec["font_color"] = "#" + font.color.rgb[-6:]
        if font.u:
            spec["underline"] = 1
    if fill is not None:
        spec["bg_color"] = "#" + fill.fgColor.rgb[-6:]
    if alignment is not None:
        spec.update({key: value for key, value in (("align", alignment.horizontal), ("text_wrap", alignment.wrap_text))
                     if value})
        if alignment.vertical:
            spec["valign"] = {"center": "vcenter"}.get(alignment.vertical, alignment.vertical)
    if number_format != "General":
        spec["num_format"] = number_format
    if border is not None and border.top is not None and border.top.style:
        spec.update(top=1, top_color="#" + border.top.color.rgb[-6:])
    return spec


def xlsxwriter_excel(
    licitacoes: Sequence[Licitacao], *, parametros: Mapping[str, str], resumo: ResumoLicitacoes | None,
    gerado_em: datetime,
) -> bytes:
    out = BytesIO()
    wb = xlsxwriter.Workbook(out, {"constant_memory": True})
    fmt = {(style, quoted): wb.add_format({**xlsxwriter_format(style), "quote_prefix": quoted})
           for style in excel.Style for quoted in (False, True)}

    def text(ws: Any, row: int, col: int, value: str, style: excel.Style | None = None) -> None:
        quoted = excel.looks_like_formula(value)
        cell_format = fmt[style or excel.Style.TEXT, quoted] if style or quoted else None
        ws.write_string(row, col, value, cell_format)

    known = [lic.valor_estimado for lic in licitacoes if lic.valor_estimado is not None]
    total_value = round(math.fsum(known), 2)
    count = len(licitacoes)

    ws = wb.add_worksheet(excel.SHEET_LICITACOES)
    for index, column in enumerate(COLUMNS):
        ws.set_column(index, index, column.width)
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, count, len(COLUMNS) - 1)
    for col, header in enumerate(HEADERS):
        text(ws, 0, col, header, excel.Style.HEADER)
    kinds = tuple(column.kind for column in COLUMNS)
    money, date, link = (fmt[s, False] for s in (excel.Style.MONEY, excel.Style.DATE, excel.Style.LINK))
    links = 0
    for row, lic in enumerate(licitacoes, 1):
        for col, (kind, value) in enumerate(zip(kinds, licitacao_row(lic))):
            if value is None or value == "":
                continue
            if kind is Kind.TEXT:
                text(ws, row, col, value)
            elif kind is Kind.WRAP:
                text(ws, row, col, value, excel.Style.WRAP)
            elif kind is Kind.MONEY:
                ws.write_number(row, col, value, money)
            elif kind is Kind.DATE:
                ws.write_datetime(row, col, value, date)
            elif links < excel.MAX_HYPERLINKS and excel.link_target(value):
                ws.write_url(row, col, value, link, string=value)
                links += 1
            else:
                text(ws, row, col, value)
    total_row = count + 2
    for col in range(len(COLUMNS)):
        ws.write_blank(total_row, col, None, fmt[excel.Style.TOTAL_EMPTY, False])
    ws.write_string(total_row, 0, "Total", fmt[excel.Style.TOTAL_LABEL, False])
    ws.write_number(total_row, 1, count, fmt[excel.Style.TOTAL_COUNT, False])
    ws.write_string(total_row, 2, "licitação" if count == 1 else "licitações", fmt[excel.Style.TOTAL_LABEL, False])
    ws.write_number(total_row, VALUE_COLUMN, total_value, fmt[excel.Style.TOTAL_MONEY, False])

    rs = wb.add_worksheet(excel.SHEET_RESUMO)
    rs.set_column(0, 0, 34)
    rs.set_column(1, 1, 100)
    row = 0

    def line(label: str, value: Any, style: excel.Style = excel.Style.NOTE) -> None:
        nonlocal row
        text(rs, row, 0, excel.clean_text(label), excel.Style.LABEL)
        if isinstance(value, str):
            text(rs, row, 1, excel.clean_text(value), style)
        elif isinstance(value, datetime):
            rs.write_datetime(row, 1, value, fmt[style, False])
        elif value is not None:
            rs.write_number(row, 1, value, fmt[style, False])
        row += 1

    def title(value: str) -> None:
        nonlocal row
        text(rs, row, 0, value, excel.Style.TITLE)
        row += 1

    title("SmartLic: licitações encontradas")
    row += 1
    title("Parâmetros da busca")
    for label, value in parametros.items():
        line(label, value)
    line("Gerado em (horário de Brasília)", excel.excel_datetime(gerado_em.replace(microsecond=0)),
         excel.Style.NOTE_DATETIME)
    row += 1
    title("Resultado")
    line("Licitações", count, excel.Style.NOTE_COUNT)
    line("Valor total estimado (conhecido)", total_value, excel.Style.NOTE_MONEY)
    line("Com orçamento sigiloso", count - len(known), excel.Style.NOTE_COUNT)
    if resumo is not None:
        row += 1
        title("Resumo executivo")
        line("Resumo", resumo.resumo_executivo)
        for index, destaque in enumerate(resumo.destaques):
            line("Destaques" if index == 0 else "", f"• {excel.clean_text(destaque)}")
        if resumo.alerta_urgencia:
            line("Alerta de urgência", resumo.alerta_urgencia, excel.Style.ALERT)
        line("Origem do resumo", "gerado por IA" if resumo.origem == "llm" else "calculado a partir dos dados")
    wb.close()
    return out.getvalue()


# --------------------------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------------------------

Writer = Callable[..., bytes]


def best_seconds(write: Writer, licitacoes: Sequence[Licitacao], kwargs: dict[str, Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        gc.collect()
        started = time.perf_counter()
        write(licitacoes, **kwargs)
        times.append(time.perf_counter() - started)
    return min(times)


def peak_memory(write: Writer, licitacoes: Sequence[Licitacao], kwargs: dict[str, Any]) -> tuple[int, int]:
    """(tracemalloc peak in bytes, size of the output)."""
    gc.collect()
    tracemalloc.start()
    try:
        data = write(licitacoes, **kwargs)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, len(data)


def same_cells(licitacoes: Sequence[Licitacao], kwargs: dict[str, Any]) -> None:
    """Both writers' files hold the same values, formats, fonts and links (checked on a sample)."""
    from openpyxl import load_workbook

    books = [load_workbook(BytesIO(write(licitacoes, **kwargs))) for write in (create_excel, xlsxwriter_excel)]
    for name in (excel.SHEET_LICITACOES, excel.SHEET_RESUMO):
        a, b = (book[name] for book in books)
        assert (a.max_row, a.freeze_panes, a.auto_filter.ref) == (b.max_row, b.freeze_panes, b.auto_filter.ref), name
        for row_a, row_b in zip(a.iter_rows(), b.iter_rows(), strict=True):
            for x, y in zip(row_a, row_b, strict=True):
                same = (x.value == y.value or x.value in (None, "") and y.value in (None, ""))
                assert same and x.number_format == y.number_format, (x.coordinate, x.value, y.value)
                assert (x.font.b, x.font.u, x.alignment.wrap_text, x.quotePrefix) == (
                    y.font.b, y.font.u, y.alignment.wrap_text, y.quotePrefix), x.coordinate
                assert (x.hyperlink and x.hyperlink.target) == (y.hyperlink and y.hyperlink.target), x.coordinate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[5_000, 20_000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    all_licitacoes = demo_licitacoes(max(args.rows))
    first = all_licitacoes[0]
    hostile = first.model_copy(update={"objeto": "=1+1", "orgao": "#N/A", "municipio": "-2", "valor_estimado": None,
                                       "data_abertura": None, "link": "javascript:alert(1)"})
    sample = [*all_licitacoes[:300], hostile]
    same_cells(sample, {"parametros": PARAMETROS, "resumo": demo_resumo(sample), "gerado_em": now_brasilia()})
    print(f"demo licitações, best of {args.repeat} runs; memory = tracemalloc peak (separate run); "
          "both files checked to hold the same cells\n")
    print(f"{'rows':>7}{'writer':>14}{'seconds':>9}{'rows/s':>9}{'peak MiB':>10}{'out MiB':>9}{'peak/out':>10}"
          f"{'vs xlsxwriter':>15}")
    for rows in args.rows:
        licitacoes = all_licitacoes[:rows]
        kwargs = {"parametros": PARAMETROS, "resumo": demo_resumo(licitacoes), "gerado_em": now_brasilia()}
        results = {}
        for name, write in (("create_excel", create_excel), ("xlsxwriter", xlsxwriter_excel)):
            seconds = best_seconds(write, licitacoes, kwargs, args.repeat)
            results[name] = (seconds, *peak_memory(write, licitacoes, kwargs))
        ratio = results["create_excel"][0] / results["xlsxwriter"][0]
        for name, (seconds, peak, size) in results.items():
            versus = f"{ratio:.2f}x" if name == "create_excel" else ""
            print(f"{rows:>7}{name:>14}{seconds:>9.3f}{rows / seconds:>9,.0f}{peak / 2**20:>10.1f}"
                  f"{size / 2**20:>9.2f}{peak / size:>10.1f}{versus:>15}")


if __name__ == "__main__":
    main()
