"""The sandbox's notion of time: real time plus an offset that tests and demos can move forward."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

BUCHAREST = ZoneInfo("Europe/Bucharest")


class Clock:
    """``now()`` is the real UTC time shifted by ``offset``; :meth:`advance` moves it forward.

    Everything in the sandbox that depends on time (code and token expiry, processing delay,
    daily counters, the 60-day message window) reads this clock, so a test can make 61 seconds
    or 91 days pass without waiting.
    """

    def __init__(self) -> None:
        self._offset = timedelta(0)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            offset = self._offset
        return datetime.now(UTC) + offset

    def advance(self, seconds: float) -> datetime:
        """Move the clock forward (or back, with a negative value); return the new ``now()``."""
        with self._lock:
            self._offset += timedelta(seconds=seconds)
        return self.now()

    def reset(self) -> None:
        with self._lock:
            self._offset = timedelta(0)

    @property
    def offset(self) -> timedelta:
        with self._lock:
            return self._offset


def bucharest(moment: datetime) -> datetime:
    """``moment`` in Romanian local time (ANAF's answers and daily limits use it)."""
    return moment.astimezone(BUCHAREST)


def bucharest_day(moment: datetime) -> date:
    return bucharest(moment).date()


def anaf_stamp(moment: datetime) -> str:
    """``YYYYMMDDHHMM`` in Bucharest time, as in ``dateResponse`` and ``data_creare``."""
    return bucharest(moment).strftime("%Y%m%d%H%M")
