"""Per-user fixed-window rate limit with SmartBill's behaviour: over the limit, blocked with 403.

In-process state: with several API processes, each enforces its own window (documented).
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass


@dataclass
class Window:
    start: float
    count: int
    blocked_until: float = 0.0


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    reset: int  # unix time when the window (or the block) ends


class RateLimiter:
    def __init__(self, calls: int, window_seconds: int, block_seconds: int, clock=time.time) -> None:
        self.calls = calls
        self.window = window_seconds
        self.block = block_seconds
        self._clock = clock
        self._state: dict[str, Window] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> Verdict:
        now = self._clock()
        with self._lock:
            w = self._state.get(key)
            if w is not None and w.blocked_until > now:
                return Verdict(False, self.calls, 0, math.ceil(w.blocked_until))
            if w is None or now - w.start >= self.window:
                w = Window(start=now, count=0)
                self._state[key] = w
            w.count += 1
            reset = math.ceil(w.start + self.window)
            if w.count > self.calls:
                w.blocked_until = now + self.block
                return Verdict(False, self.calls, 0, math.ceil(w.blocked_until))
            if len(self._state) > 100_000:
                self._state = {k: v for k, v in self._state.items() if now - v.start < self.window or v.blocked_until > now}
            return Verdict(True, self.calls, self.calls - w.count, reset)
