"""Stages 6 and 7 of a search, each callable on its own: the summary and the Excel report.

Each one produces its output, persists it in `search_cache`, then tells the search's progress
stream; `finish_if_settled` sends `complete` once both are settled. The inline path of the
pipeline and the background jobs call the same functions.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
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
EXCEL_OVERDUE = EXCEL_FAILED.format(reason="nenhum processo a concluiu a tempo")
OVERDUE_CHECK_SECONDS = 10.0


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


def overdue_after(services: Services) -> timedelta:
    """A search still processing this long after its last sign of life is settled by whoever
    notices: twice the time after which the recovery job produces what its jobs did not."""
    return timedelta(seconds=2 * services.settings.stalled_search_seconds)


async def settle_overdue_searches(services: Services) -> int:
    """Settles searches past their deadline: the summary from the data, the report failed with
    a message, so every page ends. Claims keep it to one process per output."""
    settled = 0
    for sid in await services.store.stalled(overdue_after(services)):
        stored = await services.store.get(sid)
        if stored is None:
            continue
        logger.warning("search %s is past its deadline; settling it with what the data gives", sid)
        if stored.outcome.llm_status == "processing" and await services.store.claim(sid, "llm", "deadline", 30):
            sector = services.sectors.get(stored.setor_id)
            resumo = gerar_resumo_fallback(stored.licitacoes, sector.nome if sector else stored.setor_id)
            await deliver_resumo(services, sid, resumo)
        if stored.outcome.excel_status == "processing" and await services.store.claim(sid, "excel", "deadline", 30):
            await deliver_excel(services, sid, ExcelOutcome("failed", error=EXCEL_OVERDUE))
        await finish_if_settled(services, sid)
        settled += 1
    return settled


async def keep_settling_overdue(services: Services) -> None:
    """Every web process looks for overdue searches while no live worker reads its database (a
    worker given another DATABASE_URL never sees them), so every search ends. Where a worker
    does, its recovery job produces what was lost instead."""
    every = min(OVERDUE_CHECK_SECONDS, overdue_after(services).total_seconds() / 4)
    while True:
        await asyncio.sleep(every)
        try:
            if not await services.queue.is_queue_available():
                await settle_overdue_searches(services)
        except Exception:  # the database or Redis is away: next time
            logger.exception("could not settle overdue searches")
