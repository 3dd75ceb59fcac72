"""Capacity: concurrent searches against the real server (gunicorn, 2 processes), queue vs inline.

    .venv/bin/python -m bench.capacity [--concurrency 1 10 30] [--overhead-runs 20]

Everything is local and real except the outside services: a redis-server of our own, PNCP at
200 ms a page, the LLM at 3 s an answer, Supabase Storage at 300 ms an upload. Each double runs
in a child process of its own (as the real service would be elsewhere), so the bench client's
own work does not slow them down. The server runs through `./start.sh web` twice:

* queue:  embedded ARQ worker in each process (the default); the bench waits for a healthy queue.
* inline: EMBEDDED_WORKER=false and no separate worker: the queue is unavailable, so the summary
  and the report are produced inside the request.

Each search does what the page does: open the SSE stream, then POST /v1/buscar; it measures the
time from the POST to the HTTP answer, to `llm_ready` and to `excel_ready`.
Goal 1: queue p95 answer at the highest concurrency <= 1.5x queue p95 answer at 1.
Goal 2 (queue overhead): one search with ~2,000 matching results, p95 of tempos_ms["enqueue"]
<= 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import multiprocessing
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx

from backend.codes import DEFAULT_MODALIDADES, now_brasilia
from bench.procs import cpu_seconds, descendants
from tests.conftest import free_port, start_redis
from tests.records import pncp_record
from tests.servers import queue_healthy, running_server, server_env, wait_for

PNCP_LATENCY = 0.2
LLM_LATENCY = 3.0
UPLOAD_LATENCY = 0.3
SEARCH_UFS = ["SP", "RJ", "MG", "BA", "PR"]
BIG_UF = "AM"  # the figure-2 search: 4 modalidades x 10 pages, every objeto matching
BIG_PAGES = 10
OPENAI_KEY = "sk-bench-capacity"
SUPABASE_KEY = "service-role-key-for-bench"
GOAL_RATIO = 1.5
GOAL_ENQUEUE_MS = 50.0
SEARCH_TIMEOUT = 90.0

MATCHING = [
    "Aquisição de gêneros alimentícios para a merenda escolar",
    "Fornecimento de refeições e lanches para servidores",
    "Aquisição de hortifrutigranjeiros, frutas e verduras",
    "Contratação de buffet e coffee break para eventos",
    "Aquisição de carne bovina, frango e pescado",
]
OTHER = [
    "Aquisição de material de escritório e papelaria",
    "Contratação de serviços de limpeza predial",
    "Aquisição de pneus para a frota municipal",
    "Manutenção de ar-condicionado dos prédios públicos",
    "Aquisição de computadores e impressoras",
]


# --- the doubles, each in a child process ---------------------------------------------------


def pncp_records() -> list[dict]:
    """5 UFs x 4 modalidades, 1 or 2 pages each (50 or 75 records), 2 in 5 objetos matching;
    plus BIG_UF with 4 x BIG_PAGES full pages, every objeto matching (~2,000 results)."""
    published = (now_brasilia() - timedelta(days=1)).replace(microsecond=0)
    seq = itertools.count(1)
    out = []
    for u, uf in enumerate(SEARCH_UFS):
        for m, modalidade in enumerate(DEFAULT_MODALIDADES):
            count = 75 if (u + m) % 2 else 50
            for i in range(count):
                objeto = MATCHING[i % 5] if i % 5 < 2 else OTHER[i % 5]
                out.append(pncp_record(f"{objeto} ({i})", uf=uf, modalidade=modalidade, publicado=published,
                                       sequencial=next(seq), valor=10_000.0 + 37 * i))
    for modalidade in DEFAULT_MODALIDADES:
        for i in range(50 * BIG_PAGES):
            out.append(pncp_record(f"{MATCHING[i % 5]} ({i})", uf=BIG_UF, modalidade=modalidade,
                                   publicado=published, sequencial=next(seq), valor=10_000.0 + 37 * i))
    return out


def serve(kind: str, conn) -> None:  # type: ignore[no-untyped-def]
    if kind == "pncp":
        from tests.fakes.pncp import FakePNCP

        fake = FakePNCP(pncp_records(), latency=PNCP_LATENCY)
        url = lambda: fake.base_url  # noqa: E731
    elif kind == "openai":
        from tests.fakes.openai_server import FakeOpenAI

        fake = FakeOpenAI(api_key=OPENAI_KEY, latency=LLM_LATENCY)
        url = lambda: fake.base_url  # noqa: E731
    else:
        from tests.fakes.supabase_storage import FakeSupabaseStorage, Slow

        fake = FakeSupabaseStorage(key=SUPABASE_KEY)
        # Latency on uploads only (signing a link stays fast), enough for every report of the bench.
        fake.script([Slow(UPLOAD_LATENCY)] * 5000, op="upload")
        fake.script([Slow(UPLOAD_LATENCY)] * 5000, op="update")
        url = lambda: fake.url  # noqa: E731
    with fake:
        conn.send(url())
        conn.recv()  # until the benchmark is done
        if kind == "openai":
            conn.send(len(fake.requests))
        elif kind == "storage":
            conn.send(sum(1 for r in fake.requests if r.op in ("upload", "update")))
        else:
            conn.send(f"{len(fake.requests)} (at most {fake.max_in_flight} at once)")


# --- one search as the page does it ----------------------------------------------------------


@dataclass
class Outcome:
    answer: float | None = None
    llm_ready: float | None = None
    excel_ready: float | None = None
    error: str | None = None
    tempos_ms: dict[str, float] = field(default_factory=dict)
    processamento: str | None = None
    total_filtrado: int = 0


def search_body(search_id: str, ufs: list[str]) -> dict:
    today = now_brasilia().date()
    return {
        "search_id": search_id, "ufs": ufs, "setor_id": "alimentos",
        "data_inicial": str(today - timedelta(days=7)), "data_final": str(today),
    }


async def one_search(
    client: httpx.AsyncClient, base: str, ufs: list[str], mode: str, *, sse: bool = True,
    on_answer: Callable[[], None] | None = None, body: dict | None = None,
) -> Outcome:
    sid = str(uuid.uuid4())
    out = Outcome()
    started = 0.0
    posted = asyncio.Event()
    stages: dict[str, float] = {}

    async def stream() -> None:
        async with client.stream("GET", f"{base}/v1/buscar-progress/{sid}",
                                 timeout=httpx.Timeout(SEARCH_TIMEOUT, connect=10)) as response:
            if response.status_code != 200:
                raise RuntimeError(f"SSE {response.status_code}")
            async for line in response.aiter_lines():
                if line.startswith("data:"):
                    await posted.wait()
                    stage = _stage(line[5:])
                    stages.setdefault(stage, time.perf_counter() - started)
                    if stage in ("complete", "error"):
                        return

    reader = asyncio.create_task(stream()) if sse else None
    await asyncio.sleep(0.005)  # let the GET leave first, as EventSource's does
    started = time.perf_counter()
    posted.set()
    try:
        response = await client.post(f"{base}/v1/buscar", json={**(body or search_body(sid, ufs)), "search_id": sid},
                                     timeout=SEARCH_TIMEOUT)
        out.answer = time.perf_counter() - started
        if on_answer is not None:
            on_answer()
        if response.status_code != 200:
            out.error = f"HTTP {response.status_code}"
        else:
            data = response.json()
            out.tempos_ms = data.get("tempos_ms") or {}
            out.processamento = data.get("processamento")
            out.total_filtrado = data.get("total_filtrado", 0)
            expected = "fila" if mode == "queue" else "inline"
            if out.processamento != expected:
                out.error = f"processamento={out.processamento}"
    except httpx.HTTPError as exc:
        out.error = f"POST {type(exc).__name__}"
    if reader is not None:
        try:
            await asyncio.wait_for(reader, SEARCH_TIMEOUT)
        except (TimeoutError, httpx.HTTPError, RuntimeError) as exc:
            out.error = out.error or f"SSE {type(exc).__name__} {exc}"
        out.llm_ready = stages.get("llm_ready")
        out.excel_ready = stages.get("excel_ready")
        if out.error is None:
            missing = [s for s in ("llm_ready", "excel_ready", "complete") if s not in stages]
            if missing:
                out.error = f"missing {','.join(missing)} (got {','.join(stages)})"
    return out


def _stage(data: str) -> str:
    import json

    return json.loads(data).get("stage", "?")


async def round_of(
    base: str, concurrency: int, mode: str, all_answered: Callable[[], None] | None = None
) -> list[Outcome]:
    limits = httpx.Limits(max_connections=4 * concurrency + 10, max_keepalive_connections=4 * concurrency + 10)
    answered = 0

    def on_answer() -> None:
        nonlocal answered
        answered += 1
        if answered == concurrency and all_answered is not None:
            all_answered()

    async with httpx.AsyncClient(limits=limits) as client:
        return list(await asyncio.gather(
            *(one_search(client, base, SEARCH_UFS, mode, on_answer=on_answer) for _ in range(concurrency))
        ))


@dataclass
class CpuUse:
    """CPU seconds spent by each side of the bench over one stretch of time."""

    web: float = 0.0  # gunicorn and its processes (web workers, Excel processes)
    doubles: float = 0.0  # PNCP, LLM and Storage doubles
    client: float = 0.0  # this process: the 30 browsers
    redis: float = 0.0

    @property
    def total(self) -> float:
        return self.web + self.doubles + self.client + self.redis

    def __sub__(self, other: CpuUse) -> CpuUse:
        return CpuUse(self.web - other.web, self.doubles - other.doubles, self.client - other.client,
                      self.redis - other.redis)


def _cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            total += cpu_seconds(pid)
        except (FileNotFoundError, ProcessLookupError):  # ended meanwhile
            pass
    return total


def cpu_now(server_pid: int, double_pids: list[int], redis_pid: int) -> CpuUse:
    return CpuUse(
        web=_cpu([server_pid, *descendants(server_pid)]),
        doubles=_cpu(double_pids),
        client=_cpu([os.getpid()]),
        redis=_cpu([redis_pid]),
    )


async def overhead_runs(base: str, runs: int) -> list[tuple[Outcome, float]]:
    results = []
    async with httpx.AsyncClient() as client:
        for _ in range(runs):
            out = await one_search(client, base, [BIG_UF], "queue", sse=False)
            results.append((out, out.answer or 0.0))
    return results


async def enqueue_replica(redis_url: str, runs: int) -> tuple[int, list[float], list[float]]:
    """What `search_pipeline._enqueue_reports` does, timed here: JSON payload of the ~2,000
    licitações, then the two ARQ enqueues, on a Redis db no worker reads."""
    from backend import keys
    from backend.adapters.queue_client import JobQueue, get_arq_pool, licitacoes_payload
    from backend.config import Settings
    from backend.domain.sectors import load_sectors
    from backend.schemas import BuscaRequest
    from backend.search_pipeline import criteria_for, select_licitacoes

    settings = Settings(redis_url=redis_url)
    sector = load_sectors()["alimentos"]
    request = BuscaRequest(**search_body(str(uuid.uuid4()), [BIG_UF]))
    records = [r for r in pncp_records() if r["unidadeOrgao"]["ufSigla"] == BIG_UF]
    matched = select_licitacoes(records, sector, criteria_for(request, sector))
    pool = get_arq_pool(settings)
    queue = JobQueue(pool, "bench")
    totals, payload_ms = [], []
    try:
        for _ in range(runs + 2):
            sid = str(uuid.uuid4())
            t0 = time.perf_counter()
            payload = licitacoes_payload(matched)
            t1 = time.perf_counter()
            ok = await queue.enqueue_job("llm_summary_job", sid, payload, sector.nome, job_id=keys.llm_job(sid))
            ok &= await queue.enqueue_job("excel_generation_job", sid, payload, {"excel": True},
                                          job_id=keys.excel_job(sid))
            t2 = time.perf_counter()
            assert ok
            totals.append((t2 - t0) * 1000)
            payload_ms.append((t1 - t0) * 1000)
    finally:
        await pool.flushdb()
        await pool.aclose()
    return len(matched), totals[2:], payload_ms[2:]


# --- figures ---------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))  # nearest rank
    return ordered[k]


def fmt(value: float | None, scale: float = 1.0, digits: int = 2) -> str:
    return "-" if value is None else f"{value * scale:.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 10, 30])
    parser.add_argument("--overhead-runs", type=int, default=20)
    parser.add_argument("--modes", nargs="+", choices=["queue", "inline"], default=["queue", "inline"])
    args = parser.parse_args()
    bench_started = time.perf_counter()

    print(f"nproc: {os.cpu_count()}  (os.sched_getaffinity: {len(os.sched_getaffinity(0))})")
    print(f"server: ./start.sh web, WEB_CONCURRENCY=2, SQLite, own redis-server; searches: {len(SEARCH_UFS)} UFs "
          f"({','.join(SEARCH_UFS)}) x {len(DEFAULT_MODALIDADES)} modalidades x 1-2 pages, sector alimentos")
    print(f"doubles (one child process each): PNCP {PNCP_LATENCY * 1000:.0f} ms a page, "
          f"LLM {LLM_LATENCY:.0f} s an answer, Storage {UPLOAD_LATENCY * 1000:.0f} ms an upload")
    print(f"concurrency: {args.concurrency}; overhead: {args.overhead_runs} sequential searches of {BIG_UF} "
          f"(4 x {BIG_PAGES} pages, every objeto matching)\n")

    ctx = multiprocessing.get_context("spawn")
    pipes, procs, urls = {}, [], {}
    for kind in ("pncp", "openai", "storage"):
        here, there = ctx.Pipe()
        proc = ctx.Process(target=serve, args=(kind, there), daemon=True)
        proc.start()
        pipes[kind], urls[kind] = here, here.recv()
        procs.append(proc)

    tmp = Path(tempfile.mkdtemp(prefix="bench-capacity-"))
    redis_port = free_port()
    redis = start_redis(redis_port, tmp)
    rows: dict[tuple[str, int], list[Outcome]] = {}
    cpu: dict[tuple[str, int], tuple[CpuUse, float]] = {}
    overhead: list[tuple[Outcome, float]] = []
    replica: tuple[int, list[float], list[float]] | None = None
    try:
        for db, mode in enumerate(args.modes):
            work = tmp / mode
            work.mkdir()
            env = server_env(
                work, f"redis://127.0.0.1:{redis_port}/{db}",  # own Redis db: no heartbeat of the other run
                PNCP_BASE_URL=urls["pncp"], WEB_CONCURRENCY="2", PNCP_MAX_RETRIES="0",
                OPENAI_API_KEY=OPENAI_KEY, OPENAI_BASE_URL=urls["openai"],
                SUPABASE_URL=urls["storage"], SUPABASE_SERVICE_ROLE_KEY=SUPABASE_KEY,
                WORKER_DRAIN_SECONDS="2", EMBEDDED_WORKER="true" if mode == "queue" else "false",
            )
            t0 = time.perf_counter()
            with running_server(env, tmp / f"{mode}.log", gunicorn=True) as server:
                if mode == "queue":
                    wait_for(lambda: queue_healthy(server), 30, "a healthy queue")
                else:
                    health = httpx.get(f"{server.url}/v1/health", timeout=5).json()
                    assert health["queue"] != "healthy", health
                print(f"[{mode}] server up in {time.perf_counter() - t0:.1f} s; warming up", flush=True)
                asyncio.run(round_of(server.url, 4, mode))  # imports, connections, both processes
                for concurrency in args.concurrency:
                    t1 = time.perf_counter()
                    cpu_pids = (server.process.pid, [p.pid for p in procs], redis.pid)
                    before, at_last_answer = cpu_now(*cpu_pids), []

                    def all_answered(into: list = at_last_answer, pids: tuple = cpu_pids) -> None:
                        into.append((cpu_now(*pids), time.perf_counter()))

                    rows[(mode, concurrency)] = asyncio.run(round_of(server.url, concurrency, mode, all_answered))
                    if at_last_answer:
                        used, when = at_last_answer[0]
                        cpu[(mode, concurrency)] = (used - before, when - t1)
                    print(f"[{mode}] {concurrency} concurrent: {time.perf_counter() - t1:.1f} s", flush=True)
                if mode == "queue" and args.overhead_runs:
                    asyncio.run(overhead_runs(server.url, 2))  # warm-up
                    t1 = time.perf_counter()
                    overhead = asyncio.run(overhead_runs(server.url, args.overhead_runs))
                    print(f"[queue] overhead runs: {time.perf_counter() - t1:.1f} s", flush=True)
                    replica = asyncio.run(enqueue_replica(f"redis://127.0.0.1:{redis_port}/2", args.overhead_runs))
            log = (tmp / f"{mode}.log").read_text(errors="replace")
            bad = [ln for ln in log.splitlines() if any(w in ln for w in ("ERROR", "Traceback", "WARNING"))]
            if bad:
                print(f"[{mode}] server log: {len(bad)} ERROR/WARNING/Traceback lines, e.g.:")
                for ln in bad[:6]:
                    print("    " + ln[:200])
    finally:
        redis.terminate()
        redis.wait(timeout=10)
        counts = {}
        for kind, pipe in pipes.items():
            pipe.send("stop")
            counts[kind] = pipe.recv() if pipe.poll(10) else "?"
        for proc in procs:
            proc.join(timeout=10)

    print(f"\ndoubles served: PNCP {counts['pncp']} pages, LLM {counts['openai']} completions, "
          f"Storage {counts['storage']} uploads\n")
    header = (f"{'mode':<7}{'conc':>5}{'results':>8}{'answer p50':>11}{'p95':>7}{'llm_ready p50':>14}{'p95':>7}"
              f"{'excel_ready p50':>16}{'p95':>7}{'errors':>7}")
    print("seconds from the POST; results = total_filtrado of one search")
    print(header)
    print("-" * len(header))
    errors_seen: list[str] = []
    for (mode, concurrency), outs in rows.items():
        ok = [o for o in outs if o.error is None]
        answers = [o.answer for o in outs if o.answer is not None and not (o.error or "").startswith(("HTTP", "POST"))]
        llm = [o.llm_ready for o in outs if o.llm_ready is not None]
        excel = [o.excel_ready for o in outs if o.excel_ready is not None]
        errors = len(outs) - len(ok)
        errors_seen += [f"{mode}@{concurrency}: {o.error}" for o in outs if o.error]
        results = max((o.total_filtrado for o in outs), default=0)
        print(f"{mode:<7}{concurrency:>5}{results:>8}{fmt(pct(answers, .5)):>11}{fmt(pct(answers, .95)):>7}"
              f"{fmt(pct(llm, .5)):>14}{fmt(pct(llm, .95)):>7}{fmt(pct(excel, .5)):>16}{fmt(pct(excel, .95)):>7}"
              f"{errors:>7}")
    for line in sorted(set(errors_seen))[:10]:
        print("  error: " + line)

    cores = len(os.sched_getaffinity(0))
    print(f"\nCPU seconds from the first POST to the last answer, by every process of the bench ({cores} cores):")
    print(f"{'mode':<7}{'conc':>5}{'web':>7}{'doubles':>8}{'client':>7}{'redis':>6}{'total':>7}"
          f"{'wall s':>7}{'total / cores':>14}")
    for (mode, concurrency), (used, wall) in cpu.items():
        print(f"{mode:<7}{concurrency:>5}{used.web:>7.2f}{used.doubles:>8.2f}{used.client:>7.2f}{used.redis:>6.2f}"
              f"{used.total:>7.2f}{wall:>7.2f}{used.total / cores:>14.2f}")
    print("   total / cores is the least wall time that work can take here, whatever the service does.")

    print("\nwhere the answer's time goes: p50 of the server's tempos_ms, ms")
    stage_names = [s for s in ("fetch", "filter", "persist", "enqueue", "resumo", "excel")
                   if any(s in o.tempos_ms for outs in rows.values() for o in outs)]
    print(f"{'mode':<7}{'conc':>5}" + "".join(f"{name:>9}" for name in stage_names))
    for (mode, concurrency), outs in rows.items():
        cells = [pct([o.tempos_ms[name] for o in outs if name in o.tempos_ms], .5) for name in stage_names]
        print(f"{mode:<7}{concurrency:>5}" + "".join(f"{fmt(c, 1, 0):>9}" for c in cells))

    lo, hi = min(args.concurrency), max(args.concurrency)

    def ratio(mode: str) -> tuple[float | None, float | None, float | None]:
        a = pct([o.answer for o in rows.get((mode, lo), []) if o.answer is not None], .95)
        b = pct([o.answer for o in rows.get((mode, hi), []) if o.answer is not None], .95)
        return a, b, (b / a if a and b else None)

    qa, qb, qr = ratio("queue")
    ia, ib, ir = ratio("inline")
    verdict = "-" if qr is None else ("ok" if qr <= GOAL_RATIO else "MISS")
    print(f"\np95 answer at {hi} / p95 answer at {lo}:  queue {fmt(qb)} / {fmt(qa)} = {fmt(qr)}x "
          f"(goal <= {GOAL_RATIO}x: {verdict});  inline {fmt(ib)} / {fmt(ia)} = {fmt(ir)}x")

    if overhead:
        ok = [(o, t) for o, t in overhead if o.error is None]
        enqueue = [o.tempos_ms["enqueue"] for o, _ in ok if "enqueue" in o.tempos_ms]
        transfer = [t * 1000 - sum(o.tempos_ms.values()) for o, t in ok]
        totals = [t * 1000 for _, t in ok]
        stages = sorted({k for o, _ in ok for k in o.tempos_ms})
        results = max((o.total_filtrado for o, _ in ok), default=0)
        print(f"\nqueue overhead, {len(ok)}/{len(overhead)} good runs of one search with {results} results (ms):")
        print(f"{'figure':<44}{'p50':>9}{'p95':>9}")
        if enqueue:
            p95 = pct(enqueue, .95)
            verdict = "ok" if p95 <= GOAL_ENQUEUE_MS else "MISS"
            print(f"{'tempos_ms[enqueue] (server)':<44}{fmt(pct(enqueue, .5), 1, 1):>9}{fmt(p95, 1, 1):>9}   "
                  f"goal p95 <= {GOAL_ENQUEUE_MS:.0f}: {verdict}")
        else:
            print(f"{'tempos_ms[enqueue] (server)':<44}{'absent':>9}{'absent':>9}   "
                  f"the 'fila' answers carry only {stages}")
        if replica is not None:
            count, rep, rep_payload = replica
            p95 = pct(rep, .95)
            verdict = "ok" if p95 is not None and p95 <= GOAL_ENQUEUE_MS else "MISS"
            print(f"{f'enqueue replica, {count} licitações (bench)':<44}{fmt(pct(rep, .5), 1, 1):>9}"
                  f"{fmt(p95, 1, 1):>9}   goal p95 <= {GOAL_ENQUEUE_MS:.0f}: {verdict}")
            print(f"{'  of which licitacoes_payload()':<44}{fmt(pct(rep_payload, .5), 1, 1):>9}"
                  f"{fmt(pct(rep_payload, .95), 1, 1):>9}")
        for stage in stages:
            if stage != "enqueue":
                vals = [o.tempos_ms[stage] for o, _ in ok if stage in o.tempos_ms]
                print(f"{'tempos_ms[' + stage + ']':<44}{fmt(pct(vals, .5), 1, 1):>9}{fmt(pct(vals, .95), 1, 1):>9}")
        label = "client total (POST to parsed answer)"
        print(f"{label:<44}{fmt(pct(totals, .5), 1, 1):>9}{fmt(pct(totals, .95), 1, 1):>9}")
        label = "total - stage sum" + ("" if enqueue else " (incl. enqueue)")
        print(f"{label:<44}{fmt(pct(transfer, .5), 1, 1):>9}{fmt(pct(transfer, .95), 1, 1):>9}"
              "   response transfer: serialisation, HTTP, parsing")
        for o, _ in overhead:
            if o.error:
                print("  error: " + o.error)
    print(f"\nbench took {time.perf_counter() - bench_started:.0f} s; logs in {tmp}")


if __name__ == "__main__":
    main()
