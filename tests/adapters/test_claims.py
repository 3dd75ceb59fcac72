"""Claims in a real Redis: only the holder renews or ends one."""

from __future__ import annotations

from redis.asyncio import Redis

from backend.adapters import claims


async def test_only_the_holder_renews_releases_or_hands_over_a_claim(redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    try:
        assert await redis.set("claim", "mine", nx=True, px=500)
        assert not await redis.set("claim", "theirs", nx=True, px=500)
        assert not await claims.renew(redis, "claim", "theirs", 60_000)
        assert await claims.renew(redis, "claim", "mine", 60_000)
        assert await redis.pttl("claim") > 50_000
        assert not await claims.release(redis, "claim", "theirs")
        assert not await claims.release_with(redis, "claim", "theirs", "result", b"x", 1000)
        assert await redis.get("claim") == b"mine" and await redis.get("result") is None
        assert await claims.release_with(redis, "claim", "mine", "result", b"done", 60_000)
        assert await redis.get("claim") is None and await redis.get("result") == b"done"
        assert await redis.set("claim", "next", nx=True, px=500)
        assert await claims.release(redis, "claim", "next") and await redis.get("claim") is None
    finally:
        await redis.aclose()
