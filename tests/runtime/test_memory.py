"""Freed memory goes back to the system: the RSS of a web process does not stay at the
high-water mark of its biggest search."""

from __future__ import annotations

import asyncio

from backend.runtime.memory import keep_memory_trimmed, rss_mb


def freed_but_kept_by_the_allocator() -> list[bytearray]:
    """~200 MB in 1 KB blocks (glibc's heap, not Python's small-object pools), 99% freed: the
    1% left alive sits between the holes, so the heap cannot shrink from its top by itself."""
    blocks = [bytearray(1024) for _ in range(200_000)]
    return blocks[::100]


async def test_memory_freed_by_a_big_search_is_given_back() -> None:
    trimmer = asyncio.create_task(keep_memory_trimmed(every=0.05, growth_mb=16))
    try:
        await asyncio.sleep(0.1)  # it notes the RSS before the search
        before = rss_mb()
        assert before is not None
        survivors = freed_but_kept_by_the_allocator()  # no await: the trimmer cannot run meanwhile
        kept = rss_mb()
        assert kept is not None and kept - before > 100, (before, kept)  # the allocator held on to it
        for _ in range(40):
            await asyncio.sleep(0.05)
            now = rss_mb()
            if now is not None and kept - now > 100:
                break
    finally:
        trimmer.cancel()
    after = rss_mb()
    assert after is not None and kept - after > 100, (before, kept, after)
    assert len(survivors) == 2_000
