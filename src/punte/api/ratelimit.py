"""Per-user fixed-window rate limit with SmartBill's behaviour: over the limit, blocked with 403.

In-process state: with several API processes, each enforces its own window (documented).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from .context import basic_credentials


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


class RateLimitMiddleware:
    """The limit on ``/SBORO/`` calls, per user (the Basic e-mail) or else per client address, as plain
    ASGI middleware: other paths (the dashboard, webhooks, the ANAF sandbox) pass through untouched, and no
    request pays for Starlette's ``BaseHTTPMiddleware`` wrapping (a task and a stream per request).

    Answers carry ``X-RateLimit-Limit``/``-Remaining``/``-Reset``; over the limit, 403 with SmartBill's text.
    """

    def __init__(self, app: Any, limiter: Callable[[], RateLimiter], refuse: Callable[[], Any]) -> None:
        self.app = app
        self.limiter = limiter  # read per call: tests swap app.state.limiter
        self.refuse = refuse  # the 403 response

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/SBORO/"):
            await self.app(scope, receive, send)
            return
        creds = basic_credentials(Request(scope))
        client = scope.get("client")
        key = f"user:{creds[0].strip().lower()}" if creds else f"ip:{client[0] if client else '-'}"
        verdict = self.limiter().hit(key)
        extra = [(b"x-ratelimit-limit", str(verdict.limit).encode()),
                 (b"x-ratelimit-remaining", str(verdict.remaining).encode()),
                 (b"x-ratelimit-reset", str(verdict.reset).encode())]

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        if not verdict.allowed:
            await self.refuse()(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)
