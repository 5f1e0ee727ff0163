"""Shopify and PayPal through the same inbox and the same exactly-once guarantee as Stripe."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from punte.config import Settings
from punte.providers.shopify import sign
from punte.services.bridge_config import BridgeSettings, configure
from punte.services.companies import get_company
from punte.store.db import Database
from punte.store.models import Document
from punte.store.models_bridge import BridgeInbox
from tests.conftest import Account
from tests.unit.test_providers_paypal import WEBHOOK_ID, Pki, capture_event
from tests.unit.test_providers_shopify import order

from .bridge_support import sqlite_database
from .test_bridge_stripe import CIF, invoices, run_worker

SHOP_SECRET = "shpss_bridge_secret"


@pytest.fixture
def db(tmp_path: Path, sqlite_template: Path) -> Iterator[Database]:
    """What this module checks does not depend on the database engine: SQLite only."""
    yield from sqlite_database(tmp_path, sqlite_template)


def configure_provider(db: Database, settings: Settings, provider: str, **changes: Any) -> None:
    changes.setdefault("settle_seconds", 0)
    with db.session(write=True) as session:
        configure(session, get_company(session, CIF), provider, BridgeSettings(**changes),
                  secret_key=settings.resolved_secret_key(), actor="test")


# ---- Shopify ---------------------------------------------------------------------------------------------------


def shopify_post(client: Any, payload: dict[str, Any], topic: str, webhook_id: str, secret: str = SHOP_SECRET) -> Any:
    body = json.dumps(payload).encode()
    return client.post(f"/webhooks/shopify/{CIF}", content=body, headers={
        "X-Shopify-Hmac-Sha256": sign(body, secret), "X-Shopify-Topic": topic,
        "X-Shopify-Shop-Domain": "magazin.myshopify.com", "X-Shopify-Webhook-Id": webhook_id,
        "Content-Type": "application/json"})


def test_shopify_paid_order_becomes_one_invoice_and_its_refund_a_storno(
    client: Any, db: Database, settings: Settings, account: Account,
) -> None:
    configure_provider(db, settings, "shopify", webhook_secret=SHOP_SECRET,
                       options={"shop_domain": "magazin.myshopify.com"})
    paid = order()
    for _ in range(3):  # Shopify retries with the same webhook id
        assert shopify_post(client, paid, "orders/paid", "wh-paid-1").status_code == 200
    assert shopify_post(client, paid, "orders/create", "wh-create-1").status_code == 200
    assert shopify_post(client, paid, "orders/paid", "wh-paid-1", secret="wrong").status_code == 400
    run_worker(db, settings)
    (doc,) = invoices(db)
    assert doc.gross_total == Decimal("213.00")
    assert {(ln.vat_percentage, ln.name) for ln in doc.lines} == {
        (Decimal(21), "Tricou - M"), (Decimal(11), "Carte"), (Decimal(21), "Transport Curier")}
    refund = {"id": 509562969, "order_id": paid["id"], "created_at": "2026-02-15T10:00:00+02:00",
              "refund_line_items": [], "transactions": [
                  {"id": 1, "kind": "refund", "status": "success", "amount": "98.00", "currency": "RON"}]}
    shopify_post(client, refund, "refunds/create", "wh-refund-1")
    shopify_post(client, refund, "refunds/create", "wh-refund-1-retry")  # a second delivery id, same refund
    run_worker(db, settings)
    docs = invoices(db)
    assert [d.gross_total for d in docs] == [Decimal("213.00"), Decimal("-98.00")]
    with db.session() as s:
        statuses = [r.status for r in s.scalars(select(BridgeInbox).order_by(BridgeInbox.id))]
    assert statuses == ["done", "ignored", "done", "done"]


# ---- PayPal ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pki() -> Pki:
    return Pki()


def paypal_post(client: Any, pki: Pki, payload: dict[str, Any]) -> Any:
    body = json.dumps(payload).encode()
    return client.post(f"/webhooks/paypal/{CIF}", content=body, headers=pki.headers(body))


def order_event(order_id: str, capture_id: str) -> dict[str, Any]:
    return {"id": f"WH-ORDER-{order_id}", "event_type": "CHECKOUT.ORDER.COMPLETED", "resource_type": "checkout-order",
            "resource": {
                "id": order_id, "status": "COMPLETED",
                "payer": {"name": {"given_name": "Ana", "surname": "Pop"}, "email_address": "ana@example.ro",
                          "address": {"address_line_1": "Str. Lunga 3", "admin_area_2": "Brasov",
                                      "admin_area_1": "Brasov", "postal_code": "500030", "country_code": "RO"}},
                "purchase_units": [{"amount": {"currency_code": "RON", "value": "121.00"},
                                    "items": [{"name": "Curs online", "quantity": "1",
                                               "unit_amount": {"currency_code": "RON", "value": "121.00"}}],
                                    "payments": {"captures": [{"id": capture_id, "status": "COMPLETED"}]}}]}}


def test_paypal_capture_and_order_make_one_invoice_and_the_refund_a_storno(
    client: Any, db: Database, settings: Settings, account: Account, pki: Pki,
) -> None:
    app = client.app
    app.state.worker_services.update({"paypal_cert_fetch": lambda url: pki.chain, "paypal_trust_roots": pki.roots})
    configure_provider(db, settings, "paypal", webhook_secret=WEBHOOK_ID)
    capture = capture_event("CAP1", "ORD1")
    assert paypal_post(client, pki, capture).status_code == 200
    assert paypal_post(client, pki, order_event("ORD1", "CAP1")).status_code == 200
    assert paypal_post(client, pki, capture).json()["duplicate"] is True
    run_worker(db, settings)
    (doc,) = invoices(db)
    assert (doc.gross_total, doc.client_name, [ln.name for ln in doc.lines]) == (
        Decimal("121.00"), "Ana Pop", ["Curs online"])
    refund = {"id": "WH-REFUND-1", "event_type": "PAYMENT.CAPTURE.REFUNDED", "resource_type": "refund",
              "resource": {"id": "REF1", "status": "COMPLETED", "amount": {"currency_code": "RON", "value": "121.00"},
                           "links": [{"rel": "up", "href": "https://api.paypal.com/v2/payments/captures/CAP1"}]}}
    paypal_post(client, pki, refund)
    run_worker(db, settings)
    docs = invoices(db)
    assert [(d.gross_total, d.reverses_id) for d in docs] == [(Decimal("121.00"), None), (Decimal("-121.00"), doc.id)]


def test_paypal_order_fetched_from_the_api_when_credentials_are_configured(
    client: Any, db: Database, settings: Settings, account: Account, pki: Pki,
) -> None:
    calls: list[str] = []

    def paypal_api(request: httpx.Request) -> httpx.Response:
        calls.append(f"{request.method} {request.url.path}")
        if request.url.path == "/v1/oauth2/token":
            assert request.headers["authorization"].startswith("Basic ")
            return httpx.Response(200, json={"access_token": "A21AA", "token_type": "Bearer", "expires_in": 32400})
        assert request.headers["authorization"] == "Bearer A21AA"
        return httpx.Response(200, json=order_event("ORD2", "CAP2")["resource"])

    client.app.state.worker_services.update({"paypal_cert_fetch": lambda url: pki.chain,
                                             "paypal_trust_roots": pki.roots})
    configure_provider(db, settings, "paypal", webhook_secret=WEBHOOK_ID, api_key="client-id:client-secret",
                       api_base_url="https://api-m.sandbox.paypal.com")
    paypal_post(client, pki, capture_event("CAP2", "ORD2"))
    run_worker(db, settings, paypal_transport=httpx.MockTransport(paypal_api))
    (doc,) = invoices(db)
    assert doc.client_name == "Ana Pop"
    assert calls == ["POST /v1/oauth2/token", "GET /v2/checkout/orders/ORD2"]


def test_untrusted_paypal_delivery_is_refused(client: Any, db: Database, settings: Settings, account: Account,
                                              pki: Pki) -> None:
    client.app.state.worker_services.update({"paypal_cert_fetch": lambda url: pki.chain,
                                             "paypal_trust_roots": pki.roots})
    configure_provider(db, settings, "paypal", webhook_secret="SOME-OTHER-WEBHOOK")
    assert paypal_post(client, pki, capture_event()).status_code == 400
    with db.session() as s:
        assert s.scalar(select(BridgeInbox.id)) is None
        assert s.scalar(select(Document.id)) is None
