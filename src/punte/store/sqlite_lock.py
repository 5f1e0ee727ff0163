"""Waiting for SQLite's write lock in short steps.

SQLite's own busy handler sleeps in growing steps (up to 100 ms) while a writer waits for the lock, and a
writer in another process takes the lock again long before such a sleep ends; so a short write waiting
behind others could wait far longer than they hold the lock. Here ``BEGIN IMMEDIATE`` is tried again
after at most 2 ms, with SQLite's busy handler off meanwhile (and back on for the transaction's statements).
"""

from __future__ import annotations

import sqlite3
import time

_FIRST_PAUSE = 0.0002
_MAX_PAUSE = 0.002


def is_busy(exc: sqlite3.OperationalError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF == sqlite3.SQLITE_BUSY if code is not None else "database is locked" in str(exc)


def begin_immediate(raw: sqlite3.Connection, timeout: float, *, restore_busy_ms: int | None = None) -> bool:
    """Start a write transaction on ``raw`` within ``timeout`` seconds; False when the lock stayed taken.

    ``restore_busy_ms``: the connection's busy timeout to put back afterwards (default: ``timeout``).
    """
    deadline = time.monotonic() + timeout
    raw.execute("PRAGMA busy_timeout=0")
    try:
        pause = _FIRST_PAUSE
        while True:
            try:
                raw.execute("BEGIN IMMEDIATE")
                return True
            except sqlite3.OperationalError as exc:
                if not is_busy(exc):
                    raise
            if time.monotonic() >= deadline:
                return False
            time.sleep(pause)
            pause = min(pause * 2, _MAX_PAUSE)
    finally:
        busy = restore_busy_ms if restore_busy_ms is not None else int(timeout * 1000)
        raw.execute(f"PRAGMA busy_timeout={busy}")


__all__ = ["begin_immediate", "is_busy"]
