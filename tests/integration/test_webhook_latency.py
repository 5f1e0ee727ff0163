"""What keeps a webhook's acknowledgement quick, as behaviour (the timings themselves are in bench/webhooks.py).

On SQLite an acknowledgement waits for the write lock: it goes before ordinary writers that wait too (the
worker, in this process or another), it waits in fine steps and still gives up after the busy timeout,
and no commit pays for copying the WAL into the database: a background checkpoint does, and keeps the
WAL from growing without bound.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError

from punte.cli import _settle_heap
from punte.config import Settings
from punte.services import bridge
from punte.services.bridge_config import BridgeSettings, configure
from punte.services.companies import get_company
from punte.store.db import Database, make_engine
from punte.store.models import Job
from punte.store.models_bridge import BridgeInbox
from punte.worker import queue
from tests.conftest import Account

from .bridge_support import SECRET, body_of, checkout_session, event, stripe_headers

CIF = "18547290"
URL = f"/webhooks/stripe/{CIF}"


@pytest.fixture
def scratch(tmp_path: Path) -> Iterator[Database]:
    """A SQLite file with one table whose rows record the order writers got the lock in."""
    database = Database(f"sqlite:///{tmp_path / 'scratch.db'}")
    with database.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE turns (id INTEGER PRIMARY KEY AUTOINCREMENT, who TEXT, body TEXT)")
    yield database
    database.dispose()


def _write(db: Database, who: str, *, urgent: bool = False, body: str = "") -> None:
    with db.session(write=True, urgent=urgent) as session:
        session.execute(text("INSERT INTO turns (who, body) VALUES (:who, :body)"), {"who": who, "body": body})


def _order(db: Database) -> list[str]:
    with db.session() as session:
        return list(session.scalars(text("SELECT who FROM turns ORDER BY id")))


def _holding(db: Database, release: threading.Event, held: threading.Event) -> threading.Thread:
    """A thread that takes the write lock through ``db`` and keeps it until ``release`` is set."""

    def hold() -> None:
        with db.session(write=True) as session:
            session.execute(text("INSERT INTO turns (who) VALUES ('holder')"))
            held.set()
            release.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    assert held.wait(5)
    return thread


def test_acknowledgement_gets_the_lock_before_waiting_ordinary_writers_of_another_process(
        scratch: Database) -> None:
    worker = Database(scratch.url)  # its own engine and connections, as the separate ``punte worker`` has
    release, held = threading.Event(), threading.Event()
    holder = _holding(worker, release, held)
    ordinary = [threading.Thread(target=_write, args=(worker, "worker")) for _ in range(4)]
    for thread in ordinary:
        thread.start()
    time.sleep(0.1)  # the worker's writers are waiting for the lock now
    ack = threading.Thread(target=_write, args=(scratch, "ack"), kwargs={"urgent": True})
    ack.start()
    time.sleep(0.1)
    release.set()
    for thread in [holder, ack, *ordinary]:
        thread.join(10)
    worker.dispose()
    assert _order(scratch) == ["holder", "ack", "worker", "worker", "worker", "worker"]


def test_a_writer_still_gives_up_after_the_busy_timeout(scratch: Database) -> None:
    impatient = Database(scratch.url, busy_timeout_ms=300)
    release, held = threading.Event(), threading.Event()
    holder = _holding(scratch, release, held)
    started = time.monotonic()
    try:
        with pytest.raises(OperationalError, match="database is locked"):
            _write(impatient, "late", urgent=True)
        waited = time.monotonic() - started
    finally:
        release.set()
        holder.join(10)
    assert 0.3 <= waited < 5
    _write(impatient, "after")  # the connection's own busy timeout is back: a normal write works
    impatient.dispose()
    assert _order(scratch) == ["holder", "after"]


def test_acknowledgements_take_the_bridge_turn_before_the_workers_transactions(scratch: Database) -> None:
    order: list[str] = []

    def take(who: str, urgent: bool) -> None:
        with bridge._ack_lock(scratch, urgent=urgent):
            order.append(who)

    with bridge._ack_lock(scratch):  # the worker's transaction under way
        workers = [threading.Thread(target=take, args=(f"worker{i}", False)) for i in range(3)]
        for thread in workers:
            thread.start()
            time.sleep(0.03)
        ack = threading.Thread(target=take, args=("ack", True))
        ack.start()
        time.sleep(0.05)
    for thread in [ack, *workers]:
        thread.join(10)
    assert order == ["ack", "worker0", "worker1", "worker2"]


def test_an_embedded_workers_transaction_is_not_held_back_by_the_acknowledgements_queued_behind_it(
        scratch: Database) -> None:
    started = threading.Event()

    def worker_transaction() -> None:
        with bridge._ack_lock(scratch):
            started.set()
            time.sleep(0.1)  # the acknowledgement queues for the turn meanwhile
            _write(scratch, "worker")

    def acknowledgement() -> None:
        with bridge._ack_lock(scratch, urgent=True):
            _write(scratch, "ack", urgent=True)

    worker = threading.Thread(target=worker_transaction)
    worker.start()
    assert started.wait(5)
    ack = threading.Thread(target=acknowledgement)
    ack.start()
    begun = time.monotonic()
    worker.join(10)
    ack.join(10)
    assert not worker.is_alive() and not ack.is_alive()
    assert time.monotonic() - begun < 5  # not the 30 s busy timeout of a worker waiting on its own queue
    assert _order(scratch) == ["worker", "ack"]


def test_commits_leave_the_wal_to_a_background_checkpoint_that_keeps_it_small(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'wal.db'}", checkpoint_seconds=0.05)
    with db.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE turns (id INTEGER PRIMARY KEY AUTOINCREMENT, who TEXT, body TEXT)")
    with db.session() as session:
        assert session.execute(text("PRAGMA wal_autocheckpoint")).scalar_one() == 0
    for _ in range(1500):
        _write(db, "ack", urgent=True, body="x" * 8000)
        time.sleep(0.0005)
    wal = tmp_path / "wal.db-wal"
    assert wal.stat().st_size < 12e6

    db.checkpoint(restart_frames=0)  # everything copied: the next writer starts the WAL over
    _write(db, "ack")
    frames, copied = db.checkpoint()
    assert frames < 10 and copied == frames
    db.dispose()

    unchecked = make_engine(f"sqlite:///{tmp_path / 'unchecked.db'}", autocheckpoint=False)
    with unchecked.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE turns (id INTEGER PRIMARY KEY AUTOINCREMENT, who TEXT, body TEXT)")
    with unchecked.connect() as conn:  # the same writes without the background checkpoint
        for _ in range(1500):
            with conn.begin():
                conn.execute(text("INSERT INTO turns (who, body) VALUES ('ack', :body)"), {"body": "x" * 8000})
        assert (tmp_path / "unchecked.db-wal").stat().st_size > 20e6
    unchecked.dispose()


# ---- through the route ------------------------------------------------------------------------------------------


@pytest.fixture
def stripe_bridge(db: Database, settings: Settings, account: Account) -> Account:
    with db.session(write=True) as session:
        configure(session, get_company(session, CIF), "stripe", BridgeSettings(webhook_secret=SECRET, settle_seconds=0),
                  secret_key=settings.resolved_secret_key(), actor="test")
    return account


def test_acknowledgement_waits_out_another_processes_write_and_is_stored_once(
        client: Any, db: Database, stripe_bridge: Account) -> None:
    payload = event("checkout.session.completed", checkout_session(pi="pi_waits", amount=12100))
    body = body_of(payload)
    other = Database(db.url)
    held = threading.Event()

    def worker_transaction() -> None:
        with other.session(write=True) as session:
            queue.enqueue(session, "bridge.test", {"n": 1}, key="held")
            held.set()
            time.sleep(0.3)

    thread = threading.Thread(target=worker_transaction)
    thread.start()
    assert held.wait(5)
    first = client.post(URL, content=body, headers=stripe_headers(body))
    again = client.post(URL, content=body, headers=stripe_headers(body))
    thread.join(10)
    other.dispose()
    assert first.status_code == 200 and first.json()["duplicate"] is False
    assert again.status_code == 200 and again.json()["duplicate"] is True
    with db.session() as session:
        assert [row.event_id for row in session.scalars(select(BridgeInbox))] == [payload["id"]]
        assert sorted(session.scalars(select(Job.kind))) == ["bridge.process", "bridge.test"]


def test_serve_freezes_the_start_up_heap_so_collections_skip_it() -> None:
    gc.unfreeze()
    try:
        _settle_heap(with_worker=True)
        assert gc.get_freeze_count() > 50_000
    finally:
        gc.unfreeze()
