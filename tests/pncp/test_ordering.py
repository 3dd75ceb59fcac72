"""OrderedLimiter: a free slot goes to the lowest rank waiting, then the earliest; cancelled
waiters never keep a slot."""

from __future__ import annotations

import asyncio

from backend.pncp.ordering import OrderedLimiter


async def _hold(limiter: OrderedLimiter, rank: int, name: str, log: list[str], go: asyncio.Event) -> None:
    async with limiter.ranked(rank):
        log.append(name)
        await go.wait()


async def test_the_lowest_rank_goes_first_then_the_earliest() -> None:
    limiter = OrderedLimiter(1)
    log: list[str] = []
    go = asyncio.Event()
    first = asyncio.create_task(_hold(limiter, 5, "holder", log, go))
    await asyncio.sleep(0)
    waiters = [asyncio.create_task(_hold(limiter, rank, name, log, go))
               for rank, name in ((2, "late UF"), (0, "first UF, page 2"), (2, "late UF, page 2"), (1, "second UF"))]
    await asyncio.sleep(0)
    assert log == ["holder"]  # one slot
    go.set()
    await asyncio.gather(first, *waiters)
    assert log == ["holder", "first UF, page 2", "second UF", "late UF", "late UF, page 2"]


async def test_a_cancelled_waiter_leaves_its_turn_to_the_next() -> None:
    limiter = OrderedLimiter(1)
    log: list[str] = []
    go = asyncio.Event()
    holder = asyncio.create_task(_hold(limiter, 0, "holder", log, go))
    await asyncio.sleep(0)
    gone = asyncio.create_task(_hold(limiter, 0, "gone", log, go))
    after = asyncio.create_task(_hold(limiter, 1, "after", log, go))
    await asyncio.sleep(0)
    gone.cancel()
    go.set()
    await asyncio.gather(holder, after)
    assert gone.cancelled() and log == ["holder", "after"]
    async with limiter:  # the slot came back
        log.append("again")
    assert log[-1] == "again"
