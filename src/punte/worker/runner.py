"""The worker: runs queued jobs through their handlers and fires periodic tasks.

Handlers are registered by kind with :func:`handler`; periodic tasks with :func:`periodic`. The
modules that define them are listed in :data:`HANDLER_MODULES` and imported by :func:`load_handlers`.

A handler receives a :class:`JobContext`. It returns normally when the job is done, raises
:class:`Retry` to run again later without counting a failure (waiting on ANAF, say), and any other
exception counts as a failed attempt retried with exponential back-off until ``max_attempts``.
"""

from __future__ import annotations

import importlib
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from punte.config import Settings
from punte.store.db import Database

from . import queue
from .queue import ClaimedJob

log = logging.getLogger("punte.worker")

#: Modules whose import registers handlers and periodic tasks.
HANDLER_MODULES: list[str] = ["punte.services.fx", "punte.services.email", "punte.services.recurring", "punte.efactura.pipeline", "punte.services.bridge", "punte.services.received"]


class Retry(Exception):  # noqa: N818 - a control-flow signal, not an error
    """Run the job again after ``after`` seconds; ``count`` says whether this was a failed attempt."""

    def __init__(self, reason: str, *, after: float | None = None, count: bool = False) -> None:
        super().__init__(reason)
        self.after = after
        self.count = count


@dataclass
class JobContext:
    db: Database
    settings: Settings
    job: ClaimedJob
    worker_id: str
    services: dict[str, Any] = field(default_factory=dict)


Handler = Callable[[JobContext], None]


@dataclass
class Periodic:
    name: str
    seconds: float
    fn: Callable[[Database, Settings, dict[str, Any]], None]


HANDLERS: dict[str, Handler] = {}
PERIODIC: dict[str, Periodic] = {}
#: Steps run at the start of each pass, before jobs are claimed: they turn work that arrived outside the job
#: queue (the webhook journal on SQLite) into jobs, and return how many they made.
INTAKE: dict[str, Callable[[Database, Settings], int]] = {}


def handler(kind: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        HANDLERS[kind] = fn
        return fn

    return register


def periodic(name: str, seconds: float) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """A task run every ``seconds`` by each worker; it must be safe to run on several workers at once
    (in practice it enqueues keyed jobs, which the queue deduplicates)."""

    def register(fn: Callable[..., None]) -> Callable[..., None]:
        PERIODIC[name] = Periodic(name, seconds, fn)
        return fn

    return register


def intake(name: str) -> Callable[[Callable[[Database, Settings], int]], Callable[[Database, Settings], int]]:
    def register(fn: Callable[[Database, Settings], int]) -> Callable[[Database, Settings], int]:
        INTAKE[name] = fn
        return fn

    return register


def load_handlers() -> None:
    for name in HANDLER_MODULES:
        importlib.import_module(name)


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Worker:
    """Runs jobs until stopped. ``services`` carries injectable collaborators (HTTP transports...)."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        worker_id: str | None = None,
        kinds: list[str] | None = None,
        poll_interval: float = 1.0,
        batch: int = 8,
        lease_seconds: int = 300,
        services: dict[str, Any] | None = None,
        run_periodic: bool = True,
    ) -> None:
        load_handlers()
        self.db = db
        self.settings = settings
        self.worker_id = worker_id or default_worker_id()
        self.kinds = kinds
        self.poll_interval = poll_interval
        self.batch = batch
        self.lease_seconds = lease_seconds
        self.services = services or {}
        self.run_periodic = run_periodic
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_periodic: dict[str, float] = {}

    # -- one pass -----------------------------------------------------------------------------
    def run_job(self, job: ClaimedJob) -> str:
        fn = HANDLERS.get(job.kind)
        if fn is None:
            return queue.retry(self.db, job, self.worker_id, f"no handler for job kind {job.kind!r}", after=60)
        ctx = JobContext(self.db, self.settings, job, self.worker_id, self.services)
        try:
            fn(ctx)
        except Retry as signal:
            return queue.retry(self.db, job, self.worker_id, str(signal), after=signal.after, count_attempt=signal.count)
        except Exception as exc:  # noqa: BLE001 - every failure is recorded on the job and retried
            log.warning("job %s (%s) failed: %s", job.id, job.kind, exc, exc_info=True)
            return queue.retry(self.db, job, self.worker_id, f"{type(exc).__name__}: {exc}")
        queue.complete(self.db, job, self.worker_id)
        return "done"

    def run_once(self) -> int:
        """Run every job due now (and the periodic tasks due); returns how many jobs ran."""
        self.tick_periodic()
        self.take_in()
        ran = 0
        started = queue.now()  # a job retried during this pass waits for the next one
        while not self._stop.is_set():
            jobs = queue.claim(
                self.db, self.worker_id, kinds=self.kinds, limit=self.batch, lease_seconds=self.lease_seconds,
                due_by=started,
            )
            if not jobs:
                break
            for job in jobs:
                self.run_job(job)
                ran += 1
        return ran

    def take_in(self) -> int:
        """Run the intake steps (a failure is logged: the next pass tries again)."""
        made = 0
        for name, step in list(INTAKE.items()):
            try:
                made += step(self.db, self.settings)
            except Exception:  # noqa: BLE001 - e.g. the database busy past its timeout
                log.exception("intake %s failed", name)
        return made

    def run_until_idle(self, timeout: float = 30.0) -> int:
        """Run until no job is due (tests, CLI ``--once``). Jobs scheduled for later are left."""
        deadline = time.monotonic() + timeout
        total = 0
        while time.monotonic() < deadline:
            ran = self.run_once()
            total += ran
            if ran == 0:
                break
        return total

    def tick_periodic(self) -> None:
        if not self.run_periodic:
            return
        now = time.monotonic()
        for task in list(PERIODIC.values()):
            due = self._next_periodic.get(task.name, 0.0)
            if now < due:
                continue
            self._next_periodic[task.name] = now + task.seconds
            try:
                task.fn(self.db, self.settings, self.services)
            except Exception:  # noqa: BLE001 - a periodic failure must not stop the worker
                log.exception("periodic task %s failed", task.name)

    # -- the loop -----------------------------------------------------------------------------
    def run_forever(self) -> None:
        log.info("worker %s started", self.worker_id)
        while not self._stop.is_set():
            try:
                ran = self.run_once()
            except Exception:  # noqa: BLE001 - database hiccups: wait and go on
                log.exception("worker pass failed")
                ran = 0
            if ran == 0:
                queue.WAKE.wait(self.poll_interval)
                queue.WAKE.clear()
        log.info("worker %s stopped", self.worker_id)

    def start(self) -> threading.Thread:
        self._thread = threading.Thread(target=self.run_forever, name=f"punte-worker-{self.worker_id}", daemon=True)
        self._thread.start()
        return self._thread

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        queue.WAKE.set()
        if self._thread is not None:
            self._thread.join(timeout)


__all__ = ["HANDLERS", "HANDLER_MODULES", "INTAKE", "PERIODIC", "JobContext", "Retry", "Worker", "handler", "intake",
           "periodic"]
