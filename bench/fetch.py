"""PNCP fetch: 27 UFs x 4 modalidades x 3 pages against the local PNCP double at 50 ms a page.

    .venv/bin/python -m bench.fetch [--latency 0.05] [--concurrency 4 8 16 32]

The ideal time is pages / concurrency x latency; goal: measured within 1.3x of it. The double
runs in a process of its own, as PNCP would, so its JSON encoding does not eat the client's CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import multiprocessing
import time
from datetime import timedelta

from backend.codes import DEFAULT_MODALIDADES, UFS, now_brasilia
from backend.pncp.client import PNCPClient, RetryPolicy
from backend.pncp.pacing import PNCPPacer
from tests.fakes.pncp import FakePNCP
from tests.records import pncp_record

PAGES_PER_QUERY = 3
GOAL = 1.3


def records() -> list[dict]:
    published = (now_brasilia() - timedelta(days=1)).replace(microsecond=0)
    return [
        pncp_record(f"Aquisição de material {i}", uf=uf, modalidade=m, publicado=published, sequencial=i)
        for uf in UFS
        for m in DEFAULT_MODALIDADES
        for i in range(50 * PAGES_PER_QUERY)
    ]


def serve(latency: float, conn) -> None:  # type: ignore[no-untyped-def]
    with FakePNCP(records(), latency=latency) as fake:
        conn.send(fake.base_url)
        conn.recv()  # until the benchmark is done


async def fetch(base_url: str, concurrency: int) -> tuple[float, int, int]:
    client = PNCPClient.create(  # paced far above what this machine serves: the fetch itself is measured
        base_url, pacer=PNCPPacer.create(100_000.0, None, burst=1_000), timeout=10, retry=RetryPolicy(0),
        concurrency=concurrency, max_pages=PAGES_PER_QUERY,
    )
    today = now_brasilia().date()
    try:
        started = time.perf_counter()
        results = await client.fetch_ufs(list(UFS), DEFAULT_MODALIDADES, today - timedelta(days=7), today)
        elapsed = time.perf_counter() - started
    finally:
        await client.aclose()
    assert not any(r.failed for r in results), [r.errors for r in results if r.failed]
    return elapsed, sum(r.pages for r in results), sum(len(r.records) for r in results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[4, 8, 16, 32])
    args = parser.parse_args()

    here, there = multiprocessing.Pipe()
    server = multiprocessing.Process(target=serve, args=(args.latency, there), daemon=True)
    server.start()
    base_url = here.recv()
    try:
        asyncio.run(fetch(base_url, 8))  # warm-up: imports, the double's caches
        print(f"{len(UFS)} UFs x {len(DEFAULT_MODALIDADES)} modalidades x {PAGES_PER_QUERY} pages, "
              f"{args.latency * 1000:.0f} ms a page\n")
        print(f"{'concurrency':>11}{'pages':>7}{'records':>9}{'ideal s':>9}{'measured s':>12}{'ratio':>7}{'goal':>7}")
        for concurrency in args.concurrency:
            elapsed, pages, count = asyncio.run(fetch(base_url, concurrency))
            ideal = math.ceil(pages / concurrency) * args.latency
            ratio = elapsed / ideal
            verdict = "ok" if ratio <= GOAL else "MISS"
            print(f"{concurrency:>11}{pages:>7}{count:>9}{ideal:>9.2f}{elapsed:>12.2f}{ratio:>7.2f}{verdict:>7}")
    finally:
        here.send("stop")
        server.join(timeout=10)


if __name__ == "__main__":
    main()
