"""Romanian public holidays, working days and the RO e-Factura transmission deadline.

Pure: no I/O, no clock. Every function takes the dates it works on.

Source of the holiday list: Labour Code (Legea nr. 53/2003 - Codul muncii), art. 139 alin. (1), as
amended over the years. The national days off it lists, in force for 2024-2026, are:

- 1 and 2 January;
- 6 January (Botezul Domnului - Boboteaza) and 7 January (Soborul Sf. Ioan Botezatorul), added by
  Legea nr. 52/2023 (Monitorul Oficial nr. 186 of 6 March 2023), first observed in 2024;
- 24 January (Ziua Unirii Principatelor Romane), added by Legea nr. 176/2016, observed since 2017;
- Orthodox Good Friday (Vinerea Mare, the Friday before Easter), added in 2018;
- the first and second day of (Orthodox) Easter;
- 1 May;
- 1 June (Ziua Copilului), observed since 2017;
- the first and second day of Pentecost (Rusalii): Easter + 49 and + 50 days;
- 15 August (Adormirea Maicii Domnului);
- 30 November (Sf. Andrei), added by Legea nr. 147/2012;
- 1 December (Ziua Nationala);
- 25 and 26 December (Craciun).

The article also grants two days for each of three annual feasts of non-Christian legal religious
denominations, but only to the people belonging to them: they are not national holidays and are not
modelled here. Days off decided ad hoc by the Government for the public sector ("punti") are not
legal holidays either and are not included.

The list is modelled for years from 2018 (the first year with Good Friday) onwards; 6 and 7 January
are included only from 2024. Earlier years raise ``ValueError`` rather than answering wrongly. A
future amendment of art. 139 has to be added here by hand.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

FIRST_SUPPORTED_YEAR = 2018
"""Earliest year whose holiday list this module models."""

EFACTURA_WORKING_DAYS_FROM = date(2026, 1, 1)
"""Invoices issued on or after this date have a deadline counted in working days."""

EFACTURA_DEADLINE_DAYS = 5
"""Length of the RO e-Factura transmission deadline (calendar days before 2026, working days since)."""

_ONE_DAY = timedelta(days=1)


def orthodox_easter(year: int) -> date:
    """Return the Gregorian date of Orthodox Easter Sunday in ``year``.

    Computed with Meeus' algorithm for the Julian calendar, then shifted to the Gregorian calendar by
    the number of days the two calendars differ in that year (13 days for 1900-2099).
    """
    if year < 1583:
        raise ValueError(f"year {year} is before the Gregorian calendar")
    a = year % 4
    b = year % 7
    c = year % 19
    d = (19 * c + 15) % 30
    e = (2 * a + 4 * b - d + 34) % 7
    month, day = divmod(d + e + 114, 31)
    julian_label = date(year, month, day + 1)
    # Julian Easter falls between 22 March and 25 April (Julian), always after any February 29, so the
    # gap between the calendars is the one in force for the whole spring of ``year``.
    gap = year // 100 - year // 400 - 2
    return julian_label + timedelta(days=gap)


@lru_cache(maxsize=64)
def _holidays(year: int) -> frozenset[date]:
    if year < FIRST_SUPPORTED_YEAR:
        raise ValueError(
            f"Romanian public holidays are modelled from {FIRST_SUPPORTED_YEAR} onwards, not for {year}"
        )
    easter = orthodox_easter(year)
    days = {
        date(year, 1, 1),
        date(year, 1, 2),
        date(year, 1, 24),
        easter - timedelta(days=2),  # Good Friday
        easter,
        easter + timedelta(days=1),
        date(year, 5, 1),
        date(year, 6, 1),
        easter + timedelta(days=49),  # Rusalii
        easter + timedelta(days=50),
        date(year, 8, 15),
        date(year, 11, 30),
        date(year, 12, 1),
        date(year, 12, 25),
        date(year, 12, 26),
    }
    if year >= 2024:
        days |= {date(year, 1, 6), date(year, 1, 7)}
    return frozenset(days)


def public_holidays(year: int) -> set[date]:
    """Return Romania's legal (national) public holidays of ``year``, per Labour Code art. 139.

    Holidays falling on a weekend are included as they are (they are not moved). Raises
    ``ValueError`` for years before :data:`FIRST_SUPPORTED_YEAR`.
    """
    return set(_holidays(year))


def is_holiday(d: date) -> bool:
    """True if ``d`` is a Romanian legal public holiday."""
    return d in _holidays(d.year)


def is_working_day(d: date) -> bool:
    """True if ``d`` is Monday to Friday and not a Romanian legal public holiday."""
    return d.weekday() < 5 and not is_holiday(d)


def add_working_days(start: date, n: int) -> date:
    """Return the date that is ``n`` working days after ``start`` (before it if ``n`` is negative).

    ``start`` itself is never counted, whether or not it is a working day: counting begins on the
    following day, so ``add_working_days(friday, 1)`` is the next Monday (if it is not a holiday).
    ``n == 0`` returns ``start`` unchanged. The result is always a working day when ``n != 0``.
    """
    step = _ONE_DAY if n >= 0 else -_ONE_DAY
    remaining = abs(n)
    current = start
    while remaining:
        current += step
        if is_working_day(current):
            remaining -= 1
    return current


def working_days_between(a: date, b: date) -> int:
    """Count the working days in the half-open interval ``(a, b]``; negative if ``b < a``.

    ``a`` is excluded and ``b`` included, so this is the inverse of :func:`add_working_days`:
    ``working_days_between(a, add_working_days(a, n)) == n``. Equal dates give 0.
    """
    if b < a:
        return -working_days_between(b, a)
    count = 0
    current = a
    while current < b:
        current += _ONE_DAY
        if is_working_day(current):
            count += 1
    return count


def efactura_deadline(issue_date: date) -> date:
    """Return the last day to transmit an invoice issued on ``issue_date`` to RO e-Factura.

    How it is counted (the day of issue is never counted; counting starts the day after):

    - issued on or after 2026-01-01: 5 working days after the issue date, i.e.
      ``add_working_days(issue_date, 5)``. Weekends and legal holidays are skipped; an invoice issued
      on Monday 2026-03-02 is due Monday 2026-03-09; one issued on a Saturday is due the Friday after.
    - issued before 2026-01-01: 5 calendar days after the issue date, i.e. ``issue_date + 5 days``
      (issued 2025-03-03 -> due 2025-03-08), with no adjustment when that day is not a working day.

    The returned day is inclusive: transmission on that day is on time.
    """
    if issue_date >= EFACTURA_WORKING_DAYS_FROM:
        return add_working_days(issue_date, EFACTURA_DEADLINE_DAYS)
    return issue_date + timedelta(days=EFACTURA_DEADLINE_DAYS)
