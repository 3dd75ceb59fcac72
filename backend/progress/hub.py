"""One reader per process for every progress stream its clients wait on.

Whoever appends a search's events also publishes its id on `keys.PROGRESS_NEWS` (one channel
for the cluster, in the same round trip as the events). Each web process keeps one subscription
to it, started by the first client that waits. On news of a search some client here waits on,
the hub reads that search's new events once and wakes those clients, who take what they lack
from it; it keeps only what some client has not seen yet. A client with nothing new costs no
Redis call, no database read and no CPU until then:

    async with hub.watch(search_id) as watch:
        seen = watch.news()             # before reading, so news in between is not lost
        events = watch.after(cursor)    # None when the hub does not hold them: read them yourself
        watch.cursor = cursor           # what this client has seen
        await watch.wait(seen, timeout)  # woken by news, by a lost subscription, or at `timeout`

While the subscription is down (Redis gone, or restarting) `live` is False: the clients poll
as they always did, and when it is back every client is woken once, as it may have missed news.
Events appended to this process's memory (Redis away for the writer) wake their clients too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import anyio
from redis.asyncio import Redis
from redis.exceptions import RedisError

from backend import keys
from backend.progress.events import StoredEvent

logger = logging.getLogger(__name__)

RESUBSCRIBE_SECONDS = 1.0  # after the subscription failed, before trying again
READS_AT_ONCE = 4  # the streams' reads of Redis in flight at once: with the subscription, 5 connections
LISTEN_SECONDS = 5.0  # one read of the channel waits this long (the client's socket timeout is shorter)


Read = Callable[[str, tuple[int, int]], Awaitable[list[StoredEvent]]]  # `ProgressTracker.read`


@dataclass(slots=True)
class _Search:
    """The clients of one search in this process, and the events the hub read for them."""

    watches: set[Watch] = field(default_factory=set)
    news: anyio.Event = field(default_factory=anyio.Event)
    since: tuple[int, int] | None = None  # `events` holds every event after this one (None: none held)
    events: list[StoredEvent] = field(default_factory=list)
    reading: asyncio.Task[None] | None = None
    more: bool = False  # news came while it was being read

    def cursors(self) -> list[tuple[int, int]] | None:
        """What each client has seen; None while one has not read yet."""
        seen = [watch.cursor for watch in self.watches]
        return None if any(cursor is None for cursor in seen) else seen  # type: ignore[return-value]

    def wake(self) -> None:
        self.news.set()
        self.news = anyio.Event()


class Watch:
    """One client's interest in a search: `news()` before reading, then `wait(seen, timeout)`."""

    def __init__(self, hub: ProgressHub, search: _Search) -> None:
        self._hub = hub
        self._search = search
        self.cursor: tuple[int, int] | None = None  # the last event this client has (None: not read yet)

    def news(self) -> anyio.Event:
        return self._search.news

    def after(self, cursor: tuple[int, int]) -> list[StoredEvent] | None:
        """The events after `cursor` as the hub read them; None when it does not hold them all."""
        search = self._search
        if search.since is None or cursor < search.since:
            return None
        return [stored for stored in search.events if stored.id > cursor]

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
    def __init__(self, redis: Redis | None, read: Read) -> None:
        self._redis = redis
        self._read = read
        # Streams open in bursts (a thousand browsers after a deploy): their reads queue here rather
        # than each taking a connection of the pool, which would keep them open afterwards.
        self._reads_at_once = asyncio.Semaphore(READS_AT_ONCE)
        self._reading: dict[tuple[str, tuple[int, int]], asyncio.Task[list[StoredEvent]]] = {}
        self._searches: dict[str, _Search] = {}
        self._listener: asyncio.Task[None] | None = None
        self._subscribed = False
        self._closing = False
        self.subscriptions = 0  # subscriptions made to the channel: 1, then one more after each failure

    @property
    def live(self) -> bool:
        return self._subscribed

    @contextlib.asynccontextmanager
    async def watch(self, search_id: str) -> AsyncIterator[Watch]:
        self._start()
        search = self._searches.setdefault(search_id, _Search())
        watch = Watch(self, search)
        search.watches.add(watch)
        try:
            yield watch
        finally:
            search.watches.discard(watch)
            if not search.watches and self._searches.get(search_id) is search:
                del self._searches[search_id]
                if search.reading is not None:
                    search.reading.cancel()

    async def read(self, search_id: str, cursor: tuple[int, int]) -> list[StoredEvent]:
        """The events of `search_id` after `cursor`, read now (no wait); the same read asked by
        several streams at once (streams of one search opening together) is made once."""
        key = (search_id, cursor)
        task = self._reading.get(key)
        if task is None:
            task = self._reading[key] = asyncio.create_task(self._read_limited(search_id, cursor))
            task.add_done_callback(lambda _: self._reading.pop(key, None))
        return list(await asyncio.shield(task))

    async def _read_limited(self, search_id: str, cursor: tuple[int, int]) -> list[StoredEvent]:
        async with self._reads_at_once:
            return await self._read(search_id, cursor)

    def wake(self, search_id: str) -> None:
        """News of `search_id` (from the channel, or appended to this process's memory): its new
        events are read once, then its clients woken."""
        search = self._searches.get(search_id)
        if search is None:
            return
        if search.reading is not None and not search.reading.done():
            search.more = True
            return
        search.reading = asyncio.create_task(self._read_news(search_id, search), name="progress-news")

    async def _read_news(self, search_id: str, search: _Search) -> None:
        while True:
            search.more = False
            cursors = search.cursors()
            if search.since is None and cursors:
                search.since = min(cursors)  # from what the furthest-behind client lacks
            if search.since is not None:
                after = search.events[-1].id if search.events else search.since
                try:
                    search.events += await self.read(search_id, after)
                except Exception:  # the tracker falls back to memory itself: this is a bug, not Redis
                    logger.exception("progress: could not read the news of %s", search_id)
                cursors = search.cursors()
                if cursors:  # keep only what some client lacks
                    floor = min(cursors)
                    search.events = [stored for stored in search.events if stored.id > floor]
                    search.since = max(search.since, floor)
            search.wake()
            if not search.more:
                return

    def _wake_all(self) -> None:
        for search_id in list(self._searches):
            self.wake(search_id)

    def _start(self) -> None:
        if self._listener is None and self._redis is not None:
            self._listener = asyncio.create_task(self._listen(), name="progress-hub")

    async def aclose(self) -> None:
        self._closing = True
        for search in self._searches.values():
            if search.reading is not None:
                search.reading.cancel()
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        self._subscribed = False

    async def _listen(self) -> None:
        assert self._redis is not None
        failures = 0
        # Not `while True`: redis-py's read of a pubsub message can lose a cancel (its
        # `asyncio.timeout(0)` takes a pending cancel for its own, python/cpython#134471),
        # so `aclose()` also ends the loop by its flag.
        while not self._closing:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(keys.PROGRESS_NEWS)
                    self._subscribed = True
                    self.subscriptions += 1
                    if failures:
                        logger.info("progress: news channel subscribed again; waking every stream once")
                    self._wake_all()  # what was appended while nobody listened
                    while not self._closing:
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
            if self._closing:
                return
            failures += 1
            await asyncio.sleep(RESUBSCRIBE_SECONDS)
