"""A limit on requests in flight that lets the first of a search's UFs finish first.

With a plain semaphore a search's requests go in the order they were asked: every UF's first
pages, then every UF's next pages, so no UF is complete until nearly the end and the page shows
nothing for most of the search. Here a waiting request of a lower rank (the UF's place in the
search) goes before one of a higher rank, whenever it was asked: the first UF's later pages pass
the other UFs' first ones, and its rows go out (`partial_results`) after a few seconds.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from typing import Any


class OrderedLimiter:
    """At most `capacity` holders at once; a free slot goes to the lowest rank waiting, then the
    earliest. `async with limiter:` holds one at rank 0; `limiter.ranked(n)` at rank n."""

    def __init__(self, capacity: int) -> None:
        self._free = capacity
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def ranked(self, rank: int) -> Ranked:
        return Ranked(self, rank)

    async def __aenter__(self) -> None:
        await self._acquire(0)

    async def __aexit__(self, *exc: Any) -> None:
        self._release()

    async def _acquire(self, rank: int) -> None:
        if self._free > 0 and not self._waiting:
            self._free -= 1
            return
        granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (rank, next(self._order), granted))
        try:
            await granted
        except asyncio.CancelledError:
            if granted.done() and not granted.cancelled():
                self._release()  # granted just as it was cancelled: the slot goes on to the next
            else:
                granted.cancel()  # left in the heap, skipped when reached
            raise

    def _release(self) -> None:
        while self._waiting:
            _, _, waiter = heapq.heappop(self._waiting)
            if not waiter.done():
                waiter.set_result(None)
                return
        self._free += 1


class Ranked:
    """A share of an `OrderedLimiter` whose holders wait at one rank (one UF of a search)."""

    def __init__(self, limiter: OrderedLimiter, rank: int) -> None:
        self._limiter = limiter
        self._rank = rank

    async def __aenter__(self) -> None:
        await self._limiter._acquire(self._rank)

    async def __aexit__(self, *exc: Any) -> None:
        self._limiter._release()


Limiter = OrderedLimiter | Ranked
