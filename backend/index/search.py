"""Stage 2 of a search over the index: what is covered is read from the database, what is
missing is read from PNCP once (for everyone who needs it) and written into the index first.
Each UF is handed on as soon as its slices are all read, so its matches can be shown at once.

The answer is what a live read of the same slices would give: the rows come from the same
records through the same normalisation, and the same filters run over them afterwards.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import anyio
import orjson

from backend.codes import Clock, now_brasilia, system_clock, today_brasilia
from backend.domain.filtering import Known
from backend.domain.sectors import Sector
from backend.index import plan
from backend.index.publications import sector_signature
from backend.index.reads import NATIONAL_MAX_PAGES, IndexReads, ReadOutcome
from backend.pncp.ordering import OrderedLimiter
from backend.schemas import LICITACOES, Fonte, Licitacao
from backend.store.abertas import OpenTenderStore
from backend.store.publications import NATIONAL, Candidate, PublicationStore, SliceState

VOLUMES_FOR = timedelta(minutes=10)  # how long the volumes that plan reads are reused


@dataclass(slots=True)
class UFsRead:
    """Some of a search's UFs, all their slices read: their publications, and the sector's
    candidates among them (the filters still to run), handed on at once (`partial_results`)."""

    counts: dict[str, int]  # uf -> its publications (what a live read would have given)
    candidates: list[Licitacao]
    known: list[Known] | None  # why each candidate is in the sector; None: to find in the text
    errors: dict[str, list[str]]  # uf -> why some of its slices are missing
    ahead: bool = True  # the search reads PNCP, so the answer comes later: worth showing these first


OnUFsRead = Callable[[UFsRead], Awaitable[None]]


@dataclass(slots=True)
class Gathered:
    """What stage 2 found, once every UF was handed on: totals, where it came from, what failed."""

    total_raw: int
    fonte: Fonte
    atualizado_em: datetime | None
    errors: dict[str, list[str]] = field(default_factory=dict)  # uf -> why some of its slices are missing
    partial: dict[str, bool] = field(default_factory=dict)  # uf with errors -> whether it has rows at all
    truncated: dict[str, list[int]] = field(default_factory=dict)  # uf -> modalidades with pages unread


@dataclass(frozen=True, slots=True)
class _Scope:
    """What rows a search reads, once its reads are done: a period's publications, or what is open now."""

    counts_by_uf: Callable[[Sequence[str]], Awaitable[dict[str, int]]]
    candidates: Callable[[str | None, Sequence[str]], Awaitable[list[tuple[str, str | None]]]]


AnyRead = plan.Read | plan.OpenRead


class IndexedSearch:
    def __init__(self, store: PublicationStore, open_tenders: OpenTenderStore, reads: IndexReads, *,
                 refresh_seconds: float, index_days: int, concurrency: int, clock: Clock = system_clock) -> None:
        self._store = store
        self._clock = clock
        self._open = open_tenders
        self._reads = reads
        self._concurrency = concurrency  # PNCP requests in flight for one search, all its reads together
        self._fresh_for = timedelta(seconds=2 * refresh_seconds)
        self._index_days = index_days
        self._volumes: tuple[float, dict[tuple[str, int], float]] | None = None

    async def gather(self, ufs: Sequence[str], modalidades: Sequence[int], first: date, last: date,
                     sector: Sector, on_read: OnUFsRead) -> Gathered:
        """The publications of `first`..`last`: UFs the index covers at once, the others as
        their missing slices are read from PNCP (into the index). Days after Brasília's today
        have nothing to read."""
        now = self._clock()
        days = plan.published_days(first, last, today_brasilia(self._clock))
        states = await self._store.slice_states(modalidades, first, last)
        covered = plan.covered_cells(states, lambda s: plan.usable(s, now=now, fresh_for=self._fresh_for))
        missing = plan.missing_cells(ufs, modalidades, days, covered)
        reads = plan.plan_reads(missing, await self._daily_volumes(),
                                national_max_pages=NATIONAL_MAX_PAGES) if missing else []
        scope = _Scope(
            counts_by_uf=lambda some: self._store.counts_by_uf(some, modalidades, first, last),
            candidates=lambda setor, some: self._store.candidates(setor, some, modalidades, first, last),
        )
        return await self._collect(ufs, reads, scope, sector, on_read,
                                   used=_slices_used(covered, ufs, modalidades, days))

    async def gather_open(self, ufs: Sequence[str], modalidades: Sequence[int], sector: Sector,
                          on_read: OnUFsRead) -> Gathered:
        """Every licitação open for proposals now, from the lists `/proposta` gave: a fresh
        national one per modalidade (the ingestion keeps them), else one read per UF now."""
        states = await self._open.read_states(modalidades)
        reads, sources, used = plan.plan_open_reads(ufs, modalidades, states, now=self._clock(),
                                                    fresh_for=self._fresh_for)
        scope = _Scope(
            counts_by_uf=lambda some: self._open.counts_by_uf(some, sources, now_brasilia(self._clock)),
            candidates=lambda setor, some: self._open.candidates(setor, some, sources, now_brasilia(self._clock)),
        )
        return await self._collect(ufs, reads, scope, sector, on_read,
                                   used=[_Used(s.lido_em) for s in used])

    async def _collect(self, ufs: Sequence[str], reads: Sequence[AnyRead], scope: _Scope, sector: Sector,
                       on_read: OnUFsRead, *, used: Sequence[_Used | SliceState]) -> Gathered:
        """Runs the reads; hands on each group of UFs as its last read ends (those no read
        concerns first, at once), with its rows from the index."""
        signatures = await self._store.sector_signatures()
        current = signatures.get(sector.id) == sector_signature(sector)
        pending = {uf: sum(1 for r in reads if r.covers(uf)) for uf in ufs}
        outcomes: dict[AnyRead, ReadOutcome] = {}
        errors: dict[str, list[str]] = {}
        truncated: dict[str, list[int]] = {}
        totals: dict[str, int] = {}
        limiter = OrderedLimiter(self._concurrency)  # the first UFs' reads first: their rows go out first
        rank = {uf: n for n, uf in enumerate(ufs)}

        async def hand_on(some: list[str]) -> None:
            counts = await scope.counts_by_uf(some)
            rows = await scope.candidates(sector.id if current else None, some)
            candidates, known = await anyio.to_thread.run_sync(_licitacoes, rows)
            totals.update(counts)
            await on_read(UFsRead(counts={uf: counts.get(uf, 0) for uf in some}, candidates=candidates,
                                  known=known if current else None,
                                  errors={uf: errors[uf] for uf in some if uf in errors}, ahead=bool(reads)))

        async def one(read: AnyRead) -> None:
            place = -1 if read.uf == NATIONAL else rank[read.uf]  # every UF waits for a national read
            outcome = outcomes[read] = await self._reads.read(read, "search", limiter.ranked(place))
            finished = []
            for uf in ufs:
                if not read.covers(uf):
                    continue
                if outcome.errors:
                    errors.setdefault(uf, []).extend(
                        f"modalidade {read.modalidade_id}, {_where(read)}, {error}" for error in outcome.errors)
                if outcome.truncated and read.modalidade_id not in truncated.get(uf, []):
                    truncated.setdefault(uf, []).append(read.modalidade_id)
                pending[uf] -= 1
                if pending[uf] == 0:
                    finished.append(uf)
            if finished:
                await hand_on(finished)

        ready = [uf for uf in ufs if pending[uf] == 0]
        if ready:
            await hand_on(ready)
        async with anyio.create_task_group() as tg:
            for read in reads:
                tg.start_soon(one, read)
        return Gathered(total_raw=sum(totals.values()), fonte=_fonte(covered_any=bool(used), read_any=bool(reads)),
                        atualizado_em=_oldest(used, list(outcomes.values())), errors=errors,
                        partial={uf: totals.get(uf, 0) > 0 for uf in errors}, truncated=truncated)

    async def _daily_volumes(self) -> dict[tuple[str, int], float]:
        """Publications a day per (uf, modalidade) over the index's window, reused for a while."""
        if self._volumes is not None and time.monotonic() - self._volumes[0] < VOLUMES_FOR.total_seconds():
            return self._volumes[1]
        days = max(self._index_days, 1)
        today = today_brasilia(self._clock)
        counts = await self._store.volumes(today - timedelta(days=days - 1), today)
        volumes = {key: count / days for key, count in counts.items()}
        self._volumes = (time.monotonic(), volumes)
        return volumes


@dataclass(frozen=True, slots=True)
class _Used:
    """A list of what is open that answered a search: when it was read."""

    lido_em: datetime | None


def _licitacoes(rows: list[Candidate]) -> tuple[list[Licitacao], list[Known]]:
    if not rows:
        return [], []
    licitacoes = LICITACOES.validate_json("[" + ",".join(row.licitacao_json for row in rows) + "]")
    return licitacoes, [Known(orjson.loads(row.palavras) if row.palavras else [], row.classificacao or "palavras")
                        for row in rows]


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


def _oldest(used: Sequence[_Used | SliceState], outcomes: Sequence[ReadOutcome]) -> datetime | None:
    """When the oldest data the search read was fetched from PNCP."""
    moments = [s.lido_em for s in used if s.lido_em is not None] + [o.started for o in outcomes]
    return min(moments) if moments else None


def _where(read: AnyRead) -> str:
    if isinstance(read, plan.OpenRead):
        return "abertas agora"
    if read.first == read.last:
        return f"dia {read.first.strftime('%d/%m/%Y')}"
    return f"{read.first.strftime('%d/%m')} a {read.last.strftime('%d/%m/%Y')}"

