"""PNCP wire records -> `Licitacao`: pure mapping with PNCP's quirks handled in one place.

Quirks seen in real records: dates are Brasília wall-clock time without offset and the proposal
dates can be null; `valorTotalEstimado` is 0 when the budget is confidential; `codigoIbge` is a
string; `linkSistemaOrigem` is null or empty in about one record in five.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from backend.codes import BRASILIA, MODALIDADES
from backend.schemas import Licitacao

PNCP_PUBLIC_PAGE = "https://pncp.gov.br/app/editais/{cnpj}/{ano}/{sequencial}"


def parse_datetime(value: Any) -> datetime | None:
    """PNCP dates as naive Brasília datetimes; anything unreadable becomes None."""
    if not value or not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(BRASILIA).replace(tzinfo=None)
    return parsed


def _estimated_value(value: Any) -> float | None:
    try:
        amount = float(value)
    except (TypeError, ValueError):
        return None
    return amount if amount > 0 else None


def _text(value: Any) -> str:
    return " ".join(str(value).split()) if value is not None else ""


def public_page(cnpj: str, ano: Any, sequencial: Any) -> str:
    return PNCP_PUBLIC_PAGE.format(cnpj=cnpj, ano=ano, sequencial=sequencial)


def to_licitacao(record: dict[str, Any]) -> Licitacao | None:
    """One PNCP record as a `Licitacao`, or None when it lacks what identifies it."""
    codigo = record.get("numeroControlePNCP")
    if not codigo or not isinstance(codigo, str):
        return None
    orgao = record.get("orgaoEntidade") or {}
    unidade = record.get("unidadeOrgao") or {}
    cnpj = _text(orgao.get("cnpj"))
    pncp_page = public_page(cnpj, record.get("anoCompra"), record.get("sequencialCompra"))
    origem = _text(record.get("linkSistemaOrigem"))
    modalidade_id = record.get("modalidadeId")
    modalidade_id = modalidade_id if isinstance(modalidade_id, int) else 0
    situacao_id = record.get("situacaoCompraId")
    ibge = unidade.get("codigoIbge")
    return Licitacao(
        codigo_pncp=codigo,
        objeto=_text(record.get("objetoCompra")),
        orgao=_text(orgao.get("razaoSocial")) or _text(unidade.get("nomeUnidade")),
        uf=_text(unidade.get("ufSigla")).upper(),
        municipio=_text(unidade.get("municipioNome")) or None,
        codigo_ibge=str(ibge) if ibge not in (None, "") else None,
        valor_estimado=_estimated_value(record.get("valorTotalEstimado")),
        modalidade=_text(record.get("modalidadeNome")) or MODALIDADES.get(modalidade_id, "Não informada"),
        modalidade_id=modalidade_id,
        data_publicacao=parse_datetime(record.get("dataPublicacaoPncp")),
        data_abertura=parse_datetime(record.get("dataAberturaProposta")),
        data_encerramento=parse_datetime(record.get("dataEncerramentoProposta")),
        situacao=_text(record.get("situacaoCompraNome")) or "Não informada",
        situacao_id=situacao_id if isinstance(situacao_id, int) else 0,
        link=origem if origem.startswith(("http://", "https://")) else pncp_page,
        link_pncp=pncp_page,
    )


def normalize_records(
    records: Iterable[dict[str, Any]], *, objeto_may_match: Callable[[str], bool] | None = None
) -> list[Licitacao]:
    """Deduplicated by `numeroControlePNCP` (the most recently updated copy wins), then mapped.

    `objeto_may_match` lets the caller skip, before any mapping, records whose objeto cannot
    match: building a `Licitacao` costs more than the text test, and most records fail it.
    """
    latest: dict[str, tuple[str, dict[str, Any]]] = {}
    for record in records:
        codigo = record.get("numeroControlePNCP")
        if not codigo or not isinstance(codigo, str):
            continue
        updated = str(record.get("dataAtualizacaoGlobal") or record.get("dataAtualizacao") or "")
        kept = latest.get(codigo)
        if kept is None or updated > kept[0]:
            latest[codigo] = (updated, record)
    mapped = (
        to_licitacao(record)
        for _, record in latest.values()
        if objeto_may_match is None or objeto_may_match(_text(record.get("objetoCompra")))
    )
    return [licitacao for licitacao in mapped if licitacao is not None]
