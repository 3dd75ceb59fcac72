"""How many searches one client may start: counted in Redis, so every process and every
replica share the count; while Redis is out, each process counts on its own (a looser limit,
never none).

    limiter = SearchRateLimit.create("30/minute", redis)      # once per process
    wait = await limiter.seconds_to_wait(client_address)      # None: go ahead

The `limits` library keeps the moving windows (a Lua script in Redis, a dict in memory).
"""

from __future__ import annotations

import logging
import math
import time

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from redis.asyncio import Redis
from redis.exceptions import RedisError

from backend import keys

logger = logging.getLogger(__name__)

OFF = "off"


def parse_rate(text: str) -> RateLimitItem | None:
    """"30/minute", "100 per hour"; "off" turns the limit off. Raises ValueError otherwise."""
    if text.strip().lower() == OFF:
        return None
    try:
        return parse(text)
    except ValueError as exc:
        raise ValueError(f"not a rate like '30/minute' or 'off': {text!r}") from exc


class SearchRateLimit:
    def __init__(self, item: RateLimitItem | None, shared: MovingWindowRateLimiter | None) -> None:
        self._item = item
        self._shared = shared
        self._local = MovingWindowRateLimiter(MemoryStorage())

    @classmethod
    def create(cls, rate: str, redis: Redis) -> SearchRateLimit:
        item = parse_rate(rate)
        storage = RedisStorage(
            "async+redis://", implementation="redispy", connection_pool=redis.connection_pool,
            key_prefix=keys.RATE_LIMIT_PREFIX, wrap_exceptions=True,
        )
        return cls(item, MovingWindowRateLimiter(storage))

    async def seconds_to_wait(self, client: str) -> int | None:
        """Counts this search; None when allowed, else whole seconds until one more is."""
        if self._item is None:
            return None
        limiter = self._shared or self._local
        try:
            allowed = await limiter.hit(self._item, "buscar", client)
            stats = None if allowed else await limiter.get_window_stats(self._item, "buscar", client)
        except (StorageError, RedisError, OSError) as exc:
            logger.info("rate limit counted in this process (Redis: %s)", exc)
            limiter = self._local
            allowed = await limiter.hit(self._item, "buscar", client)
            stats = None if allowed else await limiter.get_window_stats(self._item, "buscar", client)
        if stats is None:
            return None
        return max(1, math.ceil(stats.reset_time - time.time()))
