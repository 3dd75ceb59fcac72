"""Stages 3-5 (normalise + dedupe, filter by sector, rank) on 20,000 demo records.

    .venv/bin/python -m bench.filter [--records 20000] [--repeat 5]

Goal: at least 50,000 records per second on the project's 2-core machine.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import date, timedelta

from backend.codes import DEFAULT_MODALIDADES, UFS, now_brasilia
from backend.filtering import Criteria, filter_and_rank
from backend.sectors import load_sectors
from backend.sources.pncp_demo import generate_records
from backend.sources.pncp_records import normalize_records

GOAL = 50_000


def demo_records(count: int) -> tuple[list[dict], date, date]:
    records: list[dict] = []
    end = now_brasilia().date()
    day = end
    while len(records) < count:
        for uf in UFS:
            for modalidade in DEFAULT_MODALIDADES:
                records.extend(generate_records(uf, modalidade, day))
        day -= timedelta(days=1)
    return records[:count], day, end


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    records, start, end = demo_records(args.records)
    sectors = load_sectors()
    print(f"{len(records)} demo records, {start} to {end}, {len(sectors)} sectors, best of {args.repeat} runs\n")
    print(f"{'sector':<22}{'kept':>7}{'normalise ms':>14}{'filter ms':>11}{'records/s':>12}{'vs goal':>9}")
    rates = []
    for sector in sectors.values():
        criteria = Criteria(
            ufs=frozenset(UFS), modalidades=frozenset(DEFAULT_MODALIDADES), data_inicial=start, data_final=end,
            now=now_brasilia(), valor_minimo=sector.valor_minimo, valor_maximo=sector.valor_maximo,
        )
        runs = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            licitacoes = normalize_records(records)
            t1 = time.perf_counter()
            kept = filter_and_rank(licitacoes, sector.rules, criteria)
            t2 = time.perf_counter()
            runs.append((t2 - t0, t1 - t0, t2 - t1))
        total, norm, filt = min(runs)
        rate = len(records) / total
        rates.append(rate)
        print(f"{sector.id:<22}{len(kept):>7}{norm * 1000:>14.1f}{filt * 1000:>11.1f}{rate:>12,.0f}{rate / GOAL:>8.2f}x")
    print(f"\nmedian {statistics.median(rates):,.0f} records/s, slowest {min(rates):,.0f} (goal {GOAL:,})")


if __name__ == "__main__":
    main()
