"""Prometheus metrics of searches and jobs, served at GET /metrics.

Under gunicorn every process counts in files under `PROMETHEUS_MULTIPROC_DIR` (set by
`start.sh`), and /metrics, whichever process answers it, adds them up: prometheus-client's
multiprocess mode. Without that variable (uvicorn alone, tests) the process's own registry is
served. The variable must be set before this module is imported, which `start.sh` does.
"""

from __future__ import annotations

import os
from functools import cache

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    start_http_server,
)

MULTIPROCESS = "PROMETHEUS_MULTIPROC_DIR" in os.environ
JOB_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60, 90)
PICKUP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

SEARCHES = Counter("smartlic_searches_total", "Searches answered, by how stages 6-7 ran.", ["mode"])
STAGE_SECONDS = Histogram(
    "smartlic_search_stage_seconds", "Duration of each stage of a search.", ["stage"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
)
INLINE_FALLBACKS = Counter(
    "smartlic_inline_fallbacks_total", "Searches whose summary and report ran inline because the queue was "
    "unavailable (no Redis, or no live worker), or could not take the jobs.", ["reason"],
)
JOBS = Counter("smartlic_jobs_total", "Job events by job type: enqueued, started, and how each attempt ended: "
               "succeeded, retried, failed or fallback (the summary from the data, a report given up).",
               ["job", "event"])
JOB_SECONDS = Histogram("smartlic_job_seconds", "Duration of one job attempt.", ["job"], buckets=JOB_BUCKETS)
PICKUP = Histogram("smartlic_job_pickup_seconds", "From the moment a job could start (queued, or its retry due) "
                   "to its start.", ["job"], buckets=PICKUP_BUCKETS)
JOBS_IN_FLIGHT = Gauge("smartlic_jobs_in_flight", "Jobs running now, per process.", ["job"],
                       multiprocess_mode="liveall")
QUEUE_DEPTH = Gauge("smartlic_queue_depth", "Jobs waiting in the queue (read from Redis at each scrape).",
                    multiprocess_mode="mostrecent")
PNCP_REQUESTS = Counter(
    "smartlic_pncp_requests_total", "PNCP requests by who asked (search or ingestion) and how each ended: ok, "
    "empty, rate_limited (429), server_error, unreachable, invalid, rejected.", ["caller", "outcome"],
)
PNCP_PACER_WAIT = Histogram(
    "smartlic_pncp_pacer_wait_seconds", "How long a PNCP request waited for its turn in the cluster's budget.",
    ["caller"], buckets=(0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
)
INDEX_RECORDS = Gauge("smartlic_index_records", "Publications in the local PNCP index.",
                      multiprocess_mode="mostrecent")
INDEX_TODAY_AGE = Gauge("smartlic_index_today_age_seconds", "Age of the oldest slice of today in the index "
                        "(-1: today not read yet).", multiprocess_mode="mostrecent")
ARBITER_OBJETOS = Counter(
    "smartlic_arbiter_objetos_total", "Objetos the AI arbiter read, by what came of them: in_sector, no_sector, "
    "left_out (not in the answer), failed (the request failed).", ["result"])
ARBITER_TOKENS = Gauge(
    "smartlic_arbiter_tokens_today", "The AI arbiter's tokens today (Brasília), for the whole cluster: spent, and "
    "left of LLM_CLASSIFY_DAILY_TOKENS.", ["kind"], multiprocess_mode="mostrecent")
AUTH_REFUSED = Counter("smartlic_auth_refused_total", "Requests refused with 401, by why: no_token, expired, "
                       "not_yet_valid, signature, audience, algorithm, unknown_key, malformed.", ["reason"])
SEARCHES_BY_PLAN = Gauge("smartlic_searches_by_plan", "Searches counted against quotas, by plan, today and this "
                         "month (Brasília; read from the database at each scrape).", ["plan", "period"],
                         multiprocess_mode="mostrecent")
USERS_AT_LIMIT = Gauge("smartlic_users_at_limit", "Users with no search left this month (read at each scrape).",
                       multiprocess_mode="mostrecent")
SSE_CLIENTS = Gauge("smartlic_sse_clients", "Progress streams open now.", multiprocess_mode="livesum")


def job_kind(function: str) -> str:
    return "llm" if function.startswith("llm") else "excel"


@cache
def _registry() -> CollectorRegistry:
    """In multiprocess mode, a registry that reads every process's files at each collection."""
    if not MULTIPROCESS:
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


def exposition() -> tuple[bytes, str]:
    """The text format of every metric (it reads files in multiprocess mode: call it off the loop)."""
    return generate_latest(_registry()), CONTENT_TYPE_LATEST


def serve_on(port: int) -> None:
    """/metrics of a process without a web server (a separate worker), on its own port."""
    start_http_server(port, registry=_registry())


def process_exited(pid: int) -> None:
    """gunicorn's child_exit: the process's live gauges stop counting."""
    if MULTIPROCESS:
        multiprocess.mark_process_dead(pid)
