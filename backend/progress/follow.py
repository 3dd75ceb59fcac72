"""A search's events as one connection should see them: live from the tracker, and what the
stored search says when the live events are missing (another process without a shared Redis)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from uuid import UUID

from backend.progress.events import ONCE_STAGES, TERMINAL_STAGES, StoredEvent, derived_events
from backend.progress.tracker import ProgressTracker
from backend.store.search_cache import SearchCache, SearchOutcome

POLL_SECONDS = 1.0  # how often a stream looks for news while the hub cannot hear it (Redis away)
WAIT_POLL_SECONDS = 0.2  # how often a stream waiting for its search looks, while the hub cannot hear news
SILENCE_SECONDS = 120.0  # a stream with no news this long reads the stored search, in case it missed some


async def follow(
    tracker: ProgressTracker,
    store: SearchCache,
    search_id: UUID,
    cursor: tuple[int, int],
    *,
    max_seconds: float,
    poll_seconds: float = POLL_SECONDS,
    silence_seconds: float = SILENCE_SECONDS,
) -> AsyncIterator[StoredEvent]:
    """Every event after `cursor`, live, until `complete` or `error` (or `max_seconds`).

    Live events come from the tracker, read when the process's hub says the search has news.
    The stored search is read, and the settled stages missing from this connection derived from
    it, only when the connection could have missed something: when it starts (a reconnect), when
    the hub cannot hear the cluster (Redis away: every `poll_seconds`), and after
    `silence_seconds` without news (a writer whose events went to its own memory). A stage that
    happens once is sent once per connection, whichever source had it first.
    """
    key = str(search_id)
    resumed_from = cursor
    sent: set[str] = set()
    deadline = time.monotonic() + max_seconds
    look_at_store = True  # a connection starting may resume after what Redis still holds
    async with tracker.hub.watch(key) as watch:
        while time.monotonic() < deadline:
            seen = watch.news()
            events = watch.after(cursor)  # what the hub read for every client of the search here
            if events is None:  # nothing yet: this client reads (a replay, or a stream just opened)
                events = await tracker.hub.read(key, cursor)
            if not events and (look_at_store or not watch.live):
                events = [e for e in await _stored_events(store, search_id) if e.id > cursor]
            look_at_store = False
            for stored in events:
                # Past every event read, the ones passed over too: read again, they would be passed
                # over again, and the loop would spin without ever yielding.
                cursor = max(cursor, stored.id)
                if stored.event.stage in ONCE_STAGES and stored.event.stage in sent:
                    continue  # sent already (derived from the stored search before it came live)
                if stored.event.stage == "complete" and _lacks_an_output(sent):
                    # Two jobs settle a search in parallel: `complete` may be appended before the
                    # other job's own event. Send what the client lacks first (an output saved after
                    # the cursor it came with, and not sent on this connection).
                    for missing in await _stored_events(store, search_id):
                        stage = missing.event.stage
                        if stage not in sent and stage not in TERMINAL_STAGES and missing.id > resumed_from:
                            sent.add(missing.event.stage)
                            yield missing
                sent.add(stored.event.stage)
                yield stored
                if stored.event.stage in TERMINAL_STAGES:
                    return
            watch.cursor = cursor
            if events:
                continue
            remaining = max(deadline - time.monotonic(), 0.0)
            if watch.live:
                subscription = watch.subscription
                woken = await watch.wait(seen, min(silence_seconds, remaining))
                # A long silence, or the hub lost the cluster's news for a while (Redis restarted
                # without its streams, maybe): the stored search says what was missed.
                look_at_store = not woken or not watch.live or watch.subscription != subscription
            else:
                await watch.wait(seen, min(poll_seconds, remaining))  # memory appends still wake it


async def _stored_events(store: SearchCache, search_id: UUID) -> list[StoredEvent]:
    """The settled stages the stored search tells (none while it is not stored)."""
    outcome = await store.get_outcome(search_id)
    return derived_events(outcome) if outcome else []


def _lacks_an_output(sent: set[str]) -> bool:
    """Whether a connection has not sent the summary, or the report's outcome (a report skipped
    sends none): only then can `complete` have overtaken what it lacks."""
    return "llm_ready" not in sent or not sent & {"excel_ready", "excel_failed"}


async def wait_for_search(tracker: ProgressTracker, store: SearchCache, search_id: UUID,
                          seconds: float) -> SearchOutcome | None:
    """The stored search, once it exists, within `seconds` (None: it never came). Its row is
    stored before its first event, which wakes this; it polls only while the hub cannot hear."""
    deadline = time.monotonic() + seconds
    async with tracker.hub.watch(str(search_id)) as watch:
        while True:
            seen = watch.news()
            if (outcome := await store.get_outcome(search_id)) is not None:
                return outcome
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            await watch.wait(seen, remaining if watch.live else min(remaining, WAIT_POLL_SECONDS))
