"""Invoice first, pay later: ``paymentUrl: "Generate URL"`` makes a Stripe Checkout link; its payment is
recorded against that document (a paid proforma becomes an invoice) instead of making another invoice."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from punte.config import Settings
from punte.services.payments import paid_amount
from punte.store.db import Database
from punte.store.models import Document
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


def test_stripe_failure_refuses_the_document_without_taking_a_number(client: Any, db: Database, settings: Settings,
                                                                      account: Account) -> None:
    with FakeStripe(api_key="sk_test_other") as fake:
        setup_bridge(db, settings, api_key=API_KEY, api_base_url=fake.url)
        answer = client.post(f"{API}/invoice", json=request(paymentUrl="Generate URL"), headers=account.headers)
    assert answer.status_code == 400
    assert "Linkul de plata Stripe nu a putut fi generat" in answer.json()["errorText"]
    assert "Invalid API Key" in answer.json()["errorText"]
    ok = client.post(f"{API}/invoice", json=request(), headers=account.headers)
    assert ok.json()["number"] == "0001"
