"""The two jobs of a search, as ARQ runs them: its summary, then its Excel report.

Each attempt is counted, logged and listed on /ops (`backend.jobs.attempts`); what it produces
and how is `backend.reports`', as for the inline path. ARQ itself retries only on `Retry` and
never after a timeout, so an attempt that fails raises `Retry` with backoff while attempts
remain; the last one settles the search anyway: the summary computed from the data, or
`excel_status="failed"` with a readable message.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import anyio
from arq import Retry

from backend import keys, reports
from backend.jobs import attempts
from backend.jobs.context import JobContext
from backend.schemas import LICITACOES

logger = logging.getLogger(__name__)

ARQ_TIMEOUT_MARGIN = 5.0  # ARQ's own job timeout sits above ours, so ours always fires first


@dataclass(frozen=True, slots=True)
class _JobAttempt:
    """A job's attempt as a `reports.Producer`: a failure retries with backoff while attempts remain."""

    ctx: JobContext
    job_id: str
    owner: str = "queue"
    lease_margin: float = ARQ_TIMEOUT_MARGIN

    def production_failed(self, error: BaseException) -> None:
        """Raises `Retry` while attempts remain; on the last one, returns: settle with the fallback."""
        settings = self.ctx["services"].settings
        attempt = self.ctx.get("job_try", 1)
        if attempt < settings.job_max_tries:
            delay = settings.job_retry_backoff * 2 ** (attempt - 1)
            logger.warning("%s attempt %d/%d failed (%r); retrying in %.1fs",
                           self.job_id, attempt, settings.job_max_tries, error, delay)
            raise Retry(defer=delay) from error
        logger.warning("%s attempt %d/%d failed (%r); giving up", self.job_id, attempt, settings.job_max_tries, error)

    def store_failed(self, error: BaseException) -> None:
        """The database or Redis: try again later; on the last attempt, the recovery job will."""
        self.production_failed(error)
        raise error


async def llm_summary_job(
    ctx: JobContext, search_id: str, licitacoes: list[dict[str, Any]], sector_name: str
) -> str:
    """The search's summary by the LLM; after the last failed attempt, the one from the data.

    Each attempt then queues the search's report, so the report's "Resumo" sheet carries the
    LLM's summary when it came within its timeout, and no report holds a job slot waiting for it.
    """
    job = _JobAttempt(ctx, keys.llm_job(search_id))
    try:
        async with attempts.attempt(ctx, "llm") as note:
            items = await anyio.to_thread.run_sync(LICITACOES.validate_python, licitacoes)
            resumo = await reports.produce_summary(ctx["services"], UUID(search_id), items, sector_name, job)
            origem = note["result"] = resumo.origem if resumo else "already settled"
            note["fallback"] = origem == "fallback"
    except (reports.SearchNotFound, asyncio.CancelledError):  # nothing to report on / the attempt runs again
        raise
    except BaseException:
        await _queue_report(ctx, search_id, licitacoes)
        raise
    await _queue_report(ctx, search_id, licitacoes)
    return origem


async def _queue_report(ctx: JobContext, search_id: str, licitacoes: list[dict[str, Any]]) -> None:
    """Queues the report job unless the report is settled. Never raises: without the database or
    Redis, the recovery job builds the report once the search counts as stalled."""
    services = ctx["services"]
    try:
        outcome = await services.store.get_outcome(UUID(search_id))
        if outcome is None or outcome.excel_status != "processing":
            return
        quota = await reports.quota_info(services, outcome)
        queued = await services.queue.enqueue_job("excel_generation_job", search_id, licitacoes, quota,
                                                  job_id=keys.excel_job(search_id))
    except Exception as exc:
        queued = False
        logger.warning("%s: %r", keys.llm_job(search_id), exc)
    if not queued:
        logger.warning("%s: could not queue its report; the recovery job will build it", keys.llm_job(search_id))


async def excel_generation_job(
    ctx: JobContext, search_id: str, licitacoes: list[dict[str, Any]], quota_info: dict[str, Any]
) -> str:
    """The search's Excel report; after the last failed attempt, `failed` with a readable reason.

    `quota_info` (`reports.quota_info`): with `"excel": False` (a plan without reports) the report
    settles as `skipped`, with the message the page shows.
    """
    services = ctx["services"]
    sid = UUID(search_id)
    job = _JobAttempt(ctx, keys.excel_job(search_id))
    async with attempts.attempt(ctx, "excel") as note:
        try:
            stored = await services.store.get_request(sid)
            # The summary's attempt queued this job: its summary, if it came, is stored already.
            outcome = await services.store.get_outcome(sid)
        except Exception as exc:
            job.store_failed(exc)  # raises: Retry while attempts remain
            raise
        parametros, sector_name = reports.stored_report_inputs(services, *stored) if stored else ({}, "")
        resumo = outcome.resumo if outcome is not None and outcome.llm_status == "ready" else None
        skipped = reports.NOT_IN_PLAN if quota_info.get("excel") is False else None
        settled = await reports.produce_report(services, sid, licitacoes, parametros, resumo, sector_name, job,
                                               settle_with=skipped)
        status = note["result"] = settled.status if settled else "already settled"
        note["error"] = settled.error if settled else None
        note["fallback"] = status == "failed"
    return status

