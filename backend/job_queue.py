"""The job queue by the names operators and scripts know it:

    arq backend.job_queue.WorkerSettings              # a separate worker, configured by the environment

    from backend.job_queue import enqueue_job, is_queue_available, get_arq_pool
    await is_queue_available()                        # in a process whose services are open
    await enqueue_job("llm_summary_job", search_id, licitacoes, sector_name, job_id=f"llm:{search_id}")

`WorkerSettings` is built from the environment when this module is imported (a bad setting stops
the import with a line that names it). The service itself uses `backend.jobs` (queue client,
jobs, cron jobs, workers), and never imports this module.
"""

from __future__ import annotations

from typing import Any

from arq.connections import ArqRedis

from backend import services
from backend.adapters import queue_client
from backend.adapters.queue_client import JobQueue, licitacoes_payload
from backend.config import Settings, load_settings
from backend.jobs.cron import cleanup_expired_searches, recover_stalled_searches
from backend.jobs.tasks import excel_generation_job, llm_summary_job
from backend.jobs.workers import separate_worker_settings

__all__ = [
    "JobQueue",
    "WorkerSettings",
    "cleanup_expired_searches",
    "enqueue_job",
    "excel_generation_job",
    "get_arq_pool",
    "is_queue_available",
    "licitacoes_payload",
    "llm_summary_job",
    "recover_stalled_searches",
]

WorkerSettings = separate_worker_settings()


def get_arq_pool(settings: Settings | None = None) -> ArqRedis:
    """ARQ's Redis client over `REDIS_URL` (from the environment unless `settings` are given)."""
    return queue_client.get_arq_pool(settings or load_settings())


async def enqueue_job(function: str, *args: Any, job_id: str) -> bool:
    """Queues a job through this process's queue; True once queued (a duplicate id is a no-op)."""
    return await services.current().queue.enqueue_job(function, *args, job_id=job_id)


async def is_queue_available() -> bool:
    """True when Redis answers and a live worker reads this process's database."""
    return await services.current().queue.is_queue_available()
