"""Engine creation and the unit of work.

SQLite runs in WAL mode; write transactions start with ``BEGIN IMMEDIATE`` so that concurrent writers
queue on the database lock instead of failing when they upgrade a read lock. SQLite's own busy handler
sleeps in growing steps (up to 100 ms) while it waits for that lock, which is what a short, urgent
write (a webhook's acknowledgement) would wait behind another process's long one; so ``BEGIN IMMEDIATE``
is retried here in steps of at most 2 ms, and urgent writers go first (:class:`_Gate`). The WAL is
checkpointed by a short background thread instead of by whichever commit crosses SQLite's threshold,
so no request pays for copying the WAL into the database.
PostgreSQL uses row locks (``SELECT ... FOR UPDATE``) where the services ask for them.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no cross-process priority, the retry still works
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("punte.db")

_IMMEDIATE = "punte_immediate"
_URGENT = "punte_urgent"
_FIRST_PAUSE = 0.0002
_MAX_PAUSE = 0.002


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
        _configure_sqlite(engine, busy_timeout_ms, _Gate(path + "-gate") if in_file else None, autocheckpoint)
        return engine
    return create_engine(url, echo=echo, pool_size=16, max_overflow=16, pool_pre_ping=True)


def _configure_sqlite(engine: Engine, busy_timeout_ms: int, gate: _Gate | None, autocheckpoint: bool) -> None:
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
            _begin_immediate(conn, busy_timeout_ms, gate, urgent=bool(options.get(_URGENT)))
        else:
            conn.exec_driver_sql("BEGIN")


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF == sqlite3.SQLITE_BUSY if code is not None else "database is locked" in str(exc)


def _begin_immediate(conn: Any, busy_timeout_ms: int, gate: _Gate | None, *, urgent: bool) -> None:
    """``BEGIN IMMEDIATE``, waiting for the write lock in steps of at most 2 ms up to the busy timeout.

    SQLite's busy handler is switched off meanwhile (it would sleep 10-100 ms between tries, and a writer
    in another process takes the lock again long before such a sleep ends); it is back on for the
    statements of the transaction. An ordinary writer does not try while an urgent one is pending. When
    the timeout is spent, the last try goes through SQLAlchemy so that the caller sees the same
    ``OperationalError: database is locked`` as before.
    """
    raw = conn.connection.driver_connection
    deadline = time.monotonic() + busy_timeout_ms / 1000
    raw.execute("PRAGMA busy_timeout=0")
    try:
        pause = _FIRST_PAUSE
        while time.monotonic() < deadline:
            if urgent or gate is None or gate.clear():
                try:
                    raw.execute("BEGIN IMMEDIATE")
                    return
                except sqlite3.OperationalError as exc:
                    if not _is_busy(exc):
                        raise
            time.sleep(pause)
            pause = min(pause * 2, _MAX_PAUSE)
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    finally:
        raw.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")


@contextmanager
def _nothing() -> Iterator[None]:
    yield


class _Gate:
    """Urgent writers (webhook acknowledgements) go before ordinary ones at SQLite's write lock, across
    processes and threads.

    An urgent writer holds a shared ``flock`` on ``<database>-gate`` from before it queues for the write
    lock until it commits; an ordinary writer (the worker issuing invoices) tries for the write lock only
    when it could take that file exclusively, that is when no urgent writer is pending. So acknowledgements
    wait for at most the one ordinary transaction under way, not for the next ones the worker starts back
    to back between them. Every
    use opens its own file description, so threads of one process are ordered too. Where ``flock`` is
    missing, or the file cannot be created, there is no order (the retry still works).
    """

    def __init__(self, path: str) -> None:
        self.path = path

    def _open(self) -> int | None:
        if fcntl is None:
            return None
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            return None

    @contextmanager
    def waiting(self) -> Iterator[None]:
        """Tell ordinary writers that an urgent one waits, for as long as the block runs."""
        fd = self._open()
        try:
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_SH)  # exclusive holders let go within microseconds
            yield
        finally:
            if fd is not None:
                os.close(fd)

    def clear(self) -> bool:
        """True when no urgent writer is waiting."""
        fd = self._open()
        if fd is None:
            return True
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        finally:
            os.close(fd)  # closing lets go of the lock
        return True


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
        self._gate = _Gate(path + "-gate") if in_file else None
        self.engine = make_engine(url, busy_timeout_ms=busy_timeout_ms,
                                  autocheckpoint=self.checkpoint_seconds is None)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._checkpointing = threading.Lock()
        self._last_checkpoint = time.monotonic()

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def urgent(self) -> Iterator[None]:
        """On a SQLite file, hold ordinary writers (in any process) back from the write lock while the block
        runs. An urgent session holds it; the bridge holds it across a run of acknowledgements queued in
        the process, so that a worker does not slip a long transaction in between two of them."""
        with self._gate.waiting() if self._gate is not None else _nothing():
            yield

    @contextmanager
    def session(self, *, write: bool = False, urgent: bool = False) -> Iterator[Session]:
        """A unit of work: commits when the block ends normally, rolls back on any exception.

        ``urgent`` marks a short write that someone is waiting for (a webhook's acknowledgement): on SQLite
        it gets the write lock before ordinary writers, which wait until it is done (see :meth:`urgent`).
        """
        with self.urgent() if write and urgent else _nothing():
            session = self._sessions()
            try:
                if write and self.is_sqlite:
                    session.connection(execution_options={_IMMEDIATE: True, _URGENT: urgent})
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
        writer (urgent ones go first): a pass over the few frames written meanwhile, a few milliseconds,
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
        self.engine.dispose()
