"""What accounts cost a search: the same searches without sign-in and signed in, side by side.

    .venv/bin/python -m bench.accounts [--searches 60]

Two real servers (uvicorn, demo PNCP read live, SQLite, a redis-server of their own, embedded
worker) start together: one with AUTH_MODE=off, one with AUTH_MODE=supabase against the Supabase
Auth double (tests/fakes/supabase_auth.py) and a plan large enough never to refuse. Searches of
one UF over five days go to each in turn, so the machine's noise falls on both alike. Printed:
answer p50/p95 and the server process's CPU per search for each, and their ratio. Signed in, a
search also verifies its token (ES256, keys cached), holds a place among its user's searches at
once (one Redis script) and counts against the quota (one database transaction).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import httpx

from backend.codes import today_brasilia
from bench.procs import cpu_seconds, descendants
from tests.conftest import free_port, start_redis
from tests.fakes.supabase_auth import FakeSupabaseAuth
from tests.servers import running_servers, server_env

WARM_UP = 3  # searches each before the figures count
PLANS = """
planos:
  - {id: free, nome: Gratuito, buscas_mes: 100000, excel: true, max_ufs: 27, max_dias: 30,
     buscas_simultaneas: 5, historico_dias: 7}
"""


def search_body() -> dict[str, object]:
    today = today_brasilia()
    return {"setor_id": "vestuario", "ufs": ["SP"], "data_inicial": str(today - timedelta(days=4)),
            "data_final": str(today)}


def tree_cpu(pid: int) -> float:
    total = 0.0
    for process in (pid, *descendants(pid)):
        try:
            total += cpu_seconds(process)
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--searches", type=int, default=60, help="searches each server answers")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, FakeSupabaseAuth() as auth:
        root, redis_port = Path(tmp), free_port()
        redis = start_redis(redis_port, root)
        try:
            times, cpu = run(root, auth, f"redis://127.0.0.1:{redis_port}/0", args.searches)
        finally:
            redis.terminate()
            redis.wait()
    report(times, cpu)


def run(root: Path, auth: FakeSupabaseAuth, redis_url: str, searches: int) -> tuple[dict[str, list[float]],
                                                                                    dict[str, float]]:
    """Each server's answer times (seconds) and the CPU seconds its process tree spent on them."""
    plans = root / "plans.yaml"
    plans.write_text(PLANS, encoding="utf-8")
    envs = []
    for name, extra in (("off", {"AUTH_MODE": "off"}),
                        ("supabase", {"SUPABASE_URL": auth.url, "SUPABASE_ANON_KEY": "anon",
                                      "PLANS_FILE": str(plans)})):
        (root / name).mkdir()
        envs.append(server_env(root / name, redis_url, EMBEDDED_WORKER="true", **extra))
    token = auth.sign_up("bench@example.com", "segredo123")["access_token"]
    headers = {"off": {}, "supabase": {"Authorization": f"Bearer {token}"}}
    times: dict[str, list[float]] = {name: [] for name in headers}
    cpu: dict[str, float] = dict.fromkeys(headers, 0.0)
    with running_servers(envs, root) as servers, httpx.Client(timeout=60) as client:
        named = dict(zip(headers, servers, strict=True))
        for round_ in range(WARM_UP + searches):
            for name, server in named.items():
                before, started = tree_cpu(server.process.pid), time.perf_counter()
                answer = client.post(f"{server.url}/v1/buscar", json=search_body(), headers=headers[name])
                elapsed = time.perf_counter() - started
                answer.raise_for_status()
                if round_ >= WARM_UP:
                    times[name].append(elapsed)
                    cpu[name] += tree_cpu(server.process.pid) - before
    return times, cpu


def report(times: dict[str, list[float]], cpu: dict[str, float]) -> None:
    searches = len(times["off"])
    print(f"{searches} searches each (1 UF x 5 days, demo PNCP read live), alternating between the two servers")
    print(f"{'':20}{'p50 ms':>10}{'p95 ms':>10}{'CPU ms/search':>16}")
    figures = {}
    for name, answered in times.items():
        ordered = sorted(answered)
        figures[name] = (statistics.median(ordered) * 1000, ordered[int(0.95 * (len(ordered) - 1))] * 1000,
                         cpu[name] / len(ordered) * 1000)
        print(f"{'AUTH_MODE=' + name:20}" + "".join(f"{v:>10.1f}" for v in figures[name][:2])
              + f"{figures[name][2]:>16.1f}")
    off, signed = figures["off"], figures["supabase"]
    print(f"{'signed in / off':20}" + "".join(f"{a / b:>9.2f}x" for a, b in zip(signed[:2], off[:2], strict=True))
          + f"{signed[2] / off[2]:>15.2f}x")


if __name__ == "__main__":
    main()
