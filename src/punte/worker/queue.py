"""The job queue (transactional outbox) on the ``jobs`` table.

``enqueue`` runs inside the caller's unit of work, so a job exists exactly when the change that
needs it was committed. Workers ``claim`` jobs with a lease: on PostgreSQL with
``FOR UPDATE SKIP LOCKED`` (several workers on several machines share the queue), on SQLite under
the database write lock. A worker that dies leaves its lease to expire and the job is claimed again,
so handlers must be idempotent (they are written to check what is already done before acting).
"""

from __future__ import annotations

import os
import random
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy import event as sa_event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from punte.store.db import Database
from punte.store.models import Job

class _Wake(threading.Event):
    """Set after any commit that enqueued a job (and after a stored webhook), so that an in-process worker
    wakes at once; a worker child of this process (:mod:`punte.worker.child`) is told through a pipe."""

    def __init__(self) -> None:
        super().__init__()
        self._pipes: list[int] = []
        self._pipes_lock = threading.Lock()  # no write is under way once stop_forwarding has returned

    def set(self) -> None:
        super().set()
        if not self._pipes:
            return
        with self._pipes_lock:
            for fd in list(self._pipes):
                try:
                    os.write(fd, b"\0")
                except BlockingIOError:
                    pass  # the pipe is full of wake-ups the child has not read yet: it is awake
                except OSError:
                    self._pipes.remove(fd)

    def forward_to(self, fd: int) -> None:
        """Write a byte to ``fd`` (a non-blocking pipe) whenever the event is set."""
        with self._pipes_lock:
            self._pipes.append(fd)

    def stop_forwarding(self, fd: int) -> None:
        """After this returns, ``fd`` is never written to again (it may then be closed)."""
        with self._pipes_lock:
            if fd in self._pipes:
                self._pipes.remove(fd)


WAKE = _Wake()
_WAKE_FLAG = "punte_job_enqueued"


def now() -> datetime:
    return datetime.now(UTC)


def _arm_wakeup(session: Session) -> None:
    if session.info.get(_WAKE_FLAG):
        return
    session.info[_WAKE_FLAG] = True

    def _after_commit(_session: Session) -> None:
        _session.info.pop(_WAKE_FLAG, None)
        WAKE.set()

    def _after_rollback(_session: Session, _previous: object) -> None:
        _session.info.pop(_WAKE_FLAG, None)

    sa_event.listen(session, "after_commit", _after_commit, once=True)
    sa_event.listen(session, "after_soft_rollback", _after_rollback, once=True)


def enqueue(
    session: Session,
    kind: str,
    payload: dict[str, Any] | None = None,
    *,
    company_id: int | None = None,
    key: str | None = None,
    run_at: datetime | None = None,
    max_attempts: int = 12,
) -> Job:
    """Queue a job in the caller's transaction. With ``key``, a second enqueue returns the first job."""
    if key is not None:
        existing = session.scalar(select(Job).where(Job.kind == kind, Job.key == key))
        if existing is not None:
            return existing
    job = Job(
        kind=kind,
        key=key,
        company_id=company_id,
        payload=payload or {},
        status="queued",
        attempts=0,
        max_attempts=max_attempts,
        run_at=run_at or now(),
    )
    if key is None:
        session.add(job)
        session.flush()
    else:
        try:
            with session.begin_nested():
                session.add(job)
        except IntegrityError:
            found = session.scalar(select(Job).where(Job.kind == kind, Job.key == key))
            assert found is not None
            return found
    _arm_wakeup(session)
    return job


@dataclass(frozen=True)
class ClaimedJob:
    id: int
    kind: str
    key: str | None
    company_id: int | None
    payload: dict[str, Any]
    attempts: int
    max_attempts: int


def claim(
    db: Database, worker_id: str, *, kinds: list[str] | None = None, limit: int = 1, lease_seconds: int = 300,
    due_by: datetime | None = None,
) -> list[ClaimedJob]:
    """Take up to ``limit`` jobs due by ``due_by`` (default now), or whose lease expired, for this worker."""
    at = now()
    due_by = min(due_by or at, at)
    with db.session(write=True) as session:
        due = or_(
            and_(Job.status == "queued", Job.run_at <= due_by),
            and_(Job.status == "running", Job.locked_until < at),
        )
        stmt = select(Job).where(due)
        if kinds:
            stmt = stmt.where(Job.kind.in_(kinds))
        stmt = stmt.order_by(Job.run_at, Job.id).limit(limit)
        if not db.is_sqlite:
            stmt = stmt.with_for_update(skip_locked=True)
        jobs = list(session.scalars(stmt))
        claimed = []
        for job in jobs:
            job.status = "running"
            job.locked_by = worker_id
            job.locked_until = at + timedelta(seconds=lease_seconds)
            job.attempts += 1
            claimed.append(
                ClaimedJob(job.id, job.kind, job.key, job.company_id, dict(job.payload or {}), job.attempts,
                           job.max_attempts)
            )
    return claimed


def _owned(job_id: int, worker_id: str) -> Any:
    return and_(Job.id == job_id, Job.status == "running", Job.locked_by == worker_id)


def complete(db: Database, job: ClaimedJob, worker_id: str) -> bool:
    """Mark done; False when the lease was lost to another worker meanwhile."""
    with db.session(write=True) as session:
        result = session.execute(
            update(Job)
            .where(_owned(job.id, worker_id))
            .values(status="done", finished_at=now(), locked_by=None, locked_until=None, last_error=None)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


def backoff_seconds(attempts: int) -> float:
    """5 s, 10 s, 20 s ... capped at one hour, with +-20 % jitter so retries do not march in step."""
    base = min(5 * 2 ** max(attempts - 1, 0), 3600)
    return base * random.uniform(0.8, 1.2)


def retry(db: Database, job: ClaimedJob, worker_id: str, error: str, *, after: float | None = None,
          count_attempt: bool = True) -> str:
    """Put the job back for later, or mark it dead after ``max_attempts``. Returns the new status."""
    dead = count_attempt and job.attempts >= job.max_attempts
    values: dict[str, Any] = {"locked_by": None, "locked_until": None, "last_error": error[:4000]}
    if dead:
        values.update(status="dead", finished_at=now())
    else:
        delay = after if after is not None else backoff_seconds(job.attempts)
        values.update(status="queued", run_at=now() + timedelta(seconds=delay))
        if not count_attempt:
            values["attempts"] = Job.attempts - 1
    with db.session(write=True) as session:
        session.execute(update(Job).where(_owned(job.id, worker_id)).values(**values))
    return values["status"]


def requeue(session: Session, job_id: int) -> None:
    """Make a dead or finished job run again (an operator's explicit retry)."""
    session.execute(
        update(Job)
        .where(Job.id == job_id)
        .values(status="queued", run_at=now(), attempts=0, locked_by=None, locked_until=None, finished_at=None)
    )
    _arm_wakeup(session)


def pending_count(db: Database, kinds: list[str] | None = None) -> int:
    from sqlalchemy import func

    with db.session() as session:
        stmt = select(func.count()).select_from(Job).where(Job.status.in_(("queued", "running")))
        if kinds:
            stmt = stmt.where(Job.kind.in_(kinds))
        return int(session.scalar(stmt) or 0)


__all__ = [
    "WAKE", "ClaimedJob", "backoff_seconds", "claim", "complete", "enqueue", "pending_count", "requeue", "retry",
]
