"""The enqueue side of the job queue: ARQ's Redis client, the JSON job codec, and `JobQueue`,
which queues jobs and says whether a worker will run them.

    pool = get_arq_pool(settings)                  # once per process; connects lazily
    queue = JobQueue(pool, database_id)            # database_id: the store's identity
    if await queue.is_queue_available():           # a live worker shares this database
        await queue.enqueue_job("llm_summary_job", ..., job_id=keys.llm_job(search_id))
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import anyio
import orjson
from arq.connections import ArqRedis
from redis.asyncio import ConnectionPool
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from backend import keys
from backend.adapters import live_workers
from backend.config import Settings
from backend.runtime import metrics
from backend.schemas import LICITACOES, Licitacao

logger = logging.getLogger(__name__)

AVAILABILITY_TIMEOUT = 0.1  # how long a search waits for the answer before going on without it
AVAILABILITY_CACHE_SECONDS = 1.0
# A reply later than AVAILABILITY_TIMEOUT is not evidence that the queue is gone (a busy event
# loop delays every reply): the last answer stands until replies have been missing this long.
SLOW_REDIS_GRACE_SECONDS = 5.0
ENQUEUE_TIMEOUT = 2.0


# --- payloads ---------------------------------------------------------------------------------


def dumps(value: Any) -> bytes:
    # orjson: a 2,000-result payload in a few milliseconds of the event loop, not tens.
    return orjson.dumps(value, default=str)


class _LongList(list):  # type: ignore[type-arg]
    """A job argument that is a list, shown by its size: ARQ logs every job's arguments, and the
    repr of 5,000 licitações is 16 ms of the event loop for a line cut at 80 characters."""

    def __repr__(self) -> str:
        return f"[{len(self)} items]"


def loads(data: bytes) -> Any:
    value = orjson.loads(data)
    if isinstance(value, dict) and isinstance(value.get("a"), list):  # a job: its positional args
        value["a"] = [_LongList(arg) if isinstance(arg, list) else arg for arg in value["a"]]
    return value


def licitacoes_payload(licitacoes: Sequence[Licitacao]) -> orjson.Fragment:
    """The `licitacoes` argument of both jobs, already JSON (pydantic-core writes it in one call,
    ~1 ms per 1,000): the job serializer embeds it as it is, and the job receives a list of dicts."""
    return orjson.Fragment(LICITACOES.dump_json(list(licitacoes)))


# --- the client -------------------------------------------------------------------------------


def get_arq_pool(settings: Settings) -> ArqRedis:
    """ARQ's Redis client over `REDIS_URL`. It connects on first use, so a Redis that is down
    at startup (or restarts later) never stops the service from starting."""
    connections = ConnectionPool.from_url(
        settings.redis_url, socket_connect_timeout=1, socket_timeout=5, health_check_interval=30
    )
    return ArqRedis(
        connection_pool=connections,
        job_serializer=dumps,
        job_deserializer=loads,
        default_queue_name=keys.QUEUE,
    )


class JobQueue:
    """Enqueues jobs and says whether a worker that reads this process's database will run them.

    `clock` is the process's own time (seconds, monotonic): it ages the cached answer and the
    grace given to slow replies. Tests pass one they advance instead of waiting.
    """

    def __init__(self, pool: ArqRedis, database_id: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.pool = pool
        self.database_id = database_id
        self._clock = clock
        self._checked_at = float("-inf")  # when the cached answer was found (none yet)
        self._available = False
        self._answered_at = float("-inf")  # when Redis last replied to a check
        self._asked_at = float("-inf")  # when the question being answered was asked
        self._lock = asyncio.Lock()
        self._asking: asyncio.Task[live_workers.Census] | None = None  # a check's question, maybe answered late

    async def is_queue_available(self) -> bool:
        """Redis answers and a live worker shares this database; cached for a second.

        "Unavailable" needs evidence: a refused or reset connection, no live worker, or replies
        missing for `SLOW_REDIS_GRACE_SECONDS`. One slow reply while the event loop is busy is
        not that: the last answer stands meanwhile. Concurrent searches share one check.
        """
        if self._clock() - self._checked_at < AVAILABILITY_CACHE_SECONDS:
            return self._available
        async with self._lock:
            if self._clock() - self._checked_at >= AVAILABILITY_CACHE_SECONDS:
                self._available = await self._check()
                self._checked_at = self._clock()
        return self._available

    async def _check(self) -> bool:
        """One check. A reply later than `AVAILABILITY_TIMEOUT` still counts when it comes: the
        question stays asked (a busy event loop reads replies late, it does not lose them), and
        the next check takes its answer or keeps waiting for it."""
        asking = self._asking
        if asking is None or asking.done() and (
                asking.cancelled() or asking.exception() is not None
                or self._clock() - self._answered_at >= AVAILABILITY_CACHE_SECONDS):
            self._asking = asking = asyncio.create_task(self._ask(), name="queue-census")
            asking.add_done_callback(lambda task: task.cancelled() or task.exception())  # retrieved, never logged
            self._asked_at = self._clock()
        try:
            with anyio.fail_after(AVAILABILITY_TIMEOUT):
                found = await asyncio.shield(asking)
        except TimeoutError:
            # Missing for the grace period since it was asked: not since the last answer, which
            # may be long ago only because nobody asked meanwhile.
            waiting = self._clock() - self._asked_at
            if self._available and waiting < SLOW_REDIS_GRACE_SECONDS:
                return True
            logger.info("queue unavailable: Redis has not answered for %.1f s", waiting)
            return False
        except (RedisError, OSError) as exc:
            logger.info("queue unavailable: %s", exc)
            return False
        if found.same_database == 0 and found.other_databases and self._available:
            logger.error(
                "no live worker reads this database, but %d read another one: jobs would never reach "
                "this service's searches, so they run inline. Give the workers the web service's DATABASE_URL.",
                found.other_databases,
            )
        return found.same_database > 0

    async def _ask(self) -> live_workers.Census:
        found = await live_workers.census(self.pool, self.database_id)
        self._answered_at = self._clock()
        return found

    async def census(self) -> live_workers.Census | None:
        """The live workers as seen from this database; None when Redis does not answer."""
        try:
            with anyio.fail_after(AVAILABILITY_TIMEOUT * 10):
                return await live_workers.census(self.pool, self.database_id)
        except (RedisError, OSError, TimeoutError):
            return None

    async def enqueue_job(self, function: str, *args: Any, job_id: str) -> bool:
        """True once the job is queued (or was already: the job id makes a duplicate a no-op)."""
        try:
            with anyio.fail_after(ENQUEUE_TIMEOUT):
                job = await self.pool.enqueue_job(function, *args, _job_id=job_id)
        except (RedisError, OSError, TimeoutError) as exc:
            logger.warning("could not enqueue %s: %r", job_id, exc)
            if isinstance(exc, (RedisConnectionError, OSError)):  # gone, not slow: stop trying for a while
                self._available, self._checked_at = False, self._clock()
            return False
        if job is None:  # queued or running already under this id
            return True
        metrics.JOBS.labels(metrics.job_kind(function), "enqueued").inc()
        try:  # wakes the embedded workers now; without it they find the job at their next poll
            with anyio.fail_after(AVAILABILITY_TIMEOUT * 5):
                await self.pool.publish(keys.JOBS_WAKEUP, job_id)
        except (RedisError, OSError, TimeoutError) as exc:
            logger.info("queued %s without a wake-up: %s", job_id, exc)
        return True

    async def users_jobs_waiting(self) -> bool:
        """Whether a user's summary or report is queued or running anywhere (ARQ keeps a job in its
        queue until it ends). Unknown (Redis failing) counts as yes: background work waits."""
        try:
            with anyio.fail_after(AVAILABILITY_TIMEOUT * 5):
                job_ids = await self.pool.zrange(keys.QUEUE, 0, -1)
        except (RedisError, OSError, TimeoutError):
            return True
        return any((job_id.decode() if isinstance(job_id, bytes) else job_id).startswith(keys.USERS_JOBS)
                   for job_id in job_ids)

    async def queue_depth(self) -> int | None:
        try:
            with anyio.fail_after(AVAILABILITY_TIMEOUT * 5):
                return int(await self.pool.zcard(keys.QUEUE))
        except (RedisError, OSError, TimeoutError):
            return None
