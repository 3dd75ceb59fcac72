"""A search's licitações as an .xlsx workbook: pure (data in, bytes out), built with openpyxl.

    create_excel(licitacoes, parametros={"Setor": "Vestuário", ...}, resumo=resumo, gerado_em=now)

Two sheets:

- "Licitações": one row per licitação (columns in `COLUMNS`), a styled and frozen header, an
  autofilter over the data, then a blank row and a totals row (count and sum of the known
  estimated values). Next to the objeto, why it is in the sector: "Classificação" says
  "Palavras-chave" (the sector's terms matched, listed in "Termos encontrados") or "Sugerido por
  IA" (the AI arbiter read the objeto and put it in; no terms).
- "Resumo": the search parameters, the generation time (Brasília), the counts and totals, and
  the executive summary (text, highlights, urgency alert) when there is one.

Design:

- Streaming: openpyxl's write-only mode. Each sheet's XML goes to a temporary file of
  openpyxl's as the rows are written (its only I/O) and is zipped into memory at the end, so
  memory does not grow with rows faster than the output: what stays per row is openpyxl's
  hyperlink record, which the format wants after the last row.
- Cheap cells: fonts, fills, alignments are shared module-level objects; each call registers
  its named styles once and every cell reuses the prepared style array. Text that needs no style
  goes in as a plain value (no cell object); dates go in as Excel serial numbers. Rows go
  through openpyxl's own `append`, which raises and catches an exception per styled cell:
  replacing its private row intake was measured at only 1.2x faster, so it is not done (reports
  are built in child processes, off the event loop: `backend/adapters/excel_process.py`).
- Totals are computed numbers, not formulas: the file is a download, opened in Protected View,
  in previewers and on phones, which show only a formula's cached value, and openpyxl cannot
  write one, so `=SUM()` would read as empty or 0 there. A number is right everywhere and equals
  the figure on the "Resumo" sheet. The workbook therefore holds no formula at all.
- Formula injection: every text is written as a string cell (`t="inlineStr"`, never `<f>`), even
  when it starts with `=` (openpyxl would make that a formula) or looks like an error code; one
  starting with `=`, `+`, `-`, `@`, tab or CR also gets Excel's quote prefix, so editing the
  cell in Excel or LibreOffice does not turn it into a formula either.
- Characters XML cannot hold (control characters) are removed; texts longer than Excel's cell
  limit are cut; only http(s) links that Excel accepts become hyperlinks (the URL is the
  cell's text, so it is still there when it cannot be a hyperlink, e.g. past Excel's 65,530
  hyperlinks per sheet).
"""

from __future__ import annotations

import enum
import itertools
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from io import BytesIO
from operator import attrgetter
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import Cell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Border, Font, NamedStyle, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from backend.codes import BRASILIA
from backend.schemas import Licitacao, ResumoLicitacoes

SHEET_LICITACOES = "Licitações"
SHEET_RESUMO = "Resumo"

MONEY_FORMAT = '"R$" #,##0.00'
DATE_FORMAT = "dd/mm/yyyy"
DATETIME_FORMAT = "dd/mm/yyyy hh:mm"
COUNT_FORMAT = "#,##0"

MAX_CELL_CHARS = 32_767  # Excel's limit for a cell's text
MAX_URL_CHARS = 2_079  # Excel's limit for a hyperlink's address
MAX_HYPERLINKS = 65_530  # Excel's limit of hyperlinks per worksheet; later links stay plain text

# A text starting with one of these is read as a formula when typed (or re-entered) in a cell.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

_EXCEL_EPOCH = datetime(1899, 12, 30)  # serial 0 of Excel's 1900 date system, from 1900-03-01 on
_FIRST_DATE = datetime(1900, 3, 1)
_DAY = timedelta(days=1)
_HTTP_URL = re.compile(r"https?://[^\s]+", re.IGNORECASE)


# --------------------------------------------------------------------------------------------
# Styles: shared value objects; named styles are made per workbook from them
# --------------------------------------------------------------------------------------------

_HEADER_FONT = Font(name="Calibri", size=11, bold=True, color="FFFFFF")
_HEADER_FILL = PatternFill(fill_type="solid", start_color="1F4E78", end_color="1F4E78")
_HEADER_ALIGNMENT = Alignment(horizontal="center", vertical="center", wrap_text=True)
_WRAP = Alignment(wrap_text=True)
_TOP = Alignment(vertical="top")
_TOP_WRAP = Alignment(vertical="top", wrap_text=True)
_LINK_FONT = Font(name="Calibri", size=11, color="0563C1", underline="single")
_BOLD = Font(name="Calibri", size=11, bold=True)
_TITLE_FONT = Font(name="Calibri", size=14, bold=True, color="1F4E78")
_ALERT_FONT = Font(name="Calibri", size=11, bold=True, color="C00000")
_TOTAL_FILL = PatternFill(fill_type="solid", start_color="DDEBF7", end_color="DDEBF7")
_TOTAL_BORDER = Border(top=Side(style="thin", color="1F4E78"))


class Style(enum.Enum):
    """The cell styles of the workbook: (font, fill, alignment, number format, border).

    Data cells keep Excel's default (bottom) vertical alignment, like the plain text cells that
    carry no style at all, so a row reads level whatever its height.
    """

    # "Licitações"
    HEADER = (_HEADER_FONT, _HEADER_FILL, _HEADER_ALIGNMENT, "General", None)
    TEXT = (None, None, None, "General", None)
    WRAP = (None, None, _WRAP, "General", None)
    MONEY = (None, None, None, MONEY_FORMAT, None)
    DATE = (None, None, None, DATE_FORMAT, None)
    LINK = (_LINK_FONT, None, None, "General", None)
    TOTAL_LABEL = (_BOLD, _TOTAL_FILL, None, "General", _TOTAL_BORDER)
    TOTAL_COUNT = (_BOLD, _TOTAL_FILL, None, COUNT_FORMAT, _TOTAL_BORDER)
    TOTAL_MONEY = (_BOLD, _TOTAL_FILL, None, MONEY_FORMAT, _TOTAL_BORDER)
    TOTAL_EMPTY = (None, _TOTAL_FILL, None, "General", _TOTAL_BORDER)
    # "Resumo"
    TITLE = (_TITLE_FONT, None, None, "General", None)
    LABEL = (_BOLD, None, _TOP_WRAP, "General", None)
    NOTE = (None, None, _TOP_WRAP, "General", None)
    NOTE_DATETIME = (None, None, _TOP, DATETIME_FORMAT, None)
    NOTE_COUNT = (None, None, _TOP, COUNT_FORMAT, None)
    NOTE_MONEY = (None, None, _TOP, MONEY_FORMAT, None)
    ALERT = (_ALERT_FONT, None, _TOP_WRAP, "General", None)

    @property
    def style_name(self) -> str:
        return f"smartlic_{self.name.lower()}"


# --------------------------------------------------------------------------------------------
# Values: cleaning and the row mapper (pure)
# --------------------------------------------------------------------------------------------


def clean_text(value: Any) -> str:
    """Text a cell can hold: characters XML forbids removed, cut at Excel's cell limit."""
    text = value if isinstance(value, str) else ("" if value is None else str(value))
    if ILLEGAL_CHARACTERS_RE.search(text):
        text = ILLEGAL_CHARACTERS_RE.sub("", text)
    return text[:MAX_CELL_CHARS]


def looks_like_formula(text: str) -> bool:
    """Whether Excel would take the text for a formula if it were typed into a cell."""
    return text.startswith(FORMULA_TRIGGERS)


def excel_datetime(value: datetime | None) -> datetime | None:
    """Naive Brasília wall-clock time (Excel has no time zones); None outside Excel's dates."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(BRASILIA).replace(tzinfo=None)
    return value if value >= _FIRST_DATE else None


def excel_serial(value: datetime) -> float:
    """Excel's serial number of a naive datetime from 1900-03-01 on (what openpyxl writes for one)."""
    return (value - _EXCEL_EPOCH) / _DAY


def link_target(url: str) -> str | None:
    """The URL as a hyperlink target, or None when Excel would refuse or mangle it."""
    return url if len(url) <= MAX_URL_CHARS and _HTTP_URL.fullmatch(url) else None


def _money(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


class Kind(enum.Enum):
    """How a column's value is written."""

    TEXT = "text"  # string, no style unless it needs the quote prefix
    WRAP = "wrap"  # string, wrapped
    MONEY = "money"  # float in R$, empty when None (confidential budget)
    DATE = "date"  # naive datetime shown dd/mm/yyyy, empty when None
    LINK = "link"  # URL text, hyperlinked to itself


@dataclass(frozen=True, slots=True)
class Column:
    header: str
    width: float
    kind: Kind
    value: Callable[[Licitacao], Any]


CLASSIFICACAO_LABELS: dict[str, str] = {"palavras": "Palavras-chave", "ia": "Sugerido por IA"}
"""How each `Licitacao.classificacao` reads in the sheet: its terms matched, or the AI arbiter put it in."""


def _classificacao(licitacao: Licitacao) -> str:
    return CLASSIFICACAO_LABELS.get(licitacao.classificacao, licitacao.classificacao)


def _termos(licitacao: Licitacao) -> str:
    """The matched terms, comma-separated; empty when the AI put the licitação in."""
    return ", ".join(licitacao.palavras_encontradas)


COLUMNS: tuple[Column, ...] = (
    Column("Código PNCP", 30, Kind.TEXT, attrgetter("codigo_pncp")),
    Column("Objeto", 60, Kind.WRAP, attrgetter("objeto")),
    Column("Classificação", 16, Kind.TEXT, _classificacao),
    Column("Termos encontrados", 30, Kind.WRAP, _termos),
    Column("Órgão", 40, Kind.TEXT, attrgetter("orgao")),
    Column("UF", 5, Kind.TEXT, attrgetter("uf")),
    Column("Município", 22, Kind.TEXT, attrgetter("municipio")),
    Column("Valor Estimado", 18, Kind.MONEY, attrgetter("valor_estimado")),
    Column("Modalidade", 24, Kind.TEXT, attrgetter("modalidade")),
    Column("Publicação", 12, Kind.DATE, attrgetter("data_publicacao")),
    Column("Abertura", 12, Kind.DATE, attrgetter("data_abertura")),
    Column("Encerramento", 14, Kind.DATE, attrgetter("data_encerramento")),
    Column("Situação", 18, Kind.TEXT, attrgetter("situacao")),
    Column("Link", 50, Kind.LINK, attrgetter("link")),
)
HEADERS: tuple[str, ...] = tuple(column.header for column in COLUMNS)
VALUE_COLUMN = next(i for i, column in enumerate(COLUMNS) if column.kind is Kind.MONEY)

_CLEANERS: dict[Kind, Callable[[Any], Any]] = {
    Kind.TEXT: clean_text,
    Kind.WRAP: clean_text,
    Kind.LINK: clean_text,
    Kind.MONEY: _money,
    Kind.DATE: excel_datetime,
}
_ROW_MAPPERS: tuple[tuple[Callable[[Licitacao], Any], Callable[[Any], Any]], ...] = tuple(
    (column.value, _CLEANERS[column.kind]) for column in COLUMNS
)


def licitacao_row(licitacao: Licitacao) -> tuple[Any, ...]:
    """The cleaned values of one licitação, in `COLUMNS` order: str, float, naive datetime or None."""
    return tuple([clean(get(licitacao)) for get, clean in _ROW_MAPPERS])


# --------------------------------------------------------------------------------------------
# Writer
# --------------------------------------------------------------------------------------------


class _Cells:
    """Makes the cells of one workbook: named styles registered once, their arrays reused."""

    def __init__(self, workbook: Workbook, sheet: WriteOnlyWorksheet) -> None:
        self._sheet = sheet
        self._arrays: dict[tuple[Style, bool], Any] = {}
        for style in Style:
            font, fill, alignment, number_format, border = style.value
            named = NamedStyle(name=style.style_name, number_format=number_format)
            for attribute, value in (("font", font), ("fill", fill), ("alignment", alignment), ("border", border)):
                if value is not None:
                    setattr(named, attribute, value)
            workbook.add_named_style(named)
            for quoted in (False, True):
                probe = Cell(sheet)
                probe.style = style.style_name
                probe.quotePrefix = quoted
                self._arrays[style, quoted] = probe._style

    def bind(self, sheet: WriteOnlyWorksheet) -> None:
        self._sheet = sheet

    def styled(self, value: Any, style: Style) -> Cell:
        """A number (datetimes as Excel serials) or an empty cell, in `style`."""
        if isinstance(value, datetime):
            value = excel_serial(value)
        return Cell(self._sheet, row=1, column=1, value=value, style_array=self._arrays[style, False])

    def text(self, value: str, style: Style | None = None) -> Cell | str:
        """A string cell that is never a formula: the plain string when it needs no cell."""
        quoted = value.startswith(FORMULA_TRIGGERS)
        if style is None and not quoted and not value.startswith("#"):
            return value
        cell = Cell(self._sheet, row=1, column=1, value=value, style_array=self._arrays[style or Style.TEXT, quoted])
        cell.data_type = "s"  # openpyxl would make "=..." a formula and "#N/A" an error
        return cell

    def row_maker(self) -> Callable[[tuple[Any, ...]], list[Any]]:
        """Values of `licitacao_row` -> what `append` takes: plain values, styled cells, None."""
        sheet, text = self._sheet, self.text
        wrap, money, date, link = (self._arrays[style, False] for style in (Style.WRAP, Style.MONEY, Style.DATE,
                                                                              Style.LINK))
        hyperlinks = itertools.count()

        def make_text(value: str) -> Cell | str | None:
            return text(value) if value else None

        def make_wrap(value: str) -> Cell | str | None:
            if value.startswith(FORMULA_TRIGGERS) or value.startswith("#"):
                return text(value, Style.WRAP)
            return Cell(sheet, row=1, column=1, value=value, style_array=wrap) if value else None

        def make_money(value: float) -> Cell:
            return Cell(sheet, row=1, column=1, value=value, style_array=money)

        def make_date(value: datetime) -> Cell:
            return Cell(sheet, row=1, column=1, value=(value - _EXCEL_EPOCH) / _DAY, style_array=date)

        def make_link(value: str) -> Cell | str | None:
            if not link_target(value) or next(hyperlinks) >= MAX_HYPERLINKS:
                return make_text(value)
            cell = Cell(sheet, row=1, column=1, value=value, style_array=link)
            cell.hyperlink = value
            return cell

        makers = {Kind.TEXT: make_text, Kind.WRAP: make_wrap, Kind.MONEY: make_money, Kind.DATE: make_date,
                  Kind.LINK: make_link}
        columns = tuple(makers[column.kind] for column in COLUMNS)

        def make(row: tuple[Any, ...]) -> list[Any]:
            return [None if value is None else maker(value) for maker, value in zip(columns, row)]

        return make


def _write_licitacoes(sheet: WriteOnlyWorksheet, licitacoes: Sequence[Licitacao], cells: _Cells,
                      total_value: float) -> None:
    count = len(licitacoes)
    for index, column in enumerate(COLUMNS, 1):
        sheet.column_dimensions[get_column_letter(index)].width = column.width
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(COLUMNS))}{count + 1}"
    cells.bind(sheet)

    sheet.append([cells.text(header, Style.HEADER) for header in HEADERS])
    make = cells.row_maker()
    append = sheet.append
    for licitacao in licitacoes:
        append(make(licitacao_row(licitacao)))

    # A blank row keeps the totals out of the filtered range (Excel would otherwise extend it).
    sheet.append([])
    totals: list[Any] = [cells.styled(None, Style.TOTAL_EMPTY) for _ in COLUMNS]
    totals[0] = cells.text("Total", Style.TOTAL_LABEL)
    totals[1] = cells.styled(count, Style.TOTAL_COUNT)
    totals[2] = cells.text("licitação" if count == 1 else "licitações", Style.TOTAL_LABEL)
    totals[VALUE_COLUMN] = cells.styled(total_value, Style.TOTAL_MONEY)
    sheet.append(totals)


def _write_resumo(sheet: WriteOnlyWorksheet, cells: _Cells, *, parametros: Mapping[str, str],
                  resumo: ResumoLicitacoes | None, gerado_em: datetime, count: int, total_value: float,
                  confidential: int) -> None:
    sheet.column_dimensions["A"].width = 34
    sheet.column_dimensions["B"].width = 100
    cells.bind(sheet)

    def title(text: str) -> None:
        sheet.append([cells.text(text, Style.TITLE)])

    def line(label: str, value: Any, style: Style = Style.NOTE) -> None:
        if isinstance(value, str):
            value = cells.text(clean_text(value), style)
        elif value is not None:
            value = cells.styled(value, style)
        sheet.append([cells.text(clean_text(label), Style.LABEL), value])

    title("SmartLic: licitações encontradas")
    sheet.append([])
    title("Parâmetros da busca")
    for label, value in parametros.items():
        line(str(label), clean_text(value))
    line("Gerado em (horário de Brasília)", excel_datetime(gerado_em.replace(microsecond=0)), Style.NOTE_DATETIME)
    sheet.append([])
    title("Resultado")
    line("Licitações", count, Style.NOTE_COUNT)
    line("Valor total estimado (conhecido)", total_value, Style.NOTE_MONEY)
    line("Com orçamento sigiloso", confidential, Style.NOTE_COUNT)
    if resumo is None:
        return
    sheet.append([])
    title("Resumo executivo")
    line("Resumo", resumo.resumo_executivo)
    for index, destaque in enumerate(resumo.destaques):
        line("Destaques" if index == 0 else "", f"• {clean_text(destaque)}")
    if resumo.alerta_urgencia:
        line("Alerta de urgência", resumo.alerta_urgencia, Style.ALERT)
    line("Origem do resumo", "gerado por IA" if resumo.origem == "llm" else "calculado a partir dos dados")


def create_excel(
    licitacoes: Sequence[Licitacao],
    *,
    parametros: Mapping[str, str],
    resumo: ResumoLicitacoes | None,
    gerado_em: datetime,
) -> bytes:
    """The .xlsx file of a search's licitações (sheets "Licitações" and "Resumo"), as bytes.

    `parametros` are the search parameters to show, label -> value, in order (e.g. Setor, UFs,
    Período, Modalidades). `gerado_em` is shown in Brasília time (a naive datetime is taken as
    Brasília time already).
    """
    known = [value for value in (_money(lic.valor_estimado) for lic in licitacoes) if value is not None]
    total_value = round(math.fsum(known), 2)

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(SHEET_LICITACOES)
    cells = _Cells(workbook, sheet)
    _write_licitacoes(sheet, licitacoes, cells, total_value)
    _write_resumo(
        workbook.create_sheet(SHEET_RESUMO), cells, parametros=parametros, resumo=resumo, gerado_em=gerado_em,
        count=len(licitacoes), total_value=total_value, confidential=len(licitacoes) - len(known),
    )
    out = BytesIO()
    workbook.save(out)
    return out.getvalue()
