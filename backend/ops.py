"""What the operations page shows, kept in Redis so every process sees every worker and job:
each live worker refreshes a key of its own (mode, load), and every job attempt is appended to
a capped list (job, attempt, outcome, duration, the error in words)."""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from backend import keys

logger = logging.getLogger(__name__)

HISTORY_SIZE = 200


async def announce_worker(redis: Redis, state: dict[str, Any], ttl_seconds: float) -> None:
    entry = {**state, "name": worker_name(), "seen_at": time.time()}
    await redis.psetex(f"{keys.WORKER_PREFIX}{worker_name()}", int(ttl_seconds * 1000), json.dumps(entry))


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"  # a forked process has its own pid


async def alive_workers(redis: Redis) -> list[dict[str, Any]]:
    names = [name async for name in redis.scan_iter(match=f"{keys.WORKER_PREFIX}*", count=100)]
    values = await redis.mget(names) if names else []
    return sorted((json.loads(v) for v in values if v), key=lambda w: w["name"])


async def record_attempt(redis: Redis, entry: dict[str, Any]) -> None:
    try:
        async with redis.pipeline(transaction=True) as pipe:
            pipe.lpush(keys.JOB_HISTORY, json.dumps(entry, ensure_ascii=False))
            pipe.ltrim(keys.JOB_HISTORY, 0, HISTORY_SIZE - 1)
            await pipe.execute()
    except (RedisError, OSError) as exc:  # the page misses one line; the job itself is not affected
        logger.info("could not record a job attempt: %s", exc)


async def latest_attempts(redis: Redis, count: int = 50) -> list[dict[str, Any]]:
    return [json.loads(raw) for raw in await redis.lrange(keys.JOB_HISTORY, 0, count - 1)]
