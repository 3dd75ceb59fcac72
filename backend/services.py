"""The adapters of one process, built once and closed once.

The web lifespan and a separate worker's startup call the same `open_services`, so both run
the same code with the same kind of objects.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

from redis.asyncio import Redis

from backend.config import Settings
from backend.search_cache import SearchCache
from backend.sectors import Sector, load_sectors
from backend.sources.pncp import PNCPClient, RetryPolicy

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class Services:
    settings: Settings
    pncp: PNCPClient
    store: SearchCache
    sectors: dict[str, Sector]
    redis: Redis


@asynccontextmanager
async def open_services(settings: Settings) -> AsyncIterator[Services]:
    async with AsyncExitStack() as stack:
        if settings.sqlite_path is not None:
            settings.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        store = SearchCache.from_url(settings.database_url, ttl=timedelta(hours=settings.search_ttl_hours))
        stack.push_async_callback(store.close)
        await store.create_schema()
        expired = await store.delete_expired()
        if expired:
            logger.info("removed %d expired searches", expired)

        pncp = PNCPClient.create(
            settings.pncp_base_url,
            timeout=settings.pncp_timeout,
            retry=RetryPolicy(settings.pncp_max_retries, settings.pncp_backoff_base, settings.pncp_backoff_max),
            concurrency=settings.pncp_concurrency,
            max_pages=settings.pncp_max_pages,
        )
        stack.push_async_callback(pncp.aclose)

        # Short timeouts: a missing Redis must make the service degrade, not hang.
        redis = Redis.from_url(settings.redis_url, socket_connect_timeout=1, socket_timeout=2)
        stack.push_async_callback(redis.aclose)

        yield Services(settings=settings, pncp=pncp, store=store, sectors=load_sectors(), redis=redis)
