"""A search's events as one connection should see them: live from the tracker, and what the
stored search says when the live events are missing (another process without a shared Redis)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from uuid import UUID

from backend.progress.events import ONCE_STAGES, TERMINAL_STAGES, StoredEvent, derived_events
from backend.progress.tracker import ProgressTracker
from backend.store.search_cache import SearchCache


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
