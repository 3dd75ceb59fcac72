"""How far the index is: what `/v1/health`, `/ops` and the metrics say about it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from backend.codes import Clock, system_clock, today_brasilia
from backend.index.plan import days_of
from backend.store.publications import NATIONAL, PublicationStore

IndexStatus = Literal["ready", "warming", "off"]


@dataclass(frozen=True, slots=True)
class IndexHealth:
    status: IndexStatus
    days_ready: int
    records: int
    refreshed_at: datetime | None  # the oldest read of today's slices; None until all were read
    days: int  # the window: INDEX_DAYS
    slices_ready: int
    slices_total: int


def window(index_days: int, today: date) -> tuple[date, date]:
    """The first and last day the index keeps (Brasília days, `today` included)."""
    return today - timedelta(days=max(index_days, 1) - 1), today


async def index_health(store: PublicationStore, *, index_days: int, modalidades: tuple[int, ...],
                       refresh_seconds: float, clock: Clock = system_clock) -> IndexHealth:
    """`ready`: every national slice of the window read completely, today's within two refresh periods."""
    if index_days <= 0:
        return IndexHealth("off", 0, 0, None, 0, 0, 0)
    first, today = window(index_days, today_brasilia(clock))
    states = [s for s in await store.slice_states(modalidades, first, today) if s.slice.uf == NATIONAL]
    complete = {(s.slice.modalidade_id, s.slice.dia): s for s in states if s.completo and s.lido_em is not None}
    days_ready = sum(1 for day in days_of(first, today) if all((m, day) in complete for m in modalidades))
    todays = [complete.get((m, today)) for m in modalidades]
    refreshed_at = None if any(s is None for s in todays) else min(s.lido_em for s in todays if s and s.lido_em)
    fresh = refreshed_at is not None and clock() - refreshed_at <= timedelta(seconds=2 * refresh_seconds)
    ready = days_ready == index_days and fresh
    return IndexHealth("ready" if ready else "warming", days_ready, await store.records(), refreshed_at, index_days,
                       len(complete), index_days * len(modalidades))
