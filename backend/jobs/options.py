"""The ARQ options every worker of ours runs with, embedded or separate."""

from __future__ import annotations

from typing import Any

from arq import cron
from arq.worker import Function, func

from backend import keys
from backend.adapters.queue_client import dumps, loads
from backend.config import Settings
from backend.jobs.cron import (
    INDEX_TICK_SECONDS,
    RECOVERY_EVERY_SECONDS,
    cleanup_expired_searches,
    keep_arbiter_running,
    keep_index_fresh,
    recover_stalled_searches,
)
from backend.jobs.tasks import ARQ_TIMEOUT_MARGIN, excel_generation_job, llm_summary_job

EXTRA_ARQ_TRIES = 2  # a job re-run after a crash in its last attempt still reaches its fallback


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
            cron(keep_index_fresh, name="keep_index_fresh", second=set(range(5, 60, INDEX_TICK_SECONDS)),
                 timeout=cron_timeout, run_at_startup=True),
            cron(keep_arbiter_running, name="keep_arbiter_running", second=set(range(7, 60, INDEX_TICK_SECONDS)),
                 timeout=cron_timeout, run_at_startup=True),
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
