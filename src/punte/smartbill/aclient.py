"""Asynchronous client for the SmartBill Cloud REST API: the ``asyncio`` twin of :mod:`punte.smartbill.client`.

::

    async with AsyncSmartBill("api@firma.ro", token) as sb:
        answer = await sb.invoices.create(invoice)
        status = await sb.invoices.payment_status("RO18547290", answer.series, answer.number)

Same namespaces, methods, answers, errors, limiter rules and retry rules as :class:`~punte.smartbill.client.SmartBill`;
request building and answer parsing are shared (:mod:`punte.smartbill._common`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import date
from decimal import Decimal
from types import TracebackType
from typing import Protocol, Self, TypeVar

import httpx

from . import _common as ops
from ._common import (
    Body,
    Call,
    RetryPolicy,
    SendAnswer,
    SendDocumentRequest,
    StocksAnswer,
)
from .client import DEFAULT_BASE_URL, DEFAULT_TIMEOUT, USER_AGENT, SlidingWindow
from .wire import (
    CashBalanceAnswer,
    CashOperationAnswer,
    CashOperationRequest,
    CashRegisterAnswer,
    DocumentAnswer,
    DocumentAnswerV2,
    EstimateInvoicesAnswer,
    MeasuringUnitsAnswer,
    PaymentAnswer,
    PaymentRequest,
    PaymentStatusAnswer,
    PaymentTextAnswer,
    SeriesAnswer,
    TaxAnswer,
)

__all__ = ["AsyncRateLimiter", "AsyncSmartBill"]

T = TypeVar("T")
Number = str | int
Key = str | None
DateLike = str | date


class AsyncRateLimiter:
    """asyncio-safe sliding-window limiter: at most ``max_calls`` calls in any ``per_seconds`` interval.

    Tasks over the limit wait in turn. ``clock`` and ``sleep`` (a coroutine function) are injectable for tests.
    """

    def __init__(
        self,
        max_calls: int = 30,
        per_seconds: float = 10,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._window = SlidingWindow(max_calls, per_seconds)
        self._clock, self._sleep = clock, sleep
        self._turn: asyncio.Lock | None = None

    async def acquire(self) -> None:
        """Wait until one more call fits in the window, and count it."""
        if self._turn is None:
            self._turn = asyncio.Lock()
        async with self._turn:
            while True:
                wait = self._window.take(self._clock())  # no await in between: atomic for the event loop
                if wait <= 0:
                    return
                await self._sleep(wait)

    def pause(self, seconds: float) -> None:
        """Hold every further call for ``seconds`` (the server said its window is used up)."""
        self._window.pause(self._clock(), seconds)


class _Run(Protocol):
    async def __call__(self, call: Call[T], /) -> T: ...


class _Documents:
    _kind = ""

    def __init__(self, run: _Run) -> None:
        self._run = run

    async def create(self, data: Body, *, idempotency_key: Key = None) -> DocumentAnswer:
        """Issue the document (``POST /{kind}``); ``data`` is a wire request model or a dict."""
        return await self._run(ops.create(self._kind, data, idempotency_key))

    async def create_v2(self, data: Body, *, idempotency_key: Key = None) -> DocumentAnswerV2:
        """Issue the document (``POST /{kind}/v2``): the answer adds ``documentId`` and the view/edit links."""
        return await self._run(ops.create_v2(self._kind, data, idempotency_key))

    async def pdf(self, cif: str, series_name: str, number: Number) -> bytes:
        """The document as PDF bytes (``GET /{kind}/pdf``)."""
        return await self._run(ops.pdf(self._kind, cif, series_name, number))

    async def cancel(
        self, cif: str, series_name: str, number: Number, *, idempotency_key: Key = None
    ) -> DocumentAnswer:
        """Cancel the document, keeping it (``PUT /{kind}/cancel``)."""
        return await self._run(ops.change(self._kind, "cancel", cif, series_name, number, idempotency_key))

    async def restore(
        self, cif: str, series_name: str, number: Number, *, idempotency_key: Key = None
    ) -> DocumentAnswer:
        """Restore a cancelled document (``PUT /{kind}/restore``)."""
        return await self._run(ops.change(self._kind, "restore", cif, series_name, number, idempotency_key))

    async def delete(
        self, cif: str, series_name: str, number: Number, *, idempotency_key: Key = None
    ) -> DocumentAnswer:
        """Delete the document; only the last one of its series can be (``DELETE /{kind}``)."""
        return await self._run(ops.change(self._kind, "delete", cif, series_name, number, idempotency_key))


class Invoices(_Documents):
    """``/invoice`` operations (``Smartbill::invoices()``)."""

    _kind = "invoice"

    async def payment_status(self, cif: str, series_name: str, number: Number) -> PaymentStatusAnswer:
        """Total, paid and unpaid amounts of an invoice (``GET /invoice/paymentstatus``)."""
        return await self._run(ops.payment_status(cif, series_name, number))

    async def reverse(
        self, cif: str, series_name: str, number: Number, issue_date: DateLike | None = None,
        *, idempotency_key: Key = None,
    ) -> DocumentAnswerV2:
        """Issue the storno of an invoice (``POST /invoice/reverse``); ``issue_date`` defaults to today."""
        return await self._run(ops.reverse(cif, series_name, number, issue_date, idempotency_key))


class Estimates(_Documents):
    """``/estimate`` (proforma) operations (``Smartbill::estimates()``)."""

    _kind = "estimate"

    async def invoices(self, cif: str, series_name: str, number: Number) -> EstimateInvoicesAnswer:
        """Invoices issued from a proforma (``GET /estimate/invoices``); none: ``areInvoicesCreated`` False."""
        return await self._run(ops.estimate_invoices(cif, series_name, number))


class Payments:
    """``/payment`` operations (``Smartbill::payments()``)."""

    def __init__(self, run: _Run) -> None:
        self._run = run

    async def create(self, data: PaymentRequest | Body, *, idempotency_key: Key = None) -> PaymentAnswer:
        """Record a payment: receipt (Chitanta), bank payment, card, fiscal receipt (``POST /payment``)."""
        return await self._run(ops.post("/payment", PaymentAnswer, data, idempotency_key))

    async def text(self, cif: str, id: str | int) -> PaymentTextAnswer:
        """The base64 text of a fiscal receipt for the cash register (``GET /payment/text``)."""
        return await self._run(ops.get("/payment/text", PaymentTextAnswer, cif=cif, id=id))

    async def delete_receipt(
        self, cif: str, series_name: str, number: Number, *, idempotency_key: Key = None
    ) -> DocumentAnswer:
        """Delete a receipt, the last of its series (``DELETE /payment/chitanta``)."""
        return await self._run(
            ops.delete("/payment/chitanta", ops.doc_query(cif, series_name, number), idempotency_key)
        )

    async def delete_by_invoice(
        self, cif: str, payment_type: str, invoice_series: str, invoice_number: Number,
        *, idempotency_key: Key = None,
    ) -> DocumentAnswer:
        """Delete a non-receipt payment found by its invoice (``DELETE /payment/v2``)."""
        params = ops.query(cif=cif, paymentType=payment_type, invoiceSeries=invoice_series,
                           invoiceNumber=invoice_number)
        return await self._run(ops.delete("/payment/v2", params, idempotency_key))

    async def delete_by_payment(
        self, cif: str, payment_type: str, payment_date: DateLike, payment_value: Decimal | float | str,
        client_name: str | None = None, client_cif: str | None = None, *, idempotency_key: Key = None,
    ) -> DocumentAnswer:
        """Delete a non-receipt payment found by type, date, value and client (``DELETE /payment/v2``)."""
        params = ops.query(cif=cif, paymentType=payment_type, paymentDate=payment_date,
                           paymentValue=payment_value, clientName=client_name, clientCif=client_cif)
        return await self._run(ops.delete("/payment/v2", params, idempotency_key))

    async def issue(self, cif: str, id: str | int, *, idempotency_key: Key = None) -> PaymentAnswer:
        """Give a draft receipt (``isDraft``) its number (``PUT /payment/issue``; punte extension)."""
        return await self._run(ops.put("/payment/issue", PaymentAnswer, ops.query(cif=cif, id=id), idempotency_key))


class Cash:
    """punte's cash book (``/cash/...``): a punte extension, SmartBill has no such operations."""

    def __init__(self, run: _Run) -> None:
        self._run = run

    async def operation(self, data: CashOperationRequest | Body, *, idempotency_key: Key = None) -> CashOperationAnswer:
        """A manual cash operation, ``type`` "incasare" (in) or "plata" (out) (``POST /cash/operation``)."""
        return await self._run(ops.post("/cash/operation", CashOperationAnswer, data, idempotency_key))

    async def balance(self, cif: str, currency: str | None = None, date: DateLike | None = None) -> CashBalanceAnswer:
        """The cash balance now or at the end of ``date`` (``GET /cash/balance``)."""
        return await self._run(ops.get("/cash/balance", CashBalanceAnswer, cif=cif, currency=currency, date=date))

    async def movements(
        self, cif: str, currency: str | None = None, date_from: DateLike | None = None, date_to: DateLike | None = None,
    ) -> CashRegisterAnswer:
        """The cash register between two dates (``GET /cash/movements``; default: this month)."""
        params = {"cif": cif, "currency": currency, "from": date_from, "to": date_to}
        return await self._run(ops.get("/cash/movements", CashRegisterAnswer, **params))


class Documents:
    """``POST /document/send``."""

    def __init__(self, run: _Run) -> None:
        self._run = run

    async def send(self, data: SendDocumentRequest | Body, *, idempotency_key: Key = None) -> SendAnswer:
        """E-mail an invoice (``type="factura"``) or proforma (``"proforma"``) as attachment.

        Status code 1 raises :class:`~punte.smartbill.errors.ValidationError`, 2 :class:`ServerError`.
        """
        return await self._run(ops.post("/document/send", SendAnswer, data, idempotency_key))


class _Lister:
    def __init__(self, run: _Run) -> None:
        self._run = run


class Taxes(_Lister):
    async def list(self, cif: str) -> TaxAnswer:
        """The company's VAT rates (``GET /tax``)."""
        return await self._run(ops.get("/tax", TaxAnswer, cif=cif))


class Series(_Lister):
    async def list(self, cif: str, type: str | None = None) -> SeriesAnswer:
        """Document series and next numbers (``GET /series``); ``type``: f invoice, p proforma, c receipt."""
        return await self._run(ops.get("/series", SeriesAnswer, cif=cif, type=type))


class Stocks(_Lister):
    async def list(
        self, cif: str, date: DateLike, warehouse_name: str | None = None, product_name: str | None = None,
        product_code: str | None = None,
    ) -> StocksAnswer:
        """Stock per warehouse on a date (``GET /stocks``), optionally for one warehouse or product."""
        return await self._run(ops.get("/stocks", StocksAnswer, cif=cif, date=date, warehouseName=warehouse_name,
                                 productName=product_name, productCode=product_code))


class MeasuringUnits(_Lister):
    async def list(self, cif: str) -> MeasuringUnitsAnswer:
        """The company's measuring units (``GET /company/mu``)."""
        return await self._run(ops.get("/company/mu", MeasuringUnitsAnswer, cif=cif))


class AsyncSmartBill:
    """Async SmartBill Cloud API client (HTTP Basic ``username:token``); use it with ``async with``.

    Parameters as :class:`~punte.smartbill.client.SmartBill`; ``transport`` is an ``httpx.AsyncBaseTransport``
    (``httpx.ASGITransport(app=...)`` runs punte in process), ``limiter`` an :class:`AsyncRateLimiter` and
    ``sleep`` a coroutine function.
    """

    def __init__(
        self,
        username: str,
        token: str,
        base_url: str = DEFAULT_BASE_URL,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        max_calls: int = 30,
        per_seconds: float = 10,
        retries: int = 3,
        limiter: AsyncRateLimiter | None = None,
        retry_policy: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), auth=httpx.BasicAuth(username, token), transport=transport,
            timeout=timeout, headers={"User-Agent": USER_AGENT},
        )
        self.limiter = limiter or AsyncRateLimiter(max_calls, per_seconds)
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

    async def _run(self, call: Call[T]) -> T:
        attempts = ops.Attempts(call, self.retry_policy)
        while True:
            await self.limiter.acquire()
            try:
                response = await self._http.request(
                    call.method, call.path, params=call.params, content=call.body, headers=call.headers()
                )
            except httpx.HTTPError as exc:
                await self._sleep(attempts.after_error(exc))
                continue
            wait = attempts.after_response(response.status_code, response.headers, self.limiter.pause)
            if wait is None:
                return ops.parse_answer(call, response.status_code, response.headers, response.content)
            await self._sleep(wait)

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"AsyncSmartBill(base_url={str(self._http.base_url)!r})"
