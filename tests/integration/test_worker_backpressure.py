"""A running worker yields the CPU to webhook acknowledgements during a burst of them (issue #6).

A verified delivery marks "an acknowledgement just happened" (in the process, and in the modification time
of ``<data_dir>/bridge-ingress`` for a worker in another process); the worker's loop pauses before each job
while that mark is fresh, never longer than the cap in a row, and runs flat out when it is stale. Tests and
``punte worker --once`` (``run_until_idle``) never pause. What this gains in milliseconds is measured by
bench/webhooks.py, not here.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from punte.config import Settings
from punte.store.db import Database
from punte.worker import queue
from punte.worker.runner import HANDLERS, Worker, Yielding, ingress_age, ingress_path, note_ingress
from tests.conftest import Account

from .bridge_support import body_of, checkout_session, event, stripe_headers
from .test_bridge_stripe import setup_bridge

CIF = "18547290"
URL = f"/webhooks/stripe/{CIF}"


@pytest.fixture
def handlers():  # type: ignore[no-untyped-def]
    saved = dict(HANDLERS)
    yield HANDLERS
    HANDLERS.clear()
    HANDLERS.update(saved)


@pytest.fixture
def ingress(tmp_path: Path) -> Path:
    """The file another process's acknowledgements touch (not created until then)."""
    return tmp_path / "elsewhere" / "bridge-ingress"


def _acked_elsewhere(path: Path, seconds_ago: float = 0.0) -> None:
    """What ``receive`` in a ``punte serve`` process does to the file, ``seconds_ago``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()
    stamp = time.time() - seconds_ago
    os.utime(path, (stamp, stamp))


def _quiet_here(window: float) -> None:
    """Let this process's own acknowledgement clock (other tests posted deliveries) grow older than ``window``."""
    time.sleep(max(0.0, window - ingress_age(None)) + 0.01)


def _jobs(db: Database, handlers: dict[str, Any], n: int) -> list[int]:
    ran: list[int] = []
    handlers["t.work"] = lambda ctx: ran.append(ctx.job.payload["n"])
    with db.session(write=True) as session:
        for i in range(n):
            queue.enqueue(session, "t.work", {"n": i})
    return ran


def _worker(db: Database, settings: Settings, yielding: Yielding) -> Worker:
    return Worker(db, settings, run_periodic=False, kinds=["t.work"], yielding=yielding)


def test_the_worker_pauses_before_each_job_while_another_process_acknowledges(
        db: Database, settings: Settings, handlers: dict[str, Any], ingress: Path) -> None:
    ran = _jobs(db, handlers, 3)
    _acked_elsewhere(ingress)
    worker = _worker(db, settings, Yielding(window=60, pause=0.01, longest=0.05, path=ingress))
    assert worker.run_once(yield_to_ingress=True) == 3
    assert sorted(ran) == [0, 1, 2]
    assert worker.paused >= 3 * 0.04  # each job waited out (about) the cap, then ran anyway


def test_the_cap_lets_one_job_through_after_the_longest_pause(
        db: Database, settings: Settings, handlers: dict[str, Any], ingress: Path) -> None:
    _acked_elsewhere(ingress)
    worker = _worker(db, settings, Yielding(window=60, pause=0.02, longest=0.1, path=ingress))
    first = worker.yield_to_ingress()
    second = worker.yield_to_ingress()
    assert 0.08 <= first < 1 and 0.08 <= second < 1  # pauses up to the cap (not the 60 s window), then a job


def test_no_pause_when_the_last_acknowledgement_is_older_than_the_window(
        db: Database, settings: Settings, handlers: dict[str, Any], ingress: Path) -> None:
    ran = _jobs(db, handlers, 3)
    _acked_elsewhere(ingress, seconds_ago=5)
    _quiet_here(0.05)
    worker = _worker(db, settings, Yielding(window=0.05, pause=0.01, longest=1, path=ingress))
    assert worker.run_once(yield_to_ingress=True) == 3
    assert sorted(ran) == [0, 1, 2]
    assert worker.paused == 0


def test_no_pause_without_any_acknowledgement_file(
        db: Database, settings: Settings, handlers: dict[str, Any], ingress: Path) -> None:
    _jobs(db, handlers, 2)
    _quiet_here(0.05)
    worker = _worker(db, settings, Yielding(window=0.05, pause=0.01, longest=1, path=ingress))
    assert worker.run_once(yield_to_ingress=True) == 2
    assert worker.paused == 0 and not ingress.exists()


def test_an_embedded_worker_sees_the_acknowledgements_of_its_own_process(
        db: Database, settings: Settings, handlers: dict[str, Any]) -> None:
    _jobs(db, handlers, 2)
    note_ingress(None)  # an acknowledgement in this process, no file
    worker = _worker(db, settings, Yielding(window=60, pause=0.01, longest=0.03, path=None))
    assert worker.run_once(yield_to_ingress=True) == 2
    assert worker.paused > 0


def test_run_until_idle_and_plain_run_once_never_pause(
        db: Database, settings: Settings, handlers: dict[str, Any], ingress: Path) -> None:
    ran = _jobs(db, handlers, 3)
    _acked_elsewhere(ingress)
    worker = _worker(db, settings, Yielding(window=60, pause=0.05, longest=1, path=ingress))
    assert worker.run_until_idle() == 3
    _jobs(db, handlers, 1)
    assert worker.run_once() == 1
    assert worker.paused == 0 and len(ran) == 3


def test_the_running_loop_yields_and_still_finishes_the_work(
        db: Database, settings: Settings, handlers: dict[str, Any], ingress: Path) -> None:
    ran = _jobs(db, handlers, 4)
    _acked_elsewhere(ingress)
    worker = Worker(db, settings, run_periodic=False, kinds=["t.work"], poll_interval=0.05,
                    yielding=Yielding(window=60, pause=0.01, longest=0.02, path=ingress))
    worker.start()
    deadline = time.monotonic() + 10
    while len(ran) < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    worker.stop()
    assert sorted(ran) == [0, 1, 2, 3]
    assert worker.paused > 0


def test_a_window_of_zero_turns_yielding_off(
        db: Database, settings: Settings, handlers: dict[str, Any], ingress: Path) -> None:
    _jobs(db, handlers, 2)
    _acked_elsewhere(ingress)
    off = settings.model_copy(update={"worker_yield_window_ms": 0})
    worker = Worker(db, off, run_periodic=False, kinds=["t.work"])
    assert not worker.yielding.enabled
    assert worker.run_once(yield_to_ingress=True) == 2
    assert worker.paused == 0


def test_settings_give_the_knobs_and_the_file_in_the_data_dir(settings: Settings) -> None:
    tuned = settings.model_copy(update={"worker_yield_window_ms": 30, "worker_yield_pause_ms": 5,
                                        "worker_yield_max_ms": 400})
    assert Yielding.from_settings(tuned) == Yielding(0.03, 0.005, 0.4, settings.data_dir / "bridge-ingress")
    assert not Yielding.from_settings(settings).enabled  # off by default (decision 59)


# ---- the mark, through the webhook route -------------------------------------------------------------------------


@pytest.fixture
def stripe_bridge(db: Database, settings: Settings, account: Account) -> Account:
    setup_bridge(db, settings)
    return account


def test_a_verified_delivery_marks_the_ingress_file_a_forged_one_does_not(
        client: Any, db: Database, settings: Settings, stripe_bridge: Account) -> None:
    from fastapi.testclient import TestClient

    from punte.api.app import create_app

    path = ingress_path(settings)
    if path.exists():
        path.unlink()
    body = body_of(event("checkout.session.completed", checkout_session(pi="pi_default", amount=1000)))
    assert client.post(URL, content=body, headers=stripe_headers(body)).status_code == 200
    assert not path.exists()  # yielding is off by default: nothing to tell a worker apart

    tuned = settings.model_copy(update={"worker_yield_window_ms": 20})
    with TestClient(create_app(tuned, db=db, migrate=False)) as yielding:
        body = body_of(event("checkout.session.completed", checkout_session(pi="pi_forged", amount=1000)))
        forged = yielding.post(URL, content=body, headers=stripe_headers(body, "whsec_not_the_secret"))
        assert forged.status_code == 400
        assert not path.exists()

        time.sleep(0.02)  # past the touch interval of earlier deliveries in this process
        body = body_of(event("checkout.session.completed", checkout_session(pi="pi_marks", amount=1000)))
        answer = yielding.post(URL, content=body, headers=stripe_headers(body))
    assert answer.status_code == 200
    assert path.exists() and time.time() - path.stat().st_mtime < 5
    worker = Worker(db, tuned, run_periodic=False)
    assert worker.yielding.path == path  # the worker apart looks where the route marks
