"""ANAF's call limits: the figures (changeable per sandbox, so tests can set them low) and the counters.

Daily counters live in the database (one row per scope, key and Bucharest calendar day), so they
are shared by every process serving the sandbox and start again at midnight in Romania. The
per-minute limit is counted in the memory of each process, like punte's own API limiter.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from punte.store.models_sandbox import AnafSandboxCounter


@dataclass
class Limits:
    """ANAF's published limits (defaults); set lower on ``sandbox.limits`` to exercise them."""

    per_minute: int = 1000  # all calls of one caller (token, or address without a token)
    status_per_message: int = 100  # stareMesaj, per id_incarcare per day
    downloads_per_message: int = 10  # descarcare, per id_descarcare per day
    simple_lists_per_cui: int = 1500  # listaMesajeFactura, per CUI per day
    paged_lists_per_cui: int = 100_000  # listaMesajePaginatieFactura, per CUI per day
    rasp_per_cui: int = 1000  # RASP uploads, per CUI per day
    page_size: int = 500  # messages per page of the paginated list
    simple_list_max: int = 500  # more than this in the simple list is an error
    upload_max_bytes: int = 10 * 1024 * 1024
    validation_max_bytes: int = 5 * 1024 * 1024
    retention_days: int = 60  # messages and downloads disappear after this


def count_call(session: Session, scope: str, key: str, day: date) -> int:
    """Add one call to the (scope, key, day) counter and return the new total (an atomic upsert)."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = (
        insert(AnafSandboxCounter)
        .values(scope=scope, key=key, day=day, count=1)
        .on_conflict_do_update(
            index_elements=["scope", "key", "day"], set_={"count": AnafSandboxCounter.count + 1}
        )
        .returning(AnafSandboxCounter.count)
    )
    return int(session.execute(stmt).scalar_one())


def calls_today(session: Session, scope: str, key: str, day: date) -> int:
    row = session.execute(
        select(AnafSandboxCounter.count).where(
            AnafSandboxCounter.scope == scope, AnafSandboxCounter.key == key, AnafSandboxCounter.day == day
        )
    ).scalar_one_or_none()
    return int(row or 0)


class MinuteLimiter:
    """Sliding one-minute window per caller."""

    def __init__(self) -> None:
        self._calls: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, limit: int) -> float | None:
        """Count a call; None when allowed, else the seconds until the caller may call again."""
        now = time.monotonic()
        with self._lock:
            calls = self._calls.setdefault(key, deque())
            while calls and calls[0] <= now - 60.0:
                calls.popleft()
            if len(calls) >= limit:
                return max(0.0, calls[0] + 60.0 - now)
            calls.append(now)
            if len(self._calls) > 10_000:
                self._calls = {k: v for k, v in self._calls.items() if v and v[-1] > now - 60.0}
            return None

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()
