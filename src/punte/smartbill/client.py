"""Synchronous client for the SmartBill Cloud REST API (and for punte, which speaks the same API).

::

    with SmartBill("api@firma.ro", token) as sb:                      # https://ws.smartbill.ro/SBORO/api
        answer = sb.invoices.create(invoice)                            # DocumentAnswer(number="0001", ...)
        pdf = sb.invoices.pdf("RO18547290", "FCT", answer.number)      # bytes

Method names follow SmartBill's PHP facade (``Smartbill::invoices()->create``, ``getPdf`` -> ``pdf``,
``getPaymentStatus`` -> ``payment_status``, ...). Errors are :mod:`punte.smartbill.errors`; see
``docs/smartbill-client.md`` for the limiter and the retry rules.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from types import TracebackType
from typing import Protocol, Self, TypeVar

import httpx

from punte import __version__

from . import _common as ops
from ._common import (
    Body,
    Call,
    RetryPolicy,
    SendAnswer,
    SendDocumentRequest,
    SendStatus,
    StockEntry,
    StockProduct,
    StocksAnswer,
    Warehouse,
)
from .wire import (
    CashBalanceAnswer,
    CashOperationAnswer,
    CashOperationRequest,
    CashRegisterAnswer,
    DocumentAnswer,
    DocumentAnswerV2,
    EstimateInvoicesAnswer,
    InvoiceNumber,
    InvoiceRef,
    MeasuringUnitsAnswer,
    PaymentAnswer,
    PaymentRequest,
    PaymentStatusAnswer,
    PaymentTextAnswer,
    SeriesAnswer,
    TaxAnswer,
)

__all__ = [
    "CashBalanceAnswer", "CashOperationAnswer", "CashOperationRequest", "CashRegisterAnswer",
    "DEFAULT_BASE_URL", "DEFAULT_TIMEOUT", "EstimateInvoicesAnswer", "InvoiceNumber", "InvoiceRef", "PaymentAnswer",
    "PaymentRequest", "PaymentTextAnswer", "RateLimiter", "RetryPolicy", "SendAnswer", "SendDocumentRequest",
    "SendStatus", "SlidingWindow", "SmartBill", "StockEntry", "StockProduct", "StocksAnswer", "Warehouse",
]

T = TypeVar("T")
DEFAULT_BASE_URL = "https://ws.smartbill.ro/SBORO/api"
DEFAULT_TIMEOUT = httpx.Timeout(30, connect=10)
USER_AGENT = f"punte-smartbill-client/{__version__}"
Number = str | int
Key = str | None
DateLike = str | date


class SlidingWindow:
    """Sliding-window log: at most ``max_calls`` calls in any ``per_seconds`` interval (unlocked; see the limiters)."""

    def __init__(self, max_calls: int, per_seconds: float) -> None:
        if max_calls < 1 or per_seconds <= 0:
            raise ValueError("max_calls must be >= 1 and per_seconds > 0")
        self.max_calls = max_calls
        self.per_seconds = per_seconds
        self.stamps: deque[float] = deque()
        self.paused_until = float("-inf")

    def take(self, now: float) -> float:
        """Record a call at ``now`` and return 0, or return how long to wait before trying again."""
        while self.stamps and self.stamps[0] <= now - self.per_seconds:
            self.stamps.popleft()
        wait = self.paused_until - now
        if len(self.stamps) >= self.max_calls:
            wait = max(wait, self.stamps[0] + self.per_seconds - now)
        if wait > 0:
            return wait
        self.stamps.append(now)
        return 0.0

    def pause(self, now: float, seconds: float) -> None:
        """Refuse calls until ``now + seconds``."""
        self.paused_until = max(self.paused_until, now + seconds)


class RateLimiter:
    """Thread-safe sliding-window limiter: at most ``max_calls`` calls in any ``per_seconds`` interval.

    Callers over the limit wait (in turn) instead of failing. ``clock`` and ``sleep`` are injectable for tests.
    """

    def __init__(
        self,
        max_calls: int = 30,
        per_seconds: float = 10,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._window = SlidingWindow(max_calls, per_seconds)
        self._clock, self._sleep = clock, sleep
        self._turn, self._state = threading.Lock(), threading.Lock()

    def acquire(self) -> None:
        """Block until one more call fits in the window, and count it."""
        with self._turn:
            while True:
                with self._state:
                    wait = self._window.take(self._clock())
                if wait <= 0:
                    return
                self._sleep(wait)

    def pause(self, seconds: float) -> None:
        """Hold every further call for ``seconds`` (the server said its window is used up)."""
        with self._state:
            self._window.pause(self._clock(), seconds)


class _Run(Protocol):
    def __call__(self, call: Call[T], /) -> T: ...


class _Documents:
    _kind = ""

    def __init__(self, run: _Run) -> None:
        self._run = run

    def create(self, data: Body, *, idempotency_key: Key = None) -> DocumentAnswer:
        """Issue the document (``POST /{kind}``); ``data`` is a wire request model or a dict."""
        return self._run(ops.create(self._kind, data, idempotency_key))

    def create_v2(self, data: Body, *, idempotency_key: Key = None) -> DocumentAnswerV2:
        """Issue the document (``POST /{kind}/v2``): the answer adds ``documentId`` and the view/edit links."""
        return self._run(ops.create_v2(self._kind, data, idempotency_key))

    def pdf(self, cif: str, series_name: str, number: Number) -> bytes:
        """The document as PDF bytes (``GET /{kind}/pdf``)."""
        return self._run(ops.pdf(self._kind, cif, series_name, number))

    def cancel(self, cif: str, series_name: str, number: Number, *, idempotency_key: Key = None) -> DocumentAnswer:
        """Cancel the document, keeping it (``PUT /{kind}/cancel``)."""
        return self._run(ops.change(self._kind, "cancel", cif, series_name, number, idempotency_key))

    def restore(self, cif: str, series_name: str, number: Number, *, idempotency_key: Key = None) -> DocumentAnswer:
        """Restore a cancelled document (``PUT /{kind}/restore``)."""
        return self._run(ops.change(self._kind, "restore", cif, series_name, number, idempotency_key))

    def delete(self, cif: str, series_name: str, number: Number, *, idempotency_key: Key = None) -> DocumentAnswer:
        """Delete the document; only the last one of its series can be (``DELETE /{kind}``)."""
        return self._run(ops.change(self._kind, "delete", cif, series_name, number, idempotency_key))


class Invoices(_Documents):
    """``/invoice`` operations (``Smartbill::invoices()``)."""

    _kind = "invoice"

    def payment_status(self, cif: str, series_name: str, number: Number) -> PaymentStatusAnswer:
        """Total, paid and unpaid amounts of an invoice (``GET /invoice/paymentstatus``)."""
        return self._run(ops.payment_status(cif, series_name, number))

    def reverse(
        self, cif: str, series_name: str, number: Number, issue_date: DateLike | None = None,
        *, idempotency_key: Key = None,
    ) -> DocumentAnswerV2:
        """Issue the storno of an invoice (``POST /invoice/reverse``); ``issue_date`` defaults to today."""
        return self._run(ops.reverse(cif, series_name, number, issue_date, idempotency_key))


class Estimates(_Documents):
    """``/estimate`` (proforma) operations (``Smartbill::estimates()``)."""

    _kind = "estimate"

    def invoices(self, cif: str, series_name: str, number: Number) -> EstimateInvoicesAnswer:
        """Invoices issued from a proforma (``GET /estimate/invoices``); none: ``areInvoicesCreated`` False."""
        return self._run(ops.estimate_invoices(cif, series_name, number))


class Payments:
    """``/payment`` operations (``Smartbill::payments()``)."""

    def __init__(self, run: _Run) -> None:
        self._run = run

    def create(self, data: PaymentRequest | Body, *, idempotency_key: Key = None) -> PaymentAnswer:
        """Record a payment: receipt (Chitanta), bank payment, card, fiscal receipt (``POST /payment``)."""
        return self._run(ops.post("/payment", PaymentAnswer, data, idempotency_key))

    def text(self, cif: str, id: str | int) -> PaymentTextAnswer:
        """The base64 text of a fiscal receipt for the cash register (``GET /payment/text``)."""
        return self._run(ops.get("/payment/text", PaymentTextAnswer, cif=cif, id=id))

    def delete_receipt(
        self, cif: str, series_name: str, number: Number, *, idempotency_key: Key = None
    ) -> DocumentAnswer:
        """Delete a receipt, the last of its series (``DELETE /payment/chitanta``)."""
        return self._run(
            ops.delete("/payment/chitanta", ops.doc_query(cif, series_name, number), idempotency_key)
        )

    def delete_by_invoice(
        self, cif: str, payment_type: str, invoice_series: str, invoice_number: Number,
        *, idempotency_key: Key = None,
    ) -> DocumentAnswer:
        """Delete a non-receipt payment found by its invoice (``DELETE /payment/v2``)."""
        params = ops.query(cif=cif, paymentType=payment_type, invoiceSeries=invoice_series,
                           invoiceNumber=invoice_number)
        return self._run(ops.delete("/payment/v2", params, idempotency_key))

    def delete_by_payment(
        self, cif: str, payment_type: str, payment_date: DateLike, payment_value: Decimal | float | str,
        client_name: str | None = None, client_cif: str | None = None, *, idempotency_key: Key = None,
    ) -> DocumentAnswer:
        """Delete a non-receipt payment found by type, date, value and client (``DELETE /payment/v2``)."""
        params = ops.query(cif=cif, paymentType=payment_type, paymentDate=payment_date,
                           paymentValue=payment_value, clientName=client_name, clientCif=client_cif)
        return self._run(ops.delete("/payment/v2", params, idempotency_key))

    def issue(self, cif: str, id: str | int, *, idempotency_key: Key = None) -> PaymentAnswer:
        """Give a draft receipt (``isDraft``) its number (``PUT /payment/issue``; punte extension)."""
        return self._run(ops.put("/payment/issue", PaymentAnswer, ops.query(cif=cif, id=id), idempotency_key))


class Cash:
    """punte's cash book (``/cash/...``): a punte extension, SmartBill has no such operations."""

    def __init__(self, run: _Run) -> None:
        self._run = run

    def operation(self, data: CashOperationRequest | Body, *, idempotency_key: Key = None) -> CashOperationAnswer:
        """A manual cash operation, ``type`` "incasare" (in) or "plata" (out) (``POST /cash/operation``)."""
        return self._run(ops.post("/cash/operation", CashOperationAnswer, data, idempotency_key))

    def balance(self, cif: str, currency: str | None = None, date: DateLike | None = None) -> CashBalanceAnswer:
        """The cash balance now or at the end of ``date`` (``GET /cash/balance``)."""
        return self._run(ops.get("/cash/balance", CashBalanceAnswer, cif=cif, currency=currency, date=date))

    def movements(
        self, cif: str, currency: str | None = None, date_from: DateLike | None = None, date_to: DateLike | None = None,
    ) -> CashRegisterAnswer:
        """The cash register between two dates (``GET /cash/movements``; default: this month)."""
        params = {"cif": cif, "currency": currency, "from": date_from, "to": date_to}
        return self._run(ops.get("/cash/movements", CashRegisterAnswer, **params))


class Documents:
    """``POST /document/send``."""

    def __init__(self, run: _Run) -> None:
        self._run = run

    def send(self, data: SendDocumentRequest | Body, *, idempotency_key: Key = None) -> SendAnswer:
        """E-mail an invoice (``type="factura"``) or proforma (``"proforma"``) as attachment.

        Status code 1 raises :class:`~punte.smartbill.errors.ValidationError`, 2 :class:`ServerError`.
        """
        return self._run(ops.post("/document/send", SendAnswer, data, idempotency_key))


class _Lister:
    def __init__(self, run: _Run) -> None:
        self._run = run


class Taxes(_Lister):
    def list(self, cif: str) -> TaxAnswer:
        """The company's VAT rates (``GET /tax``)."""
        return self._run(ops.get("/tax", TaxAnswer, cif=cif))


class Series(_Lister):
    def list(self, cif: str, type: str | None = None) -> SeriesAnswer:
        """Document series and next numbers (``GET /series``); ``type``: f invoice, p proforma, c receipt."""
        return self._run(ops.get("/series", SeriesAnswer, cif=cif, type=type))


class Stocks(_Lister):
    def list(
        self, cif: str, date: DateLike, warehouse_name: str | None = None, product_name: str | None = None,
        product_code: str | None = None,
    ) -> StocksAnswer:
        """Stock per warehouse on a date (``GET /stocks``), optionally for one warehouse or product."""
        return self._run(ops.get("/stocks", StocksAnswer, cif=cif, date=date, warehouseName=warehouse_name,
                                 productName=product_name, productCode=product_code))


class MeasuringUnits(_Lister):
    def list(self, cif: str) -> MeasuringUnitsAnswer:
        """The company's measuring units (``GET /company/mu``)."""
        return self._run(ops.get("/company/mu", MeasuringUnitsAnswer, cif=cif))


class SmartBill:
    """SmartBill Cloud API client (HTTP Basic ``username:token``), thread-safe; use it as a context manager.

    ``base_url``: ``https://ws.smartbill.ro/SBORO/api`` (default) or a punte server's ``.../SBORO/api``.
    ``max_calls``/``per_seconds``: the client-side limit (SmartBill blocks a user for 10 minutes over
    30 calls / 10 s). ``retries``: how often a safe call (GET, or a write with ``idempotency_key``) is
    repeated after a timeout, connection error or 5xx. ``limiter``, ``retry_policy`` and ``sleep``
    replace the defaults (tests).
    """

    def __init__(
        self,
        username: str,
        token: str,
        base_url: str = DEFAULT_BASE_URL,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        max_calls: int = 30,
        per_seconds: float = 10,
        retries: int = 3,
        limiter: RateLimiter | None = None,
        retry_policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"), auth=httpx.BasicAuth(username, token), transport=transport,
            timeout=timeout, headers={"User-Agent": USER_AGENT},
        )
        self.limiter = limiter or RateLimiter(max_calls, per_seconds)
        self.retry_policy = retry_policy or RetryPolicy(retries=retries)
        self._sleep = sleep
        self.invoices = Invoices(self._run)
        self.estimates = Estimates(self._run)
        self.payments = Payments(self._run)
        self.cash = Cash(self._run)
        self.documents = Documents(self._run)
        self.taxes = Taxes(self._run)
        self.series = Series(self._run)
        self.stocks = Stocks(self._run)
        self.measuring_units = MeasuringUnits(self._run)

    def _run(self, call: Call[T]) -> T:
        attempts = ops.Attempts(call, self.retry_policy)
        while True:
            self.limiter.acquire()
            try:
                response = self._http.request(
                    call.method, call.path, params=call.params, content=call.body, headers=call.headers()
                )
            except httpx.HTTPError as exc:
                self._sleep(attempts.after_error(exc))
                continue
            wait = attempts.after_response(response.status_code, response.headers, self.limiter.pause)
            if wait is None:
                return ops.parse_answer(call, response.status_code, response.headers, response.content)
            self._sleep(wait)

    def close(self) -> None:
        """Close the HTTP connections."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SmartBill(base_url={str(self._http.base_url)!r})"

