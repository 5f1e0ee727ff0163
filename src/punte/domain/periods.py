"""Calendar arithmetic for subscriptions and recurring invoices (pure, no I/O).

Subscription periods are anniversary months anchored on the activation day, never calendar
months: activated on 20 January, a period runs 20 January - 19 February and the next one starts on
20 February. An anchor on the 29th-31st falls on the last day of shorter months (31 January ->
28/29 February -> 31 March), always computed from the anchor itself so the day never drifts.

Recurring schedules repeat every N days, weeks, months or years from a start date; monthly and
yearly schedules may name a day of the month, clamped to the month's last day the same way.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

UNITS = ("day", "week", "month", "year")


def days_in_month(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def month_day(year: int, month: int, day: int) -> date:
    """``day`` of the given month, or the month's last day when the month is shorter."""
    return date(year, month, min(day, days_in_month(year, month)))


def shift_months(anchor: date, months: int, *, day: int | None = None) -> date:
    """The date ``months`` months after (or before) ``anchor`` on ``day`` (default the anchor's day)."""
    index = anchor.year * 12 + (anchor.month - 1) + months
    year, month = divmod(index, 12)
    return month_day(year, month + 1, day if day is not None else anchor.day)


def months_between(earlier: date, later: date) -> int:
    """Whole calendar months from ``earlier``'s month to ``later``'s month (days ignored)."""
    return (later.year - earlier.year) * 12 + later.month - earlier.month


@dataclass(frozen=True)
class Period:
    """A subscription period, both ends inclusive."""

    start: date
    end: date

    @property
    def next_start(self) -> date:
        """The day the count resets."""
        return self.end + timedelta(days=1)

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end


def subscription_period(activated: date, day: date) -> Period:
    """The anniversary month containing ``day`` for a subscription activated on ``activated``.

    Periods tile the whole calendar in both directions from the anchor, so any day has one.
    """
    k = months_between(activated, day)
    start = shift_months(activated, k)
    if start > day:
        k -= 1
        start = shift_months(activated, k)
    return Period(start, shift_months(activated, k + 1) - timedelta(days=1))


@dataclass(frozen=True)
class Recurrence:
    """Occurrences ``start``, then every ``every`` ``unit`` s, up to ``end`` (inclusive) if given.

    For ``month`` and ``year`` the occurrences fall on ``day_of_month`` (default the start's day) of
    every ``every``-th month counted from the start's month, clamped to the month's end; a first one
    that would fall before ``start`` is skipped.
    """

    every: int
    unit: str
    start: date
    end: date | None = None
    day_of_month: int | None = None

    def __post_init__(self) -> None:
        if self.unit not in UNITS:
            raise ValueError(f"unit must be one of {', '.join(UNITS)}")
        if self.every < 1:
            raise ValueError("every must be at least 1")
        if self.day_of_month is not None and not 1 <= self.day_of_month <= 31:
            raise ValueError("day_of_month must be between 1 and 31")
        if self.day_of_month is not None and self.unit not in ("month", "year"):
            raise ValueError("day_of_month applies to monthly and yearly schedules only")
        if self.end is not None and self.end < self.start:
            raise ValueError("end must not be before start")

    # -- the k-th candidate, before the start/end filters ------------------------------------------
    def _months_step(self) -> int:
        return self.every * (12 if self.unit == "year" else 1)

    def _days_step(self) -> int:
        return self.every * (7 if self.unit == "week" else 1)

    def _skip(self) -> int:
        """1 when the month-based candidate of the start month falls before ``start``."""
        if self.unit in ("day", "week"):
            return 0
        return 1 if self._candidate_raw(0) < self.start else 0

    def _candidate_raw(self, k: int) -> date:
        if self.unit in ("day", "week"):
            return self.start + timedelta(days=k * self._days_step())
        return shift_months(self.start, k * self._months_step(), day=self.day_of_month or self.start.day)

    def occurrence(self, index: int) -> date:
        """The ``index``-th occurrence (0 is the first), ignoring ``end``."""
        if index < 0:
            raise ValueError("index must not be negative")
        return self._candidate_raw(index + self._skip())

    def first_index_on_or_after(self, day: date) -> int:
        """The index of the first occurrence on or after ``day`` (ignoring ``end``)."""
        if day <= self.start:
            return 0
        if self.unit in ("day", "week"):
            step = self._days_step()
            return -(-(day - self.start).days // step)
        k = max(0, months_between(self.start, day) // self._months_step() - self._skip())
        while k > 0 and self.occurrence(k - 1) >= day:
            k -= 1
        while self.occurrence(k) < day:
            k += 1
        return k

    def next_on_or_after(self, day: date) -> date | None:
        """The first occurrence on or after ``day``; None when the schedule has ended by then."""
        found = self.occurrence(self.first_index_on_or_after(day))
        if self.end is not None and found > self.end:
            return None
        return found

    def between(self, first: date, last: date) -> list[date]:
        """Occurrences in ``[first, last]`` (both inclusive), within the schedule's end."""
        if self.end is not None:
            last = min(last, self.end)
        found: list[date] = []
        k = self.first_index_on_or_after(first)
        while True:
            day = self.occurrence(k)
            if day > last:
                return found
            found.append(day)
            k += 1


__all__ = [
    "UNITS", "Period", "Recurrence", "days_in_month", "month_day", "months_between", "shift_months",
    "subscription_period",
]
