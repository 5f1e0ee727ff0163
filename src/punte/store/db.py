"""Engine creation and the unit of work.

SQLite runs in WAL mode; write transactions start with ``BEGIN IMMEDIATE`` so that concurrent writers
queue on the database lock instead of failing when they upgrade a read lock, and that ``BEGIN`` is retried
in steps of at most 2 ms (:mod:`punte.store.sqlite_lock`) instead of SQLite's growing sleeps. The WAL is
checkpointed by a short background thread instead of by whichever commit crosses SQLite's threshold,
so no request pays for copying the WAL into the database. Webhook acknowledgements do not wait for the
write lock at all: they go to the database's journal (:mod:`punte.store.journal`).
PostgreSQL uses row locks (``SELECT ... FOR UPDATE``) where the services ask for them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from .journal import SUFFIX as JOURNAL_SUFFIX
from .journal import AckJournal
from .sqlite_lock import begin_immediate

log = logging.getLogger("punte.db")

_IMMEDIATE = "punte_immediate"


def make_engine(url: str, *, busy_timeout_ms: int = 30000, echo: bool = False, autocheckpoint: bool = True) -> Engine:
    """An engine configured for punte's needs on SQLite or PostgreSQL.

    ``autocheckpoint=False`` turns SQLite's checkpoint-on-commit off; the caller then checkpoints (as
    :class:`Database` does), or the WAL grows until the last connection closes.
    """
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        in_file = bool(path) and path != ":memory:"
        if in_file:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000},
            pool_size=16,
            max_overflow=16,
        )
        _configure_sqlite(engine, busy_timeout_ms, autocheckpoint)
        return engine
    return create_engine(url, echo=echo, pool_size=16, max_overflow=16, pool_pre_ping=True)


def _configure_sqlite(engine: Engine, busy_timeout_ms: int, autocheckpoint: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        if not autocheckpoint:
            cur.execute("PRAGMA wal_autocheckpoint=0")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        options = conn.get_execution_options()
        if options.get(_IMMEDIATE):
            _begin_immediate(conn, busy_timeout_ms)
        else:
            conn.exec_driver_sql("BEGIN")


def _begin_immediate(conn: Any, busy_timeout_ms: int) -> None:
    """``BEGIN IMMEDIATE`` waiting in short steps; when the busy timeout is spent, the last try goes through
    SQLAlchemy so that the caller sees the usual ``OperationalError: database is locked``."""
    raw = conn.connection.driver_connection
    if begin_immediate(raw, busy_timeout_ms / 1000):
        return
    raw.execute("PRAGMA busy_timeout=0")
    try:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    finally:
        raw.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")


class Database:
    """Owns the engine and hands out units of work.

    On a SQLite file, ``checkpoint_seconds`` (default 1 s) is how often, at most, a commit starts a
    background ``PRAGMA wal_checkpoint(PASSIVE)``; ``None`` leaves checkpoints to SQLite's commits.
    """

    def __init__(self, url: str, *, busy_timeout_ms: int = 30000, checkpoint_seconds: float | None = 1.0) -> None:
        self.url = url
        path = url.split("///", 1)[-1]
        in_file = url.startswith("sqlite") and path not in ("", ":memory:")
        self.checkpoint_seconds = checkpoint_seconds if in_file else None
        self.sqlite_path = path if in_file else None
        #: Where webhook acknowledgements go on a SQLite file (None on PostgreSQL and in memory).
        self.journal = AckJournal(Path(path + JOURNAL_SUFFIX)) if in_file else None
        self.engine = make_engine(url, busy_timeout_ms=busy_timeout_ms,
                                  autocheckpoint=self.checkpoint_seconds is None)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._checkpointing = threading.Lock()
        self._last_checkpoint = time.monotonic()

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def session(self, *, write: bool = False) -> Iterator[Session]:
        """A unit of work: commits when the block ends normally, rolls back on any exception."""
        session = self._sessions()
        try:
            if write and self.is_sqlite:
                session.connection(execution_options={_IMMEDIATE: True})
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
        if write and self.checkpoint_seconds is not None:
            self._maybe_checkpoint()

    def _maybe_checkpoint(self) -> None:
        """Start a checkpoint in the background when the last one is ``checkpoint_seconds`` old."""
        assert self.checkpoint_seconds is not None
        if time.monotonic() - self._last_checkpoint < self.checkpoint_seconds:
            return
        if not self._checkpointing.acquire(blocking=False):
            return  # one is running
        self._last_checkpoint = time.monotonic()
        threading.Thread(target=self._checkpoint_thread, name="punte-wal-checkpoint", daemon=True).start()

    def _checkpoint_thread(self) -> None:
        try:
            self.checkpoint()
        except Exception:  # noqa: BLE001 - a failed checkpoint is retried by the next commit's turn
            log.warning("WAL checkpoint failed", exc_info=True)
        finally:
            self._checkpointing.release()

    def checkpoint(self, *, restart_frames: int = 1000) -> tuple[int, int]:
        """Copy the WAL into the database; returns the WAL's frames and how many of them are copied now.

        First without waiting for anyone (``PASSIVE``): that copies the bulk while writers go on. But the
        WAL starts over from its beginning only when a writer finds every frame copied, which under steady
        writes it never does (each pass ends after some writer added frames), so once the WAL holds
        ``restart_frames`` frames the rest is copied while this thread holds the write lock, as an ordinary
        writer: a pass over the few frames written meanwhile, a few milliseconds,
        after which the next writer starts the WAL over.
        """
        frames, copied = self._passive()
        if frames >= restart_frames and copied >= 0:
            with self.engine.connect() as holder:
                with holder.execution_options(**{_IMMEDIATE: True}).begin():
                    frames, copied = self._passive()
        return frames, copied

    def _passive(self) -> tuple[int, int]:
        with self.engine.connect() as conn:
            raw = conn.connection.driver_connection
            assert raw is not None
            cursor = raw.execute("PRAGMA wal_checkpoint(PASSIVE)")
            _busy, frames, copied = cursor.fetchall()[0]
            cursor.close()  # an unfinished statement would keep a read mark, and the WAL could never start over
        return int(frames), int(copied)

    def dispose(self) -> None:
        if self.journal is not None:
            self.journal.close()
        self.engine.dispose()
