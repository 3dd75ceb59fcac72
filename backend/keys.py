"""Every Redis key name the service uses, in one place."""

from __future__ import annotations

PREFIX = "smartlic"


QUEUE = f"{PREFIX}:queue"  # ARQ's sorted set of queued jobs
WORKER_HEALTH = f"{QUEUE}:health-check"  # ARQ's own heartbeat (`arq --check`); availability reads LIVE_WORKERS
JOBS_WAKEUP = f"{QUEUE}:wakeup"  # pub/sub channel: a job was just queued
RATE_LIMIT_PREFIX = f"{PREFIX}:rate"  # moving windows of searches per client
RUNNING_PREFIX = f"{PREFIX}:running:"  # sorted set per user: their searches running, scored by when they lapse
WORKER_PREFIX = f"{PREFIX}:worker:"  # one expiring key per live worker: its mode, load and database
LIVE_WORKERS = f"{PREFIX}:workers:live"  # sorted set "<database id> <worker>" scored by when it lapses
JOB_HISTORY = f"{PREFIX}:jobs:history"  # the latest job attempts, newest first (capped list)
PNCP_PACE = f"{PREFIX}:pncp:pace"  # hash: the cluster's PNCP schedule (GCRA arrival time) and its 429 back-off
PNCP_SEARCH_ASKED = f"{PREFIX}:pncp:search-asked"  # lives ~1 s after each search's PNCP turn: ingestion holds back
ARBITER_LEASE = f"{PREFIX}:arbiter"  # which process runs the AI arbiter (expiring)
USERS_JOBS = ("llm:", "excel:")  # the job ids of users' searches, which go before the arbiter
INDEX_INGESTION_LEASE = f"{PREFIX}:index:ingestion"  # which process runs the index's ingestion (expiring)
INDEX_READ_PREFIX = f"{PREFIX}:index:read:"  # a PNCP read into the index: its claim and its outcome


def auth_refused(day: str) -> str:
    """Hash of the 401s of a Brasília day (ISO date), by reason, for /ops."""
    return f"{PREFIX}:auth:refused:{day}"


def index_read_claim(read: str) -> str:
    """Held by the process reading `read` from PNCP; the others wait for its outcome."""
    return f"{INDEX_READ_PREFIX}{read}:claim"


def index_read_outcome(read: str) -> str:
    return f"{INDEX_READ_PREFIX}{read}:outcome"


def llm_job(search_id: str) -> str:
    """ARQ job id of a search's summary: enqueueing it twice is a no-op."""
    return f"llm:{search_id}"


def excel_job(search_id: str) -> str:
    return f"excel:{search_id}"


PROGRESS_NEWS = f"{PREFIX}:progress:news"  # pub/sub channel: the id of a search whose events were just appended


def progress_stream(search_id: str) -> str:
    """Redis Stream holding one search's progress events."""
    return f"{PREFIX}:progress:{search_id}"
