"""The cost of matching: a live search's filtering and the index's matching at write time.

    .venv/bin/python -m bench.filter [--records 20000] [--repeat 5] [--before REV]

On `--records` demo records, best of `--repeat` runs:
- per sector, the live search's stages 3-5 (`select_licitacoes`: normalise + dedupe, the objeto
  tested before any record is mapped, filter, rank), in records per second (goal: 50,000);
- the index's write-time work (`index_rows`: every record normalised and matched against every
  sector), in publications per second.
`--before REV` measures the code of a git revision the same way, in the same run (a child process
in a tree of that revision's `backend/`), and prints both side by side with their ratio.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date
from functools import partial

from backend.codes import DEFAULT_MODALIDADES, UFS, now_brasilia
from backend.domain.filtering import Criteria
from backend.domain.sectors import load_sectors
from backend.index.publications import index_rows
from backend.pncp.demo import recent_records
from backend.search_pipeline import select_licitacoes
from bench.revision import revision_tree

GOAL = 50_000
WRITE = "index (write)"


def demo_records(count: int) -> tuple[list[dict], date, date]:
    end = now_brasilia().date()
    records = recent_records(count, end)
    start = min(date.fromisoformat(r["dataPublicacaoPncp"][:10]) for r in records)
    return records, start, end


def best_seconds(run: Callable[[], object], repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - started)
    return min(times), result


def measure(count: int, repeat: int) -> dict[str, tuple[float, int]]:
    """Name -> (records per second, records kept)."""
    records, start, end = demo_records(count)
    sectors = load_sectors()
    figures: dict[str, tuple[float, int]] = {}
    for sector in sectors.values():
        criteria = Criteria(
            ufs=frozenset(UFS), modalidades=frozenset(DEFAULT_MODALIDADES), data_inicial=start, data_final=end,
            now=now_brasilia(), valor_minimo=sector.valor_minimo, valor_maximo=sector.valor_maximo,
        )
        seconds, kept = best_seconds(partial(select_licitacoes, records, sector, criteria), repeat)
        figures[sector.id] = (len(records) / seconds, len(kept))
    seconds, rows = best_seconds(partial(index_rows, records, sectors), repeat)
    figures[WRITE] = (len(records) / seconds, sum(bool(row.setores) for row in rows))
    return figures


def measure_revision(revision: str, count: int, repeat: int) -> dict[str, tuple[float, int]]:
    with revision_tree(revision) as tree:
        done = subprocess.run([sys.executable, "-m", "bench.filter", "--records", str(count), "--repeat",
                               str(repeat), "--json"], cwd=tree, check=True, capture_output=True, text=True)
    return {name: (rate, kept) for name, (rate, kept) in json.loads(done.stdout).items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--before", metavar="REV", help="also measure the code of this git revision")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    before = measure_revision(args.before, args.records, args.repeat) if args.before else None
    now = measure(args.records, args.repeat)
    if args.json:
        print(json.dumps(now))
        return
    print(f"{args.records} demo records, best of {args.repeat} runs; records per second (kept)\n")
    if before is None:
        print(f"{'':<22}{'rec/s':>10}{'kept':>7}")
        for name, (rate, kept) in now.items():
            print(f"{name:<22}{rate:>10,.0f}{kept:>7}")
    else:
        print(f"{'':<22}{args.before:>18}{'today':>18}{'today/before':>14}")
        for name, (rate, kept) in now.items():
            old_rate, old_kept = before[name]
            print(f"{name:<22}{old_rate:>10,.0f}{f'({old_kept})':>8}{rate:>10,.0f}{f'({kept})':>8}"
                  f"{rate / old_rate:>13.2f}x")
    rates = [rate for name, (rate, _) in now.items() if name != WRITE]
    print(f"\nsearch: median {statistics.median(rates):,.0f} records/s, slowest {min(rates):,.0f} (goal {GOAL:,})")


if __name__ == "__main__":
    main()
