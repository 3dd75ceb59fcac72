"""Stages 6 and 7 of a search: its summary and its Excel report, each with one owner.

`produce_summary` and `produce_report` claim the output, produce it, persist it, announce it
and send `complete` once both outputs are settled. Their callers (the inline path of the
pipeline, the jobs, the recovery of stalled searches, the deadline of overdue ones) differ only
in who they are and what a failure means to them: a `Producer`.

    resumo = await produce_summary(services, search_id, licitacoes, sector_name, INLINE)
    outcome = await produce_report(services, search_id, licitacoes, parametros, resumo, sector_name, INLINE)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol
from uuid import UUID

import anyio

from backend.adapters.llm import ResumoError, gerar_resumo
from backend.adapters.storage import StorageError
from backend.codes import MODALIDADES, now_brasilia, today_brasilia
from backend.domain.formatting import formatar_dia, formatar_moeda
from backend.domain.plans import EXCEL_NOT_IN_PLAN, Quota, plan_named
from backend.domain.sectors import Sector
from backend.domain.summary import gerar_resumo_fallback
from backend.progress import events
from backend.schemas import BuscaRequest, Licitacao, ProgressEvent, ResumoLicitacoes
from backend.store.search_cache import Output, SearchOutcome, StoredSearch

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


NOT_IN_PLAN = ExcelOutcome("skipped", error=EXCEL_NOT_IN_PLAN)  # a plan without reports
NO_PLAN_QUOTA: dict[str, Any] = {"plano": None, "excel": True, "usadas": None, "restantes": None, "renova_em": None}


async def quota_info(services: Services, outcome: SearchOutcome) -> dict[str, Any]:
    """`quota_info` of a search's report job: its plan, whether that plan has reports, and its
    user's searches this month; every report, and no count, without a plan (AUTH_MODE=off)."""
    if outcome.plano is None:
        return NO_PLAN_QUOTA
    plan = plan_named(services.plans, outcome.plano)
    today = today_brasilia(services.clock)
    return Quota.on(today, plan, await services.usage.used(outcome.owner, today)).info()


def report_allowed(services: Services, outcome: SearchOutcome) -> bool:
    """Whether the plan the search was made under has reports (every search has, without a plan)."""
    return outcome.plano is None or plan_named(services.plans, outcome.plano).excel


class SearchNotFound(Exception):
    """The search is not in this process's database: most likely a worker was given another
    `DATABASE_URL` than the web service that queued its jobs."""

    def __init__(self, search_id: UUID, database_id: str) -> None:
        self.message = (
            f"search {search_id} is not in this worker's database (id {database_id}): is this worker's "
            "DATABASE_URL the same as the web service's? Nothing was produced for it here."
        )
        super().__init__(self.message)


class Producer(Protocol):
    """Who produces an output (its claim's owner), and what a failure means to it."""

    owner: str
    lease_margin: float
    """Seconds the claim outlives the output's own timeout (LLM_JOB_TIMEOUT, EXCEL_JOB_TIMEOUT)."""

    def production_failed(self, error: BaseException) -> None:
        """The LLM or the report failed: raise to try again later; return to settle with the fallback."""

    def store_failed(self, error: BaseException) -> None:
        """The database or Redis failed: raise to stop here; return to go on without it."""


@dataclass(frozen=True, slots=True)
class _Settles:
    """A producer that settles at once: a failure to produce means the fallback."""

    owner: str
    lease_margin: float = 30.0
    lenient_store: bool = False  # the inline path: the user's answer goes on without the database

    def production_failed(self, error: BaseException) -> None:
        logger.warning("%s: producing failed (%r); settling with the fallback", self.owner, error)

    def store_failed(self, error: BaseException) -> None:
        if not self.lenient_store:
            raise error
        logger.error("%s: the database or Redis failed (%r); going on", self.owner, error)


INLINE: Producer = _Settles("inline", lenient_store=True)
RECOVERY: Producer = _Settles("recovery")
DEADLINE: Producer = _Settles("deadline")


async def produce_summary(
    services: Services,
    search_id: UUID,
    licitacoes: Sequence[Licitacao],
    sector_name: str,
    producer: Producer,
    *,
    use_llm: bool = True,
) -> ResumoLicitacoes | None:
    """The search's summary, claimed, produced, stored and announced; None when another producer
    holds it or it is settled already. Without `use_llm`, the summary computed from the data."""
    lease = services.settings.llm_job_timeout + producer.lease_margin
    if not await _claim(services, search_id, "llm", producer, lease):
        return None
    resumo = (
        await _write_resumo(services, licitacoes, sector_name, producer)
        if use_llm else gerar_resumo_fallback(licitacoes, sector_name, now=now_brasilia(services.clock))
    )
    await _settle(services, search_id, producer, services.store.save_resumo(search_id, resumo),
                  events.llm_ready_event(resumo))
    return resumo


async def produce_report(
    services: Services,
    search_id: UUID,
    licitacoes: Sequence[Licitacao | Mapping[str, Any]],
    parametros: Mapping[str, str],
    resumo: ResumoLicitacoes | None,
    sector_name: str,
    producer: Producer,
    *,
    settle_with: ExcelOutcome | None = None,
) -> ExcelOutcome | None:
    """The search's Excel report, claimed, built, uploaded, stored and announced; None when
    another producer holds it or it is settled already. `settle_with` settles it without a build
    (a plan without reports, a search past its deadline).

    `licitacoes` may be a job's payload (dicts); without `resumo`, the report carries the summary
    computed from the data.
    """
    lease = services.settings.excel_job_timeout + producer.lease_margin
    if not await _claim(services, search_id, "excel", producer, lease):
        return None
    outcome = settle_with
    if outcome is None:  # built in a child process and uploaded, within EXCEL_JOB_TIMEOUT
        try:
            with anyio.fail_after(services.settings.excel_job_timeout):
                data = await services.excel.build(licitacoes, parametros=parametros, resumo=resumo,
                                                  sector_name=sector_name, now=now_brasilia(services.clock))
                outcome = ExcelOutcome("ready", url=await services.storage.upload_excel(data, search_id))
        except Exception as exc:
            producer.production_failed(exc)
            outcome = ExcelOutcome("failed", error=excel_failure_message(exc))
    save = services.store.save_excel(search_id, status=outcome.status, url=outcome.url, error=outcome.error)
    await _settle(services, search_id, producer, save, events.excel_event(outcome.status, outcome.url, outcome.error))
    return outcome


async def finish_if_settled(services: Services, search_id: UUID) -> bool:
    """Sends `complete` once, when both the summary and the report are settled."""
    if not await services.store.mark_completed(search_id):
        return False
    await services.progress.emit(str(search_id), events.complete_event())
    return True


async def _claim(services: Services, search_id: UUID, output: Output, producer: Producer, lease: float) -> bool:
    try:
        if await services.store.claim(search_id, output, producer.owner, lease):
            return True
        known = await services.store.get_outcome(search_id) is not None
    except Exception as exc:
        producer.store_failed(exc)
        return True  # a lenient producer goes on: the output still reaches its user
    if not known:
        error = SearchNotFound(search_id, services.database_id)
        logger.error("%s: %s", producer.owner, error.message)
        raise error
    return False


async def _settle(
    services: Services, search_id: UUID, producer: Producer, save: Awaitable[None], event: ProgressEvent | None
) -> None:
    """Persists the output (`save`, not yet awaited), then announces it and `complete` if both are settled."""
    try:
        await save
        if event is not None:
            await services.progress.emit(str(search_id), event)
        await finish_if_settled(services, search_id)
    except Exception as exc:
        producer.store_failed(exc)


async def _write_resumo(
    services: Services, licitacoes: Sequence[Licitacao], sector_name: str, producer: Producer
) -> ResumoLicitacoes:
    """The LLM's summary, or the one computed from the data when there is no LLM or it fails."""
    settings, now = services.settings, now_brasilia(services.clock)
    if services.llm is None or not licitacoes:
        return gerar_resumo_fallback(licitacoes, sector_name, now=now)
    try:
        with anyio.fail_after(settings.llm_job_timeout):
            return await gerar_resumo(
                licitacoes, sector_name, client=services.llm, model=settings.llm_model,
                timeout=settings.llm_job_timeout, now=now,
            )
    except (ResumoError, TimeoutError) as exc:
        if not isinstance(exc, ResumoError) or exc.retryable:  # a refusal or a bad key won't change
            producer.production_failed(exc)
        logger.warning("summary by the LLM failed, using the fallback: %s", getattr(exc, "message", repr(exc)))
        return gerar_resumo_fallback(licitacoes, sector_name, now=now)


def excel_failure_message(error: BaseException) -> str:
    if isinstance(error, StorageError):
        return EXCEL_FAILED.format(reason=error.message)
    if isinstance(error, TimeoutError):
        return EXCEL_FAILED.format(reason="o tempo limite acabou")
    return EXCEL_FAILED.format(reason="erro interno ao montar o arquivo")


def report_parameters(request: BuscaRequest, sector: Sector) -> dict[str, str]:
    """The search as a person reads it, for the report's "Resumo" sheet."""
    def reais(value: float | None) -> str:
        return "—" if value is None else formatar_moeda(value)

    return {
        "Setor": sector.nome,
        "UFs": ", ".join(request.ufs),
        **({"Busca": "Abertas agora (propostas abertas, de qualquer data de publicação)"} if request.abertas else {
            "Período de publicação": f"{formatar_dia(request.data_inicial)} a {formatar_dia(request.data_final)}",
            "Somente abertas": "Sim" if request.somente_abertas else "Não",
        }),
        "Modalidades": ", ".join(MODALIDADES[m] for m in request.modalidades_efetivas),
        "Valor mínimo": reais(request.valor_minimo),
        "Valor máximo": reais(request.valor_maximo),
        "Termos de busca": request.termos_busca or "—",
    }


def stored_report_inputs(services: Services, request: Mapping[str, Any], setor_id: str) -> tuple[dict[str, str], str]:
    """The report's parameters and the sector's name, from a stored search's request."""
    sector = services.sectors.get(setor_id)
    if sector is None:
        return {}, setor_id
    return report_parameters(BuscaRequest.model_validate(request), sector), sector.nome


async def recover(services: Services, stored: StoredSearch, producer: Producer, *, use_llm: bool = True) -> None:
    """Produces what a stored search still lacks, here and now (recovery, deadline)."""
    sid = stored.outcome.search_id
    parametros, sector_name = stored_report_inputs(services, stored.request, stored.setor_id)
    resumo = await produce_summary(services, sid, stored.licitacoes, sector_name, producer, use_llm=use_llm)
    settle_with = (None if use_llm else ExcelOutcome("failed", error=EXCEL_OVERDUE)) \
        if report_allowed(services, stored.outcome) else NOT_IN_PLAN
    await produce_report(
        services, sid, stored.licitacoes, parametros, resumo or stored.outcome.resumo, sector_name, producer,
        settle_with=settle_with,
    )


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
        await recover(services, stored, DEADLINE, use_llm=False)
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
