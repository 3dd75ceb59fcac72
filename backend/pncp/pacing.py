"""One PNCP budget for the whole cluster: every process asks its pacer before each request.

PNCP throttles by client address, so every process and every user of a deployment draw on one
budget. Each process builds one pacer, and the pacers of all processes keep one schedule in Redis:

    pacer = PNCPPacer.create(4.0, redis)          # once per process
    waited = await pacer.wait_turn("search")       # before every PNCP request
    await pacer.rate_limited(retry_after)          # after a 429: the whole cluster pauses, then slows down

The schedule is GCRA: one "theoretical arrival time" in a Redis hash, moved on by a Lua script
that reads the time from Redis (`TIME`), so the clocks of the processes do not matter. A search
reserves the next free slot, possibly in the future, and sleeps until it; an ingestion takes a
slot only when one is free now and no search asked in the last second, so it uses only what
searches leave idle. A 429 pauses every process (0.5 s, or its Retry-After); when 429s become more
than the odd one PNCP answers at any pace (over a fifth of the recent turns), the rate also halves
for a minute, and the pauses double.

While Redis cannot be reached, the same schedule runs in the process's memory: each process then
paces itself at the full rate, which is looser, never unpaced.

A turn that slept long asks once more before it goes, so that a pause begun meanwhile holds it
too. `wait_turn` holds no lock and no counter: cancelled at any point, it leaves nothing to undo
(a slot it had reserved goes to this process's next search turn, if that slot is still ahead).
Needs Redis 5 or later (a script that reads `TIME` and then writes).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Literal

import anyio
from redis.asyncio import Redis
from redis.exceptions import RedisError

from backend import keys

logger = logging.getLogger(__name__)

Caller = Literal["search", "ingestion"]
Clock = Callable[[], float]
_Question = Literal["search", "ingestion", "confirm", "429", "peek"]

SEARCH_PRECEDENCE_SECONDS = 1.0  # ingestion holds back this long after any search asked for a turn
FIRST_PAUSE_SECONDS = 0.5  # the pause after a 429 without Retry-After, doubled per strike of an overload
MAX_PAUSE_SECONDS = 30.0  # the longest pause, Retry-After included
SLOWED_SECONDS = 60.0  # how long the rate stays lowered after an overload
# PNCP answers about one request in twenty with 429 at any pace, even one a second (its telemetry):
# such a 429 pauses the cluster briefly. Only when 429s exceed this share of the turns given over
# the last MEMORY_SECONDS (and there are at least two) is the cluster asking too fast: then the rate halves.
OVERLOAD_SHARE = 0.2
MEMORY_SECONDS = 10.0
MAX_HALVINGS = 3  # the rate never falls below 1/8 of the configured one
REDIS_RETRY_SECONDS = 5.0  # after a Redis failure, pace in memory this long before trying Redis again
# A turn that slept this long asks once more before going: a 429 may have paused the cluster meanwhile.
# Shorter sleeps go straight on, like requests already in flight when a 429 comes.
CONFIRM_AFTER_SECONDS = 0.25
_MIN_POLL_SECONDS = 0.005  # a refused ingestion never asks again sooner than this

# KEYS[1]: the schedule (a hash); KEYS[2]: lives while searches are asking (an expiring string).
# ARGV: the question, Retry-After or "", the asking turn's epoch or "", then the pacer's constants.
# The reply's numbers are strings: Redis would truncate Lua numbers to integers.
_SCRIPT = """
local question, retry_after, turn_epoch = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local interval, burst, precedence = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local first_pause, max_pause = tonumber(ARGV[7]), tonumber(ARGV[8])
local slowed_for, max_halvings = tonumber(ARGV[9]), tonumber(ARGV[10])
local memory, overload_share = tonumber(ARGV[11]), tonumber(ARGV[12])

local time = redis.call('TIME')
local now = tonumber(time[1]) + tonumber(time[2]) / 1000000
local saved = redis.call('HMGET', KEYS[1], 'tat', 'paused_until', 'slowed_until', 'halvings', 'strikes', 'epoch',
                         'seen', 'limited', 'decayed_at')
local tat = tonumber(saved[1]) or 0
local paused_until = tonumber(saved[2]) or 0
local slowed_until = tonumber(saved[3]) or 0
local halvings = tonumber(saved[4]) or 0
local strikes = tonumber(saved[5]) or 0
local epoch = tonumber(saved[6]) or 0
-- Turns given and 429s received lately, fading with a time constant of `memory` seconds.
local fade = math.exp(-math.max(now - (tonumber(saved[9]) or now), 0) / memory)
local seen = (tonumber(saved[7]) or 0) * fade
local limited = (tonumber(saved[8]) or 0) * fade
if now >= slowed_until then
  halvings, strikes = 0, 0
end
local step = interval * 2 ^ halvings
local free_at = math.max(now, paused_until, tat - (burst - 1) * step)

local function save()
  local f = '%.6f'
  redis.call('HSET', KEYS[1], 'tat', string.format(f, tat), 'paused_until', string.format(f, paused_until),
             'slowed_until', string.format(f, slowed_until), 'halvings', halvings, 'strikes', strikes, 'epoch', epoch,
             'seen', string.format(f, seen), 'limited', string.format(f, limited), 'decayed_at', string.format(f, now))
  local last = math.max(tat, paused_until, slowed_until)
  redis.call('PEXPIRE', KEYS[1], math.ceil((last - now + slowed_for) * 1000))
end

local function answer(granted, wait)
  local f = '%.6f'
  return {granted, string.format(f, wait), epoch, halvings, string.format(f, math.max(paused_until - now, 0)),
          string.format(f, math.max(slowed_until - now, 0))}
end

local function reserve()
  local wait = free_at - now
  tat = math.max(tat, free_at) + step
  seen = seen + 1
  save()
  return answer(1, wait)
end

if question == 'confirm' then
  if turn_epoch == epoch then
    return answer(1, 0)
  end
  question = 'search'  -- paused since this turn was granted: it queues again
end
if question == 'search' then
  redis.call('SET', KEYS[2], '1', 'PX', math.ceil(precedence * 1000))
  return reserve()
end
if question == 'ingestion' then
  local search_asked = redis.call('PTTL', KEYS[2]) / 1000  -- negative when no search asked lately
  if free_at > now or search_asked > 0 then
    return answer(0, math.max(free_at - now, search_asked))
  end
  return reserve()
end
if question == '429' then
  if now < paused_until or (turn_epoch and turn_epoch < epoch) then
    -- The answer to a request sent before the latest pause: the same 429, maybe a longer Retry-After.
    if retry_after and now + retry_after > paused_until then
      paused_until = now + retry_after
      epoch = epoch + 1
      tat = math.max(tat, paused_until)
    end
  else
    limited = limited + 1
    if limited > 1.5 and limited > overload_share * seen then  -- two or more lately, fading
      -- 429s are no longer the odd one PNCP gives at any pace: the cluster asks too fast.
      strikes = strikes + 1
      halvings = math.min(halvings + 1, max_halvings)
      slowed_until = now + slowed_for
    end
    paused_until = now + (retry_after or math.min(first_pause * 2 ^ strikes, max_pause))
    epoch = epoch + 1
    tat = paused_until  -- turns granted before and still asleep queue again (see 'confirm')
  end
  save()
end
return answer(0, 0)
"""


@dataclass(frozen=True, slots=True)
class PacerState:
    """The pacer as /ops and /metrics show it."""

    shared: bool  # True: the cluster's schedule in Redis; False: this process paces itself
    requests_per_second: float  # the rate in force now: the configured one, or lower after 429s
    paused_until: float | None  # Unix time before which no turn is given; None: not paused
    slowed_until: float | None  # Unix time when the configured rate comes back; None: at that rate


@dataclass(frozen=True, slots=True)
class _Answer:
    """What a schedule answers to one question."""

    shared: bool  # from Redis (the cluster's schedule) or from memory (this process's)
    granted: bool  # False only for an ingestion turn that must ask again later
    wait: float  # granted: seconds until the turn; refused: seconds before asking again
    epoch: int  # pauses so far: a turn granted before the latest one must confirm before it goes
    halvings: int  # the rate in force is the configured one / 2**halvings
    paused_for: float  # seconds until turns are given again (0: not paused)
    slowed_for: float  # seconds until the configured rate comes back (0: at that rate)


@dataclass(frozen=True, slots=True)
class Windows:
    """How long searches keep ingestion back, and how a 429 pauses and slows the cluster."""

    search_precedence: float = SEARCH_PRECEDENCE_SECONDS
    first_pause: float = FIRST_PAUSE_SECONDS
    max_pause: float = MAX_PAUSE_SECONDS
    slowed: float = SLOWED_SECONDS
    max_halvings: int = MAX_HALVINGS
    memory: float = MEMORY_SECONDS
    overload_share: float = OVERLOAD_SHARE


class _SharedSchedule:
    """The schedule of every process, in Redis: one script call per question."""

    def __init__(self, redis: Redis, interval: float, burst: int, windows: Windows) -> None:
        self._script = redis.register_script(_SCRIPT)
        self._keys = (keys.PNCP_PACE, keys.PNCP_SEARCH_ASKED)
        self._constants = (interval, burst, windows.search_precedence, windows.first_pause, windows.max_pause,
                           windows.slowed, windows.max_halvings, windows.memory, windows.overload_share)

    async def ask(self, question: _Question, *, retry_after: float | None = None,
                  epoch: int | None = None) -> _Answer:
        args = (question, _arg(retry_after), _arg(epoch), *self._constants)
        granted, wait, epoch_now, halvings, paused_for, slowed_for = await self._script(keys=self._keys, args=args)
        return _Answer(True, bool(int(granted)), float(wait), int(epoch_now), int(halvings), float(paused_for),
                       float(slowed_for))


class _LocalSchedule:
    """The same schedule in this process's memory, for when Redis cannot be reached (mirrors _SCRIPT)."""

    def __init__(self, interval: float, burst: int, clock: Clock, windows: Windows) -> None:
        self._interval = interval
        self._burst = burst
        self._clock = clock
        self._windows = windows
        self._tat = -math.inf
        self._paused_until = -math.inf
        self._slowed_until = -math.inf
        self._halvings = 0
        self._strikes = 0
        self._epoch = 0
        self._search_asked_until = -math.inf
        self._seen = self._limited = 0.0  # turns given and 429s lately, fading (see OVERLOAD_SHARE)
        self._decayed_at: float | None = None

    def ask(self, question: _Question, *, retry_after: float | None = None, epoch: int | None = None) -> _Answer:
        now = self._clock()
        if self._decayed_at is not None:
            fade = math.exp(-max(now - self._decayed_at, 0.0) / self._windows.memory)
            self._seen, self._limited = self._seen * fade, self._limited * fade
        self._decayed_at = now
        if now >= self._slowed_until:
            self._halvings = self._strikes = 0
        step = self._interval * 2**self._halvings
        free_at = max(now, self._paused_until, self._tat - (self._burst - 1) * step)

        if question == "confirm":
            if epoch == self._epoch:
                return self._answer(now, True, 0.0)
            question = "search"
        if question == "search":
            self._search_asked_until = now + self._windows.search_precedence
            return self._reserve(now, free_at, step)
        if question == "ingestion":
            search_asked = self._search_asked_until - now
            if free_at > now or search_asked > 0:
                return self._answer(now, False, max(free_at - now, search_asked))
            return self._reserve(now, free_at, step)
        if question == "429":
            self._rate_limited(now, retry_after, epoch)
        return self._answer(now, False, 0.0)

    def _reserve(self, now: float, free_at: float, step: float) -> _Answer:
        self._tat = max(self._tat, free_at) + step
        self._seen += 1
        return self._answer(now, True, free_at - now)

    def _rate_limited(self, now: float, retry_after: float | None, turn_epoch: int | None) -> None:
        if now < self._paused_until or (turn_epoch is not None and turn_epoch < self._epoch):
            if retry_after is not None and now + retry_after > self._paused_until:
                self._paused_until = now + retry_after
                self._epoch += 1
                self._tat = max(self._tat, self._paused_until)
            return
        self._limited += 1
        if self._limited > 1.5 and self._limited > self._windows.overload_share * self._seen:
            self._strikes += 1
            self._halvings = min(self._halvings + 1, self._windows.max_halvings)
            self._slowed_until = now + self._windows.slowed
        if retry_after is None:
            retry_after = min(self._windows.first_pause * 2**self._strikes, self._windows.max_pause)
        self._paused_until = now + retry_after
        self._epoch += 1
        self._tat = self._paused_until

    def _answer(self, now: float, granted: bool, wait: float) -> _Answer:
        return _Answer(False, granted, wait, self._epoch, self._halvings, max(self._paused_until - now, 0.0),
                       max(self._slowed_until - now, 0.0))


class PNCPPacer:
    """Gives PNCP requests their turns in the cluster's budget. One per process; safe to share."""

    def __init__(self, requests_per_second: float, shared: _SharedSchedule | None, local: _LocalSchedule,
                 clock: Clock, windows: Windows) -> None:
        self._requests_per_second = requests_per_second
        self._windows = windows
        self._shared = shared
        self._local = local
        self._clock = clock
        self._on_shared = shared is not None
        self._local_until = -math.inf  # while Redis is out: when to try it again
        self._given_back: list[tuple[float, _Answer]] = []  # slots of cancelled turns, by this clock
        # The epoch of the turn the current task was given, so that its 429 can tell whether
        # it comes from a request sent before the latest pause (then it is the same 429).
        self._turn_epoch: ContextVar[tuple[bool, int] | None] = ContextVar(f"pncp_turn_{id(self)}", default=None)

    @classmethod
    def create(cls, requests_per_second: float, redis: Redis | None, *, burst: int = 1,
               clock: Clock = time.monotonic, windows: Windows = Windows()) -> PNCPPacer:
        """`requests_per_second` for the whole cluster, with up to `burst` requests at once.

        Without `redis` the process paces itself alone. `clock` is the process's own time: it
        runs the schedule only while Redis is out (Redis's `TIME` runs the shared one)."""
        if not (math.isfinite(requests_per_second) and requests_per_second > 0):
            raise ValueError(f"requests_per_second must be a positive number, not {requests_per_second!r}")
        if burst < 1:
            raise ValueError(f"burst must be at least 1, not {burst!r}")
        interval = 1.0 / requests_per_second
        shared = None if redis is None else _SharedSchedule(redis, interval, burst, windows)
        return cls(requests_per_second, shared, _LocalSchedule(interval, burst, clock, windows), clock, windows)

    async def wait_turn(self, caller: Caller) -> float:
        """Waits until this process may send one more PNCP request; returns the seconds waited
        (all of it: sleeping for the slot and asking Redis).

        A search takes the next free slot of the cluster, however far; an ingestion only a slot
        free now that no search wants, asking again until there is one. Never raises for Redis."""
        if caller not in ("search", "ingestion"):
            raise ValueError(f"caller must be 'search' or 'ingestion', not {caller!r}")
        started = self._clock()
        answer = self._given_back_slot() if caller == "search" else None
        if answer is None:
            answer = await self._ask(caller)
        while True:
            delay = answer.wait if answer.granted else max(answer.wait, _MIN_POLL_SECONDS)
            if delay > 0:
                await self._sleep(delay, answer)
            if answer.granted and delay < CONFIRM_AFTER_SECONDS:
                break
            answer = await (self._confirm(answer) if answer.granted else self._ask(caller))
            if answer.granted and answer.wait <= 0:
                break
        self._turn_epoch.set((answer.shared, answer.epoch))
        return self._clock() - started

    async def rate_limited(self, retry_after: float | None) -> None:
        """PNCP answered 429: the whole cluster pauses and slows down for a while.

        The pause is `retry_after` (at most 30 s) or 2 s doubled per consecutive 429; for the
        next minute the rate is halved, again per 429, down to 1/8. 429s answering requests sent
        before the pause are the same 429: they may lengthen the pause, never count again."""
        if retry_after is not None:
            retry_after = None if math.isnan(retry_after) else min(max(retry_after, 0.0), self._windows.max_pause)
        turn = self._turn_epoch.get()
        # Kept in memory as well: if Redis goes away now, this process still honours the pause.
        local_epoch = turn[1] if turn is not None and not turn[0] else None
        self._local.ask("429", retry_after=retry_after, epoch=local_epoch)
        shared_epoch = turn[1] if turn is not None and turn[0] else None
        await self._ask_shared("429", retry_after=retry_after, epoch=shared_epoch)

    async def snapshot(self) -> PacerState:
        """The rate in force and the pause, from Redis (the cluster's) or from memory (this process's)."""
        answer = await self._ask_shared("peek")
        if answer is None:
            answer = self._local.ask("peek")
        now = time.time()
        return PacerState(
            shared=answer.shared,
            requests_per_second=self._requests_per_second / 2**answer.halvings,
            paused_until=now + answer.paused_for if answer.paused_for > 0 else None,
            slowed_until=now + answer.slowed_for if answer.slowed_for > 0 else None,
        )

    async def _ask(self, question: _Question) -> _Answer:
        answer = await self._ask_shared(question)
        return answer if answer is not None else self._local.ask(question)

    async def _confirm(self, turn: _Answer) -> _Answer:
        """Asks the schedule that gave `turn` whether it still stands (no pause since): if not, a new turn."""
        if not turn.shared:
            return self._local.ask("confirm", epoch=turn.epoch)
        answer = await self._ask_shared("confirm", epoch=turn.epoch)
        return answer if answer is not None else self._local.ask("search")

    async def _ask_shared(self, question: _Question, *, retry_after: float | None = None,
                          epoch: int | None = None) -> _Answer | None:
        """The shared schedule's answer; None when there is none or Redis is out."""
        if self._shared is None or self._clock() < self._local_until:
            return None
        if not self._on_shared:  # this call tries Redis again; the others keep to memory meanwhile
            self._local_until = self._clock() + REDIS_RETRY_SECONDS
        try:
            answer = await self._shared.ask(question, retry_after=retry_after, epoch=epoch)
        except (RedisError, OSError) as exc:
            self._local_until = self._clock() + REDIS_RETRY_SECONDS
            if self._on_shared:
                self._on_shared = False
                self._given_back.clear()
                logger.info("PNCP pacing: Redis unreachable (%s); this process paces itself at %g/s",
                            exc, self._requests_per_second)
            return None
        if not self._on_shared:
            self._on_shared = True
            self._local_until = -math.inf
            self._given_back.clear()
            logger.info("PNCP pacing: Redis is back; the cluster's schedule again")
        return answer

    async def _sleep(self, delay: float, answer: _Answer) -> None:
        """Sleeps `delay`; if cancelled meanwhile, a granted slot is kept for this process's next search."""
        slot = self._clock() + delay
        try:
            await anyio.sleep(delay)
        except BaseException:
            if answer.granted:
                self._given_back.append((slot, answer))
            raise

    def _given_back_slot(self) -> _Answer | None:
        """The earliest slot of a cancelled turn still ahead, if any (the past ones are dropped)."""
        now = self._clock()
        self._given_back = [(at, answer) for at, answer in self._given_back if at >= now]
        if not self._given_back:
            return None
        earliest = min(range(len(self._given_back)), key=lambda i: self._given_back[i][0])
        at, answer = self._given_back.pop(earliest)
        return dataclasses.replace(answer, wait=at - now)


def _arg(value: float | None) -> str:
    return "" if value is None else repr(value)
