"""The SmartBill target: invoices issued in a real SmartBill-compatible account through punte's SmartBill client.

The "remote SmartBill account" is a second company in punte's own SmartBill-compatible API, served by
uvicorn in a thread; the bridge company keeps nothing but the payment's record of the remote invoice.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from punte.api.app import create_app
from punte.config import Settings
from punte.store.db import Database
from punte.store.models import Document, Event, Job
from punte.store.models_bridge import BridgeInbox, BridgePayment
from punte.worker import queue
from tests.conftest import OTHER_CIF, Account, make_account

from .bridge_support import charge, checkout_session, event, payment_intent, refund, serving
from .test_bridge_stripe import deliver, run_worker, setup_bridge

REMOTE_EMAIL = "smartbill@remote.ro"


@pytest.fixture
def remote(db: Database, settings: Settings, account: Account) -> Iterator[tuple[str, Account]]:
    """The bridge company (the ``account``) sends its invoices to a second company's SmartBill API."""
    other = make_account(db, settings, OTHER_CIF, REMOTE_EMAIL, name="Contul SmartBill SRL")
    app = create_app(settings, db=db, migrate=False)
    with serving(app) as base:
        api = f"{base}/SBORO/api"
        setup_bridge(db, settings, target="smartbill", series="FCT", smartbill_url=api,
                     smartbill_username=REMOTE_EMAIL, smartbill_token=other.token, smartbill_cif=OTHER_CIF)
        yield api, other


def company_invoices(db: Database, cif_digits: str) -> list[Document]:
    from punte.store.models import Company

    with db.session() as s:
        return list(s.scalars(select(Document).join(Company, Company.id == Document.company_id)
                              .where(Company.cif == cif_digits, Document.kind == "invoice").order_by(Document.number)))


class LosingTransport(httpx.BaseTransport):
    """Forwards to the real server; the first answer to ``POST /invoice`` is lost on the way back."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.lose_next = True
        self.seen: list[tuple[str, str, str | None]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        self.seen.append((request.method, request.url.path, request.headers.get("idempotency-key")))
        if self.lose_next and request.method == "POST" and request.url.path.endswith("/invoice"):
            self.lose_next = False
            response.read()
            response.close()
            raise httpx.ReadTimeout("the answer was lost", request=request)
        return response


def sale(client: Any, pi: str, amount: int = 12100) -> None:
    deliver(client, event("checkout.session.completed", checkout_session(
        pi=pi, amount=amount, metadata={"Order Item #1": f"SKU1, Abonament, 1, {Decimal(amount).scaleb(-2)}"})))
    deliver(client, event("payment_intent.succeeded", payment_intent(pi=pi, amount=amount)))


def test_invoice_is_issued_in_the_smartbill_account_once(
    client: Any, db: Database, settings: Settings, remote: tuple[str, Account],
) -> None:
    sale(client, "pi_remote_1")
    run_worker(db, settings)
    (doc,) = company_invoices(db, "14399840")
    assert company_invoices(db, "18547290") == []
    assert (doc.number_text, doc.gross_total, doc.created_by) == ("0001", Decimal("121.00"), REMOTE_EMAIL)
    with db.session() as s:
        payment = s.scalar(select(BridgePayment))
        assert (payment.status, payment.remote_series, payment.remote_number) == ("issued", "FCT", "0001")
    sale(client, "pi_remote_1")  # repeated deliveries change nothing
    run_worker(db, settings)
    assert len(company_invoices(db, "14399840")) == 1


def test_lost_answer_is_reconciled_without_a_second_invoice(
    client: Any, db: Database, settings: Settings, remote: tuple[str, Account],
) -> None:
    transport = LosingTransport()
    sale(client, "pi_remote_lost")
    run_worker(db, settings, smartbill_transport=transport)
    assert len(company_invoices(db, "14399840")) == 1  # issued remotely, but we did not hear it
    with db.session(write=True) as s:
        payment = s.scalar(select(BridgePayment))
        assert payment.status == "sending" and payment.remote_number is None
        assert payment.remote_expected_number == "0001"
        s.execute(update(Job).where(Job.kind == "bridge.remote").values(run_at=queue.now() - timedelta(seconds=1)))
    run_worker(db, settings, smartbill_transport=transport)
    assert len(company_invoices(db, "14399840")) == 1
    with db.session() as s:
        payment = s.scalar(select(BridgePayment))
        assert (payment.status, payment.remote_number) == ("issued", "0001")
        reconciled = s.scalar(select(Event).where(Event.action == "invoiced_remote"))
        assert reconciled.data["reconciled"] is True
    sent = [key for method, path, key in transport.seen if method == "POST"]
    assert sent == ["punte-bridge-18547290-1"]


def test_refund_reverses_the_remote_invoice(
    client: Any, db: Database, settings: Settings, remote: tuple[str, Account],
) -> None:
    sale(client, "pi_remote_refund")
    run_worker(db, settings)
    re = refund(pi="pi_remote_refund", charge_id="ch_rr", amount=12100)
    deliver(client, event("refund.created", re))
    deliver(client, event("charge.refunded", charge(pi="pi_remote_refund", charge_id="ch_rr", amount=12100,
                                                    refunded=12100, refunds=[re])))
    run_worker(db, settings)
    docs = company_invoices(db, "14399840")
    assert [(d.gross_total, d.reverses_id) for d in docs] == [
        (Decimal("121.00"), None), (Decimal("-121.00"), docs[0].id)]


def test_smartbill_refusal_is_recorded_and_notified(
    client: Any, db: Database, settings: Settings, remote: tuple[str, Account],
) -> None:
    api, other = remote
    setup_bridge(db, settings, series="NUEXISTA")
    sale(client, "pi_remote_refused")
    run_worker(db, settings)
    assert company_invoices(db, "14399840") == []
    with db.session() as s:
        payment = s.scalar(select(BridgePayment))
        assert payment.status == "failed"
        assert payment.missing[0]["field"] == "smartbill" and "Seria" in payment.missing[0]["text"]
        assert s.scalar(select(Event).where(Event.action == "notified")) is not None
        first = s.scalar(select(BridgeInbox.id).order_by(BridgeInbox.id))
    setup_bridge(db, settings, series="FCT")  # the data is fixed: retry
    from punte.services.bridge import process_inbox
    from punte.services.bridge_ops import prepare_retry
    from punte.services.companies import get_company

    with db.session(write=True) as s:
        prepare_retry(s, get_company(s, "18547290"), str(first), {}, actor="test")
    assert process_inbox(db, settings, first).status == "done"
    run_worker(db, settings)
    assert [d.number_text for d in company_invoices(db, "14399840")] == ["0001"]
