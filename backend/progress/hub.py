"""One reader per process for every progress stream its clients wait on.

Whoever appends a search's events also publishes its id on `keys.PROGRESS_NEWS` (one channel
for the cluster, in the same round trip as the events). Each web process keeps one subscription
to it, started by the first client that waits, and wakes only the clients of the searches that
have news. A client with nothing new costs no Redis call, no database read and no CPU until then:

    async with hub.watch(search_id) as watch:
        seen = watch.news()             # before reading, so news in between is not lost
        ...read the events after the client's cursor...
        await watch.wait(seen, timeout)  # woken by news, by a lost subscription, or at `timeout`

While the subscription is down (Redis gone, or restarting) `live` is False: the clients poll
as they always did, and when it is back every client is woken once, as it may have missed news.
Events appended to this process's memory (Redis away for the writer) wake their clients too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import anyio
from redis.asyncio import Redis
from redis.exceptions import RedisError

from backend import keys

logger = logging.getLogger(__name__)

RESUBSCRIBE_SECONDS = 1.0  # after the subscription failed, before trying again
LISTEN_SECONDS = 5.0  # one read of the channel waits this long (the client's socket timeout is shorter)


@dataclass(slots=True)
class _Search:
    """The clients of one search in this process."""

    clients: int = 0
    news: anyio.Event = field(default_factory=anyio.Event)

    def wake(self) -> None:
        self.news.set()
        self.news = anyio.Event()


class Watch:
    """One client's interest in a search: `news()` before reading, then `wait(seen, timeout)`."""

    def __init__(self, hub: ProgressHub, search: _Search) -> None:
        self._hub = hub
        self._search = search

    def news(self) -> anyio.Event:
        return self._search.news

    @property
    def live(self) -> bool:
        """The hub hears every append of the cluster: no news means nothing new."""
        return self._hub.live

    @property
    def subscription(self) -> int:
        """Which subscription the hub hears through: another one since means news may have been missed."""
        return self._hub.subscriptions

    async def wait(self, seen: anyio.Event, timeout: float) -> bool:
        """Waits for news after `seen`; False at `timeout`."""
        with anyio.move_on_after(timeout):
            await seen.wait()
            return True
        return False


class ProgressHub:
    def __init__(self, redis: Redis | None) -> None:
        self._redis = redis
        self._searches: dict[str, _Search] = {}
        self._listener: asyncio.Task[None] | None = None
        self._subscribed = False
        self.subscriptions = 0  # subscriptions made to the channel: 1, then one more after each failure

    @property
    def live(self) -> bool:
        return self._subscribed

    @property
    def watched(self) -> int:
        return len(self._searches)

    @contextlib.asynccontextmanager
    async def watch(self, search_id: str) -> AsyncIterator[Watch]:
        self._start()
        search = self._searches.setdefault(search_id, _Search())
        search.clients += 1
        try:
            yield Watch(self, search)
        finally:
            search.clients -= 1
            if search.clients == 0 and self._searches.get(search_id) is search:
                del self._searches[search_id]

    def wake(self, search_id: str) -> None:
        """News of `search_id` (from the channel, or appended to this process's memory)."""
        search = self._searches.get(search_id)
        if search is not None:
            search.wake()

    def _wake_all(self) -> None:
        for search in self._searches.values():
            search.wake()

    def _start(self) -> None:
        if self._listener is None and self._redis is not None:
            self._listener = asyncio.create_task(self._listen(), name="progress-hub")

    async def aclose(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        self._subscribed = False

    async def _listen(self) -> None:
        assert self._redis is not None
        failures = 0
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(keys.PROGRESS_NEWS)
                    self._subscribed = True
                    self.subscriptions += 1
                    if failures:
                        logger.info("progress: news channel subscribed again; waking every stream once")
                    self._wake_all()  # what was appended while nobody listened
                    while True:
                        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=LISTEN_SECONDS)
                        if message is not None and message.get("type") == "message":
                            data = message["data"]
                            self.wake(data.decode() if isinstance(data, bytes) else str(data))
            except (RedisError, OSError) as exc:
                if self._subscribed or not failures:
                    logger.warning("progress: news channel lost (%s); streams poll until it is back", exc)
            finally:
                if self._subscribed:
                    self._subscribed = False
                    self._wake_all()  # they go on polling
            failures += 1
            await asyncio.sleep(RESUBSCRIBE_SECONDS)
