"""Prometheus metrics of searches and jobs, served at GET /metrics.

Under gunicorn every process counts in files under `PROMETHEUS_MULTIPROC_DIR` (set by
`start.sh`), and /metrics, whichever process answers it, adds them up: prometheus-client's
multiprocess mode. Without that variable (uvicorn alone, tests) the process's own registry is
served. The variable must be set before this module is imported, which `start.sh` does.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROCESS = "PROMETHEUS_MULTIPROC_DIR" in os.environ
JOB_SECONDS = (0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60, 90)
PICKUP_SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

SEARCHES = Counter("smartlic_searches_total", "Searches answered, by how stages 6-7 ran.", ["mode"])
STAGE_SECONDS = Histogram(
    "smartlic_search_stage_seconds", "Duration of each stage of a search.", ["stage"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
)
INLINE_FALLBACKS = Counter(
    "smartlic_inline_fallbacks_total", "Searches whose summary and report ran inline because the queue was "
    "unavailable (no Redis, or no live worker), or could not take the jobs.", ["reason"],
)
JOBS = Counter("smartlic_jobs_total", "Job events by job type: enqueued, started, succeeded, retried, failed, "
               "fallback (the summary from the data, or a report given up).", ["job", "event"])
JOB_SECONDS_HISTOGRAM = Histogram("smartlic_job_seconds", "Duration of one job attempt.", ["job"], buckets=JOB_SECONDS)
PICKUP = Histogram("smartlic_job_pickup_seconds", "From the moment a job could start (queued, or its retry due) "
                   "to its start.", ["job"], buckets=PICKUP_SECONDS)
JOBS_IN_FLIGHT = Gauge("smartlic_jobs_in_flight", "Jobs running now, per process.", ["job"],
                       multiprocess_mode="liveall")
QUEUE_DEPTH = Gauge("smartlic_queue_depth", "Jobs waiting in the queue (read from Redis at each scrape).",
                    multiprocess_mode="mostrecent")
SSE_CLIENTS = Gauge("smartlic_sse_clients", "Progress streams open now.", multiprocess_mode="livesum")


def job_kind(function: str) -> str:
    return "llm" if function.startswith("llm") else "excel"


@asynccontextmanager
async def job_attempt(ctx: Any, job: str) -> AsyncIterator[None]:
    """Counts one attempt of a job (started, then succeeded, retried or failed) and its duration."""
    from arq import Retry

    score = ctx.get("score")
    if score:
        PICKUP.labels(job).observe(max(0.0, time.time() - score / 1000))
    JOBS.labels(job, "started").inc()
    JOBS_IN_FLIGHT.labels(job).inc()
    started = time.perf_counter()
    try:
        yield
    except Retry:
        JOBS.labels(job, "retried").inc()
        raise
    except BaseException:
        JOBS.labels(job, "failed").inc()
        raise
    else:
        JOBS.labels(job, "succeeded").inc()
    finally:
        JOBS_IN_FLIGHT.labels(job).dec()
        JOB_SECONDS_HISTOGRAM.labels(job).observe(time.perf_counter() - started)


def exposition() -> tuple[bytes, str]:
    """The text format of every metric, added up over the processes in multiprocess mode."""
    registry = _multiprocess_registry() if MULTIPROCESS else REGISTRY
    return generate_latest(registry), CONTENT_TYPE_LATEST


def serve_on(port: int) -> None:
    """/metrics of a process without a web server (a separate worker), on its own port."""
    from prometheus_client import start_http_server

    start_http_server(port, registry=REGISTRY if not MULTIPROCESS else _multiprocess_registry())


def _multiprocess_registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


def process_exited(pid: int) -> None:
    """gunicorn's child_exit: the process's live gauges stop counting."""
    if MULTIPROCESS:
        multiprocess.mark_process_dead(pid)
