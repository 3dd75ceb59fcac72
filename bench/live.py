"""PNCP as it really is: the service against a double with the live API's timing, index vs live.

    .venv/bin/python -m bench.live [--days 30] [--rate 4] [--concurrency 30] [--skip-live-crowd]

The real server (`./start.sh web`, gunicorn, 2 processes, SQLite, its own redis-server; the jobs
and the ingestion in a separate `arq` worker, so the web processes' CPU is the searches') reads a
PNCP double in a child process of its own (`tests/fakes/pncp_live.py`): national volumes from the
demo generator, every page answered after a lognormal latency (median 1.4 s, p95 3.6 s), 0.7 % HTTP
500 after ~30 s, 0.9 % stalls of 45 s, 4.7 % background 429s, and a token bucket of 5 requests a
second (burst 25). Printed side by side, in one run:

1. warm-up: an empty database to `/v1/health` index `ready` (`--days` days of modalidades 4-7):
   time and requests, against the floor the rate limit allows (requests / PNCP_RATE_LIMIT);
2. warm index, 27 UFs x `--days` days, one search at a time: answer p50/p95 and the web
   processes' CPU per search; then `--concurrency` searches at once by different sectors: errors,
   p95 against the floor (CPU of every process / 2 cores), web CPU per search; PNCP requests
   during both (the ingestion's own schedule makes none in that time);
3. a period outside the window (40 days back, 27 UFs x 10 days): one person, then four people
   at once on another such period (their requests against one person's), then the first asked
   again;
4. today's service beside it (INDEX_DAYS=0): the same 27 UFs x 10 days cold, one person, then
   four people at once (unless --skip-live-crowd).

Cold searches also say when their first rows reached the page: the first `partial_results`
event with licitações on the search's SSE stream, opened before the POST as the page does. And
"abertas" (every licitação open now, 27 UFs) is timed from the warm index and live.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx

from backend.codes import UFS, now_brasilia
from backend.domain.sectors import load_sectors
from bench.procs import cpu_seconds, descendants
from tests.conftest import free_port, start_redis
from tests.servers import running_server, running_worker, server_env

SEARCH_TIMEOUT = 900.0
GOAL_ANSWER_P95 = 0.300
GOAL_CPU_PER_SEARCH = 0.050
GOAL_CROWD_RATIO = 1.3
GOAL_OUTSIDE_RATIO = 1.2


# --- the double, in a child process ------------------------------------------------------------


def serve_pncp(conn, seed: int) -> None:  # type: ignore[no-untyped-def]
    from tests.fakes.pncp_live import LivePNCP

    with LivePNCP(seed=seed) as fake:
        conn.send(fake.base_url)
        while True:
            command = conn.recv()
            if command == "stop":
                return
            requests = fake.requests
            if command == "reset":
                fake.reset()
                conn.send(None)
                continue
            conn.send({
                "total": len(requests),
                "status": dict(Counter(r.status for r in requests)),
                "kinds": fake.counts_by_kind(),
                "max_per_second": fake.max_requests_in_one_second(),
                "national": sum(1 for r in requests if not r.uf),
                "distinct": len({tuple(sorted(r.params.items())) for r in requests}),
            })


class Double:
    def __init__(self, seed: int) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, there = ctx.Pipe()
        self.process = ctx.Process(target=serve_pncp, args=(there, seed), daemon=True)
        self.process.start()
        self.url: str = self._conn.recv()

    def stats(self) -> dict[str, Any]:
        self._conn.send("stats")
        return self._conn.recv()

    def reset(self) -> None:
        self._conn.send("reset")
        self._conn.recv()

    def stop(self) -> None:
        self._conn.send("stop")
        self.process.join(10)


# --- searches ----------------------------------------------------------------------------------


@dataclass
class Answer:
    seconds: float
    status: int
    fonte: str | None = None
    incomplete: int = 0
    total_filtrado: int = 0
    message: str = ""
    first_rows: float | None = None  # seconds to the first partial_results with licitações (when watched)


async def first_rows_seen(client: httpx.AsyncClient, url: str, search_id: str, started: float) -> float | None:
    """Seconds from `started` to the search's first partial_results event with rows to show."""
    async with client.stream("GET", f"{url}/v1/buscar-progress/{search_id}", timeout=SEARCH_TIMEOUT) as response:
        async for line in response.aiter_lines():
            if not line.startswith("data:"):
                continue
            event = json.loads(line[5:])
            if event["stage"] == "partial_results" and event["detail"]["licitacoes"]:
                return time.perf_counter() - started
            if event["stage"] in ("results_ready", "error", "complete"):
                return None
    return None


async def one_search(client: httpx.AsyncClient, url: str, setor_id: str, first: date | None, last: date | None,
                     *, watch: bool = False) -> Answer:
    """One search of every UF (`first` None: modo "abertas"); `watch`: its first rows timed too."""
    body: dict[str, Any] = {"search_id": str(uuid4()), "ufs": sorted(UFS), "setor_id": setor_id,
                            "somente_abertas": False}
    if first is None or last is None:
        body["modo"] = "abertas"
    else:
        body.update(data_inicial=first.isoformat(), data_final=last.isoformat())
    started = time.perf_counter()
    watcher = asyncio.create_task(first_rows_seen(client, url, body["search_id"], started)) if watch else None
    try:
        response = await client.post(f"{url}/v1/buscar", json=body, timeout=SEARCH_TIMEOUT)
    except httpx.HTTPError as exc:
        return Answer(time.perf_counter() - started, 0, message=type(exc).__name__)
    seconds = time.perf_counter() - started
    rows_at = await watcher if watcher is not None else None
    data = response.json()
    if response.status_code != 200:
        return Answer(seconds, response.status_code, message=str(data.get("mensagem", ""))[:120])
    return Answer(seconds, 200, data.get("fonte"), len(data["ufs_com_falha"]), data["total_filtrado"],
                  first_rows=rows_at)


async def searches(url: str, sectors: list[str], first: date | None, last: date | None, *,
                   watch: bool = False) -> list[Answer]:
    limits = httpx.Limits(max_connections=2 * len(sectors) + 4)
    async with httpx.AsyncClient(limits=limits) as client:
        return list(await asyncio.gather(*(one_search(client, url, s, first, last, watch=watch) for s in sectors)))


def rows_at(answer: Answer) -> str:
    return "no rows" if answer.first_rows is None else f"first rows after {answer.first_rows:.1f} s"


def web_cpu(server_pid: int) -> float:
    total = 0.0
    for pid in [server_pid, *descendants(server_pid)]:
        try:
            total += cpu_seconds(pid)
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total


def all_cpu(server_pid: int, others: list[int]) -> float:
    total = web_cpu(server_pid)
    for pid in [*others, os.getpid()]:
        try:
            total += cpu_seconds(pid)
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))]


def index_state(url: str) -> dict[str, Any]:
    return httpx.get(f"{url}/v1/health", timeout=10).json()["index"]


# --- the run -----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30, help="INDEX_DAYS, and the days of the warm searches")
    parser.add_argument("--rate", type=float, default=4.0, help="PNCP_RATE_LIMIT, requests a second")
    parser.add_argument("--concurrency", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=10, help="warm searches one at a time")
    parser.add_argument("--skip-live-crowd", action="store_true", help="no four-people run of INDEX_DAYS=0")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    today = now_brasilia().date()
    sectors = sorted(load_sectors())
    rows: list[tuple[str, str, str]] = []

    def row(what: str, figure: str, goal: str = "") -> None:
        rows.append((what, figure, goal))
        print(f"  {what}: {figure} {goal}", flush=True)

    print(f"nproc: {os.cpu_count()}; server: ./start.sh web, WEB_CONCURRENCY=2, SQLite, own redis-server; "
          f"PNCP_RATE_LIMIT={args.rate:g}/second; double: live timing (see the docstring), seed {args.seed}\n")
    double = Double(args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="bench-live-"))
    redis_port = free_port()
    redis = start_redis(redis_port, tmp)
    try:
        # 1-3: the index on.
        work = tmp / "index"
        work.mkdir()
        env = server_env(work, f"redis://127.0.0.1:{redis_port}/0", PNCP_BASE_URL=double.url, WEB_CONCURRENCY="2",
                         INDEX_DAYS=str(args.days), INDEX_MODALIDADES="4,5,6,7", EMBEDDED_WORKER="false",
                         PNCP_RATE_LIMIT=f"{args.rate:g}/second", MAX_UF_DAYS=str(27 * max(args.days, 10)))
        with running_server(env, tmp / "index.log", gunicorn=True) as server, \
                running_worker(env, tmp / "worker.log") as worker:
            print("[index] warming up", flush=True)
            started = time.perf_counter()
            while (state := index_state(server.url))["status"] != "ready":
                time.sleep(1)
            warm_seconds = time.perf_counter() - started
            warm = double.stats()
            floor = warm["total"] / args.rate
            row("warm-up to ready", f"{warm_seconds:.0f} s, {warm['total']} requests "
                f"({warm['status'].get(429, 0)} answered 429, {warm['kinds'].get('stall', 0)} stalls, "
                f"{warm['status'].get(500, 0)} HTTP 500), {state['records']} publications",
                f"floor {floor:.0f} s: {warm_seconds / floor:.2f}x")
            double.reset()

            first, last = today - timedelta(days=args.days - 1), today
            asyncio.run(searches(server.url, sectors[:2], first, last))  # imports and connections, both processes
            before, answers = web_cpu(server.process.pid), []
            for i in range(args.repeat):
                answers += asyncio.run(searches(server.url, [sectors[i % len(sectors)]], first, last))
            cpu_one = (web_cpu(server.process.pid) - before) / args.repeat
            worker_before = web_cpu(worker.pid)
            seconds = [a.seconds for a in answers]
            row(f"27 UFs x {args.days} days, one at a time (x{args.repeat})",
                f"p50 {pct(seconds, .5) * 1000:.0f} ms, p95 {pct(seconds, .95) * 1000:.0f} ms, "
                f"web CPU {cpu_one * 1000:.0f} ms a search, fonte {Counter(a.fonte for a in answers)}",
                f"goal p95 <= {GOAL_ANSWER_P95 * 1000:.0f} ms, CPU <= {GOAL_CPU_PER_SEARCH * 1000:.0f} ms")

            crowd = [sectors[i % len(sectors)] for i in range(args.concurrency)]
            others = [double.process.pid, redis.pid, worker.pid]
            web_before, all_before, t0 = web_cpu(server.process.pid), all_cpu(server.process.pid, others), \
                time.perf_counter()
            answers = asyncio.run(searches(server.url, crowd, first, last))
            wall = time.perf_counter() - t0
            web_used = web_cpu(server.process.pid) - web_before
            cpu_floor = (all_cpu(server.process.pid, others) - all_before) / 2
            errors = [a for a in answers if a.status != 200]
            p95 = pct([a.seconds for a in answers], .95)
            row(f"{args.concurrency} at once, different sectors",
                f"{len(errors)} errors, p95 {p95:.2f} s, all done in {wall:.2f} s, floor {cpu_floor:.2f} s "
                f"(CPU of every process / 2 cores): {p95 / cpu_floor:.2f}x; web CPU "
                f"{web_used / len(answers) * 1000:.0f} ms a search",
                f"goal 0 errors, <= {GOAL_CROWD_RATIO}x, <= {GOAL_CPU_PER_SEARCH * 1000:.0f} ms")
            during = double.stats()
            row("PNCP requests during the warm searches", f"{during['total']}", "goal 0")
            row("the separate worker's CPU (summaries, reports) during the searches at once",
                f"{(web_cpu(worker.pid) - worker_before) / len(answers) * 1000:.0f} ms a search")

            outside = today - timedelta(days=40), today - timedelta(days=31)
            other = today - timedelta(days=52), today - timedelta(days=43)
            double.reset()
            [alone] = asyncio.run(searches(server.url, ["software"], *outside, watch=True))
            one = double.stats()
            floor = one["total"] / args.rate
            row("outside the window, 27 UFs x 10 days, one person",
                f"{alone.seconds:.1f} s ({rows_at(alone)}), {one['total']} requests ({one['national']} national, "
                f"{one['status'].get(429, 0)} answered 429), {alone.incomplete} UFs incomplete, fonte {alone.fonte}",
                f"floor {floor:.1f} s: {alone.seconds / floor:.2f}x (goal <= {GOAL_OUTSIDE_RATIO}x, 0 incomplete)")
            double.reset()
            four = asyncio.run(searches(server.url, ["software", "saude", "limpeza", "alimentos"], *other))
            crowd4 = double.stats()
            row("outside the window, four people at once (another period)",
                f"max {max(a.seconds for a in four):.1f} s, {crowd4['total']} requests for {crowd4['distinct']} "
                f"distinct pages (the rest: retries after 429s and stalls; one person: {one['total']} for "
                f"{one['distinct']}), {sum(a.incomplete for a in four)} UF results incomplete",
                "goal: the requests of one")
            double.reset()
            again = asyncio.run(searches(server.url, ["software"], *outside))[0]
            row("outside the window, asked again", f"{again.seconds * 1000:.0f} ms, {double.stats()['total']} "
                f"requests, fonte {again.fonte}", "goal <= 300 ms, 0 requests")
            double.reset()
            abertas = asyncio.run(searches(server.url, ["software"], None, None))[0]
            row("abertas agora, 27 UFs, warm index", f"{abertas.seconds * 1000:.0f} ms, {abertas.total_filtrado} "
                f"licitações, {double.stats()['total']} requests, fonte {abertas.fonte}", "goal 0 requests")

        # 4: today's service, no index.
        double.reset()
        work = tmp / "live"
        work.mkdir()
        env = server_env(work, f"redis://127.0.0.1:{redis_port}/1", PNCP_BASE_URL=double.url, WEB_CONCURRENCY="2",
                         INDEX_DAYS="0", PNCP_RATE_LIMIT=f"{args.rate:g}/second")
        with running_server(env, tmp / "live.log", gunicorn=True) as server:
            period = today - timedelta(days=9), today
            [cold] = asyncio.run(searches(server.url, ["software"], *period, watch=True))
            live = double.stats()
            row("INDEX_DAYS=0: 27 UFs x 10 days, one person",
                f"{cold.seconds:.1f} s, {live['total']} requests ({live['status'].get(429, 0)} answered 429), "
                f"{cold.incomplete} UFs incomplete", f"{rows_at(cold)} (goal <= 5 s)")
            double.reset()
            [cold_open] = asyncio.run(searches(server.url, ["software"], None, None, watch=True))
            live_open = double.stats()  # `live` stays one person's period search: the crowd's yardstick
            row("INDEX_DAYS=0: abertas agora, 27 UFs, one person",
                f"{cold_open.seconds:.1f} s, {cold_open.total_filtrado} licitações, {live_open['total']} requests, "
                f"{cold_open.incomplete} UFs incomplete", rows_at(cold_open))
            if not args.skip_live_crowd:
                double.reset()
                four = asyncio.run(searches(server.url, ["software", "saude", "limpeza", "alimentos"], *period))
                live4 = double.stats()
                row("INDEX_DAYS=0: four people at once",
                    f"max {max(a.seconds for a in four):.1f} s, {live4['total']} requests "
                    f"({live4['total'] / max(live['total'], 1):.2f}x one person's), "
                    f"{sum(a.incomplete for a in four)} UF results incomplete")
    finally:
        double.stop()
        redis.terminate()
        redis.wait(10)
    print("\n| figure | measured | goal |\n|---|---|---|")
    for what, figure, goal in rows:
        print(f"| {what} | {figure} | {goal} |")


if __name__ == "__main__":
    main()
