"""Keeps the index fresh: one ingestion per cluster, started by an ARQ cron tick.

The tick (`backend.jobs.cron.keep_index_fresh`) only makes sure an ingestion runs somewhere: it
takes a lease in Redis and starts the loop below as a task of its process, outside ARQ's job
slots, so ingestion never takes a slot users' summaries and reports need. Its PNCP requests ask
the pacer as `ingestion`, which only gives them turns searches leave free.

Each pass, in order:
1. sectors whose keywords changed get their matches recomputed from the stored rows;
2. what is open for proposals now (`/proposta`, per modalidade, every UF) and today's and
   yesterday's national slices are read again once older than INDEX_REFRESH_SECONDS;
3. older days of the window missing a complete slice are read, newest first (the backfill);
4. what PNCP changed since the last pass (`/atualizacao`: cancelled, suspended, new dates) is
   written over the stored rows;
5. days that left the window are removed (not what is still open), and what closed leaves the
   lists of what is open.
Progress lives in the database (slices, `pncp_ingestao`), so a restart, a kill -9 or a flushed
Redis resumes where it stopped; a lost lease (another process took over) stops the loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from functools import partial

import anyio
import orjson
from redis.asyncio import Redis

from backend import keys
from backend.adapters.cluster_task import ClusterTask
from backend.codes import Clock, now_brasilia, system_clock, today_brasilia
from backend.domain.matching import objeto_key, prepare
from backend.domain.sectors import Sector
from backend.index import plan
from backend.index.publications import index_rows, sector_signature
from backend.index.reads import NATIONAL_MAX_PAGES, IndexReads
from backend.index.status import index_health, window
from backend.pncp.client import ATUALIZACAO_PATH, PNCPClient, caller
from backend.pncp.ordering import OrderedLimiter
from backend.runtime import metrics
from backend.schemas import LICITACOES
from backend.store.abertas import OpenTenderStore
from backend.store.publications import LAST_PASS, NATIONAL, Judged, PublicationStore

logger = logging.getLogger(__name__)

RETRY_SECONDS = 30.0  # after a pass with incomplete reads
READS_AT_ONCE = 8  # slices read at a time (each asks its page 1 first); the pacer decides how fast pages go
OUTSIDE_WINDOW_KEEP = timedelta(hours=24)  # a day a search read outside the window stays this long
_CHANGES_FROM = "atualizacao_desde"  # state key: the first day the next /atualizacao read covers
@dataclass(slots=True)
class PassReport:
    started_at: datetime
    reads: int = 0
    failed: int = 0
    changed: int = 0
    rematched: list[str] = field(default_factory=list)
    removed: int = 0
    seconds: float = 0.0
    worker: str = ""

    def as_json(self) -> bytes:
        return orjson.dumps(asdict(self))


class Ingestion:
    def __init__(self, *, store: PublicationStore, open_tenders: OpenTenderStore, reads: IndexReads,
                 pncp: PNCPClient,
                 sectors: Mapping[str, Sector], redis: Redis, index_days: int, modalidades: tuple[int, ...],
                 refresh_seconds: float, name: str, lease_seconds: float, pages_at_once: int,
                 clock: Clock = system_clock) -> None:
        self._store = store
        self._clock = clock
        self._open = open_tenders
        self._reads = reads
        self._pncp = pncp
        self._sectors = sectors

        self._days = index_days
        self._modalidades = modalidades
        self._refresh = timedelta(seconds=refresh_seconds)
        self._name = name
        self._pages_at_once = OrderedLimiter(pages_at_once)  # the ingestion's PNCP requests in flight
        # Started by the cron tick `keep_index_fresh` in one process of the cluster at a time.
        self.task = ClusterTask(redis=redis, key=keys.INDEX_INGESTION_LEASE, name=name, lease_seconds=lease_seconds,
                                work=self._passes, what="index ingestion")

    async def _passes(self) -> None:
        while True:
            try:
                report = await self.run_pass()
            except Exception:  # the database or PNCP failing: said, and tried again later
                logger.exception("index ingestion pass failed; trying again in %.0f s", RETRY_SECONDS)
                await asyncio.sleep(RETRY_SECONDS)
                continue
            await self._wait_for_next(retrying=report.failed > 0)

    async def _wait_for_next(self, *, retrying: bool) -> None:
        """Until the next refresh of today's slices is due; sooner after a read that failed, never
        at once (PNCP failing is no reason to ask it faster)."""
        await asyncio.sleep(min(RETRY_SECONDS, self._refresh.total_seconds()) if retrying
                            else self._refresh.total_seconds())

    # --- one pass ------------------------------------------------------------------------------

    async def run_pass(self) -> PassReport:
        started = time.perf_counter()
        report = PassReport(started_at=self._clock(), worker=self._name)
        report.rematched = await self._rematch_sectors()
        reads = await self._due_reads()
        report.reads = len(reads)
        limiter = anyio.Semaphore(READS_AT_ONCE)

        async def read(one: plan.Read | plan.OpenRead) -> None:
            async with limiter:
                outcome = await self._reads.read(one, "ingestion", self._pages_at_once)
            if not outcome.complete:
                report.failed += 1

        async with anyio.create_task_group() as tg:
            for one in reads:
                tg.start_soon(read, one)
        report.changed = await self._apply_changes()
        first, _ = window(self._days, today_brasilia(self._clock))
        now = now_brasilia(self._clock)
        report.removed = await self._store.prune(before=first, read_before=self._clock() - OUTSIDE_WINDOW_KEEP,
                                                 now=now)
        await self._open.prune(now)
        report.seconds = round(time.perf_counter() - started, 3)
        await self._store.set_state(LAST_PASS, report.as_json().decode())
        await self._update_gauges()
        if report.reads or report.changed or report.removed or report.rematched:
            logger.info("index pass: %d slices read (%d incomplete), %d changes, %d removed, sectors %s, %.1f s",
                        report.reads, report.failed, report.changed, report.removed,
                        ",".join(report.rematched) or "-", report.seconds)
        return report

    async def _due_reads(self) -> list[plan.Read | plan.OpenRead]:
        """What is open now, then newest day first: national lists and slices never read
        completely, or read while still changing (what is open, today's, yesterday's) and older
        than INDEX_REFRESH_SECONDS."""
        first, today = window(self._days, today_brasilia(self._clock))
        now = self._clock()
        lists = {s.modalidade_id: s for s in await self._open.read_states(self._modalidades) if s.uf == NATIONAL}
        due: list[plan.Read | plan.OpenRead] = [
            plan.OpenRead(modalidade, NATIONAL) for modalidade in self._modalidades
            if (state := lists.get(modalidade)) is None
            or not plan.open_fresh(state, now=now, fresh_for=self._refresh)]
        states = {(s.slice.modalidade_id, s.slice.dia): s
                  for s in await self._store.slice_states(self._modalidades, first, today) if s.slice.uf == NATIONAL}
        for day in reversed(plan.days_of(first, today)):
            for modalidade in self._modalidades:
                state = states.get((modalidade, day))
                if state is not None and plan.usable(state, now=now, fresh_for=self._refresh):
                    continue
                due.append(plan.Read(modalidade, NATIONAL, day, day))
        return due

    async def _rematch_sectors(self) -> list[str]:
        stored = await self._store.sector_signatures()
        changed = []
        for sector in self._sectors.values():
            signature = sector_signature(sector)
            if stored.get(sector.id) == signature:
                continue
            made = await self._store.rematch_sector(sector.id, signature, partial(_judged_off_loop, sector))
            if made:
                logger.info("sector %s: keywords changed, %d publications matched again", sector.id, made)
            changed.append(sector.id)
        return changed

    async def _apply_changes(self) -> int:
        """Writes over the stored rows what PNCP changed since the last pass (`/atualizacao`),
        one day at a time (a day's changes fit its pages; a long gap does not), moving on from a
        day only once every modalidade of it was read completely."""
        first, today = window(self._days, today_brasilia(self._clock))
        since_text = await self._store.get_state(_CHANGES_FROM)
        if since_text is None:  # a new index: the backfill reads today's state of everything
            await self._store.set_state(_CHANGES_FROM, today.isoformat())
            return 0
        changed = 0
        asker = caller.set("ingestion")
        try:
            for day in plan.days_of(max(date.fromisoformat(since_text), first), today):
                complete = True
                for modalidade in self._modalidades:
                    pages = await self._pncp.fetch_all(modalidade, None, day, day, path=ATUALIZACAO_PATH,
                                                       max_pages=NATIONAL_MAX_PAGES)
                    complete = complete and pages.complete
                    rows = await anyio.to_thread.run_sync(partial(index_rows, pages.records, self._sectors))
                    changed += await self._store.write([row for row in rows if row.dia >= first])
                if not complete:
                    break  # this day again next pass
                await self._store.set_state(_CHANGES_FROM, day.isoformat())
        finally:
            caller.reset(asker)
        return changed

    async def _update_gauges(self) -> None:
        health = await index_health(self._store, index_days=self._days, modalidades=self._modalidades,
                                    refresh_seconds=self._refresh.total_seconds(), clock=self._clock)
        metrics.INDEX_RECORDS.set(health.records)
        age = (self._clock() - health.refreshed_at).total_seconds() if health.refreshed_at else -1
        metrics.INDEX_TODAY_AGE.set(age)

def _judged(sector: Sector, stored: list[str]) -> list[Judged]:
    judged = []
    for licitacao in LICITACOES.validate_json("[" + ",".join(stored) + "]"):
        text = prepare(licitacao.objeto)
        reading = sector.rules.read(text)
        judged.append((reading.found, reading.doubtful, objeto_key(text)))
    return judged


async def _judged_off_loop(sector: Sector, stored: list[str]) -> list[Judged]:
    """The sector's reading of each stored publication: CPU work, in a thread."""
    return await anyio.to_thread.run_sync(_judged, sector, stored)
