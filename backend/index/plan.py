"""Which PNCP reads a search needs: pure planning over the slices the index holds (and, for
an "abertas" search, over the lists of what is open for proposals: `OpenRead`).

A search asks for cells (modalidade, day, UF). A cell is covered when the index read its slice
completely, nationally (every UF at once) or for its UF, and recently enough. What is missing is
read in the cheaper of two ways, per modalidade, estimated from the volumes the index has seen:
one national read per missing day (PNCP answers every UF at once), or one read per missing UF
over each run of consecutive missing days (national only when that saves a fifth of the
requests: per UF, each UF's rows can be shown as soon as its reads end). Without volumes to go
by, per UF: a search's own cost, as before the index.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from backend.codes import BRASILIA
from backend.pncp.client import PAGE_SIZE
from backend.store.abertas import OpenReadState
from backend.store.publications import NATIONAL, Slice, SliceState


@dataclass(frozen=True, slots=True)
class Read:
    """One PNCP query to make: a modalidade over consecutive days, for one UF or every UF."""

    modalidade_id: int
    uf: str  # NATIONAL: every UF
    first: date
    last: date

    @property
    def key(self) -> str:
        """Who else needs exactly this read waits for it instead of asking PNCP again."""
        return f"{self.modalidade_id}:{self.uf or 'BR'}:{self.first.isoformat()}:{self.last.isoformat()}"

    @property
    def slices(self) -> list[Slice]:
        return [Slice(self.modalidade_id, self.first + timedelta(days=n), self.uf)
                for n in range((self.last - self.first).days + 1)]

    def covers(self, uf: str) -> bool:
        return self.uf == NATIONAL or self.uf == uf


NATIONAL_SAVING = 0.8  # national reads only when they take at most this share of per-UF reads' requests
ABERTAS_HORIZON = timedelta(days=365)  # `/proposta` lists what closes by its dataFinal: today + this


@dataclass(frozen=True, slots=True)
class OpenRead:
    """One `/proposta` query: what a modalidade has open for proposals now, for one UF or every UF."""

    modalidade_id: int
    uf: str  # NATIONAL: every UF

    @property
    def key(self) -> str:
        return f"abertas:{self.modalidade_id}:{self.uf or 'BR'}"

    def covers(self, uf: str) -> bool:
        return self.uf == NATIONAL or self.uf == uf


def open_fresh(state: OpenReadState, *, now: datetime, fresh_for: timedelta) -> bool:
    """A list of what is open answers searches while read completely within `fresh_for`: unlike
    a past day's publications, it changes by the minute (new tenders, closings, extensions)."""
    return state.completo and state.lido_em is not None and now - state.lido_em <= fresh_for


def plan_open_reads(ufs: Sequence[str], modalidades: Sequence[int], states: Iterable[OpenReadState], *,
                    now: datetime, fresh_for: timedelta) -> tuple[list[OpenRead], dict[int, list[str]],
                                                                   list[OpenReadState]]:
    """For an "abertas" search: the reads it must make (per UF, where no fresh list covers it),
    which lists answer it per modalidade (the national one when fresh, else each UF's), and the
    fresh lists used."""
    fresh = {(s.modalidade_id, s.uf): s for s in states if open_fresh(s, now=now, fresh_for=fresh_for)}
    reads: list[OpenRead] = []
    sources: dict[int, list[str]] = {}
    used: list[OpenReadState] = []
    for modalidade in modalidades:
        national = fresh.get((modalidade, NATIONAL))
        if national is not None:
            sources[modalidade] = [NATIONAL]
            used.append(national)
            continue
        sources[modalidade] = list(ufs)
        for uf in ufs:
            state = fresh.get((modalidade, uf))
            if state is None:
                reads.append(OpenRead(modalidade, uf))
            else:
                used.append(state)
    return reads, sources, used


def days_of(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def published_days(first: date, last: date, today: date) -> list[date]:
    """The days of `first`..`last` that can hold publications: up to Brasília's `today`. A later
    day has none yet, so it is covered as it is (empty) and never asked of PNCP."""
    return days_of(first, min(last, today))


def final(state: SliceState) -> bool:
    """Read completely once its day was over and PNCP done with it (two days later, Brasília):
    nothing more is published for that day, and only `/atualizacao` can change it."""
    return (state.completo and state.lido_em is not None
            and state.lido_em.astimezone(BRASILIA).date() >= state.slice.dia + timedelta(days=2))


def usable(state: SliceState, *, now: datetime, fresh_for: timedelta) -> bool:
    """A complete slice answers searches: for good once final, else while read within `fresh_for`."""
    if not state.completo or state.lido_em is None:
        return False
    return final(state) or now - state.lido_em <= fresh_for


def covered_cells(states: Iterable[SliceState], is_usable: Callable[[SliceState], bool]) -> dict[
        tuple[int, date, str], SliceState]:
    """(modalidade, day, uf-or-NATIONAL) -> the usable slice state."""
    return {(s.slice.modalidade_id, s.slice.dia, s.slice.uf): s for s in states if is_usable(s)}


def missing_cells(ufs: Sequence[str], modalidades: Sequence[int], days: Sequence[date],
                  covered: Mapping[tuple[int, date, str], SliceState]) -> dict[int, dict[date, list[str]]]:
    """Per modalidade and day, the UFs no usable slice covers."""
    missing: dict[int, dict[date, list[str]]] = {}
    for modalidade in modalidades:
        for day in days:
            if (modalidade, day, NATIONAL) in covered:
                continue
            ufs_missing = [uf for uf in ufs if (modalidade, day, uf) not in covered]
            if ufs_missing:
                missing.setdefault(modalidade, {})[day] = ufs_missing
    return missing


def plan_reads(missing: Mapping[int, Mapping[date, Sequence[str]]],
               daily_volume: Mapping[tuple[str, int], float], *, national_max_pages: int) -> list[Read]:
    """The reads that fill `missing`, the cheaper way per modalidade (see the module's docstring).

    `daily_volume[(uf, modalidade)]`: publications a day seen by the index (empty: unknown); a
    national day expected beyond `national_max_pages` pages is read per UF. National reads must
    save a fifth of the requests (`NATIONAL_SAVING`): with per-UF reads each UF's rows go out as
    soon as its own reads end, while a national read makes every UF wait for every day."""
    reads: list[Read] = []
    for modalidade, by_day in missing.items():
        national = [Read(modalidade, NATIONAL, day, day) for day in sorted(by_day)]
        per_uf = _per_uf_reads(modalidade, by_day)
        if (_cost(national, daily_volume, national_max_pages)
                <= NATIONAL_SAVING * _cost(per_uf, daily_volume, national_max_pages)):
            reads.extend(national)
        else:
            reads.extend(per_uf)
    return reads


def _per_uf_reads(modalidade: int, by_day: Mapping[date, Sequence[str]]) -> list[Read]:
    days_by_uf: dict[str, list[date]] = {}
    for day, ufs in by_day.items():
        for uf in ufs:
            days_by_uf.setdefault(uf, []).append(day)
    reads = []
    for uf, days in days_by_uf.items():
        days.sort()
        start = previous = days[0]
        for day in days[1:]:
            if day != previous + timedelta(days=1):
                reads.append(Read(modalidade, uf, start, previous))
                start = day
            previous = day
        reads.append(Read(modalidade, uf, start, previous))
    return reads


def _cost(reads: Sequence[Read], daily_volume: Mapping[tuple[str, int], float], national_max_pages: int) -> float:
    """Requests the reads would take: pages of the expected records, at least one each.
    Unknown volumes make national reads look dear, so a cold index reads per UF."""
    total = 0.0
    for read in reads:
        days = (read.last - read.first).days + 1
        if read.uf == NATIONAL:
            per_day = sum(v for (_, m), v in daily_volume.items() if m == read.modalidade_id)
            if not per_day or per_day / PAGE_SIZE > national_max_pages:
                return math.inf
        else:
            per_day = daily_volume.get((read.uf, read.modalidade_id), 0.0)
        total += max(1, math.ceil(per_day * days / PAGE_SIZE))
    return total
