"""What keeps a webhook's acknowledgement quick, as behaviour (the timings themselves are in bench/webhooks.py).

On SQLite an acknowledgement does not wait for the database's write lock at all: it keeps the delivery in
the database's journal, and the worker moves it into the inbox exactly once, even when a crash makes it
move the same rows twice. Other writers wait for the lock in fine steps and still give up after the busy
timeout, and no commit pays for copying the WAL into the database: a background checkpoint does, and
keeps the WAL from growing without bound.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError

from punte.cli import _settle_heap
from punte.config import Settings
from punte.services import bridge
from punte.services.companies import get_company
from punte.store.db import Database, make_engine
from punte.store.journal import Delivery
from punte.store.models import Document, Job
from punte.store.models_bridge import BridgeInbox
from punte.worker import queue
from punte.worker.runner import Worker
from tests.conftest import Account

from .bridge_support import body_of, checkout_session, event, stripe_headers
from .test_bridge_stripe import setup_bridge

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


def _write(db: Database, who: str, *, body: str = "") -> None:
    with db.session(write=True) as session:
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


def test_a_writer_still_gives_up_after_the_busy_timeout(scratch: Database) -> None:
    impatient = Database(scratch.url, busy_timeout_ms=300)
    release, held = threading.Event(), threading.Event()
    holder = _holding(scratch, release, held)
    started = time.monotonic()
    try:
        with pytest.raises(OperationalError, match="database is locked"):
            _write(impatient, "late")
        waited = time.monotonic() - started
    finally:
        release.set()
        holder.join(10)
    assert 0.3 <= waited < 5
    _write(impatient, "after")  # the connection's own busy timeout is back: a normal write works
    impatient.dispose()
    assert _order(scratch) == ["holder", "after"]


def test_commits_leave_the_wal_to_a_background_checkpoint_that_keeps_it_small(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'wal.db'}", checkpoint_seconds=0.05)
    with db.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE turns (id INTEGER PRIMARY KEY AUTOINCREMENT, who TEXT, body TEXT)")
    with db.session() as session:
        assert session.execute(text("PRAGMA wal_autocheckpoint")).scalar_one() == 0
    for _ in range(1500):
        _write(db, "ack", body="x" * 8000)
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
    setup_bridge(db, settings)
    return account


def test_acknowledgement_does_not_wait_for_another_processes_write_and_is_stored_once(
        client: Any, db: Database, stripe_bridge: Account) -> None:
    payload = event("checkout.session.completed", checkout_session(pi="pi_waits", amount=12100))
    body = body_of(payload)
    other = Database(db.url)  # its own engine and connections, as the separate ``punte worker`` has
    held, release = threading.Event(), threading.Event()

    def worker_transaction() -> None:
        with other.session(write=True) as session:
            queue.enqueue(session, "bridge.test", {"n": 1}, key="held")
            held.set()
            release.wait(20)

    thread = threading.Thread(target=worker_transaction)
    thread.start()
    try:
        assert held.wait(5)
        started = time.monotonic()
        first = client.post(URL, content=body, headers=stripe_headers(body))
        again = client.post(URL, content=body, headers=stripe_headers(body))
        answered = time.monotonic() - started
    finally:
        release.set()
        thread.join(10)
        other.dispose()
    assert first.status_code == 200 and first.json()["duplicate"] is False
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert answered < 5  # the transaction would have held it for 20 s
    bridge.drain_journal(db)
    with db.session() as session:
        assert [row.event_id for row in session.scalars(select(BridgeInbox))] == [payload["id"]]
        assert sorted(session.scalars(select(Job.kind))) == ["bridge.process", "bridge.test"]


def test_journal_moves_each_delivery_into_the_inbox_once_even_when_moved_twice(
        client: Any, db: Database, stripe_bridge: Account) -> None:
    if db.journal is None:  # PostgreSQL has no journal: the acknowledgement's own transaction makes the row
        payload = event("payment_intent.succeeded", {"id": "pi_direct", "object": "payment_intent"})
        body = body_of(payload)
        assert client.post(URL, content=body, headers=stripe_headers(body)).json()["duplicate"] is False
        assert bridge.drain_journal(db) == 0
        with db.session() as session:
            assert list(session.scalars(select(BridgeInbox.event_id))) == [payload["id"]]
            assert list(session.scalars(select(Job.kind))) == ["bridge.process"]
        return
    with db.session() as session:
        company_id = get_company(session, CIF).id
    deliveries = [Delivery(company_id, "stripe", f"evt_{n}", "payment_intent.succeeded", f'{{"n": {n}}}',
                           {"stripe-signature": "t=1"}, datetime(2026, 11, 24, 10, 0, n, tzinfo=UTC)) for n in range(5)]
    for delivery in deliveries:
        assert db.journal.append(delivery)
    assert not db.journal.append(deliveries[0])  # the same event again
    assert bridge.drain_journal(db, batch=2) == 5  # in batches, in the order acknowledged
    for delivery in deliveries[:3]:  # a crash after the move, before the removal: the rows are there again
        assert db.journal.append(delivery)
    assert bridge.drain_journal(db) == 0 and db.journal.pending() == []
    with db.session() as session:
        rows = list(session.scalars(select(BridgeInbox).order_by(BridgeInbox.id)))
        assert [(r.event_id, r.body, r.received_at) for r in rows] == [
            (d.event_id, d.body, d.received_at) for d in deliveries]
        assert rows[0].headers == {"stripe-signature": "t=1"}
        keys = sorted(session.scalars(select(Job.key).where(Job.kind == "bridge.process")))
    assert keys == sorted(f"stripe:{company_id}:evt_{n}" for n in range(5))
    assert Path(str(db.sqlite_path) + "-webhooks").exists()


def test_the_worker_takes_the_journal_in_before_it_claims_jobs(
        client: Any, db: Database, settings: Settings, stripe_bridge: Account) -> None:
    payload = event("checkout.session.completed", checkout_session(
        pi="pi_intake", amount=12100, metadata={"Order Item #1": "SKU1, Carte, 1, 121.00"}))
    body = body_of(payload)
    assert client.post(URL, content=body, headers=stripe_headers(body)).status_code == 200
    worker = Worker(db, settings, run_periodic=False, kinds=["bridge.process"])
    assert worker.run_until_idle(timeout=60) == 1
    with db.session() as session:
        row = session.scalars(select(BridgeInbox)).one()
        number = session.scalar(select(Document.number_text).where(Document.kind == "invoice"))
    assert (row.status, row.event_id, number) == ("done", payload["id"], "0001"), row.outcome
    assert db.journal is None or db.journal.pending() == []


def test_serve_freezes_the_start_up_heap_so_collections_skip_it() -> None:
    gc.unfreeze()
    try:
        _settle_heap(with_worker=True)
        assert gc.get_freeze_count() > 50_000
    finally:
        gc.unfreeze()
