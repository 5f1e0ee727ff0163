"""Injected faults and held answers: how the sandbox misbehaves on purpose, for tests and demos.

A :class:`Fault` applies to the next ``count`` calls of one endpoint (``"*"``: any sandbox
endpoint). Kinds:

``500``       HTTP 500 with the gateway's JSON error;
``html``      HTTP 200 with an HTML maintenance page (what ANAF shows during maintenance);
``rejected``  HTTP 200 with the firewall's "Request Rejected" HTML page;
``text``      HTTP 200 with a plain-text body;
``429``       HTTP 429 (too many requests);
``hang``      receive the whole request, wait ``seconds``, then handle it and answer normally (a
              client with a shorter timeout gives up while its call is still going to be handled:
              an upload is recorded although the caller saw a timeout);
``hold``      (upload, uploadb2c) record the upload, then keep the answer back until the test
              calls :meth:`Holds.release` (or ``seconds`` pass, when given): the window in which
              ANAF has the file but the caller does not know its index yet.

Faults live in the memory of the process serving the sandbox (they are a test device, not
ANAF state); everything ANAF "knows" is in the database.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import count as counter

KINDS = ("500", "html", "rejected", "text", "429", "hang", "hold")
ENDPOINTS = (
    "*", "authorize", "token", "upload", "uploadb2c", "stareMesaj", "listaMesajeFactura",
    "listaMesajePaginatieFactura", "descarcare", "validare", "transformare",
)
MAX_SECONDS = 600.0


@dataclass
class Fault:
    id: int
    endpoint: str
    kind: str
    remaining: int
    seconds: float = 0.0


class Faults:
    """Thread-safe list of pending faults; :meth:`take` consumes one call's worth."""

    def __init__(self) -> None:
        self._items: list[Fault] = []
        self._ids = counter(1)
        self._lock = threading.Lock()

    def add(self, endpoint: str, kind: str, count: int = 1, seconds: float = 0.0) -> Fault:
        if endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {endpoint!r}; one of {', '.join(ENDPOINTS)}")
        if kind not in KINDS:
            raise ValueError(f"unknown fault {kind!r}; one of {', '.join(KINDS)}")
        if kind == "hold" and endpoint not in ("upload", "uploadb2c", "*"):
            raise ValueError("'hold' applies to upload and uploadb2c only")
        if count < 1:
            raise ValueError("count must be at least 1")
        if not 0 <= seconds <= MAX_SECONDS:
            raise ValueError(f"seconds must be between 0 and {MAX_SECONDS:g}")
        if kind == "hang" and seconds <= 0:
            raise ValueError("'hang' needs seconds > 0")
        fault = Fault(next(self._ids), endpoint, kind, count, seconds)
        with self._lock:
            self._items.append(fault)
        return fault

    def take(self, endpoint: str) -> Fault | None:
        """The fault that applies to this call of ``endpoint``, consumed; None when there is none."""
        with self._lock:
            for fault in self._items:
                if fault.endpoint not in (endpoint, "*"):
                    continue
                if fault.kind == "hold" and endpoint not in ("upload", "uploadb2c"):
                    continue
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._items.remove(fault)
                return Fault(fault.id, endpoint, fault.kind, fault.remaining, fault.seconds)
        return None

    def pending(self) -> list[Fault]:
        with self._lock:
            return [Fault(f.id, f.endpoint, f.kind, f.remaining, f.seconds) for f in self._items]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


@dataclass
class Hold:
    """An upload recorded by the sandbox whose answer is being kept back."""

    id: int
    endpoint: str
    index_incarcare: int
    created: float = field(default_factory=time.monotonic)
    _released: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def released(self) -> bool:
        return self._released.is_set()


class Holds:
    """The answers being kept back; tests wait for one to appear, then release it."""

    def __init__(self) -> None:
        self._items: dict[int, Hold] = {}
        self._ids = counter(1)
        self._cond = threading.Condition()

    def open(self, endpoint: str, index_incarcare: int) -> Hold:
        with self._cond:
            hold = Hold(next(self._ids), endpoint, index_incarcare)
            self._items[hold.id] = hold
            self._cond.notify_all()
            return hold

    def close(self, hold: Hold) -> None:
        with self._cond:
            self._items.pop(hold.id, None)
            self._cond.notify_all()

    def wait_for(self, timeout: float = 10.0) -> Hold:
        """The oldest answer being held, waiting up to ``timeout`` seconds for one to appear."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                waiting = [h for h in self._items.values() if not h.released]
                if waiting:
                    return min(waiting, key=lambda h: h.id)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("no upload is being held")
                self._cond.wait(left)

    def release(self, hold_id: int | None = None) -> int:
        """Let one held answer (or all of them) go; the number released."""
        with self._cond:
            targets = [h for h in self._items.values() if hold_id is None or h.id == hold_id]
            for hold in targets:
                hold._released.set()
            self._cond.notify_all()
            return len(targets)

    def __iter__(self) -> Iterator[Hold]:
        with self._cond:
            return iter(list(self._items.values()))
