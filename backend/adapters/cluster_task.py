"""Background work that runs in one process of the cluster at a time: the index's ingestion and
the AI arbiter. A lease in Redis says which process runs it; an ARQ cron tick in every worker
calls `ensure_running`, so a process that died hands it over when its lease lapses. The work runs
as a task of its process, outside ARQ's job slots."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import anyio
from redis.asyncio import Redis
from redis.exceptions import RedisError

from backend.adapters import claims

logger = logging.getLogger(__name__)


class ClusterTask:
    """Runs `work` here while this process holds the lease `key`; stops it when another took it."""

    def __init__(self, *, redis: Redis, key: str, name: str, lease_seconds: float,
                 work: Callable[[], Awaitable[None]], what: str) -> None:
        self._redis = redis
        self._key = key
        self._name = name
        self._lease_ms = int(lease_seconds * 1000)  # a process that died hands the work over after this
        self._work = work
        self._what = what
        self._token = f"{name} {id(self)}"
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def ensure_running(self) -> bool:
        """Starts the work here when no process of the cluster runs it; True when it runs here."""
        if self.running:
            return True
        try:
            taken = await self._redis.set(self._key, self._token, nx=True, px=self._lease_ms)
        except (RedisError, OSError) as exc:
            logger.info("%s not started (Redis: %s)", self._what, exc)
            return False
        if not taken:
            return False
        logger.info("%s starts in %s", self._what, self._name)
        self._task = asyncio.create_task(self._run(), name=self._what)
        return True

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def _run(self) -> None:
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._hold_lease, tg.cancel_scope)
                await self._work()
                tg.cancel_scope.cancel()
        finally:
            await self._release()

    async def _hold_lease(self, work: anyio.CancelScope) -> None:
        """Renews the lease while the work runs; the work stops when another process holds it."""
        while True:
            await asyncio.sleep(self._lease_ms / 3000)
            if not await self._renew():
                logger.info("%s: another process runs it now; stopping here", self._what)
                work.cancel()
                return

    async def _renew(self) -> bool:
        try:
            if await claims.renew(self._redis, self._key, self._token, self._lease_ms):
                return True
            # Redis lost the lease (flushed, or it lapsed): take it again unless another process did.
            return bool(await self._redis.set(self._key, self._token, nx=True, px=self._lease_ms))
        except (RedisError, OSError):
            return True  # keep going: what the work keeps is in the database

    async def _release(self) -> None:
        try:
            await claims.release(self._redis, self._key, self._token)
        except (RedisError, OSError):
            pass
