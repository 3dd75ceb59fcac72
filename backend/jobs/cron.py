"""The cron jobs, once per cluster (ARQ's cron job ids are unique): searches whose jobs were
lost are finished, expired searches and old local reports removed, the index kept fresh and the
AI arbiter kept reading what the sectors' rules leave in doubt."""

from __future__ import annotations

import logging
from datetime import timedelta

from backend import reports
from backend.adapters.storage import LocalStorage
from backend.jobs.context import JobContext

logger = logging.getLogger(__name__)

RECOVERY_EVERY_SECONDS = 10
INDEX_TICK_SECONDS = 10  # how soon another process takes over the ingestion of one that died


async def recover_stalled_searches(ctx: JobContext) -> int:
    """Produces, here, what the jobs of stalled searches did not (a crashed process, a flushed
    Redis). What nobody recovers (no worker reads that database) web processes settle at its
    deadline: `reports.keep_settling_overdue`."""
    services = ctx["services"]
    recovered = 0
    for sid in await services.store.stalled(timedelta(seconds=services.settings.stalled_search_seconds)):
        stored = await services.store.get(sid)
        if stored is None:
            continue
        logger.warning("search %s stalled; finishing it here", sid)
        await reports.recover(services, stored, reports.RECOVERY)
        recovered += 1
    return recovered


async def cleanup_expired_searches(ctx: JobContext) -> int:
    """Removes searches past their expiry and local reports older than the longest a search lives
    (SEARCH_TTL_HOURS, or with sign-in the longest history of a plan). Supabase buckets keep their
    own lifecycle rules."""
    services = ctx["services"]
    removed = await services.store.delete_expired()
    if isinstance(services.storage, LocalStorage):
        kept = services.settings.search_ttl_hours * 3600
        if services.tokens is not None:
            kept = max(kept, *(plan.historico.total_seconds() for plan in services.plans.values()))
        removed += await services.storage.remove_older_than(kept)
    return removed


async def keep_index_fresh(ctx: JobContext) -> bool:
    """Makes sure one process of the cluster runs the index's ingestion, starting it here if none
    does. Returns at once: the ingestion runs as a task of this process, outside the job slots."""
    ingestion = ctx["services"].ingestion
    return ingestion is not None and await ingestion.task.ensure_running()


async def keep_arbiter_running(ctx: JobContext) -> bool:
    """Makes sure one process of the cluster runs the AI arbiter, starting it here if none does.
    Returns at once: the arbiter runs as a task of this process, outside the job slots."""
    arbiter = ctx["services"].arbiter
    return arbiter is not None and await arbiter.task.ensure_running()
