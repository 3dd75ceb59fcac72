"""Progress events of a search: Redis Streams shared by every process, memory without Redis.

Event ids have Redis Stream's shape, `<milliseconds>-<sequence>`, whichever store made them, so
one cursor (`Last-Event-ID`) orders events from Redis, from memory and those derived from the
persisted search row alike.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import anyio
from redis.asyncio import Redis
from redis.exceptions import RedisError

from backend import keys
from backend.schemas import ProgressEvent, ResumoLicitacoes
from backend.search_cache import SearchCache, SearchOutcome

logger = logging.getLogger(__name__)

TERMINAL_STAGES = frozenset({"complete", "error"})

STREAM_MAXLEN = 500  # a search emits ~40 events; the cap only guards against runaway writers
STREAM_TTL_SECONDS = 3600
REDIS_RETRY_SECONDS = 5.0  # after a Redis failure, use memory this long before trying again


def parse_event_id(value: str | None) -> tuple[int, int]:
    """`"1732800000000-3"` -> (1732800000000, 3); anything unreadable means "from the start"."""
    if not value:
        return (0, 0)
    millis, _, seq = value.strip().partition("-")
    try:
        return (int(millis), int(seq or 0))
    except ValueError:
        return (0, 0)


def format_event_id(event_id: tuple[int, int]) -> str:
    return f"{event_id[0]}-{event_id[1]}"


@dataclass(frozen=True, slots=True)
class StoredEvent:
    id: tuple[int, int]
    event: ProgressEvent


@dataclass(slots=True)
class _MemoryStream:
    events: list[StoredEvent] = field(default_factory=list)
    changed: anyio.Event = field(default_factory=anyio.Event)
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
        stream.changed.set()
        stream.changed = anyio.Event()
        return event_id

    def after(self, search_id: str, cursor: tuple[int, int]) -> list[StoredEvent]:
        stream = self._streams.get(search_id)
        return [e for e in stream.events if e.id > cursor] if stream else []

    def exists(self, search_id: str) -> bool:
        return search_id in self._streams

    async def wait(self, search_id: str, timeout: float) -> None:
        stream = self._streams.get(search_id)
        with anyio.move_on_after(timeout):
            if stream is None:
                await anyio.sleep(timeout)
            else:
                await stream.changed.wait()


class ProgressTracker:
    """Appends and reads progress events; falls back to memory while Redis is unreachable."""

    def __init__(self, redis: Redis | None) -> None:
        self._redis = redis
        self._memory = _MemoryStreams()
        self._redis_down_until = 0.0

    @property
    def _use_redis(self) -> bool:
        return self._redis is not None and time.monotonic() >= self._redis_down_until

    def _redis_failed(self, error: Exception) -> None:
        if time.monotonic() >= self._redis_down_until:
            logger.warning("progress: Redis unavailable (%s); using memory for %.0f s", error, REDIS_RETRY_SECONDS)
        self._redis_down_until = time.monotonic() + REDIS_RETRY_SECONDS

    async def emit(
        self, search_id: str, stage: str, progress: int, message: str, detail: dict[str, Any] | None = None
    ) -> str:
        """Appends an event; returns its id. Never raises for a missing Redis."""
        event = ProgressEvent(stage=stage, progress=progress, message=message, detail=detail or {})
        if self._use_redis:
            assert self._redis is not None
            key = keys.progress_stream(search_id)
            try:
                async with self._redis.pipeline(transaction=True) as pipe:
                    pipe.xadd(key, {"data": event.model_dump_json()}, maxlen=STREAM_MAXLEN, approximate=True)
                    pipe.expire(key, STREAM_TTL_SECONDS)
                    event_id, _ = await pipe.execute()
                return event_id.decode() if isinstance(event_id, bytes) else str(event_id)
            except (RedisError, OSError) as exc:
                self._redis_failed(exc)
        return format_event_id(self._memory.append(search_id, event))

    async def exists(self, search_id: str) -> bool:
        if self._memory.exists(search_id):
            return True
        if self._use_redis:
            assert self._redis is not None
            try:
                return bool(await self._redis.exists(keys.progress_stream(search_id)))
            except (RedisError, OSError) as exc:
                self._redis_failed(exc)
        return False

    async def read(self, search_id: str, cursor: tuple[int, int], wait: float) -> list[StoredEvent]:
        """Events after `cursor`, waiting up to `wait` seconds for the first one."""
        events = self._memory.after(search_id, cursor)
        if events:
            return events
        if self._use_redis:
            assert self._redis is not None
            try:
                return await self._read_redis(search_id, cursor, wait)
            except (RedisError, OSError) as exc:
                self._redis_failed(exc)
        await self._memory.wait(search_id, wait)
        return self._memory.after(search_id, cursor)

    async def _read_redis(self, search_id: str, cursor: tuple[int, int], wait: float) -> list[StoredEvent]:
        assert self._redis is not None
        answer = await self._redis.xread(
            {keys.progress_stream(search_id): format_event_id(cursor)}, block=max(int(wait * 1000), 1), count=100
        )
        events = []
        for _key, entries in answer or []:
            for raw_id, fields in entries:
                raw = fields.get(b"data") or fields.get("data")
                events.append(StoredEvent(parse_event_id(_text(raw_id)), ProgressEvent.model_validate_json(raw)))
        return events


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _event_id_at(moment: datetime) -> tuple[int, int]:
    return (int(moment.timestamp() * 1000), 0)


def derived_events(outcome: SearchOutcome) -> list[StoredEvent]:
    """The settled stages of a search, rebuilt from its persisted row.

    What a process that did not run the search (and shares no Redis with the one that did) can
    still tell its client. Ids come from the moments the outcomes were saved, in the same
    `<ms>-<seq>` shape as live events, so a `Last-Event-ID` cursor applies to both.
    """
    events: list[StoredEvent] = []
    if outcome.erro is not None and outcome.erro_at is not None:
        detail = {"message": outcome.erro}
        return [StoredEvent(_event_id_at(outcome.erro_at), ProgressEvent(
            stage="error", progress=-1, message=outcome.erro, detail=detail))]
    if outcome.results_at is not None:
        events.append(StoredEvent(_event_id_at(outcome.results_at), results_ready_event(outcome.total_filtrado)))
    if outcome.resumo is not None and outcome.resumo_at is not None:
        events.append(StoredEvent(_event_id_at(outcome.resumo_at), llm_ready_event(outcome.resumo)))
    if outcome.excel_status != "processing" and outcome.excel_at is not None:
        excel = excel_event(outcome.excel_status, outcome.excel_url, outcome.excel_error)
        if excel is not None:
            events.append(StoredEvent(_event_id_at(outcome.excel_at), excel))
    events.sort(key=lambda e: e.id)
    if outcome.settled and events:
        last = events[-1].id
        events.append(StoredEvent((last[0], last[1] + 1), complete_event()))
    return events


def results_ready_event(total_filtrado: int) -> ProgressEvent:
    message = f"{total_filtrado} licitação(ões) encontrada(s)"
    return ProgressEvent(stage="results_ready", progress=70, message=message, detail={"total_filtrado": total_filtrado})


def llm_ready_event(resumo: ResumoLicitacoes) -> ProgressEvent:
    return ProgressEvent(
        stage="llm_ready", progress=85, message="Resumo pronto", detail={"resumo": resumo.model_dump(mode="json")}
    )


def excel_event(status: str, url: str | None, error: str | None) -> ProgressEvent | None:
    """`excel_ready` or `excel_failed`; None for a report that was not asked for (skipped)."""
    if status == "ready":
        return ProgressEvent(
            stage="excel_ready", progress=98, message="Planilha pronta para download", detail={"download_url": url}
        )
    if status == "failed":
        message = error or "Não foi possível gerar a planilha."
        return ProgressEvent(stage="excel_failed", progress=98, message=message, detail={"error": message})
    return None


def complete_event() -> ProgressEvent:
    return ProgressEvent(stage="complete", progress=100, message="Busca concluída")


ONCE_STAGES = frozenset({"results_ready", "llm_ready", "excel_ready", "excel_failed", "complete", "error"})


async def follow(
    tracker: ProgressTracker,
    store: SearchCache,
    search_id: UUID,
    cursor: tuple[int, int],
    *,
    max_seconds: float,
    poll_seconds: float = 1.0,
) -> AsyncIterator[StoredEvent]:
    """Every event after `cursor`, live, until `complete` or `error` (or `max_seconds`).

    Live events come from the tracker; whenever it has nothing new for `poll_seconds`, the
    persisted row is read and the settled stages missing from this connection are derived.
    A stage that happens once is sent once per connection, whichever source had it first.
    """
    key = str(search_id)
    resumed_from = cursor
    sent: set[str] = set()
    deadline = time.monotonic() + max_seconds
    while time.monotonic() < deadline:
        events = await tracker.read(key, cursor, wait=min(poll_seconds, max(deadline - time.monotonic(), 0.0)))
        if not events:
            outcome = await store.get_outcome(search_id)
            events = [e for e in derived_events(outcome) if e.id > cursor] if outcome else []
        for stored in events:
            if stored.event.stage in ONCE_STAGES and stored.event.stage in sent:
                continue
            if stored.event.stage == "complete":
                # Two jobs settle a search in parallel: `complete` may be appended before the
                # other job's own event. Send what the client lacks first (an output saved after
                # the cursor it came with, and not sent on this connection).
                outcome = await store.get_outcome(search_id)
                for missing in derived_events(outcome) if outcome else []:
                    stage = missing.event.stage
                    if stage not in sent and stage not in TERMINAL_STAGES and missing.id > resumed_from:
                        sent.add(missing.event.stage)
                        yield missing
            sent.add(stored.event.stage)
            cursor = max(cursor, stored.id)
            yield stored
            if stored.event.stage in TERMINAL_STAGES:
                return
