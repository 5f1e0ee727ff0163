"""The Stripe bridge end to end: signed deliveries through the HTTP route, the worker, invoices and stornos.

Every delivery is signed with Stripe's scheme (``t=...,v1=...``, HMAC-SHA256 over ``"{t}.{body}"``) and
carries payloads shaped like Stripe's own fixtures for API versions after 2025-03-31.
"""

from __future__ import annotations

import json
import random
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from punte.config import Settings
from punte.services.bridge import drain_journal
from punte.services.bridge_config import BridgeSettings, configure
from punte.services.companies import get_company
from punte.store.db import Database
from punte.store.models import Document, Event, Job, Payment
from punte.store.models_bridge import BridgeInbox, BridgePayment
from punte.worker.runner import Worker
from tests.conftest import SHARED, Account, require_or_skip

from .bridge_support import (
    API_KEY,
    SECRET,
    FakeStripe,
    address,
    body_of,
    charge,
    checkout_session,
    event,
    invoice_line,
    line_item,
    payment_intent,
    refund,
    run_cli,
    stripe_headers,
    stripe_invoice,
)

CIF = "18547290"
URL = f"/webhooks/stripe/{CIF}"


def setup_bridge(db: Database, settings: Settings, **changes: Any) -> None:
    changes.setdefault("settle_seconds", 0)
    data = BridgeSettings(webhook_secret=changes.pop("webhook_secret", SECRET), **changes)
    with db.session(write=True) as session:
        configure(session, get_company(session, CIF), "stripe", data, secret_key=settings.resolved_secret_key(),
                  actor="test")


@pytest.fixture
def bridge(db: Database, settings: Settings, account: Account) -> Account:
    setup_bridge(db, settings)
    return account


def deliver(client: Any, payload: dict[str, Any], secret: str = SECRET, **kw: Any) -> Any:
    body = body_of(payload)
    return client.post(URL, content=body, headers=stripe_headers(body, secret, **kw))


def run_worker(db: Database, settings: Settings, **services: Any) -> int:
    worker = Worker(db, settings, run_periodic=False, kinds=["bridge.process", "bridge.remote"], services=services)
    return worker.run_until_idle(timeout=120)


def invoices(db: Database) -> list[Document]:
    with db.session() as session:
        return list(session.scalars(select(Document).where(Document.kind == "invoice").order_by(Document.number)))


def inbox(db: Database) -> list[BridgeInbox]:
    with db.session() as session:
        return list(session.scalars(select(BridgeInbox).order_by(BridgeInbox.id)))


def paid_session(pi: str, amount: int = 12100, **kw: Any) -> dict[str, Any]:
    return event("checkout.session.completed", checkout_session(pi=pi, amount=amount, **kw))


# ---- the inbox --------------------------------------------------------------------------------------------------


def test_signed_delivery_is_stored_and_acknowledged_once(client: Any, db: Database, bridge: Account) -> None:
    payload = paid_session("pi_inbox1", metadata={"Order Item #1": "SKU1, Carte, 1, 121.00"})
    first = deliver(client, payload)
    again = deliver(client, payload)
    assert first.status_code == 200 and first.json() == {"received": True, "duplicate": False, "event": payload["id"]}
    assert again.status_code == 200 and again.json()["duplicate"] is True
    if db.journal is not None:  # SQLite: the acknowledgement kept it in the journal; the worker moves it
        assert [(d.event_id, json.loads(d.body)) for d in db.journal.pending()] == [(payload["id"], payload)]
        assert inbox(db) == []
        assert drain_journal(db) == 1
        assert db.journal.pending() == []
    assert deliver(client, payload).json()["duplicate"] is True  # and once in the inbox, still a repeat
    rows = inbox(db)
    assert len(rows) == 1 and rows[0].status == "received" and json.loads(rows[0].body) == payload
    with db.session() as session:
        jobs = list(session.scalars(select(Job).where(Job.kind == "bridge.process")))
    assert [j.key for j in jobs] == [f"stripe:{rows[0].company_id}:{payload['id']}"]


@pytest.mark.parametrize("case", ["bad signature", "other secret", "stale", "no header", "malformed", "not an event"])
def test_untrusted_delivery_is_refused_and_not_stored(client: Any, db: Database, bridge: Account, case: str) -> None:
    payload = paid_session("pi_refused")
    body = body_of(payload)
    headers = stripe_headers(body)
    if case == "bad signature":
        body = body.replace(b"12100", b"99999")  # signed body changed in transit
    elif case == "other secret":
        headers = stripe_headers(body, "whsec_someone_else")
    elif case == "stale":
        headers = stripe_headers(body, timestamp=int(time.time()) - 301)
    elif case == "no header":
        headers = {"Content-Type": "application/json"}
    elif case == "malformed":
        body = b'{"id": "evt_1", "type": '
        headers = stripe_headers(body)
    else:
        body = body_of({"hello": "world"})
        headers = stripe_headers(body)
    answer = client.post(URL, content=body, headers=headers)
    assert answer.status_code == 400
    assert "Livrare refuzata" in answer.json()["error"]
    assert inbox(db) == []


def test_unknown_company_or_provider_is_404(client: Any, db: Database, bridge: Account) -> None:
    body = body_of(paid_session("pi_x"))
    assert client.post("/webhooks/stripe/14399840", content=body, headers=stripe_headers(body)).status_code == 404
    assert client.post(f"/webhooks/mollie/{CIF}", content=body, headers=stripe_headers(body)).status_code == 404
    assert client.post(f"/webhooks/shopify/{CIF}", content=body, headers=stripe_headers(body)).status_code == 404


def test_secret_rotation_keeps_both_secrets_valid_until_the_old_one_expires(
    client: Any, db: Database, settings: Settings, bridge: Account,
) -> None:
    new = "whsec_rotated_new_secret"
    setup_bridge(db, settings, webhook_secret=new, rotation_hours=1)
    assert deliver(client, paid_session("pi_rot1")).status_code == 200  # old secret, still valid
    assert deliver(client, paid_session("pi_rot2"), secret=new).status_code == 200
    setup_bridge(db, settings, webhook_secret="whsec_third", rotation_hours=0)  # no grace: only the newest
    assert deliver(client, paid_session("pi_rot3"), secret=new).status_code == 400
    assert deliver(client, paid_session("pi_rot4"), secret="whsec_third").status_code == 200


# ---- invoices -------------------------------------------------------------------------------------------------


def test_checkout_payment_becomes_one_invoice_with_seed_lines_and_billing(
    client: Any, db: Database, settings: Settings, bridge: Account,
) -> None:
    pi = "pi_3PgafyB7WZ01zgkW1"
    session = checkout_session(
        pi=pi, amount=35300,
        metadata={"Order Item #1": "123id121, Nume produs, 3, 232.0", "Order Item #2": "Transport, 1, 121"},
        customer={"name": "Ion Ionescu", "address": address("Str. Lunga 5", "Cluj-Napoca", "CJ", "400001", "RO")},
    )
    for payload in (event("checkout.session.completed", session),
                    event("payment_intent.succeeded", payment_intent(pi=pi, amount=35300)),
                    event("charge.succeeded", charge(pi=pi, amount=35300))):
        assert deliver(client, payload).status_code == 200
    run_worker(db, settings)
    docs = invoices(db)
    assert len(docs) == 1
    doc = docs[0]
    assert (doc.series_name, doc.number_text, doc.gross_total, doc.currency) == (
        "FCT", "0001", Decimal("353.00"), "RON")
    assert [(ln.name, ln.code, ln.quantity) for ln in doc.lines] == [
        ("Nume produs", "123id121", Decimal(3)), ("Transport", None, Decimal(1))]
    assert doc.buyer["name"] == "Ion Ionescu" and doc.buyer["county"] == "Cluj" and doc.buyer["cif"] is None
    assert doc.created_by == "bridge:stripe"
    with db.session() as s:
        collected = s.scalar(select(func.coalesce(func.count(), 0)).select_from(Payment).where(
            Payment.document_id == doc.id, Payment.type == "Card online"))
    assert collected == 1
    rows = inbox(db)
    assert [r.status for r in rows] == ["done", "done", "done"]
    assert "FCT0001" in rows[0].outcome and "deja facturata" in rows[1].outcome


def test_company_buyer_from_custom_fields_and_tax_ids(client: Any, db: Database, settings: Settings,
                                                      bridge: Account) -> None:
    session = checkout_session(
        pi="pi_company", amount=12100,
        custom_fields=[{"key": "cui", "label": {"custom": "CUI", "type": "custom"}, "optional": False,
                        "type": "text", "text": {"value": "RO14399840", "default_value": None}},
                       {"key": "regcom", "label": {"custom": "Reg. Com.", "type": "custom"}, "optional": True,
                        "type": "text", "text": {"value": "J08/123/2010"}}],
        customer={"business_name": "Client Exemplu SRL", "name": "Maria Pop"},
        metadata={"product_name": "Abonament anual"},
    )
    deliver(client, event("checkout.session.completed", session))
    run_worker(db, settings)
    (doc,) = invoices(db)
    assert doc.buyer["name"] == "Client Exemplu SRL"
    assert doc.buyer["cif"] == "RO14399840" and doc.buyer["is_tax_payer"] is True
    assert doc.buyer["reg_com"] == "J08/123/2010"
    assert [ln.name for ln in doc.lines] == ["Abonament anual"]


def test_unpaid_session_waits_for_async_success(client: Any, db: Database, settings: Settings,
                                                bridge: Account) -> None:
    obj = checkout_session(pi="pi_sepa", amount=5000, paid=False, metadata={"product_name": "Curs"})
    deliver(client, event("checkout.session.completed", obj))
    run_worker(db, settings)
    assert invoices(db) == []
    assert inbox(db)[0].status == "waiting"
    deliver(client, event("checkout.session.async_payment_succeeded", {**obj, "payment_status": "paid"}))
    run_worker(db, settings)
    assert [d.gross_total for d in invoices(db)] == [Decimal("50.00")]


def test_unpaid_stripe_invoice_makes_nothing_until_paid(client: Any, db: Database, settings: Settings,
                                                       bridge: Account) -> None:
    open_invoice = stripe_invoice(invoice_id="in_1Sub", pi="pi_sub", amount=4900, status="open")
    deliver(client, event("invoice.finalized", open_invoice))
    run_worker(db, settings)
    assert invoices(db) == []
    deliver(client, event("invoice.paid", stripe_invoice(invoice_id="in_1Sub", pi="pi_sub", amount=4900)))
    deliver(client, event("payment_intent.succeeded", payment_intent(pi="pi_sub", amount=4900,
                                                                   description="Subscription update")))
    deliver(client, event("invoice.finalized", stripe_invoice(invoice_id="in_1Sub", pi="pi_sub", amount=4900)))
    run_worker(db, settings)
    (doc,) = invoices(db)
    assert [ln.name for ln in doc.lines] == ["Abonament lunar"] and doc.gross_total == Decimal("49.00")


def test_events_in_any_order_repeated_make_exactly_one_invoice(client: Any, db: Database, settings: Settings,
                                                               bridge: Account) -> None:
    rng = random.Random(7)
    payloads = []
    for n in range(5):
        pi = f"pi_order_{n}"
        payloads += [
            paid_session(pi, 2420, metadata={"lineitem1": json.dumps({"productname": "Cana", "quantity": "2",
                                                                      "itemtotal": "24.20"})}),
            event("payment_intent.succeeded", payment_intent(pi=pi, amount=2420, description="Cana x2")),
            event("charge.succeeded", charge(pi=pi, amount=2420)),
            event("payment_intent.created", payment_intent(pi=pi, amount=2420, status="requires_payment_method")),
        ]
    deliveries = payloads * 3
    rng.shuffle(deliveries)
    for payload in deliveries:
        assert deliver(client, payload).status_code == 200
    run_worker(db, settings)
    docs = invoices(db)
    assert [d.number for d in docs] == [1, 2, 3, 4, 5]
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(BridgePayment)) == 5


def test_line_items_are_fetched_from_stripe_when_an_api_key_is_configured(
    client: Any, db: Database, settings: Settings, bridge: Account,
) -> None:
    with FakeStripe() as fake:
        setup_bridge(db, settings, api_key=API_KEY, api_base_url=fake.url)
        obj = checkout_session(pi="pi_items", amount=45000, shipping=1500)
        fake.line_items[obj["id"]] = [line_item("Tricou", 10000, 2), line_item("Sapca", 4000, 1),
                                      line_item("Geanta", 19500, 1)]
        deliver(client, event("checkout.session.completed", obj))
        run_worker(db, settings)
        (doc,) = invoices(db)
        assert [(ln.name, ln.quantity) for ln in doc.lines] == [
            ("Tricou", Decimal(2)), ("Sapca", Decimal(1)), ("Geanta", Decimal(1)), ("Transport", Decimal(1))]
        assert doc.gross_total == Decimal("450.00")
        method, path, headers = fake.requests[0]
        assert (method, path) == ("GET", f"/v1/checkout/sessions/{obj['id']}/line_items")
        assert headers.get("Stripe-Version") == "2025-03-31.basil"


def test_zero_decimal_currency_amounts(client: Any, db: Database, settings: Settings, bridge: Account) -> None:
    from punte.providers.stripe import from_minor

    assert from_minor(1500, "jpy") == Decimal(1500) and from_minor(1500, "kwd") == Decimal("1.500")
    with db.session(write=True) as s:
        from punte.services.issuing import today_in_romania
        from punte.store.models import ExchangeRate

        s.add(ExchangeRate(currency="JPY", day=today_in_romania(), rate=Decimal("0.0302")))
    deliver(client, paid_session("pi_jpy", 1500, currency="jpy", metadata={"product_name": "Ceai"}))
    run_worker(db, settings)
    (doc,) = invoices(db)
    assert (doc.currency, doc.gross_total) == ("JPY", Decimal(1500))


# ---- refunds -------------------------------------------------------------------------------------------------


def test_full_refund_reverses_the_invoice_once(client: Any, db: Database, settings: Settings,
                                               bridge: Account) -> None:
    pi, ch = "pi_refund_full", "ch_refund_full"
    deliver(client, paid_session(pi, 12100, metadata={"product_name": "Carte"}))
    run_worker(db, settings)
    re = refund(pi=pi, charge_id=ch, amount=12100, refund_id="re_full")
    for payload in [event("charge.refunded", charge(pi=pi, charge_id=ch, amount=12100, refunded=12100, refunds=[re])),
                    event("refund.created", re)] * 2:
        deliver(client, {**payload, "id": payload["id"]})
    run_worker(db, settings)
    docs = invoices(db)
    assert [(d.number, d.gross_total, d.reverses_id) for d in docs] == [
        (1, Decimal("121.00"), None), (2, Decimal("-121.00"), docs[0].id)]


def test_partial_refunds_make_partial_stornos_of_the_refunded_part(client: Any, db: Database, settings: Settings,
                                                                  bridge: Account) -> None:
    pi, ch = "pi_refund_part", "ch_refund_part"
    deliver(client, paid_session(pi, 20000, metadata={"product_name": "Curs"}))
    run_worker(db, settings)
    first = refund(pi=pi, charge_id=ch, amount=5000, refund_id="re_p1")
    deliver(client, event("refund.created", first))
    deliver(client, event("charge.refunded", charge(pi=pi, charge_id=ch, amount=20000, refunded=5000)))
    run_worker(db, settings)
    second = refund(pi=pi, charge_id=ch, amount=15000, refund_id="re_p2")
    deliver(client, event("charge.refunded", charge(pi=pi, charge_id=ch, amount=20000, refunded=20000)))
    deliver(client, event("refund.created", second))
    deliver(client, event("refund.created", first))
    run_worker(db, settings)
    docs = invoices(db)
    assert [d.gross_total for d in docs] == [Decimal("200.00"), Decimal("-50.00"), Decimal("-150.00")]
    assert all(d.reverses_id is None for d in docs[1:])
    assert all(d.details["partialStornoOf"] == docs[0].id for d in docs[1:])
    assert "Storno partial la factura FCT0001" in docs[1].details["mentions"]
    assert sum((d.vat_total for d in docs), Decimal(0)) == Decimal(0)


def test_refund_arriving_before_the_payment_waits_for_its_invoice(client: Any, db: Database, settings: Settings,
                                                                 bridge: Account) -> None:
    pi = "pi_refund_early"
    deliver(client, event("refund.created", refund(pi=pi, charge_id="ch_e", amount=3000)))
    run_worker(db, settings)
    assert invoices(db) == [] and inbox(db)[0].status == "waiting"
    deliver(client, paid_session(pi, 10000, metadata={"product_name": "Carte"}))
    run_worker(db, settings)
    assert [d.gross_total for d in invoices(db)] == [Decimal("100.00"), Decimal("-30.00")]


# ---- failures ---------------------------------------------------------------------------------------------------


def test_missing_data_is_recorded_field_by_field_and_retried_after_the_fix(
    client: Any, db: Database, settings: Settings, bridge: Account,
) -> None:
    from punte.services.bridge_ops import list_events

    obj = checkout_session(pi="pi_missing", amount=12100, metadata={"product_name": "Carte"},
                           customer={"name": None, "address": address(None, "Codlea", None, None, "RO")})
    deliver(client, event("checkout.session.completed", obj))
    run_worker(db, settings)
    assert invoices(db) == []
    (row,) = inbox(db)
    assert row.status == "failed"
    assert [p["field"] for p in row.detail["problems"]] == ["buyer.name", "buyer.address", "buyer.county"]
    with db.session() as s:
        company = get_company(s, CIF)
        (listed,) = list_events(s, company)
        notices = list(s.scalars(select(Event).where(Event.entity == "bridge_payment", Event.action == "notified")))
    assert listed.status == "failed" and listed.problems == row.detail["problems"]
    assert len(notices) == 1 and "buyer.county" in notices[0].data["body"]
    deliver(client, event("payment_intent.succeeded", payment_intent(pi="pi_missing", amount=12100)))
    run_worker(db, settings)
    with db.session() as s:  # the same reason is not notified twice
        assert s.scalar(select(func.count()).select_from(Event).where(Event.action == "notified")) == 1

    listing = run_cli(settings, db, "bridge", "events", "--cif", CIF, "--json")
    assert listing.exit_code == 0, listing.output
    assert json.loads(listing.output.splitlines()[-1])["problems"][0]["field"] == "buyer.name"
    fixed = run_cli(settings, db, "bridge", "retry", str(row.id), "--set", "buyer.name=Ana Pop",
                    "--set", "buyer.line1=Str. Lunga 1", "--set", "buyer.state=Brasov")
    assert fixed.exit_code == 0, fixed.output
    assert "FCT0001 emisa" in fixed.output
    (doc,) = invoices(db)
    assert doc.buyer["name"] == "Ana Pop" and doc.buyer["county"] == "Brașov"


def test_lines_not_adding_up_to_the_payment_are_refused(client: Any, db: Database, settings: Settings,
                                                        bridge: Account) -> None:
    deliver(client, paid_session("pi_sum", 12100, metadata={"Order Item #1": "Carte, 1, 100.00"}))
    run_worker(db, settings)
    (row,) = inbox(db)
    assert row.status == "failed"
    assert row.detail["problems"] == [{"field": "lines", "kind": "invalid",
                                       "text": "liniile insumeaza 100.00 RON, dar plata este de 121.00 RON"}]


# ---- shapes ----------------------------------------------------------------------------------------------------


def test_payload_builders_use_stripe_fixture_shapes() -> None:
    path = SHARED / "stripe" / "fixtures3.json"
    require_or_skip(path.exists(), f"Stripe fixtures not found at {path}")
    resources = json.loads(Path(path).read_text())["resources"]
    built = {
        "checkout.session": checkout_session(pi="pi_1", amount=100),
        "payment_intent": payment_intent(pi="pi_1", amount=100),
        "charge": charge(pi="pi_1", amount=100),
        "refund": refund(pi="pi_1", charge_id="ch_1", amount=100),
        "invoice": stripe_invoice(invoice_id="in_1", pi="pi_1", amount=100),
        "line_item": invoice_line("x", 100),
        "item": line_item("x", 100),
    }
    allowed_extra = {"invoice": {"payments"}}  # includable, not in the default fixture
    for name, obj in built.items():
        unknown = set(obj) - set(resources[name]) - allowed_extra.get(name, set())
        assert not unknown, f"{name}: keys Stripe does not have: {sorted(unknown)}"
