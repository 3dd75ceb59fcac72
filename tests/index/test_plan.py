"""Which PNCP reads a search needs, given what the index holds (pure)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from backend.index.plan import Read, covered_cells, days_of, missing_cells, plan_reads, published_days, usable
from backend.store.publications import NATIONAL, Slice, SliceState

TODAY = date(2026, 12, 1)
NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
FRESH = timedelta(minutes=20)


def state(modalidade: int, day: date, uf: str = NATIONAL, *, complete: bool = True,
          age: timedelta = timedelta(minutes=1)) -> SliceState:
    return SliceState(Slice(modalidade, day, uf), complete, NOW - age if complete else None, 10)


def test_a_slice_read_after_its_day_was_over_answers_for_good_and_others_only_while_fresh() -> None:
    old_day = TODAY - timedelta(days=5)
    assert usable(state(6, old_day, age=timedelta(days=3)), now=NOW, fresh_for=FRESH)  # read 2 days after
    assert not usable(state(6, old_day, age=timedelta(days=4, hours=12)), now=NOW, fresh_for=FRESH)  # the next day
    assert usable(state(6, TODAY, age=timedelta(minutes=19)), now=NOW, fresh_for=FRESH)
    assert not usable(state(6, TODAY, age=timedelta(minutes=21)), now=NOW, fresh_for=FRESH)
    assert not usable(state(6, TODAY - timedelta(days=1), age=timedelta(hours=1)), now=NOW, fresh_for=FRESH)
    assert not usable(state(6, old_day, complete=False), now=NOW, fresh_for=FRESH)


def test_national_slices_cover_every_uf_and_uf_slices_only_their_own() -> None:
    days = days_of(TODAY - timedelta(days=1), TODAY)
    covered = covered_cells([state(6, days[0]), state(6, days[1], "SP")], lambda s: True)
    missing = missing_cells(["SP", "RJ"], [6, 4], days, covered)
    assert missing == {6: {days[1]: ["RJ"]}, 4: {days[0]: ["SP", "RJ"], days[1]: ["SP", "RJ"]}}


def test_without_volumes_missing_cells_are_read_per_uf_over_runs_of_days() -> None:
    d = days_of(TODAY - timedelta(days=4), TODAY)
    missing = {6: {d[0]: ["SP"], d[1]: ["SP"], d[3]: ["SP", "RJ"], d[4]: ["SP"]}}
    reads = plan_reads(missing, {}, national_max_pages=200)
    assert sorted(reads, key=lambda r: (r.uf, r.first)) == [
        Read(6, "RJ", d[3], d[3]), Read(6, "SP", d[0], d[1]), Read(6, "SP", d[3], d[4]),
    ]


def test_many_ufs_are_read_nationally_one_day_at_a_time_when_that_takes_fewer_requests() -> None:
    ufs = ["AC", "AL", "AM", "AP", "BA", "CE", "DF", "ES", "GO", "MA", "MG", "MS"]
    d = days_of(TODAY - timedelta(days=2), TODAY)
    volumes = {(uf, 6): 4.0 for uf in ufs} | {("SP", 6): 80.0}  # 128 a day nationwide: 3 pages a day
    reads = plan_reads({6: {day: ufs for day in d}}, volumes, national_max_pages=200)
    assert reads == [Read(6, NATIONAL, day, day) for day in d]  # 9 requests against 12 (one per UF)
    few = plan_reads({6: {day: ["AC"] for day in d}}, volumes, national_max_pages=200)
    assert few == [Read(6, "AC", d[0], d[2])]  # one request against 9
    capped = plan_reads({6: {day: ufs for day in d}}, volumes, national_max_pages=2)
    assert all(read.uf != NATIONAL for read in capped)  # 3 pages a day would pass the cap
    busier = {(uf, 6): 4.0 for uf in ufs} | {("SP", 6): 130.0}  # 4 pages a day: 12 requests against 12
    close = plan_reads({6: {day: ufs for day in d}}, busier, national_max_pages=200)
    assert all(read.uf != NATIONAL for read in close)  # no saving worth every UF waiting for every day


def test_a_read_names_its_slices_and_the_ufs_it_covers() -> None:
    read = Read(6, "SP", TODAY - timedelta(days=1), TODAY)
    assert read.slices == [Slice(6, TODAY - timedelta(days=1), "SP"), Slice(6, TODAY, "SP")]
    assert read.covers("SP") and not read.covers("RJ")
    assert Read(6, NATIONAL, TODAY, TODAY).covers("RJ")
    assert read.key == "6:SP:2026-11-30:2026-12-01"
    assert Read(6, NATIONAL, TODAY, TODAY).key == "6:BR:2026-12-01:2026-12-01"


def test_days_after_brasilias_today_have_nothing_to_read() -> None:
    today = date(2026, 3, 10)
    assert published_days(date(2026, 3, 8), date(2026, 3, 11), today) == days_of(date(2026, 3, 8), today)
    assert published_days(date(2026, 3, 11), date(2026, 3, 11), today) == []  # tomorrow: nothing yet
    assert published_days(date(2026, 3, 1), date(2026, 3, 2), today) == days_of(date(2026, 3, 1), date(2026, 3, 2))
