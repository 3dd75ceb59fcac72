"""Progress streams at scale: thousands of browsers watching their searches, today's code beside another revision's.

    .venv/bin/python -m bench.streams [--before REV] [--streams 2000] [--searches 100] [--llm-seconds 40]

For each revision, in one run: two web processes (uvicorn, one process each, so each serves
exactly half the streams), a separate `arq` worker running the jobs (WORKER_MAX_JOBS above the
searches), PostgreSQL and a redis-server of their own, demo PNCP data, and an OpenAI-compatible
double that answers every summary after `--llm-seconds`. `--searches` searches are posted over
`--spread` seconds (so their summaries come as spread as people's searches), then
`--streams` progress streams are opened on them (round robin over the searches and the two
processes) as browsers do, each replaying what it missed and waiting for the summary and the
report. Printed side by side:

1. while every stream waits for the LLM (a window of `--window` seconds, `--settle` seconds after
   all have caught up):
   each web process's CPU (fraction of a core), its Redis connections above those it had before
   any stream, and the database's transactions a second per web process (PostgreSQL's
   pg_stat_database, which the worker's waiting jobs hardly touch);
2. once the summaries come: how many streams reached `complete`, and how long after an event was
   written (its Redis stream id is the writing moment, in ms) it reached the streams of its
   search: p50 / p95 / max over every stream's `llm_ready`, `excel_ready` and `complete`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit
from uuid import uuid4

import asyncpg
import httpx
import orjson
from sqlalchemy.engine import make_url

from backend.codes import today_brasilia
from bench.procs import cpu_seconds
from bench.revision import revision_tree
from tests.conftest import POSTGRES_URL, free_port, start_redis
from tests.fakes.openai_server import FakeOpenAI
from tests.servers import ROOT, Server, queue_healthy, running_servers, running_worker, server_env

LATE_STAGES = ("llm_ready", "excel_ready", "complete")
GOAL_IDLE_CORE = 0.05
GOAL_EXTRA_REDIS = 5
GOAL_DB_PER_SECOND = 10
GOAL_EVENT_P95_MS = 100


@dataclass
class Stream:
    url: str
    received: list[tuple[str, int, float]] = field(default_factory=list)  # stage, written (ms), received (s)

    def has(self, stage: str) -> bool:
        return any(s == stage for s, _, _ in self.received)


@dataclass
class Figures:
    idle_core: list[float]
    extra_redis: list[int]
    db_per_second: float
    window_clean: bool
    complete: int
    streams: int
    latencies_ms: list[float]


async def read_stream(stream: Stream, stop_at: float) -> None:
    """One browser's EventSource, over a plain socket (a light client, so a thousand of them in
    one process measure the server, not themselves): every event until `complete`, reconnecting
    with Last-Event-ID."""
    url = urlsplit(stream.url)
    last_id = None
    while time.monotonic() < stop_at and not stream.has("complete"):
        try:
            reader, writer = await asyncio.open_connection(url.hostname, url.port, limit=2**22)
        except OSError:
            await asyncio.sleep(1)
            continue
        resume = f"Last-Event-ID: {last_id}\r\n" if last_id else ""
        writer.write(f"GET {url.path} HTTP/1.1\r\nHost: {url.netloc}\r\nAccept: text/event-stream\r\n"
                     f"{resume}Connection: close\r\n\r\n".encode())
        event_id = None
        try:
            status = await reader.readline()
            if b" 200 " not in status:
                await asyncio.sleep(1)
                continue
            async for raw in reader:  # chunked framing lines are skipped: they are neither id nor data
                line = raw.decode(errors="replace").strip()
                if line.startswith("id:"):
                    event_id = line[3:].strip()
                elif line.startswith("data:") and event_id:
                    stage = orjson.loads(line[5:])["stage"]
                    stream.received.append((stage, int(event_id.split("-")[0]), time.time()))
                    last_id = event_id
                    if stage == "complete":
                        break
        except (OSError, ValueError, asyncio.IncompleteReadError):
            await asyncio.sleep(1)
        finally:
            writer.close()


def redis_connections(pid: int, port: int) -> int:
    """ESTABLISHED TCP connections of `pid` to 127.0.0.1:`port`, read from /proc."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            if remote_port == port and fields[3] == "01" and fields[9] in inodes:
                count += 1
    return count


async def database_transactions(database: str) -> int:
    conn = await asyncpg.connect(POSTGRES_URL.replace("/test", "/postgres"), timeout=10)
    try:
        return await conn.fetchval("SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = $1",
                                   database)
    finally:
        await conn.close()


async def admin(statement: str) -> None:
    conn = await asyncpg.connect(POSTGRES_URL, timeout=10)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def watch(servers: list[Server], database: str, redis_port: int, args: argparse.Namespace) -> Figures:
    pids = [server.process.pid for server in servers]
    today = today_brasilia()
    body = {"ufs": ["SP"], "setor_id": "vestuario", "data_inicial": str(today - timedelta(days=1)),
            "data_final": str(today)}
    async with httpx.AsyncClient(timeout=120) as client:
        ids = [str(uuid4()) for _ in range(args.searches)]
        posted_at = time.monotonic()
        async def post(n: int, sid: str) -> httpx.Response:
            await asyncio.sleep(n * args.spread / len(ids))  # people search at their own moments
            return await client.post(f"{servers[n % 2].url}/v1/buscar", json={**body, "search_id": sid})

        posted = await asyncio.gather(*(post(n, sid) for n, sid in enumerate(ids)))
        before_redis = [redis_connections(pid, redis_port) for pid in pids]  # every search made, no stream yet
        assert all(answer.status_code == 200 for answer in posted), [a.text for a in posted if a.status_code != 200]
        assert all(answer.json()["processamento"] == "fila" for answer in posted), "searches ran inline"
        streams = [Stream(f"{servers[n % 2].url}/v1/buscar-progress/{ids[n % len(ids)]}") for n in range(args.streams)]
        stop_at = time.monotonic() + args.llm_seconds + 240
        readers = [asyncio.create_task(read_stream(stream, stop_at)) for stream in streams]
        while not all(stream.has("results_ready") for stream in streams):  # every stream caught up
            await asyncio.sleep(0.2)
        print(f"  caught up {time.monotonic() - posted_at:.1f} s after the searches were posted", flush=True)
        await asyncio.sleep(args.settle)  # PostgreSQL counts an idle connection's transactions up to 10 s late
        cpu_before = [cpu_seconds(pid) for pid in pids]
        xacts_before, started = await database_transactions(database), time.monotonic()
        await asyncio.sleep(args.window)
        elapsed = time.monotonic() - started
        idle_core = [(cpu_seconds(pid) - before) / elapsed for pid, before in zip(pids, cpu_before, strict=True)]
        db_per_second = (await database_transactions(database) - xacts_before) / elapsed / len(pids)
        extra_redis = [redis_connections(pid, redis_port) - before for pid, before in zip(pids, before_redis,
                                                                                          strict=True)]
        window_clean = not any(stream.has("llm_ready") for stream in streams)
        await asyncio.gather(*readers)
    latencies = [(received - written / 1000) * 1000 for stream in streams
                 for stage, written, received in stream.received if stage in LATE_STAGES]
    for late in LATE_STAGES:
        each = sorted((received - written / 1000) * 1000 for stream in streams
                      for stage, written, received in stream.received if stage == late)
        print(f"  {late}: p50 {pct(each, 0.5):.0f} ms, p95 {pct(each, 0.95):.0f} ms", flush=True)
    return Figures(idle_core, extra_redis, db_per_second, window_clean,
                   sum(stream.has("complete") for stream in streams), len(streams), latencies)


def run_side(tree: Path, label: str, args: argparse.Namespace, llm: FakeOpenAI, tmp: Path) -> Figures:
    work = tmp / label
    work.mkdir()
    redis_port = free_port()
    database = f"smartlic_bench_{uuid4().hex[:12]}"
    asyncio.run(admin(f'CREATE DATABASE "{database}"'))
    redis = start_redis(redis_port, work)
    try:
        env = server_env(
            work, f"redis://127.0.0.1:{redis_port}/0", AUTH_MODE="off", EMBEDDED_WORKER="false",
            DATABASE_URL=make_url(POSTGRES_URL).set(database=database).render_as_string(hide_password=False),
            OPENAI_API_KEY="sk-bench", OPENAI_BASE_URL=llm.base_url, LLM_JOB_TIMEOUT=str(args.llm_seconds + 60),
            WORKER_MAX_JOBS=str(args.searches + 20),
        )
        with ExitStack() as stack:
            servers = stack.enter_context(running_servers([env, env], work, cwd=tree))
            stack.enter_context(running_worker(env, work / "worker.log", cwd=tree))
            deadline = time.monotonic() + 120
            while not all(queue_healthy(server) for server in servers):  # else the searches run inline
                if time.monotonic() > deadline:
                    raise SystemExit(f"[{label}] the worker did not come up: {work / 'worker.log'}")
                time.sleep(0.5)
            print(f"[{label}] {len(servers)} web processes up; posting {args.searches} searches, "
                  f"opening {args.streams} streams", flush=True)
            return asyncio.run(watch(servers, database, redis_port, args))
    finally:
        redis.terminate()
        redis.wait()
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))] if ordered else float("nan")


def report(before: Figures, now: Figures, args: argparse.Namespace) -> None:
    def row(what: str, old: str, new: str, goal: str = "") -> None:
        print(f"{what:58}{old:>22}{new:>22}  {goal}")

    print(f"\n{args.streams} streams on {args.searches} searches (posted over {args.spread:g} s) over 2 web processes; "
          f"the LLM answers after {args.llm_seconds:g} s; window {args.window:g} s\n")
    row("", f"before ({args.before[:10]})", "now")
    row("web processes' CPU while they wait (core each)", " / ".join(f"{c:.3f}" for c in before.idle_core),
        " / ".join(f"{c:.3f}" for c in now.idle_core), f"goal <= {GOAL_IDLE_CORE}")
    row("Redis connections above none open (each process)", " / ".join(map(str, before.extra_redis)),
        " / ".join(map(str, now.extra_redis)), f"goal <= {GOAL_EXTRA_REDIS}")
    row("database transactions a second per web process", f"{before.db_per_second:.1f}", f"{now.db_per_second:.1f}",
        f"goal < {GOAL_DB_PER_SECOND}")
    row("streams that reached complete", f"{before.complete}/{before.streams}", f"{now.complete}/{now.streams}")
    for name, q in (("p50", 0.5), ("p95", 0.95)):
        row(f"event written -> at every stream of its search, {name} (ms)", f"{pct(before.latencies_ms, q):.0f}",
            f"{pct(now.latencies_ms, q):.0f}", f"goal <= {GOAL_EVENT_P95_MS}" if name == "p95" else "")
    row("same, max (ms)", f"{max(before.latencies_ms, default=0):.0f}", f"{max(now.latencies_ms, default=0):.0f}")
    if not (before.window_clean and now.window_clean):
        print("\nnote: a summary came within the window; raise --llm-seconds")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="763a72a",
                        help="the revision to compare with (default: each stream polling on its own)")
    parser.add_argument("--streams", type=int, default=2000)
    parser.add_argument("--searches", type=int, default=100)
    parser.add_argument("--llm-seconds", type=float, default=50.0)
    parser.add_argument("--settle", type=float, default=11.0, help="seconds between catching up and the window")
    parser.add_argument("--window", type=float, default=15.0)
    parser.add_argument("--spread", type=float, default=10.0, help="seconds over which the searches are posted")
    args = parser.parse_args()
    print(f"nproc: {os.cpu_count()}")
    with FakeOpenAI(latency=args.llm_seconds) as llm, tempfile.TemporaryDirectory(prefix="bench-streams-") as tmp:
        with revision_tree(args.before) as old_tree:
            before = run_side(old_tree, "before", args, llm, Path(tmp))
        now = run_side(ROOT, "now", args, llm, Path(tmp))
    report(before, now, args)


if __name__ == "__main__":
    main()
