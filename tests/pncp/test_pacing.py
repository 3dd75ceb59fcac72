"""The cluster's PNCP pacer against the private Redis; pacer objects stand for processes.

A turn's time is when `wait_turn` returned: when the request would go. The event loop may make
a turn late, never early, so the checks bound turns from below against the schedule (turn k no
sooner than k slots after the first was asked) and from above only with a generous margin.
Rates are high and windows short so the file runs in seconds.
"""

from __future__ import annotations

import asyncio
import logging
import time
from bisect import bisect_left
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from urllib.parse import urlsplit

import pytest
from redis.asyncio import Redis

from backend import keys
from backend.pncp import pacing
from backend.pncp.pacing import Caller, PNCPPacer, Windows
from tests.conftest import free_port
from tests.fakes.tcp_proxy import TcpProxy

RATE = 50.0
STEP = 1 / RATE
EARLY = 0.002  # Redis's clock against time.monotonic, over a second: no turn is earlier than this
LATE = 0.1  # the generous margin for what the event loop and Redis add

Processes = Callable[..., tuple[PNCPPacer, PNCPPacer]]


@pytest.fixture
async def clients(redis_url: str) -> AsyncIterator[Callable[..., Redis]]:
    """`connect(url)`: a new Redis client (one per "process"), closed after the test."""
    opened: list[Redis] = []

    def connect(url: str = redis_url) -> Redis:
        client = Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
        opened.append(client)
        return client

    yield connect
    for client in opened:
        await client.aclose()


@pytest.fixture(params=["shared", "local"])
def processes(request: pytest.FixtureRequest, clients: Callable[..., Redis]) -> Processes:
    """`processes(rate, burst=1)`: two pacers of one cluster: two processes on one Redis or, for
    "local", a process pacing itself in memory (the same object twice)."""

    def make(rate: float = RATE, burst: int = 1, windows: Windows = SHORT) -> tuple[PNCPPacer, PNCPPacer]:
        if request.param == "local":
            alone = PNCPPacer.create(rate, None, burst=burst, windows=windows)
            return alone, alone
        return (PNCPPacer.create(rate, clients(), burst=burst, windows=windows),
                PNCPPacer.create(rate, clients(), burst=burst, windows=windows))

    return make


SHORT = Windows(search_precedence=0.2, slowed=0.6)  # so that tests can wait for their ends


async def turns(pacer: PNCPPacer, count: int, caller: Caller = "search") -> list[float]:
    """Takes `count` turns one after the other; returns their times (time.monotonic)."""
    times = []
    for _ in range(count):
        await pacer.wait_turn(caller)
        times.append(time.monotonic())
    return times


def assert_paced(times: list[float], since: float, step: float, burst: int = 1) -> None:
    """No turn sooner than the schedule allows from `since`, when the first was asked."""
    for k, at in enumerate(sorted(times)):
        assert at >= since + (k - burst + 1) * step - EARLY, f"turn {k} came too soon"


def most_in_any_window(times: list[float], width: float) -> int:
    ordered = sorted(times)
    return max(bisect_left(ordered, t + width) - i for i, t in enumerate(ordered))


async def eventually(condition: Callable[[], Awaitable[bool]], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        assert time.monotonic() < deadline, "the state never came"
        await asyncio.sleep(0.01)


async def at_rate(pacer: PNCPPacer, rate: float) -> bool:
    return (await pacer.snapshot()).requests_per_second == rate


@pytest.mark.parametrize(("processes", "burst"), [("shared", 1), ("shared", 3), ("local", 3)],
                         indirect=["processes"])
async def test_two_processes_together_keep_to_the_rate(processes: Processes, burst: int) -> None:
    first, second = processes(RATE, burst)
    await asyncio.gather(first.snapshot(), second.snapshot())  # connected, the script loaded
    since = time.monotonic()
    # Four searches in each process, five requests each: 40 turns.
    workers = [turns(pacer, 5) for pacer in (first, second) for _ in range(4)]
    times = [t for batch in await asyncio.gather(*workers) for t in batch]

    assert len(times) == 40
    assert_paced(times, since, STEP, burst)
    assert most_in_any_window(times, 0.2) <= RATE * 0.2 + burst  # the 1-s bound, at a fifth of the scale
    expected = (40 - burst) * STEP
    assert expected - EARLY <= max(times) - since <= expected + LATE


async def test_ingestion_takes_only_what_searches_leave(processes: Processes) -> None:
    searches, ingestion = processes()
    await searches.wait_turn("search")
    waiting = asyncio.create_task(ingestion.wait_turn("ingestion"))
    for _ in range(3):  # a search asking far less often than the rate allows
        await asyncio.sleep(0.1)
        await searches.wait_turn("search")
        last_search = time.monotonic()
        assert not waiting.done()

    await asyncio.wait_for(waiting, 3)
    assert time.monotonic() >= last_search + SHORT.search_precedence - 0.05
    since = time.monotonic()
    later = await turns(ingestion, 5, "ingestion")  # no search now: ingestion has the full rate
    assert later[-1] - since <= 5 * STEP + LATE


async def test_a_search_does_not_wait_behind_ingestion(processes: Processes) -> None:
    searches, ingestion = processes()

    async def ingest_forever() -> None:
        while True:
            await ingestion.wait_turn("ingestion")

    background = [asyncio.create_task(ingest_forever()) for _ in range(20)]  # an eager ingestion
    try:
        await turns(ingestion, 3, "ingestion")  # ingestion is running at the full rate
        since = time.monotonic()
        times = await turns(searches, 5)
    finally:
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
    assert times[-1] - since <= 5 * STEP + LATE  # ingestion holds no slot ahead: only searches now


async def test_a_429_pauses_every_process(processes: Processes) -> None:
    told, other = processes()
    await turns(other, 10)  # a 429 among many turns: the odd one PNCP gives at any pace

    asked = time.monotonic()
    await told.rate_limited(retry_after=0.3)
    state = await other.snapshot()
    assert state.paused_until == pytest.approx(time.time() + 0.3, abs=0.05)
    assert state.requests_per_second == RATE and state.slowed_until is None

    after = await turns(other, 6)
    assert_paced(after, asked + 0.3, STEP)  # the pause, then the same rate
    assert after[-1] - asked <= 0.3 + 5 * STEP + LATE


async def test_429s_beyond_the_odd_one_pause_and_slow_every_process(processes: Processes) -> None:
    told, other = processes()
    await other.wait_turn("search")

    await told.wait_turn("search")
    await told.rate_limited(retry_after=0)
    await told.wait_turn("search")
    asked = time.monotonic()
    await told.rate_limited(retry_after=0.3)  # two 429s in three turns: the cluster asks too fast
    state = await other.snapshot()
    assert state.requests_per_second == RATE / 2
    assert state.paused_until == pytest.approx(time.time() + 0.3, abs=0.05)
    assert state.slowed_until == pytest.approx(time.time() + SHORT.slowed, abs=0.05)

    after = await turns(other, 6)
    assert_paced(after, asked + 0.3, 2 * STEP)  # the pause, then half the rate

    await eventually(lambda: at_rate(other, RATE))  # and the rate comes back, on time
    assert asked + SHORT.slowed - 0.05 <= time.monotonic() <= asked + SHORT.slowed + LATE
    since = time.monotonic()
    recovered = await turns(other, 6)
    assert recovered[-1] - since <= 5 * STEP + LATE


async def test_a_turn_given_before_a_429_still_waits_for_the_pause(processes: Processes, redis_url: str) -> None:
    told, other = processes(3.0, burst=2)
    step = 1 / 3
    since = time.monotonic()
    await asyncio.gather(other.wait_turn("search"), other.wait_turn("search"))  # the burst
    sleeper = asyncio.create_task(other.wait_turn("search"))  # its slot is a step ahead
    await eventually(lambda: reserved(other, [sleeper], redis_url, since + 3 * step - EARLY))

    asked = time.monotonic()
    await told.rate_limited(retry_after=0.5)
    await asyncio.wait_for(sleeper, 3)
    assert time.monotonic() >= asked + 0.5 - EARLY


async def test_429s_in_a_row_lower_the_rate_to_an_eighth_and_lengthen_the_pause(processes: Processes) -> None:
    told, other = processes()
    # A 429 for every turn: the first is the odd one, the next ones an overload.
    for expected in (RATE, RATE / 2, RATE / 4, RATE / 8, RATE / 8):
        await told.wait_turn("search")
        await told.rate_limited(retry_after=0)  # Retry-After 0: no pause, still a 429
        assert (await other.snapshot()).requests_per_second == expected

    await told.wait_turn("search")
    await told.rate_limited(retry_after=None)  # the fifth strike: the first pause x 2**5
    state = await other.snapshot()
    assert state.paused_until == pytest.approx(time.time() + SHORT.first_pause * 2**5, abs=0.5)


async def test_the_pause_of_an_overload_is_capped(processes: Processes) -> None:
    told, other = processes(windows=Windows(max_pause=1.0))
    for _ in range(4):  # strikes 0, 1, 2, 3: pauses 0.5, 1, 2 -> 1, 4 -> 1 s
        await told.wait_turn("search")
        await told.rate_limited(retry_after=None)
    state = await other.snapshot()
    assert state.paused_until == pytest.approx(time.time() + 1.0, abs=0.1)


async def test_429s_of_requests_sent_before_the_pause_count_once(processes: Processes) -> None:
    pacer, other = processes()

    async def request_answered_429() -> None:
        await pacer.wait_turn("search")
        await asyncio.sleep(0.01)  # the request in flight
        await pacer.rate_limited(retry_after=0)

    await asyncio.gather(*(request_answered_429() for _ in range(4)))
    assert (await other.snapshot()).requests_per_second == RATE  # one 429, not four: no overload

    await request_answered_429()  # a request sent after that 429 got one too: two in five turns
    assert (await other.snapshot()).requests_per_second == RATE / 2


async def test_without_redis_each_process_paces_itself(clients: Callable[..., Redis],
                                                       caplog: pytest.LogCaptureFixture) -> None:
    alone = PNCPPacer.create(RATE, None)
    nowhere = PNCPPacer.create(RATE, clients(f"redis://127.0.0.1:{free_port()}/0"))
    with caplog.at_level(logging.INFO, logger=pacing.__name__):
        for pacer in (alone, nowhere):
            since = time.monotonic()
            times = await turns(pacer, 10)
            assert_paced(times, since, STEP)
            assert times[-1] - since <= 9 * STEP + LATE
            await pacer.rate_limited(retry_after=0)
            state = await pacer.snapshot()
            assert not state.shared and state.requests_per_second == RATE
            for _ in range(2):  # three 429s in twelve turns: more than a fifth, an overload
                await pacer.wait_turn("search")
                await pacer.rate_limited(retry_after=0)
            assert (await pacer.snapshot()).requests_per_second == RATE / 2

    logged = [r.getMessage() for r in caplog.records if r.name == pacing.__name__]
    assert len(logged) == 1 and "Redis unreachable" in logged[0]


@pytest.fixture
def proxy(redis_url: str) -> Iterator[TcpProxy]:
    target = urlsplit(redis_url)
    with TcpProxy(target.hostname or "127.0.0.1", target.port or 6379) as running:
        yield running


async def test_redis_cut_mid_way_then_back(proxy: TcpProxy, clients: Callable[..., Redis],
                                           caplog: pytest.LogCaptureFixture) -> None:
    ahead = [0.0]  # the pacer's clock jumps on demand, so that it tries Redis again sooner
    pacer = PNCPPacer.create(RATE, clients(f"redis://127.0.0.1:{proxy.port}/0"),
                             clock=lambda: time.monotonic() + ahead[0])
    with caplog.at_level(logging.INFO, logger=pacing.__name__):
        await turns(pacer, 3)
        assert (await pacer.snapshot()).shared

        proxy.refuse()
        since = time.monotonic()
        cut = await asyncio.wait_for(turns(pacer, 10), 5)  # no error
        assert_paced(cut, since, STEP)
        assert not (await pacer.snapshot()).shared

        proxy.accept()
        ahead[0] += pacing.REDIS_RETRY_SECONDS
        await pacer.wait_turn("search")
        assert (await pacer.snapshot()).shared

    logged = [r.getMessage() for r in caplog.records if r.name == pacing.__name__]
    assert len(logged) == 2
    assert "Redis unreachable" in logged[0] and "Redis is back" in logged[1]


async def test_cancelled_turns_leave_the_schedule_working(processes: Processes, redis_url: str) -> None:
    pacer, other = processes(10.0)
    step = 1 / 10
    since = time.monotonic()
    await pacer.wait_turn("search")

    # Cancelled while asleep: their slots go to this process's next searches.
    sleepers = [asyncio.create_task(pacer.wait_turn("search")) for _ in range(3)]
    await eventually(lambda: reserved(pacer, sleepers, redis_url, since + 4 * step - EARLY))
    for task in sleepers:
        task.cancel()
    await asyncio.gather(*sleepers, return_exceptions=True)
    assert all(task.cancelled() for task in sleepers)

    mine, theirs = await asyncio.gather(turns(pacer, 4), turns(other, 2))
    assert mine[0] <= since + step + LATE / 2  # the first cancelled slot, not one after them
    assert_paced([since, *mine, *theirs], since, step)

    # Cancelled at any point of asking Redis: later turns still come, at the rate.
    pacer, _ = processes(RATE)
    for steps in range(8):
        task = asyncio.create_task(pacer.wait_turn("search"))
        for _ in range(steps):
            await asyncio.sleep(0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    since = time.monotonic()
    times = await asyncio.wait_for(turns(pacer, 4), 3)
    assert times[-1] - since >= 3 * STEP - EARLY


async def reserved(pacer: PNCPPacer, sleepers: list[asyncio.Task[float]], redis_url: str, until: float) -> bool:
    """Whether the sleepers have their slots: the schedule's next free slot is `until` or later."""
    if not (await pacer.snapshot()).shared:  # in memory, one step of the loop reserves them
        await asyncio.sleep(0)
        return not any(task.done() for task in sleepers)
    client = Redis.from_url(redis_url)
    try:
        saved, (seconds, micros) = await client.hget(keys.PNCP_PACE, "tat"), await client.time()
    finally:
        await client.aclose()
    return float(saved or 0) - (seconds + micros / 1e6) + time.monotonic() >= until
