"""The job queue and worker on both engines: outbox semantics, retries, leases, concurrency."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from punte.store.db import Database
from punte.store.models import Job
from punte.worker import queue
from punte.worker.runner import HANDLERS, Retry, Worker


@pytest.fixture
def handlers():
    saved = dict(HANDLERS)
    yield HANDLERS
    HANDLERS.clear()
    HANDLERS.update(saved)


def _worker(db: Database, settings, **kw) -> Worker:
    return Worker(db, settings, run_periodic=False, **kw)


def test_job_exists_only_when_transaction_commits(db: Database, settings, handlers) -> None:
    ran: list[int] = []
    handlers["t.note"] = lambda ctx: ran.append(ctx.job.payload["n"])
    with pytest.raises(RuntimeError), db.session(write=True) as session:
        queue.enqueue(session, "t.note", {"n": 1})
        raise RuntimeError("the change failed")
    with db.session(write=True) as session:
        queue.enqueue(session, "t.note", {"n": 2})
    assert _worker(db, settings).run_until_idle() == 1
    assert ran == [2]


def test_keyed_job_is_enqueued_once(db: Database, settings, handlers) -> None:
    handlers["t.once"] = lambda ctx: None
    with db.session(write=True) as session:
        first = queue.enqueue(session, "t.once", {"a": 1}, key="doc-1")
        again = queue.enqueue(session, "t.once", {"a": 2}, key="doc-1")
        assert first.id == again.id
    with db.session(write=True) as session:
        third = queue.enqueue(session, "t.once", {"a": 3}, key="doc-1")
        assert third.id == first.id
    with db.session() as session:
        assert len(list(session.scalars(select(Job)))) == 1


def test_failure_backs_off_then_dies(db: Database, settings, handlers) -> None:
    def boom(ctx) -> None:
        raise ValueError("server said no")

    handlers["t.boom"] = boom
    with db.session(write=True) as session:
        queue.enqueue(session, "t.boom", max_attempts=2)
    w = _worker(db, settings)
    assert w.run_until_idle() == 1
    with db.session() as session:
        job = session.scalar(select(Job))
        assert job.status == "queued" and job.attempts == 1 and "server said no" in job.last_error
        assert job.run_at > queue.now() + timedelta(seconds=3)
    with db.session(write=True) as session:
        session.execute(update(Job).values(run_at=queue.now()))
    w.run_until_idle()
    with db.session() as session:
        job = session.scalar(select(Job))
        assert job.status == "dead" and job.attempts == 2


def test_retry_signal_does_not_count_as_failure(db: Database, settings, handlers) -> None:
    def wait(ctx) -> None:
        raise Retry("still processing", after=0)

    handlers["t.wait"] = wait
    with db.session(write=True) as session:
        queue.enqueue(session, "t.wait", max_attempts=1)
    w = _worker(db, settings)
    for _ in range(3):
        w.run_once()
    with db.session() as session:
        job = session.scalar(select(Job))
        assert job.status == "queued" and job.attempts == 0


def test_expired_lease_is_taken_over(db: Database, settings, handlers) -> None:
    ran: list[str] = []
    handlers["t.lease"] = lambda ctx: ran.append(ctx.worker_id)
    with db.session(write=True) as session:
        queue.enqueue(session, "t.lease")
    claimed = queue.claim(db, "dead-worker", lease_seconds=60)
    assert len(claimed) == 1
    assert queue.claim(db, "other") == []  # leased
    with db.session(write=True) as session:
        session.execute(update(Job).values(locked_until=queue.now() - timedelta(seconds=1)))
    _worker(db, settings, worker_id="rescuer").run_until_idle()
    assert ran == ["rescuer"]
    assert queue.complete(db, claimed[0], "dead-worker") is False  # the old lease is gone


def test_concurrent_workers_run_each_job_once(db: Database, settings, handlers) -> None:
    seen: list[int] = []
    lock = threading.Lock()

    def note(ctx) -> None:
        with lock:
            seen.append(ctx.job.payload["n"])

    handlers["t.many"] = note
    with db.session(write=True) as session:
        for n in range(200):
            queue.enqueue(session, "t.many", {"n": n})
    workers = [_worker(db, settings, worker_id=f"w{i}", batch=5) for i in range(4)]
    threads = [threading.Thread(target=w.run_until_idle) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(seen) == list(range(200))
    with db.session() as session:
        assert {j.status for j in session.scalars(select(Job))} == {"done"}
