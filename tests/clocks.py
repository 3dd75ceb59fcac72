"""Clocks given to the service, so that a test runs at the hour it means, whatever the hour it is."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from backend.codes import BRASILIA, Clock


def clock_from(moment: datetime) -> Clock:
    """A clock that reads `moment` now and runs on from there at the real pace."""
    offset = moment - datetime.now(UTC)
    return lambda: datetime.now(UTC) + offset


class MovableClock:
    """`clock_from` that a test can also move forward (`advance`), as a day passes."""

    def __init__(self, moment: datetime) -> None:
        self._offset = moment - datetime.now(UTC)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self._offset

    def advance(self, by: timedelta) -> None:
        self._offset += by


def utc_ahead_of_brasilia(day: date) -> dict[str, datetime]:
    """Two moments of Brasília's `day` when a machine on UTC is already on the next day: 01:30
    UTC of the next day (22:30 in Brasília), and 23:30 in Brasília (02:30 UTC)."""
    return {
        "01:30 UTC": datetime.combine(day + timedelta(days=1), time(1, 30), UTC),
        "23:30 Brasília": datetime.combine(day, time(23, 30), BRASILIA).astimezone(UTC),
    }


def latest_late_evening(kind: str, now: datetime | None = None) -> datetime:
    """The latest moment of `kind` (a key of `utc_ahead_of_brasilia`) before `now`."""
    now = now or datetime.now(UTC)
    today = now.astimezone(BRASILIA).date()
    moments = [utc_ahead_of_brasilia(day)[kind] for day in (today, today - timedelta(days=1))]
    return max(moment for moment in moments if moment <= now)
