"""Stages 3-5 (normalise + dedupe, filter by sector, rank) on 20,000 demo records.

    .venv/bin/python -m bench.filter [--records 20000] [--repeat 5]

Side by side: the pipeline's `select_licitacoes` (objeto tested before any record is mapped)
and the plain order (map every record, then filter). Goal: at least 50,000 records per second.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import date

from backend.codes import DEFAULT_MODALIDADES, UFS, now_brasilia
from backend.domain.filtering import Criteria, filter_and_rank
from backend.domain.sectors import Sector, load_sectors
from backend.pncp.demo import recent_records
from backend.pncp.records import normalize_records
from backend.schemas import Licitacao
from backend.search_pipeline import select_licitacoes

GOAL = 50_000


def demo_records(count: int) -> tuple[list[dict], date, date]:
    end = now_brasilia().date()
    records = recent_records(count, end)
    start = min(date.fromisoformat(r["dataPublicacaoPncp"][:10]) for r in records)
    return records, start, end


def map_all_then_filter(records: list[dict], sector: Sector, criteria: Criteria) -> list[Licitacao]:
    return filter_and_rank(normalize_records(records), sector.rules, criteria)


def best_seconds(run: Callable[[], object], repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - started)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    records, start, end = demo_records(args.records)
    sectors = load_sectors()
    print(f"{len(records)} demo records, {start} to {end}, {len(sectors)} sectors, best of {args.repeat} runs\n")
    print(f"{'sector':<22}{'kept':>6}{'pipeline rec/s':>16}{'map-all rec/s':>15}{'speed-up':>10}{'vs goal':>9}")
    rates = []
    for sector in sectors.values():
        criteria = Criteria(
            ufs=frozenset(UFS), modalidades=frozenset(DEFAULT_MODALIDADES), data_inicial=start, data_final=end,
            now=now_brasilia(), valor_minimo=sector.valor_minimo, valor_maximo=sector.valor_maximo,
        )
        fast, kept = best_seconds(lambda: select_licitacoes(records, sector, criteria), args.repeat)
        plain, same = best_seconds(lambda: map_all_then_filter(records, sector, criteria), args.repeat)
        assert kept == same, f"{sector.id}: the two orders disagree"
        rate, plain_rate = len(records) / fast, len(records) / plain
        rates.append(rate)
        print(
            f"{sector.id:<22}{len(kept):>6}{rate:>16,.0f}{plain_rate:>15,.0f}"
            f"{rate / plain_rate:>9.1f}x{rate / GOAL:>8.1f}x"
        )
    print(f"\npipeline: median {statistics.median(rates):,.0f} records/s, slowest {min(rates):,.0f} (goal {GOAL:,})")


if __name__ == "__main__":
    main()
