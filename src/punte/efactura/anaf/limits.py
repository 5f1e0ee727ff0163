"""ANAF's per-message daily limits, counted in the database so no worker ever exceeds them.

ANAF allows 100 ``stareMesaj`` queries and 10 ``descarcare`` downloads per message per day; past
that its answers are errors and repeated abuse can get the app blocked. :class:`DbCallBudget`
takes one unit from a row per (call, message, Romanian day) before each call, under the row's
lock, so any number of workers on any number of machines share the same count.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from punte.store.db import Database
from punte.store.models_anaf import AnafCallCount

from .errors import AnafLimitReached

BUCHAREST = ZoneInfo("Europe/Bucharest")

#: ANAF's published per-message daily limits.
DAILY_LIMITS = {"stareMesaj": 100, "descarcare": 10}


def anaf_day(moment: datetime | None = None) -> date:
    """The day as ANAF counts it (Romanian local time)."""
    return (moment or datetime.now(UTC)).astimezone(BUCHAREST).date()


def next_anaf_day(moment: datetime | None = None) -> datetime:
    """The next Romanian midnight, in UTC."""
    day = anaf_day(moment) + timedelta(days=1)
    return datetime.combine(day, time(0, 0), BUCHAREST).astimezone(UTC)


class DbCallBudget:
    """Counts limited calls per message per day in ``anaf_call_counts``."""

    def __init__(self, db: Database, limits: dict[str, int] | None = None) -> None:
        self.db = db
        self.limits = dict(DAILY_LIMITS if limits is None else limits)

    def spend(self, call: str, key: str, *, now: datetime | None = None) -> None:
        limit = self.limits.get(call)
        if limit is None:
            return
        day = anaf_day(now)
        with self.db.session(write=True) as session:
            row = self._row(session, call, key, day)
            if row.count >= limit:
                raise AnafLimitReached(
                    f"limita ANAF de {limit} apeluri {call} pe zi pentru mesajul {key} a fost atinsa; "
                    "punte reia maine",
                    retry_at=next_anaf_day(now),
                )
            row.count += 1

    def used(self, call: str, key: str, *, now: datetime | None = None) -> int:
        with self.db.session() as session:
            row = session.scalar(select(AnafCallCount).where(
                AnafCallCount.call == call, AnafCallCount.key == key, AnafCallCount.day == anaf_day(now)))
            return row.count if row is not None else 0

    @staticmethod
    def _row(session, call: str, key: str, day: date) -> AnafCallCount:  # type: ignore[no-untyped-def]
        stmt = select(AnafCallCount).where(AnafCallCount.call == call, AnafCallCount.key == key,
                                           AnafCallCount.day == day)
        row = session.scalar(stmt.with_for_update())
        if row is not None:
            return row
        try:
            with session.begin_nested():
                row = AnafCallCount(call=call, key=key, day=day, count=0)
                session.add(row)
        except IntegrityError:
            row = session.scalar(stmt.with_for_update())
            assert row is not None
        return row


__all__ = ["DAILY_LIMITS", "DbCallBudget", "anaf_day", "next_anaf_day"]
