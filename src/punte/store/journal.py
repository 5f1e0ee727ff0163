"""The webhook journal: on SQLite, acknowledged deliveries wait in a file of their own for the worker.

SQLite lets one writer at a time into a database. Were a webhook's acknowledgement to insert into
``bridge_inbox`` itself, it would wait for whatever write transaction is under way: a worker issuing an
invoice holds the lock for tens of milliseconds on a busy machine, and a provider is waiting for the
answer. So on a SQLite file the acknowledgement appends the delivery to ``<database>-webhooks``, a
second SQLite database that only acknowledgements write to, and answers; a worker (embedded or apart)
moves what is there into ``bridge_inbox`` and queues its processing in one transaction of the main
database, then removes the moved rows here (:func:`punte.services.bridge.drain_journal`). A crash between
the two steps moves the same rows again, and the inbox's ``UNIQUE(company, provider, event id)`` makes that
a no-op, so every acknowledged delivery reaches the inbox exactly once.

Durability is the main database's: WAL with ``synchronous=NORMAL`` (a committed append survives the
process; a power cut may lose the last ones, as it may the database's last commits). PostgreSQL has no
such lock, and there the acknowledgement inserts into the inbox directly.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from .sqlite_lock import begin_immediate

SUFFIX = "-webhooks"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    company_id INTEGER NOT NULL,
    provider TEXT NOT NULL,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    body TEXT NOT NULL,
    headers TEXT NOT NULL,
    received_at TEXT NOT NULL,
    UNIQUE (company_id, provider, event_id)
)
"""
#: How long a writer waits for the journal's lock (another process removing moved rows holds it briefly).
BUSY_SECONDS = 30.0


@dataclass(frozen=True)
class Delivery:
    """One acknowledged delivery, as the route verified it."""

    company_id: int
    provider: str
    event_id: str
    event_type: str
    body: str
    headers: dict[str, str]
    received_at: datetime
    id: int | None = None


class AckJournal:
    """The journal file of one SQLite database, shared by the threads of a process.

    Writers of the process take turns on a lock of the process (no polling between them); between
    processes, ``BEGIN IMMEDIATE`` is retried in short steps (:func:`punte.store.sqlite_lock.begin_immediate`).
    Appends never checkpoint the journal's WAL: the worker does, after it removed what it moved.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=BUSY_SECONDS)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA wal_autocheckpoint=0")
            conn.execute("PRAGMA journal_size_limit=4194304")
            conn.execute(_SCHEMA)
            self._conn = conn
        return self._conn

    def _write(self, statement: str, rows: list[tuple[Any, ...]]) -> int:
        with self._lock:
            conn = self._connection()
            if not begin_immediate(conn, BUSY_SECONDS):
                raise sqlite3.OperationalError(f"{self.path}: database is locked")
            try:
                changed = 0
                for row in rows:
                    changed += conn.execute(statement, row).rowcount
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return changed

    def append(self, delivery: Delivery) -> bool:
        """Keep the delivery; False when one with its (company, provider, event id) is already here."""
        return self._write(
            "INSERT OR IGNORE INTO deliveries (company_id, provider, event_id, event_type, body, headers, received_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(delivery.company_id, delivery.provider, delivery.event_id, delivery.event_type, delivery.body,
              json.dumps(delivery.headers), delivery.received_at.isoformat())],
        ) == 1

    def pending(self, limit: int = 200) -> list[Delivery]:
        """The oldest deliveries not yet moved, in the order they were acknowledged."""
        with self._lock:
            rows = self._connection().execute(
                "SELECT id, company_id, provider, event_id, event_type, body, headers, received_at"
                " FROM deliveries ORDER BY id LIMIT ?", (limit,)).fetchall()
        return [Delivery(company_id=r[1], provider=r[2], event_id=r[3], event_type=r[4], body=r[5],
                         headers=json.loads(r[6]), received_at=datetime.fromisoformat(r[7]), id=r[0]) for r in rows]

    def count(self) -> int:
        """How many deliveries wait here, all companies together."""
        if not self.path.exists():
            return 0
        with self._lock:
            return int(self._connection().execute("SELECT count(*) FROM deliveries").fetchone()[0])

    def waiting(self, company_id: int) -> dict[str, int]:
        """How many deliveries of the company each provider has here (not yet moved by a worker)."""
        if not self.path.exists():
            return {}
        with self._lock:
            rows = self._connection().execute(
                "SELECT provider, count(*) FROM deliveries WHERE company_id = ? GROUP BY provider",
                (company_id,)).fetchall()
        return {str(provider): int(n) for provider, n in rows}

    def remove(self, ids: list[int]) -> None:
        """Forget deliveries that are in the database now."""
        if ids:
            self._write("DELETE FROM deliveries WHERE id = ?", [(i,) for i in ids])

    def checkpoint(self) -> None:
        """Copy the journal's WAL into its file, from a connection of its own (appends go on meanwhile)."""
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=BUSY_SECONDS)
        try:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        finally:
            conn.close()

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


__all__ = ["SUFFIX", "AckJournal", "Delivery"]
