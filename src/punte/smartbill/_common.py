"""What the sync and async SmartBill clients share, without I/O: client-only wire models, each operation as a
:class:`Call`, answer parsing, the retry policy and the decisions of the retry loop (:class:`Attempts`). The
clients add the HTTP, the waits and the rate limiter.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Generic, TypeVar

import httpx
import pydantic
from pydantic import BaseModel

from .errors import ServerError, SmartBillApiError, TransportError, ValidationError, error_for_status
from .wire import (
    DocumentAnswer,
    DocumentAnswerV2,
    EstimateInvoicesAnswer,
    PaymentStatusAnswer,
    ReverseRequest,
)

T = TypeVar("T")
Body = BaseModel | Mapping[str, Any]

# The client reads and writes the same wire models as the server (stock and e-mail have their own modules).
from .wire_email import SendAnswer, SendDocumentRequest, SendStatus  # noqa: E402,F401
from .wire_stock import StockEntry, StockProduct, StocksAnswer, Warehouse  # noqa: E402,F401

# ---- one operation -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call(Generic[T]):
    """A fully described request and how to read its answer (``answer is bytes``: a binary PDF)."""

    method: str
    path: str
    answer: type[T]
    params: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    idempotency_key: str | None = None
    # an errorText that is a normal state, not a failure (estimate/invoices: "not invoiced yet")
    tolerate: Callable[[dict[str, Any]], bool] | None = None

    @property
    def safe_to_repeat(self) -> bool:
        """GETs are; writes only with an Idempotency-Key the server honours."""
        return self.method == "GET" or self.idempotency_key is not None

    def headers(self) -> dict[str, str]:
        accept = "application/octet-stream, application/json" if self.answer is bytes else "application/json"
        out = {"Accept": accept}
        if self.method != "GET":
            out["Content-Type"] = "application/json"
        if self.idempotency_key is not None:
            out["Idempotency-Key"] = self.idempotency_key
        return out


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_none=True, exclude_unset=True)
    raise TypeError(f"{type(value).__name__} cannot be sent as JSON")


def encode_body(data: Body) -> bytes:
    """A request body as JSON. Models send only the fields the caller set; mappings go as they are."""
    if isinstance(data, BaseModel):
        payload: Any = data.model_dump(mode="json", exclude_none=True, exclude_unset=True)
    elif isinstance(data, Mapping):
        payload = dict(data)
    else:
        raise TypeError(f"body must be a pydantic model or a mapping, not {type(data).__name__}")
    return json.dumps(payload, default=_json_default, ensure_ascii=False).encode("utf-8")


def text(value: str | Decimal | float | date) -> str:
    """A query-string value: dates as yyyy-MM-dd, numbers without exponent."""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        value = Decimal(repr(value))
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value != value.to_integral_value() else str(int(value))
    return str(value)


def query(**params: str | Decimal | float | date | None) -> dict[str, str]:
    """Query parameters without the ``None`` ones."""
    return {k: text(v) for k, v in params.items() if v is not None}


# ---- the operations (paths and parameter names as SmartBill's reference spells them) ------------------------

Key = str | None


def doc_query(cif: str, series_name: str, number: str | int, *, key: str = "seriesName") -> dict[str, str]:
    """``cif``, the series (``seriesName``, or ``seriesname`` where the reference says so) and ``number``."""
    return {"cif": cif, key: series_name, "number": text(number)}


def not_invoiced(data: dict[str, Any]) -> bool:
    """``estimate/invoices`` answers "not invoiced yet" as an error; for the client it is a plain state."""
    return not data.get("areInvoicesCreated") and "nu a fost facturata" in str(data.get("errorText", ""))


def create(kind: str, data: Body, key: Key) -> Call[DocumentAnswer]:
    return Call("POST", f"/{kind}", DocumentAnswer, body=encode_body(data), idempotency_key=key)


def create_v2(kind: str, data: Body, key: Key) -> Call[DocumentAnswerV2]:
    return Call("POST", f"/{kind}/v2", DocumentAnswerV2, body=encode_body(data), idempotency_key=key)


def pdf(kind: str, cif: str, series_name: str, number: str | int) -> Call[bytes]:
    return Call("GET", f"/{kind}/pdf", bytes, doc_query(cif, series_name, number, key="seriesname"))


def change(kind: str, action: str, cif: str, series_name: str, number: str | int, key: Key) -> Call[DocumentAnswer]:
    """``cancel``, ``restore`` (PUT) or ``delete`` (DELETE) of an invoice or proforma."""
    method, path = ("DELETE", f"/{kind}") if action == "delete" else ("PUT", f"/{kind}/{action}")
    return Call(method, path, DocumentAnswer, doc_query(cif, series_name, number), idempotency_key=key)


def reverse(
    cif: str, series_name: str, number: str | int, issue_date: str | date | None, key: Key
) -> Call[DocumentAnswerV2]:
    body = ReverseRequest(companyVatCode=cif, seriesName=series_name, number=text(number),
                          issueDate=text(issue_date) if issue_date is not None else None)
    return Call("POST", "/invoice/reverse", DocumentAnswerV2, body=encode_body(body), idempotency_key=key)


def payment_status(cif: str, series_name: str, number: str | int) -> Call[PaymentStatusAnswer]:
    params = doc_query(cif, series_name, number, key="seriesname")
    return Call("GET", "/invoice/paymentstatus", PaymentStatusAnswer, params)


def estimate_invoices(cif: str, series_name: str, number: str | int) -> Call[EstimateInvoicesAnswer]:
    params = doc_query(cif, series_name, number)
    return Call("GET", "/estimate/invoices", EstimateInvoicesAnswer, params, tolerate=not_invoiced)


def post(path: str, answer: type[T], data: Body, key: Key) -> Call[T]:
    """``POST /payment`` and ``POST /document/send``."""
    return Call("POST", path, answer, body=encode_body(data), idempotency_key=key)


def delete(path: str, params: dict[str, str], key: Key) -> Call[DocumentAnswer]:
    """``DELETE /payment/chitanta`` and ``DELETE /payment/v2``."""
    return Call("DELETE", path, DocumentAnswer, params, idempotency_key=key)


def put(path: str, answer: type[T], params: dict[str, str], key: Key) -> Call[T]:
    """A state change named by its query string (``PUT /payment/issue``, a punte extension)."""
    return Call("PUT", path, answer, params, idempotency_key=key)


def get(path: str, answer: type[T], **params: str | Decimal | float | date | None) -> Call[T]:
    """A read: ``/tax``, ``/series``, ``/stocks``, ``/company/mu``, ``/payment/text``."""
    return Call("GET", path, answer, query(**params))


# ---- answers -------------------------------------------------------------------------------------------------

_XML_ERROR = re.compile(r"<errorText>(.*?)</errorText>", re.DOTALL)


def _error_text(content: bytes) -> tuple[str, Any]:
    """SmartBill's ``errorText`` from a JSON or XML body (or the start of any other text)."""
    raw = content.decode("utf-8", "replace")
    try:
        data = json.loads(raw)
    except ValueError:
        match = _XML_ERROR.search(raw)
        return (match.group(1).strip() if match else raw.strip()[:500]), raw
    if isinstance(data, dict):
        return str(data.get("errorText") or data.get("message") or data.get("detail") or ""), data
    return raw.strip()[:500], data


def parse_answer(call: Call[T], status: int, headers: Mapping[str, str], content: bytes) -> T:
    """The typed answer, or the matching :class:`~punte.smartbill.errors.SmartBillApiError`."""
    hdrs = dict(headers)
    ctype = hdrs.get("content-type", "").split(";")[0].strip().lower()
    if status >= 300:
        error_text, body = _error_text(content)
        if status < 500 and call.tolerate is not None and isinstance(body, dict) and call.tolerate(body):
            return call.answer.model_validate(body)  # type: ignore[attr-defined,no-any-return]
        raise error_for_status(status, error_text, body=body, headers=hdrs)
    if call.answer is bytes:
        if ctype in ("application/json", "application/xml", "text/xml"):
            error_text, body = _error_text(content)
            if error_text:
                raise ValidationError(error_text, status_code=status, body=body, headers=hdrs)
            raise SmartBillApiError("expected a PDF, got " + ctype, status_code=status, body=body, headers=hdrs)
        return content  # type: ignore[return-value]
    try:
        data = json.loads(content)
    except ValueError:
        raise SmartBillApiError(
            "answer is not JSON", status_code=status, body=content[:500].decode("utf-8", "replace"), headers=hdrs
        ) from None
    if not isinstance(data, dict):
        raise SmartBillApiError("answer is not a JSON object", status_code=status, body=data, headers=hdrs)
    if data.get("errorText") and not (call.tolerate is not None and call.tolerate(data)):
        raise ValidationError(str(data["errorText"]), status_code=status, body=data, headers=hdrs)
    try:
        answer = call.answer.model_validate(data)  # type: ignore[attr-defined]
    except pydantic.ValidationError as exc:
        raise SmartBillApiError(f"unexpected answer: {exc}", status_code=status, body=data, headers=hdrs) from None
    if isinstance(answer, SendAnswer) and answer.status.code != 0:
        cls = ValidationError if answer.status.code == 1 else ServerError
        raise cls(answer.status.message, status_code=status, body=data, headers=hdrs)
    return answer  # type: ignore[no-any-return]


# ---- retries ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential back-off with jitter: attempt *n* (1-based) waits ``min(cap, base * 2**(n-1))``, scaled by
    a random factor in [0.5, 1]; a numeric ``Retry-After`` (up to ``cap``) is honoured when longer."""

    retries: int = 3
    base: float = 0.5
    cap: float = 8.0

    def delay(self, attempt: int, headers: Mapping[str, str] | None = None) -> float:
        """Seconds to wait before retry number ``attempt``."""
        wait = min(self.cap, self.base * 2.0 ** (attempt - 1)) * (0.5 + random.random() / 2)
        retry_after = (headers or {}).get("retry-after", "")
        if retry_after.strip().isdigit():
            wait = max(wait, min(self.cap, float(retry_after)))
        return wait

    def may_retry(self, call: Call[Any], failed_attempts: int) -> bool:
        """Whether ``call`` may be sent again after ``failed_attempts`` failures."""
        return call.safe_to_repeat and failed_attempts <= self.retries


RETRYABLE = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


def server_pause(headers: Mapping[str, str], now: float, limit: float = 60.0) -> float:
    """Seconds to hold further calls when the server says none are left (``X-RateLimit-Remaining: 0``)."""
    if headers.get("x-ratelimit-remaining", "").strip() != "0":
        return 0.0
    try:
        reset = float(headers.get("x-ratelimit-reset", ""))
    except ValueError:
        return 0.0
    if reset > 1e11:
        reset /= 1000
    return min(limit, max(0.0, reset - now))


class Attempts:
    """The retry loop of one call, without I/O: after each try, how long to wait before the next one.

    Both clients run the same loop (acquire the limiter, send, then ask this object); only their waiting
    differs (``time.sleep`` or ``await asyncio.sleep``), so the rules live here once.
    """

    def __init__(self, call: Call[Any], policy: RetryPolicy) -> None:
        self.call, self.policy = call, policy
        self.failures = 0

    def after_error(self, exc: httpx.HTTPError) -> float:
        """Seconds to wait after a transport failure, or the :class:`TransportError` to give up with.

        Timeouts and lost connections are retried when the call is safe to repeat; any other httpx error
        (a bad URL, a refused TLS handshake) is final at once.
        """
        if not isinstance(exc, RETRYABLE):
            raise TransportError.from_httpx(exc, self.failures + 1) from exc
        self.failures += 1
        if not self.policy.may_retry(self.call, self.failures):
            raise TransportError.from_httpx(exc, self.failures) from exc
        return self.policy.delay(self.failures)

    def after_response(self, status: int, headers: Mapping[str, str], pause: Callable[[float], None]) -> float | None:
        """Seconds to wait before sending again (a 5xx that may be retried), or ``None``: read this answer.

        A server that says no calls are left in its window (any answer but 403/429, which the caller
        sees as errors) holds the client's limiter through ``pause``.
        """
        if status not in (403, 429):
            hold = server_pause(headers, time.time())
            if hold > 0:
                pause(hold)
        if status >= 500:
            self.failures += 1
            if self.policy.may_retry(self.call, self.failures):
                return self.policy.delay(self.failures, headers)
        return None
