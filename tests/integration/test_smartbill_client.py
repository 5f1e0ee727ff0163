"""The SmartBill client (sync and async) end to end against punte's own server, on SQLite and PostgreSQL.

The sync client talks HTTP to punte served by uvicorn in a thread; the async client runs punte in process
(``httpx.ASGITransport``). Operations punte does not serve yet are checked against an ``httpx.MockTransport``
answering what SmartBill answers (the PDFs too, for SmartBill's parameter names and headers). The code
blocks of docs/smartbill-client.md are run here too.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import inspect
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from decimal import Decimal
from io import StringIO
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from punte.api.app import create_app
from punte.config import Settings
from punte.smartbill.aclient import AsyncSmartBill
from punte.smartbill.client import PaymentRequest, SendDocumentRequest, SmartBill
from punte.smartbill.errors import AuthenticationError, RateLimitError, ServerError, ValidationError
from punte.smartbill.wire import ClientData, EstimateRequest, InvoiceRequest, ProductData
from punte.store.db import Database
from tests.conftest import Account, make_account

DOC = Path(__file__).resolve().parents[2] / "docs" / "smartbill-client.md"


# ---- running punte, and driving both clients with the same test code -----------------------------------------


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """punte served by uvicorn in a thread on a free 127.0.0.1 port; yields the SmartBill base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=2))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}/SBORO/api"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


class Blocking:
    """Drives an ``AsyncSmartBill`` from sync test code: each coroutine runs to completion on one loop."""

    def __init__(self, target: Any, loop: asyncio.AbstractEventLoop) -> None:
        self._target, self._loop = target, loop

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if inspect.iscoroutinefunction(value):
            return lambda *a, **kw: self._loop.run_until_complete(value(*a, **kw))
        if hasattr(value, "_run"):  # a namespace
            return Blocking(value, self._loop)
        return value


@contextmanager
def async_client(username: str, token: str, base_url: str, **kw: Any) -> Iterator[Any]:
    loop = asyncio.new_event_loop()
    sb = AsyncSmartBill(username, token, base_url, **kw)
    try:
        yield Blocking(sb, loop)
    finally:
        loop.run_until_complete(sb.aclose())
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()


@pytest.fixture
def app(db: Database, settings: Settings) -> Any:
    return create_app(settings, db=db, migrate=False)


@pytest.fixture(params=["sync", "async"])
def sb(request: pytest.FixtureRequest, app: Any, account: Account) -> Iterator[Any]:
    """A SmartBill client logged in on punte: sync over HTTP to uvicorn, async in process."""
    if request.param == "sync":
        with serving(app) as base_url, SmartBill(account.email, account.token, base_url) as client:
            yield client
    else:
        transport = httpx.ASGITransport(app=app)
        with async_client(account.email, account.token, "http://testserver/SBORO/api", transport=transport) as c:
            yield c


INVOICE: dict[str, Any] = {  # the seed's first example, as a plain dict
    "companyVatCode": "RO18547290",
    "client": {"name": "Client Exemplu SRL", "vatCode": "RO14399840", "isTaxPayer": True, "address": "Str. Lunga 1",
               "city": "Brasov", "county": "Brasov", "country": "Romania", "saveToDb": False},
    "seriesName": "FCT",
    "products": [{"name": "Produs 1", "measuringUnitName": "buc", "currency": "RON", "quantity": 1, "price": 10,
                  "isTaxIncluded": True, "taxName": "Normala", "taxPercentage": 21}],
}


def invoice(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(INVOICE)
    data.update(changes)
    return data


# ---- everything punte serves, with both clients ----------------------------------------------------------------


def test_invoice_create_accepts_dicts_and_wire_models(sb: Any, account: Account) -> None:
    first = sb.invoices.create(invoice())
    assert (first.errorText, first.number, first.series, first.url) == ("", "0001", "FCT", "")
    model = InvoiceRequest(
        companyVatCode=account.cif,
        client=ClientData(name="Client Exemplu SRL", vatCode="RO14399840", address="Str. Lunga 1", city="Brasov",
                          county="Brasov", country="Romania"),
        seriesName="FCT",
        products=[ProductData(name="Consultanta", measuringUnitName="ora", currency="RON", quantity=Decimal("1.5"),
                              price=Decimal(200), taxName="Normala", taxPercentage=Decimal(21), isService=True)],
    )
    assert sb.invoices.create(model).number == "0002"


def test_invoice_create_v2_and_payment_status(sb: Any, account: Account) -> None:
    answer = sb.invoices.create_v2(invoice(payment={"value": 4, "type": "Ordin plata"}))
    assert answer.number == "0001" and answer.documentId > 0
    assert answer.documentViewUrl.startswith("http://testserver/view/")
    status = sb.invoices.payment_status(account.cif, "FCT", "0001")
    assert (status.invoiceTotalAmount, status.paidAmount, status.unpaidAmount, status.paid) == (10, 4, 6, False)


def test_invoice_reverse_cancel_restore_delete(sb: Any, account: Account) -> None:
    sb.invoices.create(invoice())
    sb.invoices.create(invoice())
    storno = sb.invoices.reverse(account.cif, "FCT", "0001")
    assert (storno.number, storno.series) == ("0003", "FCT") and storno.documentId > 0
    with pytest.raises(ValidationError) as again:
        sb.invoices.reverse(account.cif, "FCT", "0001")
    assert again.value.error_text == "Factura este deja stornata." and again.value.status_code == 400
    assert sb.invoices.cancel(account.cif, "FCT", "0002").number == "0002"
    assert sb.invoices.restore(account.cif, "FCT", "0002").number == "0002"
    with pytest.raises(ValidationError, match="nu este ultimul din serie"):
        sb.invoices.delete(account.cif, "FCT", "0001")
    assert sb.invoices.delete(account.cif, "FCT", "0003").number == "0003"
    assert sb.series.list(account.cif, "f").list[0].nextNumber == "0003"


def test_estimate_create_create_v2_cancel_restore_delete(sb: Any, account: Account) -> None:
    first = sb.estimates.create(EstimateRequest.model_validate(invoice(seriesName="PRF")))
    assert (first.number, first.series) == ("0001", "PRF")
    second = sb.estimates.create_v2(invoice(seriesName="PRF"))
    assert second.number == "0002" and second.documentId > 0
    assert sb.estimates.cancel(account.cif, "PRF", "0001").number == "0001"
    assert sb.estimates.restore(account.cif, "PRF", 1).number == "0001"
    assert sb.estimates.delete(account.cif, "PRF", "0002").number == "0002"
    assert [s.nextNumber for s in sb.series.list(account.cif, "p").list] == ["0002"]


def test_pdfs_of_invoices_and_estimates(sb: Any, account: Account) -> None:
    sb.invoices.create(invoice())
    sb.estimates.create(invoice(seriesName="PRF"))
    assert sb.invoices.pdf(account.cif, "FCT", "0001").startswith(b"%PDF")
    assert sb.estimates.pdf(account.cif, "PRF", 1).startswith(b"%PDF")
    with pytest.raises(ValidationError, match="Factura cu seria si numarul FCT0099 nu a fost gasita!"):
        sb.invoices.pdf(account.cif, "FCT", "0099")


def test_taxes_series_and_measuring_units(sb: Any, account: Account) -> None:
    taxes = {t.name: t.percentage for t in sb.taxes.list(account.cif).taxes}
    assert taxes["Normala"] == 21 and taxes["Redusa"] == 11
    assert {(s.name, s.type) for s in sb.series.list(account.cif).list} == {("FCT", "f"), ("PRF", "p"), ("CH", "c")}
    assert sb.series.list(account.cif, "c").list[0].nextNumber == "0001"
    assert "buc" in sb.measuring_units.list(account.cif).mu


def test_idempotency_key_makes_a_repeated_create_a_replay(sb: Any, account: Account) -> None:
    first = sb.invoices.create(invoice(), idempotency_key="order-17")
    second = sb.invoices.create(invoice(), idempotency_key="order-17")
    assert first == second and first.number == "0001"
    assert sb.series.list(account.cif, "f").list[0].nextNumber == "0002"


def test_punte_errors_become_typed_exceptions(sb: Any, account: Account, db: Database, settings: Settings) -> None:
    with pytest.raises(ValidationError) as bad:
        sb.invoices.create(invoice(seriesName="NUEXISTA"))
    assert bad.value.error_text == "Seria nu a fost gasita! Folositi o serie creata in contul de cloud."
    with pytest.raises(ValidationError, match="Factura nu a fost gasita!"):
        sb.invoices.payment_status(account.cif, "FCT", "0099")
    make_account(db, settings, cif="RO14399840", email="altul@firma.ro", name="Alta Firma SRL")
    with pytest.raises(AuthenticationError):  # a company this user has no right on
        sb.taxes.list("RO14399840")


def test_wrong_token_is_an_authentication_error(app: Any, account: Account) -> None:
    with (serving(app) as base_url, SmartBill(account.email, "gresit", base_url) as client,
          pytest.raises(AuthenticationError) as exc):
        client.series.list(account.cif)
    assert exc.value.status_code == 401 and exc.value.error_text.startswith("Autentificare esuata")


def test_punte_block_is_a_rate_limit_error_with_reset_time(db: Database, tmp_path: Path, account: Account) -> None:
    strict = Settings(data_dir=tmp_path / "d2", secret_key="test-secret-key", public_url="http://testserver",
                      rate_limit_calls=2, rate_limit_block_seconds=600)
    transport = httpx.ASGITransport(app=create_app(strict, db=db, migrate=False))
    url = "http://testserver/SBORO/api"
    with async_client(account.email, account.token, url, transport=transport) as one:
        one.taxes.list(account.cif)
        one.taxes.list(account.cif)  # the window is used up: `one` would now wait for X-RateLimit-Reset
    # another process of the same user
    with async_client(account.email, account.token, url, transport=transport) as other, \
            pytest.raises(RateLimitError) as exc:
        other.taxes.list(account.cif)
    assert exc.value.status_code == 403 and exc.value.reset_at is not None
    assert 590 <= exc.value.reset_at.timestamp() - time.time() <= 601


def test_client_limiter_keeps_a_strict_punte_from_blocking(db: Database, tmp_path: Path, account: Account) -> None:
    strict = Settings(data_dir=tmp_path / "d3", secret_key="test-secret-key", public_url="http://testserver",
                      rate_limit_calls=3, rate_limit_window_seconds=1)
    # 3 calls per 1.3 s on our side against 3 per 1 s on the server's: a margin for network jitter
    with (serving(create_app(strict, db=db, migrate=False)) as base_url,
          SmartBill(account.email, account.token, base_url, max_calls=3, per_seconds=1.3) as client):
        started = time.monotonic()
        for _ in range(5):
            client.taxes.list(account.cif)
        assert time.monotonic() - started >= 1.3


def test_async_client_is_safe_under_concurrent_tasks(app: Any, account: Account) -> None:
    async def main() -> list[str]:
        transport = httpx.ASGITransport(app=app)
        async with AsyncSmartBill(account.email, account.token, "http://testserver/SBORO/api",
                                  transport=transport, max_calls=4, per_seconds=0.2) as client:
            answers = await asyncio.gather(*(client.invoices.create(invoice()) for _ in range(8)))
        return sorted(a.number for a in answers)

    assert asyncio.run(main()) == [f"{n:04d}" for n in range(1, 9)]


# ---- what punte does not serve yet: against SmartBill's answer shapes -----------------------------------------

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def smartbill_double(request: httpx.Request) -> httpx.Response:
    """What ws.smartbill.ro answers to the operations punte does not implement yet."""
    path, q = request.url.path.removeprefix("/SBORO/api"), request.url.params
    sent = json.loads(request.content) if request.content else {}
    if path in ("/invoice/pdf", "/estimate/pdf"):
        assert request.headers["accept"].startswith("application/octet-stream")
        return httpx.Response(200, content=PDF, headers={"Content-Type": "application/octet-stream"})
    if path == "/estimate/invoices" and q["number"] == "0002":
        return httpx.Response(400, json={"errorText": "Proforma cu seria si numarul PRF0002 nu a fost facturata.",
                                         "message": "", "areInvoicesCreated": False, "invoices": []})
    answers: dict[str, Any] = {
        "/estimate/invoices": {"errorText": "", "message": "", "areInvoicesCreated": True,
                               "invoices": [{"series": "FCT", "number": "0007"}]},
        "/payment": {"errorText": "", "message": "", "number": "0009", "series": "CH", "url": ""}
        if sent.get("type") == "Chitanta"
        else {"errorText": "", "message": base64.b64encode(b"S,1,______,_,__;Produs 1;10.00;1;1;1;1;0;").decode(),
              "number": "0012", "series": "", "url": "", "id": 1384},
        "/payment/text": {"errorText": "", "message": base64.b64encode(b"S,1,______,_,__;Produs 1;").decode()},
        "/payment/chitanta": {"errorText": "", "message": "", "number": "", "series": ""},
        "/payment/v2": {"errorText": "", "message": "", "number": "", "series": ""},
        "/document/send": {"status": {"code": 0, "message": "Email trimis"}} if sent.get("number") != "0404"
        else {"status": {"code": 1, "message": "Document inexistent"}},
        "/stocks": {"errorText": "", "message": "", "list": [
            {"warehouse": {"warehouseName": "Depozit", "warehouseType": "en gros"},
             "products": [{"productName": "Caiet A4", "productCode": "C1", "measuringUnit": "buc",
                           "quantity": "12.5"}]},
        ]},
    }
    return httpx.Response(200, json=answers[path], headers={"X-RateLimit-Remaining": "25"})


@pytest.fixture(params=["sync", "async"])
def double(request: pytest.FixtureRequest) -> Iterator[tuple[Any, list[httpx.Request]]]:
    seen: list[httpx.Request] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        return smartbill_double(req)

    transport = httpx.MockTransport(handler)
    if request.param == "sync":
        with SmartBill("u@firma.ro", "tok", transport=transport) as client:
            yield client, seen
    else:
        with async_client("u@firma.ro", "tok", "https://ws.smartbill.ro/SBORO/api", transport=transport) as c:
            yield c, seen


def test_pdfs_are_bytes_asked_with_the_reference_parameter_names(double: Any) -> None:
    sb, seen = double
    assert sb.invoices.pdf("RO1", "FCT", "0001") == PDF
    assert sb.estimates.pdf("RO1", "PRF", 3) == PDF
    assert [str(r.url) for r in seen] == [
        "https://ws.smartbill.ro/SBORO/api/invoice/pdf?cif=RO1&seriesname=FCT&number=0001",
        "https://ws.smartbill.ro/SBORO/api/estimate/pdf?cif=RO1&seriesname=PRF&number=3",
    ]


def test_estimate_invoices_invoiced_and_not_yet(double: Any) -> None:
    sb, seen = double
    done = sb.estimates.invoices("RO1", "PRF", "0001")
    assert done.areInvoicesCreated and [(i.series, i.number) for i in done.invoices] == [("FCT", "0007")]
    pending = sb.estimates.invoices("RO1", "PRF", "0002")  # SmartBill's error text is a state here
    assert not pending.areInvoicesCreated and pending.invoices == []
    assert dict(seen[0].url.params) == {"cif": "RO1", "seriesName": "PRF", "number": "0001"}


def test_payments_create_text_and_deletes(double: Any) -> None:
    sb, seen = double
    receipt = sb.payments.create(PaymentRequest(companyVatCode="RO1", client=ClientData(name="Ion Pop"),
                                                issueDate="2026-03-02", seriesName="CH", value=Decimal(10),
                                                type="Chitanta", isCash=True))
    assert (receipt.series, receipt.number) == ("CH", "0009")
    assert json.loads(seen[0].content) == {"companyVatCode": "RO1", "client": {"name": "Ion Pop"},
                                           "issueDate": "2026-03-02", "seriesName": "CH", "value": 10,
                                           "type": "Chitanta", "isCash": True}
    bon = sb.payments.create({"companyVatCode": "RO1", "type": "Bon", "value": 10, "returnFiscalPrinterText": True})
    assert bon.id == "1384" and base64.b64decode(bon.message).startswith(b"S,1")
    assert base64.b64decode(sb.payments.text("RO1", bon.id).message).startswith(b"S,1")
    sb.payments.delete_receipt("RO1", "CH", "0009")
    sb.payments.delete_by_invoice("RO1", "Ordin plata", "FCT", "0046")
    sb.payments.delete_by_payment("RO1", "Ordin plata", "2026-03-02", Decimal("14.50"), "Ion Pop", "1900101123456")
    assert [(r.method, r.url.path, dict(r.url.params)) for r in seen[3:]] == [
        ("DELETE", "/SBORO/api/payment/chitanta", {"cif": "RO1", "seriesName": "CH", "number": "0009"}),
        ("DELETE", "/SBORO/api/payment/v2",
         {"cif": "RO1", "paymentType": "Ordin plata", "invoiceSeries": "FCT", "invoiceNumber": "0046"}),
        ("DELETE", "/SBORO/api/payment/v2",
         {"cif": "RO1", "paymentType": "Ordin plata", "paymentDate": "2026-03-02", "paymentValue": "14.5",
          "clientName": "Ion Pop", "clientCif": "1900101123456"}),
    ]
    assert seen[2].url.params["id"] == "1384"


def test_document_send_checks_the_status_code(double: Any) -> None:
    sb, _ = double
    sent = sb.documents.send(SendDocumentRequest(companyVatCode="RO1", seriesName="FCT", number="0040", type="factura",
                                                 to="client@example.ro"))
    assert sent.status.code == 0 and sent.status.message == "Email trimis"
    with pytest.raises(ValidationError, match="Document inexistent"):
        sb.documents.send({"companyVatCode": "RO1", "seriesName": "FCT", "number": "0404", "type": "factura"})


def test_stocks_list(double: Any) -> None:
    sb, seen = double
    stock = sb.stocks.list("RO1", "2026-03-02", warehouse_name="Depozit")
    entry = stock.list[0]
    assert entry.warehouse.warehouseName == "Depozit" and entry.products[0].quantity == Decimal("12.5")
    assert str(seen[0].url).endswith("/stocks?cif=RO1&date=2026-03-02&warehouseName=Depozit")


def test_send_failure_on_the_smartbill_side_is_a_server_error() -> None:
    transport = httpx.MockTransport(lambda r: httpx.Response(200, json={"status": {"code": 2, "message": "SMTP"}}))
    with SmartBill("u", "t", transport=transport) as client, pytest.raises(ServerError, match="SMTP"):
        client.documents.send({"companyVatCode": "RO1", "seriesName": "FCT", "number": "1", "type": "factura"})


# ---- the examples of docs/smartbill-client.md run against punte ---------------------------------------------


def doc_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)


def test_the_documentation_examples_run(app: Any, account: Account) -> None:
    blocks = doc_blocks()
    assert len(blocks) >= 4
    namespace: dict[str, Any] = {}
    out = StringIO()
    with serving(app) as base_url, redirect_stdout(out):
        for block in blocks:
            first = block.splitlines()[0]
            if "not run by the tests" in first:
                continue
            if first.startswith("# settings"):
                block = (f"base_url = {base_url!r}\nusername = {account.email!r}\ntoken = {account.token!r}\n"
                         f"cif = {account.cif!r}\n")
            exec(compile(block, str(DOC), "exec"), namespace)  # noqa: S102 - our own documentation
    assert "FCT0001" in out.getvalue()

