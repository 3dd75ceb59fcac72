"""How many searches one user runs at once, shared by every process through Redis; while Redis is
out, each process counts its own (a looser limit, never none).

    async with running.hold(user_id, search_id, limit=plan.buscas_simultaneas):
        ...  # SearchesAtOnce when `limit` of the user's searches run already

The same search posted again (a retry, a second tab) holds no second place. A place a process
died holding lapses after `HOLD_SECONDS`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.asyncio import Redis
from redis.exceptions import RedisError

from backend import keys

logger = logging.getLogger(__name__)

HOLD_SECONDS = 600  # longer than any search's answer takes; the lapse of a dead process's place

# KEYS[1]: the user's set; ARGV: search id, now, lapses at, limit. 1: held, 0: the limit is reached.
_HOLD = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
if redis.call('ZSCORE', KEYS[1], ARGV[1]) or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[4]) then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
  redis.call('EXPIRE', KEYS[1], math.ceil(ARGV[3] - ARGV[2]))
  return 1
end
return 0
"""


class SearchesAtOnce(Exception):
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.message = (f"Você já tem {limit} busca{'s' if limit > 1 else ''} em andamento, o limite do seu plano; "
                        "espere terminar para começar outra.")
        super().__init__(self.message)


class RunningSearches:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._script = redis.register_script(_HOLD)
        self._local: dict[str, dict[str, float]] = {}

    @asynccontextmanager
    async def hold(self, user_id: str, search_id: str, *, limit: int) -> AsyncIterator[None]:
        key = keys.RUNNING_PREFIX + user_id
        now = time.time()
        try:
            shared = bool(await self._script(keys=[key], args=[search_id, now, now + HOLD_SECONDS, limit]))
            held = shared
        except (RedisError, OSError) as exc:
            logger.info("searches at once counted in this process (Redis: %s)", exc)
            shared, held = False, self._hold_here(user_id, search_id, now, limit)
        if not held:
            raise SearchesAtOnce(limit)
        try:
            yield
        finally:
            if shared:
                try:
                    await self._redis.zrem(key, search_id)
                except (RedisError, OSError):  # it lapses
                    logger.info("could not free a place among the searches at once of a user")
            else:
                self._local.get(user_id, {}).pop(search_id, None)

    def _hold_here(self, user_id: str, search_id: str, now: float, limit: int) -> bool:
        mine = {sid: until for sid, until in self._local.get(user_id, {}).items() if until > now}
        self._local[user_id] = mine
        if search_id not in mine and len(mine) >= limit:
            return False
        mine[search_id] = now + HOLD_SECONDS
        return True
