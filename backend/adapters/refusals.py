"""The 401s of each Brasília day by reason, counted in Redis so /ops shows the whole cluster's
(the Prometheus counter `smartlic_auth_refused_total` counts them too, per process)."""

from __future__ import annotations

import logging
from datetime import date

from redis.asyncio import Redis
from redis.exceptions import RedisError

from backend import keys

logger = logging.getLogger(__name__)

KEEP_SECONDS = 3 * 86400


async def count(redis: Redis, day: date, reason: str) -> None:
    """One more 401 for `reason`; never raises (without Redis, only the metric counts it)."""
    key = keys.auth_refused(day.isoformat())
    try:
        async with redis.pipeline(transaction=False) as pipe:
            await pipe.hincrby(key, reason, 1).expire(key, KEEP_SECONDS).execute()
    except (RedisError, OSError) as exc:
        logger.info("a 401 was not counted for /ops (Redis: %s)", exc)


async def on(redis: Redis, day: date) -> dict[str, int]:
    """The 401s of `day` by reason."""
    counts = await redis.hgetall(keys.auth_refused(day.isoformat()))
    return {reason.decode(): int(n) for reason, n in sorted(counts.items())}
