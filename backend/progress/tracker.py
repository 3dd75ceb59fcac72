"""Where progress events live: a Redis Stream per search, shared by every process, or memory
while Redis is away; each append wakes the clients waiting on it (`hub`)."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from backend import keys
from backend.progress.events import StoredEvent, format_event_id, parse_event_id
from backend.progress.hub import ProgressHub
from backend.schemas import ProgressEvent

logger = logging.getLogger(__name__)

STREAM_MAXLEN = 500  # a search emits ~40 events; the cap only guards against runaway writers
STREAM_TTL_SECONDS = 3600
REDIS_RETRY_SECONDS = 5.0  # after a Redis failure, use memory this long before trying again


@dataclass(slots=True)
class _MemoryStream:
    events: list[StoredEvent] = field(default_factory=list)
    touched: float = field(default_factory=time.monotonic)


class _MemoryStreams:
    """Per-process streams for when Redis is not there; bounded in size and age."""

    def __init__(self, max_searches: int = 2000) -> None:
        self._streams: OrderedDict[str, _MemoryStream] = OrderedDict()
        self._max_searches = max_searches

    def _expire(self) -> None:
        deadline = time.monotonic() - STREAM_TTL_SECONDS
        while self._streams:
            oldest_key, oldest = next(iter(self._streams.items()))
            if oldest.touched >= deadline and len(self._streams) <= self._max_searches:
                break
            del self._streams[oldest_key]

    def append(self, search_id: str, event: ProgressEvent) -> tuple[int, int]:
        stream = self._streams.pop(search_id, None) or _MemoryStream()
        self._streams[search_id] = stream
        self._expire()
        millis = int(time.time() * 1000)
        last = stream.events[-1].id if stream.events else (0, 0)
        event_id = (millis, 0) if millis > last[0] else (last[0], last[1] + 1)
        stream.events.append(StoredEvent(event_id, event))
        del stream.events[:-STREAM_MAXLEN]
        stream.touched = time.monotonic()
        return event_id

    def after(self, search_id: str, cursor: tuple[int, int]) -> list[StoredEvent]:
        stream = self._streams.get(search_id)
        return [e for e in stream.events if e.id > cursor] if stream else []


class ProgressTracker:
    """Appends and reads progress events; falls back to memory while Redis is unreachable."""

    def __init__(self, redis: Redis | None) -> None:
        self._redis = redis
        self._memory = _MemoryStreams()
        self._redis_down_until = 0.0
        self.hub = ProgressHub(redis, self.read)  # wakes this process's clients of a search with news

    @property
    def _use_redis(self) -> bool:
        return self._redis is not None and time.monotonic() >= self._redis_down_until

    def _redis_failed(self, error: Exception) -> None:
        if time.monotonic() >= self._redis_down_until:
            logger.warning("progress: Redis unavailable (%s); using memory for %.0f s", error, REDIS_RETRY_SECONDS)
        self._redis_down_until = time.monotonic() + REDIS_RETRY_SECONDS

    async def emit(self, search_id: str, event: ProgressEvent) -> str:
        """Appends an event; returns its id. Never raises for a missing Redis."""
        [event_id] = await self.emit_many(search_id, [event])
        return event_id

    async def emit_many(self, search_id: str, batch: Sequence[ProgressEvent]) -> list[str]:
        """Appends events in order, in one round trip to Redis (a search's UFs read at once give
        two events each); returns their ids. Never raises for a missing Redis."""
        if self._use_redis:
            assert self._redis is not None
            key = keys.progress_stream(search_id)
            try:
                async with self._redis.pipeline(transaction=True) as pipe:
                    for event in batch:
                        pipe.xadd(key, {"data": event.model_dump_json()}, maxlen=STREAM_MAXLEN, approximate=True)
                    pipe.expire(key, STREAM_TTL_SECONDS)
                    pipe.publish(keys.PROGRESS_NEWS, search_id)  # every process's hub wakes its clients
                    *ids, _, _ = await pipe.execute()
                return [i.decode() if isinstance(i, bytes) else str(i) for i in ids]
            except (RedisError, OSError) as exc:
                self._redis_failed(exc)
        ids = [format_event_id(self._memory.append(search_id, event)) for event in batch]
        self.hub.wake(search_id)
        return ids

    async def read(self, search_id: str, cursor: tuple[int, int]) -> list[StoredEvent]:
        """The events after `cursor` there are now (waiting for news is the `hub`'s)."""
        events = self._memory.after(search_id, cursor)
        if events:
            return events
        if self._use_redis:
            assert self._redis is not None
            try:
                return await self._read_redis(search_id, cursor)
            except (RedisError, OSError) as exc:
                self._redis_failed(exc)
        return self._memory.after(search_id, cursor)

    async def _read_redis(self, search_id: str, cursor: tuple[int, int]) -> list[StoredEvent]:
        assert self._redis is not None
        answer = await self._redis.xread({keys.progress_stream(search_id): format_event_id(cursor)},
                                         count=STREAM_MAXLEN)
        events = []
        for _key, entries in answer or []:
            for raw_id, fields in entries:
                raw = _text(fields.get(b"data") or fields.get("data"))
                # Written by `emit`: read for its stage, and sent on as it is (a UF's partial
                # results carry 50 licitações: validating and writing them again per client costs).
                event = ProgressEvent.model_construct(**orjson.loads(raw))
                events.append(StoredEvent(parse_event_id(_text(raw_id)), event, raw))
        return events


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


