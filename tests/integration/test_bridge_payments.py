"""A payment's life in the bridge: waiting for its richer event, links found late, e-mail to the payer,
and the bridge's tables matching their migration."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy import func, select

from punte.config import Settings
from punte.store.db import Database
from punte.store.models import Event
from punte.store.models_bridge import BridgeInbox, BridgePayment, BridgePaymentKey
from tests.conftest import Account

from .bridge_support import (
    API_KEY,
    FakeStripe,
    checkout_session,
    event,
    payment_intent,
    stripe_invoice,
)
from .test_bridge_stripe import deliver, inbox, invoices, paid_session, run_worker, setup_bridge


def test_a_payment_known_only_from_its_payment_intent_waits_for_the_session(
    client: Any, db: Database, settings: Settings, account: Account,
) -> None:
    setup_bridge(db, settings, settle_seconds=3600)
    pi = "pi_settle"
    deliver(client, event("payment_intent.succeeded", payment_intent(pi=pi, amount=12100)))
    run_worker(db, settings)
    assert invoices(db) == []
    (row,) = inbox(db)
    assert row.status == "waiting" and "datele complete" in row.outcome
    with db.session() as s:  # nothing was notified: the richer event is simply expected
        assert s.scalar(select(func.count()).select_from(Event).where(Event.action == "notified")) == 0
    deliver(client, paid_session(pi, 12100, metadata={"product_name": "Carte"}))
    run_worker(db, settings)
    (doc,) = invoices(db)
    assert [ln.name for ln in doc.lines] == ["Carte"]
    assert [r.status for r in inbox(db)] == ["done", "done"]  # the waiting event is settled with its payment
    assert "facturata: FCT0001" in inbox(db)[0].outcome


def test_invoice_first_seen_without_its_payments_is_linked_by_stripe_api(
    client: Any, db: Database, settings: Settings, account: Account,
) -> None:
    with FakeStripe() as fake:
        setup_bridge(db, settings, api_key=API_KEY, api_base_url=fake.url)
        billing = stripe_invoice(invoice_id="in_late", pi=None, amount=4900)  # webhook payloads omit payments
        fake.invoice_payments["pi_late"] = ["in_late"]
        deliver(client, event("invoice.paid", billing))
        deliver(client, event("payment_intent.succeeded", payment_intent(pi="pi_late", amount=4900,
                                                                       description="Subscription update")))
        run_worker(db, settings)
    assert len(invoices(db)) == 1
    with db.session() as s:
        keys = set(s.scalars(select(BridgePaymentKey.key)))
        assert keys == {"in_late", "pi_late"}
        assert s.scalar(select(func.count()).select_from(BridgePayment)) == 1


def test_two_payments_found_to_be_one_are_merged(client: Any, db: Database, settings: Settings,
                                                 account: Account) -> None:
    setup_bridge(db, settings)
    deliver(client, event("invoice.finalized", stripe_invoice(invoice_id="in_m", pi=None, amount=4900,
                                                              status="open")))
    deliver(client, event("payment_intent.created", payment_intent(pi="pi_m", amount=4900,
                                                                 status="requires_payment_method")))
    run_worker(db, settings)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(BridgePayment)) == 2
    link = {"id": "inpay_1", "object": "invoice_payment", "invoice": "in_m", "is_default": True,
            "payment": {"type": "payment_intent", "payment_intent": "pi_m"}, "status": "paid", "amount_paid": 4900,
            "amount_requested": 4900, "currency": "ron", "livemode": False, "created": 1,
            "status_transitions": {"canceled_at": None, "paid_at": 1}}
    deliver(client, event("invoice_payment.paid", link))
    deliver(client, event("invoice.paid", stripe_invoice(invoice_id="in_m", pi=None, amount=4900)))
    deliver(client, event("payment_intent.succeeded", payment_intent(pi="pi_m", amount=4900)))
    run_worker(db, settings)
    assert [d.gross_total for d in invoices(db)] == [Decimal("49.00")]
    with db.session() as s:
        statuses = sorted(s.scalars(select(BridgePayment.status)))
    assert statuses == ["issued", "merged"]


def test_payer_email_without_smtp_still_issues_the_invoice(client: Any, db: Database, settings: Settings,
                                                           account: Account) -> None:
    setup_bridge(db, settings, email_payer=True)
    deliver(client, paid_session("pi_mail", 12100, metadata={"product_name": "Carte"}))
    run_worker(db, settings)
    (doc,) = invoices(db)
    with db.session() as s:
        skipped = s.scalar(select(Event).where(Event.action == "payer_email_skipped"))
    assert skipped is not None and skipped.entity_id == doc.id and skipped.data["to"] == "ana.popescu@example.ro"


def test_async_payment_failure_makes_nothing(client: Any, db: Database, settings: Settings, account: Account) -> None:
    setup_bridge(db, settings)
    obj = checkout_session(pi="pi_fail", amount=5000, paid=False, metadata={"product_name": "Curs"})
    deliver(client, event("checkout.session.completed", obj))
    deliver(client, event("checkout.session.async_payment_failed", obj))
    run_worker(db, settings)
    assert invoices(db) == []
    with db.session() as s:
        assert s.scalar(select(BridgePayment.status)) == "ignored"
        assert sorted(s.scalars(select(BridgeInbox.status))) == ["ignored", "waiting"]


def test_bridge_tables_match_their_migration(db: Database) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from punte.store.models import Base

    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = [d for d in compare_metadata(context, Base.metadata) if "bridge" in str(d)]
    assert diff == []
    with db.engine.connect() as conn:
        names = set(sa.inspect(conn).get_table_names())
    assert {"bridge_configs", "bridge_inbox", "bridge_payments", "bridge_payment_keys", "bridge_refunds",
            "bridge_stornos", "bridge_checkouts"} <= names


def test_cli_configures_and_shows_a_bridge(db: Database, settings: Settings, account: Account) -> None:
    import json

    from .bridge_support import run_cli

    refused = run_cli(settings, db, "bridge", "stripe", "--cif", "RO18547290", "--webhook-secret", "sk_not_a_secret")
    assert refused.exit_code == 1 and "whsec_" in refused.output
    made = run_cli(settings, db, "bridge", "stripe", "--cif", "RO18547290", "--webhook-secret", "whsec_cli",
                   "--series", "FCT", "--vat-rate", "11", "--email-payer", "--issuer", "ana@firma.ro")
    assert made.exit_code == 0, made.output
    assert "/webhooks/stripe/18547290" in made.output
    unknown = run_cli(settings, db, "bridge", "stripe", "--cif", "RO18547290", "--series", "NUEXISTA")
    assert unknown.exit_code == 1 and "Seria nu a fost gasita" in unknown.output
    shown = run_cli(settings, db, "bridge", "show", "--cif", "RO18547290")
    assert shown.exit_code == 0
    described = json.loads(shown.output)
    assert (described["series"], described["vat_rate"], described["email_payer"], described["issuer"]) == (
        "FCT", "11", True, "ana@firma.ro")
    assert "whsec_cli" not in shown.output


def test_with_smtp_the_payer_gets_the_invoice_and_the_company_gets_the_failures(
    client: Any, db: Database, settings: Settings, account: Account,
) -> None:
    from punte.services.companies import get_company
    from punte.services.email import SmtpConfig, configure_smtp
    from punte.store.models_email import EmailMessage

    with db.session(write=True) as s:
        company = get_company(s, "18547290")
        company.email = "office@firma.ro"
        configure_smtp(s, company, SmtpConfig(host="smtp.firma.ro", from_address="facturi@firma.ro"),
                       secret_key=settings.resolved_secret_key(), actor="test")
    setup_bridge(db, settings, email_payer=True)
    deliver(client, paid_session("pi_mail_ok", 12100, metadata={"product_name": "Carte"}))
    deliver(client, paid_session("pi_mail_bad", 12100, metadata={"product_name": "Carte"},
                                 customer={"name": None}))
    run_worker(db, settings)
    assert len(invoices(db)) == 1
    with db.session() as s:
        sent = {m.purpose: m for m in s.scalars(select(EmailMessage))}
    assert sorted(sent) == ["document", "notice"]
    assert sent["document"].to_addrs == "ana.popescu@example.ro" and sent["document"].doc_type == "factura"
    assert sent["notice"].to_addrs == "office@firma.ro" and "buyer.name" in sent["notice"].body_template
