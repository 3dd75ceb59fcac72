"""The job history of the operations page, kept in Redis so every process sees every job: each
attempt is appended to a capped list (job, attempt, outcome, duration, the error in words).
The live workers are `backend.adapters.live_workers`."""

from __future__ import annotations

import json
import logging
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from backend import keys

logger = logging.getLogger(__name__)

HISTORY_SIZE = 200


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
