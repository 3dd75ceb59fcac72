"""Claims in Redis that only their holder may renew or end: a key holding the holder's token.

    taken = await redis.set(key, token, nx=True, px=ms)    # take it
    await renew(redis, key, token, ms)                      # still ours? then for `ms` more
    await release(redis, key, token)                        # still ours? then gone

A claim that lapsed and was taken by another is left alone: checking and acting happen in one
script, so there is no moment between them for another process to slip in.
"""

from __future__ import annotations

from redis.asyncio import Redis

_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""
_HAND_OVER = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  redis.call('set', KEYS[2], ARGV[2], 'PX', ARGV[3])
  return redis.call('del', KEYS[1])
end
return 0
"""


async def renew(redis: Redis, key: str, token: str, ms: int) -> bool:
    return bool(await redis.eval(_RENEW, 1, key, token, ms))


async def release(redis: Redis, key: str, token: str) -> bool:
    return bool(await redis.eval(_RELEASE, 1, key, token))


async def release_with(redis: Redis, key: str, token: str, result_key: str, result: bytes, ms: int) -> bool:
    """Ends the claim and leaves `result` under `result_key` for `ms`, in one step, if still ours."""
    return bool(await redis.eval(_HAND_OVER, 2, key, result_key, token, result, ms))
