"""Anniversary subscription periods and recurring schedules (punte.domain.periods)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from punte.domain.periods import Period, Recurrence, days_in_month, month_day, subscription_period

days = st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31))


# -- the seed's examples (SmartBill FAQ) --------------------------------------------------------------
def test_activated_20_january_the_month_ends_19_february_and_resets_20_february() -> None:
    period = subscription_period(date(2025, 1, 20), date(2025, 2, 10))
    assert period == Period(date(2025, 1, 20), date(2025, 2, 19))
    assert period.next_start == date(2025, 2, 20)
    assert subscription_period(date(2025, 1, 20), date(2025, 2, 20)).start == date(2025, 2, 20)


def test_activated_20_april_runs_to_20_may() -> None:
    period = subscription_period(date(2025, 4, 20), date(2025, 4, 20))
    assert (period.start, period.next_start) == (date(2025, 4, 20), date(2025, 5, 20))


def test_on_16_april_the_period_of_a_20th_anchor_is_still_the_one_from_20_march() -> None:
    period = subscription_period(date(2024, 11, 20), date(2025, 4, 16))
    assert period == Period(date(2025, 3, 20), date(2025, 4, 19))


def test_documents_of_a_calendar_month_can_span_two_periods() -> None:
    activated = date(2025, 1, 20)
    assert subscription_period(activated, date(2025, 3, 1)) == Period(date(2025, 2, 20), date(2025, 3, 19))
    assert subscription_period(activated, date(2025, 3, 25)) == Period(date(2025, 3, 20), date(2025, 4, 19))


# -- month ends ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("activated", "day", "start", "end"),
    [
        (date(2025, 1, 31), date(2025, 2, 15), date(2025, 1, 31), date(2025, 2, 27)),
        (date(2025, 1, 31), date(2025, 2, 28), date(2025, 2, 28), date(2025, 3, 30)),
        (date(2025, 1, 31), date(2025, 3, 31), date(2025, 3, 31), date(2025, 4, 29)),
        (date(2024, 1, 31), date(2024, 2, 29), date(2024, 2, 29), date(2024, 3, 30)),
        (date(2025, 1, 29), date(2025, 2, 28), date(2025, 2, 28), date(2025, 3, 28)),
        (date(2025, 3, 30), date(2025, 4, 30), date(2025, 4, 30), date(2025, 5, 29)),
        (date(2025, 12, 15), date(2026, 1, 20), date(2026, 1, 15), date(2026, 2, 14)),
    ],
)
def test_anchor_on_29th_to_31st_resets_on_the_last_day_of_shorter_months(activated, day, start, end) -> None:  # type: ignore[no-untyped-def]
    assert subscription_period(activated, day) == Period(start, end)


@given(activated=days, day=days)
def test_a_period_contains_its_day_and_starts_on_the_anchor_day_clamped(activated: date, day: date) -> None:
    period = subscription_period(activated, day)
    assert day in period
    assert period.start == month_day(period.start.year, period.start.month, activated.day)
    assert 28 <= (period.next_start - period.start).days <= 31


@given(activated=days, day=days)
def test_periods_tile_the_calendar(activated: date, day: date) -> None:
    period = subscription_period(activated, day)
    following = subscription_period(activated, period.next_start)
    assert following.start == period.next_start
    before = subscription_period(activated, period.start - timedelta(days=1))
    assert before.next_start == period.start


@given(activated=days)
def test_the_activation_day_starts_a_period(activated: date) -> None:
    assert subscription_period(activated, activated).start == activated


# -- recurring schedules ------------------------------------------------------------------------------
def test_monthly_on_the_31st_falls_on_month_ends() -> None:
    rec = Recurrence(1, "month", date(2025, 1, 31))
    assert rec.between(date(2025, 1, 1), date(2025, 5, 31)) == [
        date(2025, 1, 31), date(2025, 2, 28), date(2025, 3, 31), date(2025, 4, 30), date(2025, 5, 31),
    ]


def test_day_of_month_before_the_start_day_begins_next_month() -> None:
    rec = Recurrence(1, "month", date(2025, 1, 15), day_of_month=1)
    assert rec.between(date(2025, 1, 1), date(2025, 4, 1)) == [date(2025, 2, 1), date(2025, 3, 1), date(2025, 4, 1)]


def test_every_two_weeks_until_the_end_date() -> None:
    rec = Recurrence(2, "week", date(2025, 1, 6), end=date(2025, 2, 17))
    assert rec.between(date(2024, 1, 1), date(2030, 1, 1)) == [
        date(2025, 1, 6), date(2025, 1, 20), date(2025, 2, 3), date(2025, 2, 17),
    ]
    assert rec.next_on_or_after(date(2025, 2, 18)) is None


def test_yearly_on_29_february_falls_on_28_february_in_common_years() -> None:
    rec = Recurrence(1, "year", date(2024, 2, 29))
    assert [rec.occurrence(i) for i in range(5)] == [
        date(2024, 2, 29), date(2025, 2, 28), date(2026, 2, 28), date(2027, 2, 28), date(2028, 2, 29),
    ]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"every": 0, "unit": "month"},
        {"every": 1, "unit": "fortnight"},
        {"every": 1, "unit": "day", "day_of_month": 3},
        {"every": 1, "unit": "month", "day_of_month": 32},
        {"every": 1, "unit": "month", "end": date(2024, 12, 31)},
    ],
)
def test_invalid_schedules_are_refused(kwargs) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError):
        Recurrence(start=date(2025, 1, 1), **kwargs)


@st.composite
def any_schedule(draw: st.DrawFn) -> Recurrence:
    unit = draw(st.sampled_from(["day", "week", "month", "year"]))
    dom = draw(st.none() | st.integers(1, 31)) if unit in ("month", "year") else None
    return Recurrence(draw(st.integers(1, 4)), unit, draw(days), day_of_month=dom)


@given(rec=any_schedule(), day=days)
def test_first_index_on_or_after_is_exact(rec: Recurrence, day: date) -> None:
    k = rec.first_index_on_or_after(day)
    assert rec.occurrence(k) >= day
    assert k == 0 or rec.occurrence(k - 1) < day


@given(rec=any_schedule(), n=st.integers(0, 40))
def test_occurrences_increase_from_the_start_and_keep_their_day(rec: Recurrence, n: int) -> None:
    seq = [rec.occurrence(i) for i in range(n + 2)]
    assert seq[0] >= rec.start
    assert all(a < b for a, b in zip(seq, seq[1:], strict=False))
    if rec.unit in ("month", "year"):
        wanted = rec.day_of_month or rec.start.day
        assert all(d.day == min(wanted, days_in_month(d.year, d.month)) for d in seq)


@given(rec=any_schedule(), a=days, b=days)
def test_between_splits_without_loss_or_overlap(rec: Recurrence, a: date, b: date) -> None:
    first, last = min(a, b), max(a, b)
    if (last - first).days > 3000:
        last = first + timedelta(days=3000)
    middle = first + (last - first) / 2
    whole = rec.between(first, last)
    assert whole == rec.between(first, middle) + rec.between(middle + timedelta(days=1), last)
    assert all(first <= d <= last for d in whole)
