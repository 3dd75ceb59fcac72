"""The AI arbiter: an LLM reads the objetos the sectors' rules leave in doubt (a generic word
alone, a term's words too far apart) and puts them in the sectors whose suppliers would want them.

It runs in one process of the cluster at a time, started by an ARQ cron tick
(`backend.jobs.cron.keep_arbiter_running`) as a task outside ARQ's job slots, and asks only while
no user's summary or report is queued or running: users' jobs always go first, and no search ever
waits for it (searches read the index as it stands). Verdicts are kept by normalised objeto in the
database: asked once, they serve every publication of that text, across restarts and processes.
Its tokens stop at `LLM_CLASSIFY_DAILY_TOKENS` a Brasília day, for the whole cluster. A failure or
a timeout leaves the rules' answer; the objetos are asked again later.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import openai
from redis.asyncio import Redis

from backend import keys
from backend.adapters.classifier import ClassifyError, SectorBrief, classify, estimated_tokens
from backend.adapters.cluster_task import ClusterTask
from backend.codes import Clock, now_brasilia, system_clock, today_brasilia
from backend.domain.sectors import Sector
from backend.runtime import metrics
from backend.store.verdicts import VerdictStore

logger = logging.getLogger(__name__)

BATCH = 20  # objetos per request: the sectors' descriptions are most of a request, paid once per batch
IDLE_SECONDS = 5.0  # nothing in doubt: look again after this (one cheap query)
USERS_FIRST_SECONDS = 1.0  # a user's job is queued or running: look again after this
FAILED_SECONDS = (30.0, 600.0)  # after a failed request: the first wait, and the longest
LEFT_OUT_FOR = 3600.0  # an objeto the model left out of its answer is not asked again for this long


class Outcome(enum.Enum):
    DECIDED = "decided"
    IDLE = "idle"  # nothing in doubt without a verdict
    USERS_FIRST = "users_first"
    BUDGET = "budget"  # today's tokens are spent
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Budget:
    day: str
    spent: int
    left: int
    calls: int


class Arbiter:
    def __init__(self, *, verdicts: VerdictStore, sectors: Mapping[str, Sector], boundaries: Sequence[str],
                 client: openai.AsyncOpenAI, model: str, timeout: float, daily_tokens: int,
                 users_first: Callable[[], Awaitable[bool]], redis: Redis, name: str, lease_seconds: float,
                 clock: Clock = system_clock, batch: int = BATCH) -> None:
        self._verdicts = verdicts
        self._sectors = [SectorBrief(s.id, s.nome, " ".join(s.descricao.split())) for s in sectors.values()]
        self._boundaries = tuple(boundaries)
        self._client = client
        self._model = model
        self._timeout = timeout
        self._daily_tokens = daily_tokens
        self._users_first = users_first
        self._clock = clock
        self._batch = batch
        self._left_out: dict[str, float] = {}  # objeto key -> when it may be asked again (monotonic)
        self._failures = 0
        # Started by the cron tick `keep_arbiter_running` in one process of the cluster at a time.
        self.task = ClusterTask(redis=redis, key=keys.ARBITER_LEASE, name=name, lease_seconds=lease_seconds,
                                work=self._work, what="AI arbiter")

    @property
    def daily_tokens(self) -> int:
        return self._daily_tokens

    async def budget(self) -> Budget:
        """Today's tokens (Brasília), for the whole cluster; also what `/metrics` says of them."""
        day = today_brasilia(self._clock)
        spent = await self._verdicts.spent(day)
        budget = Budget(day.isoformat(), spent.tokens, max(self._daily_tokens - spent.tokens, 0), spent.calls)
        metrics.ARBITER_TOKENS.labels("spent").set(budget.spent)
        metrics.ARBITER_TOKENS.labels("left").set(budget.left)
        return budget

    async def run_once(self) -> Outcome:
        """One batch, if users' jobs leave the way free and today's budget allows it."""
        if await self._users_first():
            return Outcome.USERS_FIRST
        budget = await self.budget()
        now = time.monotonic()
        self._left_out = {chave: until for chave, until in self._left_out.items() if until > now}
        doubts = await self._verdicts.pending(self._batch, skip=self._left_out.keys())
        if not doubts:
            return Outcome.IDLE
        objetos = [doubt.objeto for doubt in doubts]
        while objetos and estimated_tokens(objetos, self._sectors, self._boundaries) > budget.left:
            objetos.pop()  # a smaller batch may still fit today
        if not objetos:
            return Outcome.BUDGET
        doubts = doubts[:len(objetos)]
        try:
            verdicts = await classify(objetos, self._sectors, self._boundaries, client=self._client,
                                      model=self._model, timeout=self._timeout)
        except ClassifyError as exc:
            metrics.ARBITER_OBJETOS.labels("failed").inc(len(objetos))
            logger.warning("AI arbiter: %d objetos left to the rules for now: %s", len(objetos), exc)
            return Outcome.FAILED
        decided = {doubt.chave: setores for doubt, setores in zip(doubts, verdicts.setores, strict=True)
                   if setores is not None}
        for doubt, setores in zip(doubts, verdicts.setores, strict=True):
            if setores is None:
                self._left_out[doubt.chave] = now + LEFT_OUT_FOR
        placed = await self._verdicts.save(decided, model=verdicts.model, tokens=verdicts.tokens)
        metrics.ARBITER_OBJETOS.labels("in_sector").inc(sum(1 for s in decided.values() if s))
        metrics.ARBITER_OBJETOS.labels("no_sector").inc(sum(1 for s in decided.values() if not s))
        metrics.ARBITER_OBJETOS.labels("left_out").inc(len(doubts) - len(decided))
        logger.info("AI arbiter: %d objetos decided (%d publications put in a sector), %d tokens",
                    len(decided), placed, verdicts.tokens)
        await self.budget()
        return Outcome.DECIDED

    async def _work(self) -> None:
        while True:
            try:
                outcome = await self.run_once()
            except Exception:  # the database failing: said, and tried again later
                logger.exception("AI arbiter failed; trying again in %.0f s", IDLE_SECONDS)
                outcome = Outcome.FAILED
            await asyncio.sleep(self._pause(outcome))

    def _pause(self, outcome: Outcome) -> float:
        self._failures = self._failures + 1 if outcome is Outcome.FAILED else 0
        if outcome is Outcome.DECIDED:
            return 0.0
        if outcome is Outcome.USERS_FIRST:
            return USERS_FIRST_SECONDS
        if outcome is Outcome.FAILED:
            first, longest = FAILED_SECONDS
            return min(first * 2 ** (self._failures - 1), longest)
        if outcome is Outcome.BUDGET:
            return _seconds_to_tomorrow(now_brasilia(self._clock))
        return IDLE_SECONDS


def _seconds_to_tomorrow(now: datetime) -> float:
    tomorrow = (now + timedelta(days=1)).replace(hour=0, minute=0, second=1, microsecond=0)
    return max((tomorrow - now).total_seconds(), 1.0)
