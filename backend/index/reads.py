"""PNCP reads that fill the index, once per cluster however many searches need them.

A read (see `plan.Read`) is claimed in Redis; whoever holds the claim asks PNCP, writes the
rows and the slices' state, and leaves its outcome under its claim's token for the others, who
wait for it instead of asking PNCP themselves. Within a process the same read is one task,
whoever asked first: a search that goes away does not cancel the read the others wait for.
Searches and the ingestion never share a read: a search waiting on the ingestion's would wait
at the ingestion's priority. Without Redis each process reads on its own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import partial
from uuid import uuid4

import anyio
import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from backend import keys
from backend.adapters import claims
from backend.codes import Clock, system_clock, today_brasilia
from backend.domain.sectors import Sector
from backend.index.plan import ABERTAS_HORIZON, OpenRead, Read
from backend.index.publications import index_rows
from backend.pncp.client import PROPOSTA_PATH, Pages, PNCPClient, caller
from backend.pncp.ordering import Limiter
from backend.pncp.pacing import Caller
from backend.store.abertas import OpenTenderStore
from backend.store.publications import NATIONAL, PublicationStore

logger = logging.getLogger(__name__)

CLAIM_SECONDS = 30.0  # renewed while the read goes on; a crashed reader's claim lapses after this
OUTCOME_SECONDS = 60.0  # how long the others can pick up the outcome
NATIONAL_MAX_PAGES = 200  # one day of one modalidade for every UF: read whole (PNCP_MAX_PAGES bounds UF reads)
OPEN_MAX_PAGES = 500  # what one modalidade has open in every UF (pregões: ~15,000 on a live weekday)
_WAIT_STEP = 0.1

@dataclass(frozen=True, slots=True)
class ReadOutcome:
    complete: bool
    started_at: float  # epoch seconds: when PNCP was first asked
    errors: list[str] = field(default_factory=list)
    truncated: bool = False
    token: str = ""  # the claim it was read under: what waiters match it by

    @property
    def started(self) -> datetime:
        return datetime.fromtimestamp(self.started_at, UTC)


class IndexReads:
    """Reads of PNCP into the index, single-flight within the process and across the cluster."""

    def __init__(self, pncp: PNCPClient, store: PublicationStore, open_tenders: OpenTenderStore,
                 sectors: Mapping[str, Sector], redis: Redis | None, clock: Clock = system_clock) -> None:
        self._pncp = pncp
        self._clock = clock
        self._store = store
        self._open = open_tenders
        self._sectors = sectors
        self._redis = redis
        self._running: dict[str, asyncio.Task[ReadOutcome]] = {}

    async def read(self, read: Read | OpenRead, who: Caller = "search",
                   limiter: Limiter | None = None) -> ReadOutcome:
        """The read's outcome, reading it here unless it is being read (in this process or
        another). `limiter` bounds the requests in flight of whoever starts it (a search's share)."""
        key = f"{who}:{read.key}"
        task = self._running.get(key)
        if task is None:
            task = asyncio.create_task(self._in_cluster(read, key, who, limiter), name=f"index-read {key}")
            self._running[key] = task
            task.add_done_callback(lambda _: self._running.pop(key, None))
        return await asyncio.shield(task)

    async def aclose(self) -> None:
        for task in list(self._running.values()):
            task.cancel()
        await asyncio.gather(*self._running.values(), return_exceptions=True)

    async def _in_cluster(self, read: Read | OpenRead, key: str, who: Caller,
                          limiter: Limiter | None) -> ReadOutcome:
        claim_key, outcome_key = keys.index_read_claim(key), keys.index_read_outcome(key)
        token = uuid4().hex
        while True:
            try:
                if self._redis is None:
                    holder = None
                else:
                    async with self._redis.pipeline(transaction=True) as pipe:
                        pipe.set(claim_key, token, nx=True, px=int(CLAIM_SECONDS * 1000))
                        pipe.get(claim_key)
                        _, held_by = await pipe.execute()
                    holder = None if held_by is None or held_by.decode() == token else held_by.decode()
            except (RedisError, OSError):
                holder = None  # nobody to agree with: read it here
            if holder is None:
                return await self._claimed(read, who, limiter, claim_key, outcome_key, token)
            outcome = await self._wait_for(holder, claim_key, outcome_key)
            if outcome is not None:
                return outcome

    async def _wait_for(self, holder: str, claim_key: str, outcome_key: str) -> ReadOutcome | None:
        """The outcome `holder` left, or None when its claim ended without one (it crashed)."""
        assert self._redis is not None
        while True:
            await asyncio.sleep(_WAIT_STEP)
            try:
                async with self._redis.pipeline(transaction=True) as pipe:
                    pipe.get(outcome_key)
                    pipe.get(claim_key)
                    raw, claim = await pipe.execute()
            except (RedisError, OSError):
                return None
            if raw is not None:
                outcome = ReadOutcome(**orjson.loads(raw))
                if outcome.token == holder:
                    return outcome
            if claim is None or claim.decode() != holder:
                return None

    async def _claimed(self, read: Read | OpenRead, who: Caller, limiter: Limiter | None, claim_key: str,
                       outcome_key: str, token: str) -> ReadOutcome:
        renewer = asyncio.create_task(self._keep_claim(claim_key, token))
        outcome: ReadOutcome | None = None
        try:
            outcome = await self._read_and_store(read, who, limiter, token)
        finally:
            renewer.cancel()
            await self._finish(read, claim_key, outcome_key, token, outcome)
        return outcome

    async def _finish(self, read: Read | OpenRead, claim_key: str, outcome_key: str, token: str,
                      outcome: ReadOutcome | None) -> None:
        """Leaves the outcome for the others, or (the read failed) just ends the claim."""
        if self._redis is None:
            return
        try:
            if outcome is not None:
                await claims.release_with(self._redis, claim_key, token, outcome_key, orjson.dumps(asdict(outcome)),
                                          int(OUTCOME_SECONDS * 1000))
            else:  # the others read it themselves
                await claims.release(self._redis, claim_key, token)
        except (RedisError, OSError):
            logger.info("index read %s: could not share its outcome (Redis unreachable)", read.key)

    async def _keep_claim(self, claim_key: str, token: str) -> None:
        if self._redis is None:
            return
        while True:
            await asyncio.sleep(CLAIM_SECONDS / 3)
            try:
                await claims.renew(self._redis, claim_key, token, int(CLAIM_SECONDS * 1000))
            except (RedisError, OSError):
                pass

    async def _read_and_store(self, read: Read | OpenRead, who: Caller, limiter: Limiter | None,
                              token: str) -> ReadOutcome:
        if isinstance(read, OpenRead):
            return await self._read_open(read, who, limiter, token)
        started = self._clock()
        started_at = started.timestamp()
        # Noted first: a day outside the window being read is not pruned under the read.
        await self._store.mark_read(read.slices, started_at=started, complete=False, records=0)
        asker = caller.set(who)
        try:
            pages = await self._pncp.fetch_all(
                read.modalidade_id, read.uf or None, read.first, read.last, limiter=limiter,
                max_pages=NATIONAL_MAX_PAGES if read.uf == NATIONAL else None)
        finally:
            caller.reset(asker)
        day = read.first if read.first == read.last else None
        rows = await anyio.to_thread.run_sync(partial(index_rows, pages.records, self._sectors, day=day))
        await self._store.write(rows)
        error = _error(pages, NATIONAL_MAX_PAGES if read.uf == NATIONAL else self._pncp.max_pages)
        if pages.complete:  # what PNCP no longer lists there is gone
            await self._store.keep_only(read.modalidade_id, read.first, read.last, read.uf,
                                        {row.codigo_pncp for row in rows})
        await self._store.mark_read(read.slices, started_at=started, complete=pages.complete, records=len(rows),
                                    error=error)
        if pages.errors:
            logger.warning("index read %s incomplete: %s", read.key, error)
        return ReadOutcome(complete=pages.complete, started_at=started_at, errors=list(pages.errors),
                           truncated=pages.truncated, token=token)

    async def _read_open(self, read: OpenRead, who: Caller, limiter: Limiter | None,
                         token: str) -> ReadOutcome:
        """`/proposta`: what is open now, closing within `ABERTAS_HORIZON`, into the index and its list."""
        started = self._clock()
        started_at = started.timestamp()
        await self._open.mark_read(read.modalidade_id, read.uf, started_at=started, complete=False, records=0)
        asker = caller.set(who)
        try:
            pages = await self._pncp.fetch_all(
                read.modalidade_id, read.uf or None, None, today_brasilia(self._clock) + ABERTAS_HORIZON,
                path=PROPOSTA_PATH, limiter=limiter, max_pages=OPEN_MAX_PAGES if read.uf == NATIONAL else None)
        finally:
            caller.reset(asker)
        today = today_brasilia(self._clock)
        rows = await anyio.to_thread.run_sync(partial(index_rows, pages.records, self._sectors, day=today))
        await self._store.write(rows)
        await self._open.list_open(read.uf, read.modalidade_id, rows, complete=pages.complete)
        error = _error(pages, OPEN_MAX_PAGES if read.uf == NATIONAL else self._pncp.max_pages)
        await self._open.mark_read(read.modalidade_id, read.uf, started_at=started, complete=pages.complete,
                                   records=len(rows), error=error)
        if error:
            logger.warning("index read %s incomplete: %s", read.key, error)
        return ReadOutcome(complete=pages.complete, started_at=started_at, errors=list(pages.errors),
                           truncated=pages.truncated, token=token)


def _error(pages: Pages, max_pages: int) -> str | None:
    """Why a read is incomplete, in words; None when it is complete."""
    if pages.errors:
        return "; ".join(pages.errors[:3])
    if pages.truncated:
        return f"mais de {max_pages} páginas"
    return None
