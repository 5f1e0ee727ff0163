"""Romanian public holidays, working days and the e-Factura deadline."""

from __future__ import annotations

from datetime import date

import pytest

from punte.domain.calendar import (
    add_working_days,
    efactura_deadline,
    is_working_day,
    orthodox_easter,
    public_holidays,
    working_days_between,
)


@pytest.mark.parametrize(
    ("year", "easter"),
    [
        (2024, date(2024, 5, 5)),
        (2025, date(2025, 4, 20)),
        (2026, date(2026, 4, 12)),
        (2027, date(2027, 5, 2)),
    ],
)
def test_orthodox_easter_matches_the_published_dates(year: int, easter: date) -> None:
    assert orthodox_easter(year) == easter


def test_public_holidays_2026_are_the_labour_code_list() -> None:
    assert public_holidays(2026) == {
        date(2026, 1, 1),
        date(2026, 1, 2),
        date(2026, 1, 6),
        date(2026, 1, 7),
        date(2026, 1, 24),
        date(2026, 4, 10),  # Good Friday
        date(2026, 4, 12),  # Easter
        date(2026, 4, 13),
        date(2026, 5, 1),
        date(2026, 5, 31),  # Rusalii
        date(2026, 6, 1),  # Rusalii Monday and Children's Day
        date(2026, 8, 15),
        date(2026, 11, 30),
        date(2026, 12, 1),
        date(2026, 12, 25),
        date(2026, 12, 26),
    }


def test_public_holidays_2025_have_good_friday_easter_and_rusalii_from_easter() -> None:
    holidays = public_holidays(2025)
    assert {date(2025, 4, 18), date(2025, 4, 20), date(2025, 4, 21)} <= holidays
    assert {date(2025, 6, 8), date(2025, 6, 9)} <= holidays
    assert len(holidays) == 17


def test_epiphany_and_st_john_are_holidays_only_from_2024() -> None:
    assert {date(2024, 1, 6), date(2024, 1, 7)} <= public_holidays(2024)
    assert date(2023, 1, 6) not in public_holidays(2023)
    assert date(2023, 1, 7) not in public_holidays(2023)


def test_years_before_2018_are_refused() -> None:
    with pytest.raises(ValueError):
        public_holidays(2017)


def test_weekday_holiday_is_not_a_working_day() -> None:
    assert not is_working_day(date(2026, 5, 1))  # Friday


def test_weekend_is_not_a_working_day() -> None:
    assert not is_working_day(date(2026, 3, 7))  # Saturday


def test_ordinary_weekday_is_a_working_day() -> None:
    assert is_working_day(date(2026, 3, 4))  # Wednesday


def test_add_working_days_skips_christmas_and_the_weekend() -> None:
    # 24 Dec 2026 is a Thursday; 25 (Fri) and 26 (Sat) are holidays.
    assert add_working_days(date(2026, 12, 24), 1) == date(2026, 12, 28)
    assert add_working_days(date(2026, 12, 23), 5) == date(2026, 12, 31)


def test_add_working_days_skips_labour_day_long_weekend() -> None:
    # 1 May 2026 is a Friday.
    assert add_working_days(date(2026, 4, 29), 5) == date(2026, 5, 7)


def test_add_working_days_crosses_new_year_and_epiphany() -> None:
    # 1-2 Jan 2027 Fri-Sat, 6-7 Jan Wed-Thu.
    assert add_working_days(date(2026, 12, 31), 5) == date(2027, 1, 12)


def test_add_working_days_does_not_count_the_start_day() -> None:
    assert add_working_days(date(2026, 3, 6), 1) == date(2026, 3, 9)  # Friday -> Monday
    assert add_working_days(date(2026, 3, 7), 1) == date(2026, 3, 9)  # Saturday -> Monday


def test_add_zero_working_days_returns_start() -> None:
    assert add_working_days(date(2026, 3, 7), 0) == date(2026, 3, 7)


def test_add_negative_working_days_goes_back() -> None:
    assert add_working_days(date(2026, 12, 28), -1) == date(2026, 12, 24)


def test_working_days_between_excludes_start_and_includes_end() -> None:
    assert working_days_between(date(2026, 12, 23), date(2026, 12, 31)) == 5
    assert working_days_between(date(2026, 12, 31), date(2026, 12, 23)) == -5
    assert working_days_between(date(2026, 3, 4), date(2026, 3, 4)) == 0


def test_working_days_between_inverts_add_working_days() -> None:
    start = date(2026, 4, 8)
    for n in range(0, 30):
        assert working_days_between(start, add_working_days(start, n)) == n


def test_efactura_deadline_from_2026_is_five_working_days() -> None:
    assert efactura_deadline(date(2026, 3, 2)) == date(2026, 3, 9)  # Monday -> next Monday


def test_efactura_deadline_from_2026_skips_easter_holidays() -> None:
    # Good Friday 10 Apr, Easter Monday 13 Apr 2026.
    assert efactura_deadline(date(2026, 4, 8)) == date(2026, 4, 17)


def test_efactura_deadline_on_first_day_of_working_day_rule() -> None:
    # 1 Jan 2026 (Thu): 2 Jan holiday, weekend, 5 Jan, 6-7 Jan holidays, 8, 9, 12, 13.
    assert efactura_deadline(date(2026, 1, 1)) == date(2026, 1, 13)


def test_efactura_deadline_before_2026_is_five_calendar_days() -> None:
    assert efactura_deadline(date(2025, 3, 3)) == date(2025, 3, 8)  # lands on a Saturday
    assert efactura_deadline(date(2025, 12, 31)) == date(2026, 1, 5)
    assert efactura_deadline(date(2025, 12, 24)) == date(2025, 12, 29)
