"""Stage 2 of a search over the index: what is covered is read from the database, what is
missing is read from PNCP once (for everyone who needs it) and written into the index first.

The answer is what a live read of the same slices would give: the rows come from the same
records through the same normalisation, and the same filters run over them afterwards.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import anyio
import orjson

from backend.codes import now_brasilia
from backend.domain.sectors import Sector
from backend.index import plan
from backend.index.publications import sector_signature
from backend.index.reads import NATIONAL_MAX_PAGES, IndexReads, ReadOutcome
from backend.schemas import LICITACOES, Fonte, Licitacao
from backend.store.publications import NATIONAL, PublicationStore, SliceState

UFRead = Callable[[str, int], Awaitable[None]]  # (uf, records) once a UF's slices are all read

VOLUMES_FOR = timedelta(minutes=10)  # how long the volumes that plan reads are reused


@dataclass(slots=True)
class Gathered:
    """What stage 2 found: the sector's candidates (filters still to run) and where they came from."""

    candidates: list[Licitacao]
    keywords: list[list[str]] | None  # the sector's keywords in each candidate; None: to find in the text
    total_raw: int
    fonte: Fonte
    atualizado_em: datetime | None
    errors: dict[str, list[str]] = field(default_factory=dict)  # uf -> why some of its slices are missing
    partial: dict[str, bool] = field(default_factory=dict)  # uf with errors -> whether it has rows at all
    truncated: dict[str, list[int]] = field(default_factory=dict)  # uf -> modalidades with pages unread


class IndexedSearch:
    def __init__(self, store: PublicationStore, reads: IndexReads, *, refresh_seconds: float,
                 index_days: int, concurrency: int) -> None:
        self._store = store
        self._reads = reads
        self._concurrency = concurrency  # PNCP requests in flight for one search, all its reads together
        self._fresh_for = timedelta(seconds=2 * refresh_seconds)
        self._index_days = index_days
        self._volumes: tuple[float, dict[tuple[str, int], float]] | None = None

    async def gather(self, ufs: Sequence[str], modalidades: Sequence[int], first: date, last: date,
                     sector: Sector, on_uf_read: UFRead | None = None) -> Gathered:
        days = plan.days_of(first, last)
        now = datetime.now(UTC)
        states = await self._store.slice_states(modalidades, first, last)
        covered = plan.covered_cells(states, lambda s: plan.usable(s, now=now, fresh_for=self._fresh_for))
        missing = plan.missing_cells(ufs, modalidades, days, covered)
        reads = plan.plan_reads(missing, await self._daily_volumes(),
                                national_max_pages=NATIONAL_MAX_PAGES) if missing else []

        stored = await self._store.counts_by_uf(ufs, modalidades, first, last)
        outcomes = await self._run_reads(ufs, reads, stored, on_uf_read, lambda uf: self._store.count(
            [uf], modalidades, first, last))
        if reads:
            stored = await self._store.counts_by_uf(ufs, modalidades, first, last)
        candidates, keywords = await self._candidates(sector, ufs, modalidades, first, last)

        used = _slices_used(covered, ufs, modalidades, days)
        gathered = Gathered(candidates=candidates, keywords=keywords, total_raw=sum(stored.values()),
                            fonte=_fonte(covered_any=bool(used), read_any=bool(reads)),
                            atualizado_em=_oldest(used, list(outcomes.values())))
        for read, outcome in outcomes.items():
            for uf in ufs:
                if not read.covers(uf):
                    continue
                if outcome.errors:
                    where = _period(read)
                    gathered.errors.setdefault(uf, []).extend(
                        f"modalidade {read.modalidade_id}, {where}, {error}" for error in outcome.errors)
                if outcome.truncated and read.modalidade_id not in gathered.truncated.get(uf, []):
                    gathered.truncated.setdefault(uf, []).append(read.modalidade_id)
        gathered.partial = {uf: stored.get(uf, 0) > 0 for uf in gathered.errors}
        return gathered

    async def _run_reads(self, ufs: Sequence[str], reads: Sequence[plan.Read], stored: dict[str, int],
                         on_uf_read: UFRead | None,
                         count: Callable[[str], Awaitable[int]]) -> dict[plan.Read, ReadOutcome]:
        """Runs the reads, telling `on_uf_read` (uf, its publications) as each UF is all read."""
        pending = {uf: sum(1 for r in reads if r.covers(uf)) for uf in ufs}
        outcomes: dict[plan.Read, ReadOutcome] = {}
        limiter = anyio.Semaphore(self._concurrency)

        async def one(read: plan.Read) -> None:
            outcomes[read] = await self._reads.read(read, "search", limiter)
            for uf in ufs:
                if read.covers(uf):
                    pending[uf] -= 1
                    if pending[uf] == 0 and on_uf_read is not None:
                        await on_uf_read(uf, await count(uf))

        if on_uf_read is not None:
            for uf in ufs:  # covered already: read at once
                if pending[uf] == 0:
                    await on_uf_read(uf, stored.get(uf, 0))
        async with anyio.create_task_group() as tg:
            for read in reads:
                tg.start_soon(one, read)
        return outcomes

    async def _candidates(self, sector: Sector, ufs: Sequence[str], modalidades: Sequence[int], first: date,
                          last: date) -> tuple[list[Licitacao], list[list[str]] | None]:
        """The sector's candidates through its precomputed matches; every row of the period while
        those are being recomputed (its keywords changed)."""
        signatures = await self._store.sector_signatures()
        current = signatures.get(sector.id) == sector_signature(sector)
        rows = await self._store.candidates(sector.id if current else None, ufs, modalidades, first, last)
        candidates, keywords = await anyio.to_thread.run_sync(_licitacoes, rows)
        return candidates, keywords if current else None

    async def _daily_volumes(self) -> dict[tuple[str, int], float]:
        """Publications a day per (uf, modalidade) over the index's window, reused for a while."""
        if self._volumes is not None and time.monotonic() - self._volumes[0] < VOLUMES_FOR.total_seconds():
            return self._volumes[1]
        days = max(self._index_days, 1)
        today = now_brasilia().date()
        counts = await self._store.volumes(today - timedelta(days=days - 1), today)
        volumes = {key: count / days for key, count in counts.items()}
        self._volumes = (time.monotonic(), volumes)
        return volumes


def _licitacoes(rows: list[tuple[str, str | None]]) -> tuple[list[Licitacao], list[list[str]]]:
    if not rows:
        return [], []
    licitacoes = LICITACOES.validate_json("[" + ",".join(row[0] for row in rows) + "]")
    return licitacoes, [orjson.loads(row[1]) if row[1] else [] for row in rows]


def _fonte(*, covered_any: bool, read_any: bool) -> Fonte:
    if not read_any:
        return "indice"
    return "misto" if covered_any else "pncp"


def _slices_used(covered: dict[tuple[int, date, str], SliceState], ufs: Sequence[str],
                 modalidades: Sequence[int], days: Sequence[date]) -> list[SliceState]:
    """The slice each covered cell was read from: the national one where there is one."""
    used: list[SliceState] = []
    for modalidade in modalidades:
        for day in days:
            national = covered.get((modalidade, day, NATIONAL))
            if national is not None:
                used.append(national)
            else:
                used.extend(s for uf in ufs if (s := covered.get((modalidade, day, uf))) is not None)
    return used


def _oldest(used: Sequence[SliceState], outcomes: Sequence[ReadOutcome]) -> datetime | None:
    """When the oldest data the search read was fetched from PNCP."""
    moments = [s.lido_em for s in used if s.lido_em is not None] + [o.started for o in outcomes]
    return min(moments) if moments else None


def _period(read: plan.Read) -> str:
    if read.first == read.last:
        return f"dia {read.first.strftime('%d/%m/%Y')}"
    return f"{read.first.strftime('%d/%m')} a {read.last.strftime('%d/%m/%Y')}"

