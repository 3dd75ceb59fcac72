"""Freed memory goes back to the system: the RSS of a web process does not stay at the
high-water mark of its biggest search."""

from __future__ import annotations

import asyncio
import inspect

from backend.runtime.memory import keep_memory_trimmed, rss_mb
from tests.servers import eventually


def freed_but_kept_by_the_allocator() -> list[bytearray]:
    """~200 MB in 1 KB blocks (glibc's heap, not Python's small-object pools), 99% freed: the
    1% left alive sits between the holes, so the heap cannot shrink from its top by itself."""
    blocks = [bytearray(1024) for _ in range(200_000)]
    return blocks[::100]


async def test_memory_freed_by_a_big_search_is_given_back() -> None:
    trimmer = asyncio.create_task(keep_memory_trimmed(every=0.05, growth_mb=16))
    try:
        # Suspended at its first wait: it has noted the RSS before the search.
        await eventually(lambda: inspect.getcoroutinestate(trimmer.get_coro()) == inspect.CORO_SUSPENDED,
                         timeout=5, step=0.01, what="the trimmer to start")
        before = rss_mb()
        assert before is not None
        survivors = freed_but_kept_by_the_allocator()  # no await: the trimmer cannot run meanwhile
        kept = rss_mb()
        assert kept is not None and kept - before > 100, (before, kept)  # the allocator held on to it

        def given_back() -> bool:
            now = rss_mb()
            return now is not None and kept - now > 100

        await eventually(given_back, timeout=2, what=f"the RSS to drop 100 MB from {kept:.0f} MB ({before:.0f} before)")
    finally:
        trimmer.cancel()
    after = rss_mb()
    assert after is not None and kept - after > 100, (before, kept, after)
    assert len(survivors) == 2_000
