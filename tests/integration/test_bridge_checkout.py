"""Invoice first, pay later: ``paymentUrl: "Generate URL"`` makes a Stripe Checkout link; its payment is
recorded against that document (a paid proforma becomes an invoice) instead of making another invoice."""

from __future__ import annotations

import copy
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from punte.config import Settings
from punte.services.companies import get_company
from punte.services.issuing import create_document
from punte.services.payments import paid_amount
from punte.smartbill.wire import InvoiceRequest
from punte.store.db import Database
from punte.store.models import Document, Event
from punte.store.models_bridge import BridgeCheckout
from tests.conftest import Account
from tests.integration.test_invoice_api import SEED_INVOICE

from .bridge_support import API_KEY, FakeStripe, checkout_session, event, payment_intent, sqlite_database
from .test_bridge_stripe import deliver, run_worker, setup_bridge

API = "/SBORO/api"


@pytest.fixture
def db(tmp_path: Path, sqlite_template: Path) -> Iterator[Database]:
    """What this module checks does not depend on the database engine: SQLite only."""
    yield from sqlite_database(tmp_path, sqlite_template)


def request(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(SEED_INVOICE)
    data.pop("issueDate", None)
    data.pop("dueDate", None)
    data.pop("deliveryDate", None)
    data.update(changes)
    return data


def test_generate_url_is_refused_without_a_stripe_api_key(client: Any, db: Database, settings: Settings,
                                                          account: Account) -> None:
    answer = client.post(f"{API}/invoice", json=request(paymentUrl="Generate URL"), headers=account.headers)
    assert answer.status_code == 400
    assert "Nu este configurat niciun procesator de plati" in answer.json()["errorText"]
    setup_bridge(db, settings)  # a bridge without an API key cannot make links either
    answer = client.post(f"{API}/invoice", json=request(paymentUrl="Generate URL"), headers=account.headers)
    assert answer.status_code == 400


def test_paid_checkout_link_records_the_payment_on_the_invoice(client: Any, db: Database, settings: Settings,
                                                               account: Account) -> None:
    with FakeStripe() as fake:
        setup_bridge(db, settings, api_key=API_KEY, api_base_url=fake.url)
        answer = client.post(f"{API}/invoice", json=request(paymentUrl="Generate URL"), headers=account.headers)
        assert answer.status_code == 200, answer.text
        url = answer.json()["url"]
        (session,) = fake.sessions.values()
        assert url == session["url"] and url.startswith("https://checkout.stripe.com/c/pay/cs_test_")
        with db.session() as s:
            invoice = s.scalar(select(Document).where(Document.kind == "invoice"))
            checkout = s.scalar(select(BridgeCheckout))
        assert invoice.details["paymentUrl"] == url and checkout.document_id == invoice.id
        form = session["form"]
        assert form["metadata[punte_document_id]"] == str(invoice.id)
        assert form["payment_intent_data[metadata][punte_document_id]"] == str(invoice.id)
        assert int(form["line_items[0][price_data][unit_amount]"]) == int(invoice.gross_total * 100)
        assert form["line_items[0][price_data][product_data][name]"] == "Factura FCT0001"
        assert fake.requests[-1][2].get("Idempotency-Key") == f"punte-checkout-18547290-{invoice.id}"

        pi = "pi_checkout_invoice"
        paid = checkout_session(pi=pi, amount=int(invoice.gross_total * 100), session_id=session["id"],
                                metadata=session["metadata"])
        deliver(client, event("checkout.session.completed", paid))
        deliver(client, event("payment_intent.succeeded", payment_intent(
            pi=pi, amount=int(invoice.gross_total * 100), metadata={"punte_document_id": str(invoice.id)})))
        run_worker(db, settings)
    with db.session() as s:
        invoices = list(s.scalars(select(Document).where(Document.kind == "invoice")))
        assert len(invoices) == 1  # no second invoice
        assert paid_amount(s, invoices[0].id) == invoices[0].gross_total


def test_paid_proforma_becomes_an_invoice(client: Any, db: Database, settings: Settings, account: Account) -> None:
    with FakeStripe() as fake:
        setup_bridge(db, settings, api_key=API_KEY, api_base_url=fake.url)
        answer = client.post(f"{API}/estimate", json=request(seriesName="PRF", paymentUrl="Generate URL"),
                             headers=account.headers)
        assert answer.status_code == 200, answer.text
        (session,) = fake.sessions.values()
        assert session["form"]["line_items[0][price_data][product_data][name]"] == "Proforma PRF0001"
        with db.session() as s:
            proforma = s.scalar(select(Document).where(Document.kind == "proforma"))
        paid = checkout_session(pi="pi_proforma", amount=int(proforma.gross_total * 100), session_id=session["id"],
                                metadata=session["metadata"])
        deliver(client, event("checkout.session.completed", paid))
        run_worker(db, settings)
    with db.session() as s:
        (invoice,) = s.scalars(select(Document).where(Document.kind == "invoice"))
        assert invoice.estimate_id == proforma.id and invoice.gross_total == proforma.gross_total
        assert [ln.name for ln in invoice.lines] == [ln.name for ln in proforma.lines]
        assert paid_amount(s, invoice.id) == invoice.gross_total
    assert proforma.gross_total > Decimal(0)


def test_stripe_failure_leaves_the_document_issued_and_says_why(client: Any, db: Database, settings: Settings,
                                                                account: Account) -> None:
    """Stripe is called after the commit, so its refusal cannot undo the document: the answer says so."""
    with FakeStripe(api_key="sk_test_other") as fake:
        setup_bridge(db, settings, api_key=API_KEY, api_base_url=fake.url)
        answer = client.post(f"{API}/invoice", json=request(paymentUrl="Generate URL"), headers=account.headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["number"], body["url"], body["errorText"]) == ("0001", "", "")
    assert "linkul de plata Stripe nu a putut fi generat" in body["message"]
    assert "Invalid API Key" in body["message"]
    with db.session() as s:
        invoice = s.scalar(select(Document).where(Document.kind == "invoice"))
        failed = s.scalar(select(Event).where(Event.action == "checkout_failed"))
        assert s.scalar(select(BridgeCheckout)) is None
    assert "paymentUrl" not in invoice.details
    assert failed.entity_id == invoice.id and "Invalid API Key" in failed.data["reason"]
    ok = client.post(f"{API}/invoice", json=request(), headers=account.headers)
    assert ok.json()["number"] == "0002"


def test_a_total_stripe_cannot_charge_refuses_the_document_without_taking_a_number(
    client: Any, db: Database, settings: Settings, account: Account,
) -> None:
    with FakeStripe() as fake:
        setup_bridge(db, settings, api_key=API_KEY, api_base_url=fake.url)
        body = request(paymentUrl="Generate URL")
        body["products"] = [{**body["products"][0], "price": "0.001", "quantity": 1}]
        answer = client.post(f"{API}/invoice", json=body, headers=account.headers)
        assert answer.status_code == 400, answer.text
        assert "nu poate fi incasat prin Stripe" in answer.json()["errorText"]
        assert fake.sessions == {}
    assert client.post(f"{API}/invoice", json=request(), headers=account.headers).json()["number"] == "0001"


def test_a_replayed_request_answers_the_same_link(client: Any, db: Database, settings: Settings,
                                                  account: Account) -> None:
    with FakeStripe() as fake:
        setup_bridge(db, settings, api_key=API_KEY, api_base_url=fake.url)
        headers = {**account.headers, "Idempotency-Key": "order-77"}
        first = client.post(f"{API}/invoice/v2", json=request(paymentUrl="Generate URL"), headers=headers)
        again = client.post(f"{API}/invoice/v2", json=request(paymentUrl="Generate URL"), headers=headers)
        (session,) = fake.sessions.values()
    assert first.status_code == again.status_code == 200, first.text
    assert first.json()["url"] == session["url"]
    assert again.json() == first.json() and again.headers["Idempotency-Replayed"] == "true"


class SlowStripe:
    """Stripe's Checkout endpoint, answering only when the test opens ``gate`` (``arrived`` tells it waits)."""

    def __init__(self) -> None:
        self.arrived = threading.Event()
        self.gate = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                fake.arrived.set()
                fake.gate.wait(30)
                raw = json.dumps({"id": "cs_test_slow", "object": "checkout.session",
                                  "url": "https://checkout.stripe.com/c/pay/cs_test_slow"}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.gate.set()
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def _stripe_holding_a_link(client: Any, db: Database, settings: Settings, account: Account) -> Iterator[list[Any]]:
    """An invoice asked with "Generate URL" whose Stripe call hangs (at most 8 s) while the block runs; the
    block measures what else still works meanwhile. Yields the list that gets that invoice's answer."""
    fake = SlowStripe()
    release = threading.Timer(8, fake.gate.set)  # were anything waiting for the link, it would wait for this
    answers: list[Any] = []
    try:
        setup_bridge(db, settings, api_key=API_KEY, api_base_url=fake.url)
        linked = threading.Thread(target=lambda: answers.append(client.post(
            f"{API}/invoice", json=request(paymentUrl="Generate URL"), headers=account.headers)))
        linked.start()
        assert fake.arrived.wait(20), "the link was never asked of Stripe"
        release.start()
        yield answers
        fake.gate.set()
        linked.join(30)
    finally:
        release.cancel()
        fake.close()
    (answer,) = answers
    assert answer.status_code == 200, answer.text
    assert answer.json()["number"] == "0001"
    assert answer.json()["url"] == "https://checkout.stripe.com/c/pay/cs_test_slow"


def test_a_slow_stripe_does_not_hold_up_other_issuers(client: Any, db: Database, settings: Settings,
                                                      account: Account) -> None:
    """While Stripe makes one document's link, another issuer (another API process, the bridge's worker)
    numbers its invoice at once: the series lock (on SQLite the database's write lock) is not held."""
    with _stripe_holding_a_link(client, db, settings, account) as answers:
        started = time.monotonic()
        with db.session(write=True) as s:
            other = create_document(s, get_company(s, account.cif), InvoiceRequest.model_validate(request()),
                                    kind="invoice", actor="another-issuer").document
            number = other.number_text
        waited = time.monotonic() - started
    assert number == "0002" and waited < 4, f"the other issuer waited {waited:.1f} s"
    with db.session() as s:
        first = s.scalar(select(Document).where(Document.number_text == "0001"))
        assert first.details["paymentUrl"] == answers[0].json()["url"]


def test_a_replay_after_a_stripe_failure_says_why_and_other_kept_answers_stay(
    client: Any, db: Database, settings: Settings, account: Account,
) -> None:
    """The final answer replaces exactly the row kept for its own Idempotency-Key (scope and key)."""
    with FakeStripe(api_key="sk_test_other") as fake:
        setup_bridge(db, settings, api_key=API_KEY, api_base_url=fake.url)
        plain = client.post(f"{API}/invoice", json=request(), headers={**account.headers, "Idempotency-Key": "a-1"})
        headers = {**account.headers, "Idempotency-Key": "a-2"}
        first = client.post(f"{API}/invoice", json=request(paymentUrl="Generate URL"), headers=headers)
        again = client.post(f"{API}/invoice", json=request(paymentUrl="Generate URL"), headers=headers)
        plain_again = client.post(f"{API}/invoice", json=request(),
                                  headers={**account.headers, "Idempotency-Key": "a-1"})
    assert first.status_code == again.status_code == 200, first.text
    assert first.json()["number"] == "0002" and first.json()["url"] == ""
    assert "linkul de plata Stripe nu a putut fi generat" in first.json()["message"]
    assert again.json() == first.json() and again.headers["Idempotency-Replayed"] == "true"
    assert plain_again.json() == plain.json() and plain.json()["message"] == ""
    with db.session() as s:
        assert len(list(s.scalars(select(Event).where(Event.action == "checkout_failed")))) == 1


def test_a_slow_stripe_does_not_stall_the_api(client: Any, db: Database, settings: Settings,
                                              account: Account) -> None:
    """The link is made in the thread pool after the commit: meanwhile the same app answers other calls."""
    with _stripe_holding_a_link(client, db, settings, account):
        started = time.monotonic()
        series = client.get(f"{API}/series", params={"cif": account.cif}, headers=account.headers)
        other = client.post(f"{API}/invoice", json=request(), headers=account.headers)
        waited = time.monotonic() - started
    assert series.status_code == 200 and other.json()["number"] == "0002", other.text
    assert waited < 4, f"the other calls waited {waited:.1f} s"


def test_a_recurring_invoice_cannot_ask_for_a_checkout_link(client: Any, db: Database, settings: Settings,
                                                            account: Account) -> None:
    """Only the API route completes a link after its commit; a schedule's template is tried as a draft when it
    is added, and a draft cannot have a link, so the worker never issues a document that waits for one."""
    with FakeStripe() as fake:
        setup_bridge(db, settings, api_key=API_KEY, api_base_url=fake.url)
        answer = client.post(f"{API}/recurring", headers=account.headers, json={
            "companyVatCode": account.cif, "every": 1, "unit": "month", "dueDays": 15,
            "invoice": request(paymentUrl="Generate URL"),
        })
        assert fake.sessions == {}
    assert answer.status_code == 400, answer.text
    assert "Linkul de plata se genereaza doar pentru documente emise" in answer.json()["errorText"]
