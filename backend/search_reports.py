"""Stages 6 and 7 of a search, each callable on its own: the summary and the Excel report.

Each one produces its output, persists it in `search_cache`, then tells the search's progress
stream; `finish_if_settled` sends `complete` once both are settled. The inline path of the
pipeline and the background jobs call the same functions.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID

from backend import progress
from backend.codes import MODALIDADES
from backend.formatting import formatar_dia, formatar_moeda
from backend.llm import ResumoError, gerar_resumo, gerar_resumo_fallback
from backend.schemas import BuscaRequest, Licitacao, ResumoLicitacoes
from backend.sectors import Sector
from backend.storage import StorageError

if TYPE_CHECKING:
    from backend.services import Services

logger = logging.getLogger(__name__)

EXCEL_FAILED = "Não foi possível gerar a planilha ({reason}). Os resultados da busca continuam disponíveis."


@dataclass(frozen=True, slots=True)
class ExcelOutcome:
    status: str  # "ready" | "failed" | "skipped"
    url: str | None = None
    error: str | None = None


async def write_resumo(services: Services, licitacoes: Sequence[Licitacao], sector_name: str) -> ResumoLicitacoes:
    """The LLM's summary, or the one computed from the data when there is no LLM or it fails."""
    if services.llm is None or not licitacoes:
        return gerar_resumo_fallback(licitacoes, sector_name)
    try:
        return await gerar_resumo(
            licitacoes, sector_name, client=services.llm, model=services.settings.llm_model,
            timeout=services.settings.llm_job_timeout,
        )
    except ResumoError as exc:
        logger.warning("summary by the LLM failed, using the fallback: %s", exc.message)
        return gerar_resumo_fallback(licitacoes, sector_name)


async def deliver_resumo(services: Services, search_id: UUID, resumo: ResumoLicitacoes) -> None:
    """Persists the summary, then announces it."""
    await services.store.save_resumo(search_id, resumo)
    event = progress.llm_ready_event(resumo)
    await services.progress.emit(str(search_id), event.stage, event.progress, event.message, event.detail)


async def build_excel(
    services: Services,
    search_id: UUID,
    licitacoes: Sequence[Licitacao | Mapping[str, Any]],
    parametros: Mapping[str, str],
    resumo: ResumoLicitacoes | None,
    sector_name: str,
) -> str:
    """Builds the report in a child process and uploads it; returns the signed link.

    `licitacoes` may be a job's payload (dicts). Without `resumo`, the report carries the one
    computed from the data. Raises `StorageError` or whatever the workbook build raised.
    """
    data = await services.excel.build(licitacoes, parametros=parametros, resumo=resumo, sector_name=sector_name)
    return await services.storage.upload_excel(data, search_id)


def excel_failure_message(error: BaseException) -> str:
    if isinstance(error, StorageError):
        return EXCEL_FAILED.format(reason=error.message)
    if isinstance(error, TimeoutError):
        return EXCEL_FAILED.format(reason="o tempo limite acabou")
    return EXCEL_FAILED.format(reason="erro interno ao montar o arquivo")


async def deliver_excel(services: Services, search_id: UUID, outcome: ExcelOutcome) -> None:
    """Persists the report's outcome, then announces it."""
    await services.store.save_excel(search_id, status=outcome.status, url=outcome.url, error=outcome.error)
    event = progress.excel_event(outcome.status, outcome.url, outcome.error)
    if event is not None:
        await services.progress.emit(str(search_id), event.stage, event.progress, event.message, event.detail)


async def finish_if_settled(services: Services, search_id: UUID) -> bool:
    """Sends `complete` once, when both the summary and the report are settled."""
    if not await services.store.mark_completed(search_id):
        return False
    event = progress.complete_event()
    await services.progress.emit(str(search_id), event.stage, event.progress, event.message)
    return True


def report_parameters(request: BuscaRequest, sector: Sector) -> dict[str, str]:
    """The search as a person reads it, for the report's "Resumo" sheet."""
    def reais(value: float | None) -> str:
        return "—" if value is None else formatar_moeda(value)

    return {
        "Setor": sector.nome,
        "UFs": ", ".join(request.ufs),
        "Período de publicação": f"{formatar_dia(request.data_inicial)} a {formatar_dia(request.data_final)}",
        "Modalidades": ", ".join(MODALIDADES[m] for m in request.modalidades_efetivas),
        "Somente abertas": "Sim" if request.somente_abertas else "Não",
        "Valor mínimo": reais(request.valor_minimo),
        "Valor máximo": reais(request.valor_maximo),
        "Termos de busca": request.termos_busca or "—",
    }
