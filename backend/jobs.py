"""The jobs of a search, as ARQ runs them: its summary and its Excel report, and the cron jobs
that settle searches whose jobs were lost and remove expired ones.

Workers (`backend.workers`) run these whether embedded in a web process (`EmbeddedWorker`,
started by the lifespan) or separate (`arq backend.job_queue.WorkerSettings`). Payloads are
JSON (`backend.queue_client`). Each attempt is counted, logged and listed on /ops by
`backend.job_attempts`.

ARQ itself retries only on `Retry` and never after a timeout, so each job keeps its own deadline
per attempt and turns every failure into `Retry` with backoff until its last attempt, which takes
the fallback path: a summary computed from the data, or `excel_status="failed"` with a message.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypedDict
from uuid import UUID

import anyio
from arq import Retry, cron
from arq.connections import ArqRedis
from arq.worker import Function, func

from backend import job_attempts, keys, search_reports
from backend.config import Settings
from backend.llm import ResumoError, gerar_resumo, gerar_resumo_fallback
from backend.queue_client import dumps, loads
from backend.schemas import LICITACOES, BuscaRequest, ResumoLicitacoes
from backend.search_cache import Output
from backend.storage import LocalStorage

if TYPE_CHECKING:
    from backend.services import Services

logger = logging.getLogger(__name__)

ARQ_TIMEOUT_MARGIN = 5.0  # ARQ's own job timeout sits above ours, so ours always fires first
EXTRA_ARQ_TRIES = 2  # a job re-run after a crash in its last attempt still reaches its fallback
RECOVERY_EVERY_SECONDS = 10
REPORT_QUOTA: dict[str, Any] = {"excel": True}  # `quota_info` of the report job: every plan has reports


class JobContext(TypedDict, total=False):
    """What ARQ hands a job."""

    services: Services
    """The process's adapters: the web lifespan's, or those a separate worker opened at startup."""
    exit_stack: AsyncExitStack
    """Closes the services of a separate worker at shutdown."""
    job_id: str
    job_try: int
    """1 on the first attempt."""
    redis: ArqRedis


# --- jobs -------------------------------------------------------------------------------------


def _retry_or_last(ctx: JobContext, error: BaseException, job: str) -> None:
    """Raises `Retry` with backoff while attempts remain; returns on the last one."""
    settings = ctx["services"].settings
    attempt = ctx.get("job_try", 1)
    if attempt < settings.job_max_tries:
        delay = settings.job_retry_backoff * 2 ** (attempt - 1)
        logger.warning("%s attempt %d/%d failed (%r); retrying in %.1fs",
                       job, attempt, settings.job_max_tries, error, delay)
        raise Retry(defer=delay) from error
    logger.warning("%s attempt %d/%d failed (%r); giving up", job, attempt, settings.job_max_tries, error)


class SearchNotFound(Exception):
    """A job's search is not in this worker's database: most likely the worker was given another
    `DATABASE_URL` than the web service that queued it."""

    def __init__(self, search_id: UUID, database_id: str) -> None:
        self.message = (
            f"search {search_id} is not in this worker's database (id {database_id}): is this worker's "
            "DATABASE_URL the same as the web service's? Nothing was produced for it here."
        )
        super().__init__(self.message)


async def _claim(ctx: JobContext, sid: UUID, output: Output, lease: float, job: str) -> bool:
    """The output is this attempt's to produce; a database that does not answer means: later.

    False when it is settled or another producer holds it; `SearchNotFound` when the search is
    not in this database at all, which is a fault to report, never a success.
    """
    store = ctx["services"].store
    try:
        if await store.claim(sid, output, "queue", lease):
            return True
        known = await store.get_outcome(sid) is not None
    except Exception as exc:
        _retry_or_last(ctx, exc, job)
        raise  # the last attempt: the recovery cron job finishes the search once the database is back
    if not known:
        error = SearchNotFound(sid, ctx["services"].database_id)
        logger.error("%s: %s", job, error.message)
        raise error
    return False


async def llm_summary_job(
    ctx: JobContext, search_id: str, licitacoes: list[dict[str, Any]], sector_name: str
) -> str:
    """The search's summary by the LLM; after the last failed attempt, the one from the data.

    Each attempt then queues the search's report, so the report's "Resumo" sheet carries the
    LLM's summary when it came within its timeout, and no report holds a job slot waiting for it.
    """
    try:
        async with job_attempts.attempt(ctx, "llm") as note:
            origem = note["result"] = await _summary(ctx, search_id, licitacoes, sector_name)
            note["fallback"] = origem == "fallback"
    except (SearchNotFound, asyncio.CancelledError):  # nothing to report on / the attempt runs again
        raise
    except BaseException:
        await _queue_report(ctx, search_id, licitacoes)
        raise
    await _queue_report(ctx, search_id, licitacoes)
    return origem


async def _queue_report(ctx: JobContext, search_id: str, licitacoes: list[dict[str, Any]]) -> None:
    """Queues the report job (a no-op once it is settled: it claims before it builds). Without
    Redis, the recovery job builds it once the search counts as stalled."""
    services = ctx["services"]
    outcome = await services.store.get_outcome(UUID(search_id))
    if outcome is None or outcome.excel_status != "processing":  # settled already (by an earlier attempt's)
        return
    if not await services.queue.enqueue_job("excel_generation_job", search_id, licitacoes, REPORT_QUOTA,
                                            job_id=keys.excel_job(search_id)):
        logger.warning("%s: could not queue its report; the recovery job will build it", keys.llm_job(search_id))


async def _summary(ctx: JobContext, search_id: str, licitacoes: list[dict[str, Any]], sector_name: str) -> str:
    services = ctx["services"]
    settings = services.settings
    sid = UUID(search_id)
    if not await _claim(ctx, sid, "llm", settings.llm_job_timeout + ARQ_TIMEOUT_MARGIN, keys.llm_job(search_id)):
        return "already settled"
    items = await anyio.to_thread.run_sync(LICITACOES.validate_python, licitacoes)
    resumo: ResumoLicitacoes
    if services.llm is None or not items:
        resumo = gerar_resumo_fallback(items, sector_name)
    else:
        try:
            with anyio.fail_after(settings.llm_job_timeout):
                resumo = await gerar_resumo(
                    items, sector_name, client=services.llm, model=settings.llm_model,
                    timeout=settings.llm_job_timeout,
                )
        except (ResumoError, TimeoutError) as exc:
            if not isinstance(exc, ResumoError) or exc.retryable:  # a refusal or a bad key won't change
                _retry_or_last(ctx, exc, keys.llm_job(search_id))
            resumo = gerar_resumo_fallback(items, sector_name)
    try:
        await search_reports.deliver_resumo(services, sid, resumo)
        await search_reports.finish_if_settled(services, sid)
    except Exception as exc:  # the database or Redis failed: try again later, the summary is cheap
        _retry_or_last(ctx, exc, keys.llm_job(search_id))
        raise
    return resumo.origem


async def excel_generation_job(
    ctx: JobContext, search_id: str, licitacoes: list[dict[str, Any]], quota_info: dict[str, Any]
) -> str:
    """The search's Excel report; after the last failed attempt, `failed` with a readable reason.

    `quota_info["excel"] is False` (a plan without reports) settles it as `skipped`.
    """
    async with job_attempts.attempt(ctx, "excel") as note:
        outcome = await _report(ctx, search_id, licitacoes, quota_info)
        status = note["result"] = outcome.status if outcome else "already settled"
        note["error"] = outcome.error if outcome else None
        note["fallback"] = status == "failed"
    return status


async def _report(
    ctx: JobContext, search_id: str, licitacoes: list[dict[str, Any]], quota_info: dict[str, Any]
) -> search_reports.ExcelOutcome | None:
    """None when another worker or the inline path holds the report."""
    services = ctx["services"]
    settings = services.settings
    sid = UUID(search_id)
    if not await _claim(ctx, sid, "excel", settings.excel_job_timeout + ARQ_TIMEOUT_MARGIN, keys.excel_job(search_id)):
        return None
    if quota_info.get("excel") is False:
        outcome = search_reports.ExcelOutcome("skipped")
    else:
        outcome = await _excel_attempt(ctx, sid, licitacoes)
    try:
        await search_reports.deliver_excel(services, sid, outcome)
        await search_reports.finish_if_settled(services, sid)
    except Exception as exc:
        _retry_or_last(ctx, exc, keys.excel_job(search_id))
        raise
    return outcome


async def _excel_attempt(ctx: JobContext, sid: UUID, licitacoes: list[dict[str, Any]]) -> search_reports.ExcelOutcome:
    services = ctx["services"]
    try:
        with anyio.fail_after(services.settings.excel_job_timeout):
            stored = await services.store.get_request(sid)
            parametros = _report_parameters(services, stored)
            # The summary's attempt queued this job: its summary, if it came, is stored already.
            outcome = await services.store.get_outcome(sid)
            resumo = outcome.resumo if outcome is not None and outcome.llm_status == "ready" else None
            url = await search_reports.build_excel(
                services, sid, licitacoes, parametros, resumo, parametros.get("Setor", "")
            )
    except Exception as exc:
        _retry_or_last(ctx, exc, keys.excel_job(str(sid)))
        return search_reports.ExcelOutcome("failed", error=search_reports.excel_failure_message(exc))
    return search_reports.ExcelOutcome("ready", url=url)


def _report_parameters(services: Services, stored: tuple[dict[str, Any], str] | None) -> dict[str, str]:
    if stored is None:
        return {}
    request, setor_id = stored
    sector = services.sectors.get(setor_id)
    if sector is None:
        return {}
    return search_reports.report_parameters(BuscaRequest.model_validate(request), sector)


async def recover_stalled_searches(ctx: JobContext) -> int:
    """Produces, here, what the jobs of stalled searches did not (a crashed process, a flushed
    Redis). What nobody recovers (no worker reads that database) web processes settle at its
    deadline: `search_reports.keep_settling_overdue`."""
    services = ctx["services"]
    recovered = 0
    stalled_after = timedelta(seconds=services.settings.stalled_search_seconds)
    for sid in await services.store.stalled(stalled_after):
        stored = await services.store.get(sid)
        if stored is None:
            continue
        sector = services.sectors.get(stored.setor_id)
        sector_name = sector.nome if sector else stored.setor_id
        logger.warning("search %s stalled; finishing it here", sid)
        resumo = stored.outcome.resumo
        if stored.outcome.llm_status == "processing" and await services.store.claim(sid, "llm", "recovery", 60):
            resumo = await search_reports.write_resumo(services, stored.licitacoes, sector_name)
            await search_reports.deliver_resumo(services, sid, resumo)
        if stored.outcome.excel_status == "processing" and await services.store.claim(sid, "excel", "recovery", 120):
            parametros = _report_parameters(services, (stored.request, stored.setor_id))
            try:
                url = await search_reports.build_excel(
                    services, sid, stored.licitacoes, parametros, resumo, sector_name
                )
                outcome = search_reports.ExcelOutcome("ready", url=url)
            except Exception as exc:
                outcome = search_reports.ExcelOutcome("failed", error=search_reports.excel_failure_message(exc))
            await search_reports.deliver_excel(services, sid, outcome)
        await search_reports.finish_if_settled(services, sid)
        recovered += 1
    return recovered


async def cleanup_expired_searches(ctx: JobContext) -> int:
    """Removes searches past their expiry and local reports older than a search lives (once per
    cluster: ARQ's cron job ids are unique). Supabase buckets keep their own lifecycle rules."""
    services = ctx["services"]
    removed = await services.store.delete_expired()
    if isinstance(services.storage, LocalStorage):
        removed += await services.storage.remove_older_than(services.settings.search_ttl_hours * 3600)
    return removed


# --- workers ----------------------------------------------------------------------------------


def job_timeout(settings: Settings) -> float:
    """ARQ's timeout for the longest job; its in-progress key outlives it by ARQ's 10 s."""
    return max(settings.llm_job_timeout, settings.excel_job_timeout) + ARQ_TIMEOUT_MARGIN


def job_functions(settings: Settings) -> list[Function]:
    tries = settings.job_max_tries + EXTRA_ARQ_TRIES
    return [
        func(llm_summary_job, name="llm_summary_job", timeout=settings.llm_job_timeout + ARQ_TIMEOUT_MARGIN,
             max_tries=tries, keep_result=0),
        func(excel_generation_job, name="excel_generation_job",
             timeout=settings.excel_job_timeout + ARQ_TIMEOUT_MARGIN, max_tries=tries, keep_result=0),
    ]


def worker_options(settings: Settings) -> dict[str, Any]:
    """The ARQ `Worker` keyword arguments shared by embedded and separate workers.

    ARQ hands a crashed worker's job to another once its in-progress key expires, after the
    longest timeout of any function plus 10 s: the cron jobs' timeouts stay within the jobs'.
    """
    cron_timeout = settings.excel_job_timeout + ARQ_TIMEOUT_MARGIN
    return {
        "functions": job_functions(settings),
        "cron_jobs": [
            cron(recover_stalled_searches, name="recover_stalled_searches",
                 second=set(range(0, 60, RECOVERY_EVERY_SECONDS)), timeout=cron_timeout),
            cron(cleanup_expired_searches, name="cleanup_expired_searches", minute=17, second=30,
                 timeout=cron_timeout),
        ],
        "queue_name": keys.QUEUE,
        "health_check_key": keys.WORKER_HEALTH,
        "health_check_interval": settings.worker_health_interval,
        "max_jobs": settings.worker_max_jobs,
        "poll_delay": settings.worker_poll_delay,
        "job_serializer": dumps,
        "job_deserializer": loads,
        # Outcomes live in search_cache; a kept result would make ARQ refuse the same job id when
        # a search is run again with its own search_id.
        "keep_result": 0,
    }


