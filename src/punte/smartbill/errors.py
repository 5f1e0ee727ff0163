"""Exceptions raised by the SmartBill clients (:mod:`punte.smartbill.client`, :mod:`punte.smartbill.aclient`).

Every failure is a :class:`SmartBillError`. A failure with an HTTP answer is a :class:`SmartBillApiError`
(``status_code``, ``error_text``, ``body``, ``headers``), refined by status; a failure without one (the network,
a timeout) is a :class:`TransportError`::

    SmartBillError
    ├── TransportError              network error or timeout (after the retries allowed)
    └── SmartBillApiError           any answer carrying an error
        ├── ValidationError         400 with errorText, 200 with a non-empty errorText, send code 1
        ├── AuthenticationError     401: wrong e-mail/token, or no right on that company (CIF)
        ├── RateLimitError          403 (user blocked) and 429, with ``reset_at``
        ├── NotFoundError           404 and 410
        ├── UnsupportedMediaType    415
        └── ServerError             5xx, send code 2
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

__all__ = [
    "AuthenticationError",
    "NotFoundError",
    "RateLimitError",
    "ServerError",
    "SmartBillApiError",
    "SmartBillError",
    "TransportError",
    "UnsupportedMediaType",
    "ValidationError",
    "error_for_status",
]


class SmartBillError(Exception):
    """Base of every error the SmartBill clients raise."""


class TransportError(SmartBillError):
    """No usable answer: connection refused or reset, DNS failure, timeout.

    ``maybe_delivered`` is False only when the request certainly never reached the server (the connection
    could not be opened); after any other transport failure a write may or may not have happened.
    """

    def __init__(self, message: str, *, attempts: int = 1, maybe_delivered: bool = True) -> None:
        super().__init__(message)
        self.attempts = attempts
        self.maybe_delivered = maybe_delivered

    @classmethod
    def from_httpx(cls, exc: httpx.HTTPError, attempts: int) -> TransportError:
        """The error for an httpx failure after ``attempts`` tries."""
        never_sent = isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout))
        tries = f" (after {attempts} attempts)" if attempts > 1 else ""
        return cls(f"{type(exc).__name__}: {exc}{tries}", attempts=attempts, maybe_delivered=not never_sent)


class SmartBillApiError(SmartBillError):
    """The server answered with an error. ``error_text`` is SmartBill's ``errorText`` (may be empty)."""

    def __init__(
        self,
        error_text: str,
        *,
        status_code: int,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"HTTP {status_code}: {error_text}" if error_text else f"HTTP {status_code}")
        self.error_text = error_text
        self.status_code = status_code
        self.body = body
        self.headers: dict[str, str] = dict(headers or {})


class ValidationError(SmartBillApiError):
    """Bad data or a forbidden action: HTTP 400, or HTTP 200 whose ``errorText`` is not empty."""


class AuthenticationError(SmartBillApiError):
    """HTTP 401: wrong credentials, or the user has no right on the company (CIF)."""


class RateLimitError(SmartBillApiError):
    """HTTP 403 (SmartBill blocks a user over 30 calls / 10 s for 10 minutes) or 429.

    ``reset_at`` is when the block or window ends (from ``X-RateLimit-Reset``, unix seconds), if sent.
    """

    def __init__(
        self,
        error_text: str,
        *,
        status_code: int,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        reset_at: datetime | None = None,
    ) -> None:
        super().__init__(error_text, status_code=status_code, body=body, headers=headers)
        self.reset_at = reset_at


class NotFoundError(SmartBillApiError):
    """HTTP 404 or 410 (SmartBill: blocked by internal rules; elsewhere: no such path)."""


class UnsupportedMediaType(SmartBillApiError):
    """HTTP 415: the body's Content-Type is not accepted."""


class ServerError(SmartBillApiError):
    """HTTP 5xx, or ``document/send`` answering status code 2 (error on the SmartBill server)."""


def reset_time(headers: Mapping[str, str]) -> datetime | None:
    """``X-RateLimit-Reset`` (unix seconds, or milliseconds) as an aware UTC datetime."""
    raw = headers.get("x-ratelimit-reset") or headers.get("X-RateLimit-Reset")
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    if value > 1e11:  # milliseconds
        value /= 1000
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def error_for_status(
    status_code: int, error_text: str, *, body: Any = None, headers: Mapping[str, str] | None = None
) -> SmartBillApiError:
    """The exception matching an HTTP status (200 with an ``errorText`` counts as a 400)."""
    hdrs = dict(headers or {})
    kw: dict[str, Any] = {"status_code": status_code, "body": body, "headers": hdrs}
    if status_code in (403, 429):
        return RateLimitError(error_text, reset_at=reset_time(hdrs), **kw)
    cls: type[SmartBillApiError]
    if status_code == 401:
        cls = AuthenticationError
    elif status_code in (404, 410):
        cls = NotFoundError
    elif status_code == 415:
        cls = UnsupportedMediaType
    elif status_code >= 500:
        cls = ServerError
    elif status_code in (200, 400):
        cls = ValidationError
    else:
        cls = SmartBillApiError
    return cls(error_text, **kw)
