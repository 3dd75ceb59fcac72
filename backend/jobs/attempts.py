"""One attempt of a job, as the people who run the service see it: its Prometheus events and
durations, one log line, and an entry in the job history of the /ops page.

    async with attempt(ctx, "llm") as note:
        note["result"] = ...             # shown on /ops
        note["fallback"] = True          # settled with the summary from the data / report given up

Each attempt ends as exactly one of: succeeded, retried, failed, fallback.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from arq import Retry

from backend.adapters import live_workers
from backend.jobs import history
from backend.jobs.context import JobContext
from backend.runtime import metrics
from backend.runtime.logs import log_context

logger = logging.getLogger(__name__)

_running = 0


def running() -> int:
    """Job attempts running in this process now."""
    return _running


@asynccontextmanager
async def attempt(ctx: JobContext, job: str) -> AsyncIterator[dict[str, Any]]:
    global _running
    note: dict[str, Any] = {}
    started, outcome, error = time.time(), "succeeded", None
    job_id, number = ctx.get("job_id"), ctx.get("job_try", 1)
    search_id = (job_id or ":").split(":", 1)[1] or None  # job ids are "llm:<search_id>", "excel:<search_id>"
    if score := ctx.get("score"):  # when ARQ let it start: queued, or its retry due
        metrics.PICKUP.labels(job).observe(max(0.0, started - score / 1000))
    metrics.JOBS.labels(job, "started").inc()
    metrics.JOBS_IN_FLIGHT.labels(job).inc()
    _running += 1
    try:
        with log_context(job_id=job_id, attempt=number, search_id=search_id):
            yield note
    except Retry as exc:
        outcome, error = "retried", _described(exc.__cause__)
        raise
    except BaseException as exc:
        outcome, error = "failed", _described(exc)
        raise
    finally:
        _running -= 1
        metrics.JOBS_IN_FLIGHT.labels(job).dec()
        if outcome == "succeeded" and note.get("fallback"):
            outcome = "fallback"
        seconds = round(time.time() - started, 3)
        metrics.JOBS.labels(job, outcome).inc()
        metrics.JOB_SECONDS.labels(job).observe(seconds)
        logger.info("job %s attempt %d: %s in %.2fs", job_id, number, outcome, seconds, extra={
            "search_id": search_id, "job_id": job_id, "attempt": number, "outcome": outcome, "duration_s": seconds,
        })
        entry = {
            "job_id": job_id, "job": job, "attempt": number, "outcome": outcome, "result": note.get("result"),
            "error": error or note.get("error"), "started_at": started, "seconds": seconds,
            "worker": live_workers.worker_name(),
        }
        with anyio.CancelScope(shield=True), anyio.move_on_after(1):
            await history.record_attempt(ctx["services"].redis, entry)


def _described(error: BaseException | None) -> str | None:
    if error is None:
        return None
    message = getattr(error, "message", None) or str(error) or type(error).__name__
    return f"{type(error).__name__}: {message}"[:300]
