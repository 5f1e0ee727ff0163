"""The payment bridge: signed deliveries in, exactly one invoice per payment out, stornos for refunds.

Inbox (the webhook route calls :func:`receive`): the delivery is verified over its raw body with the
company's secrets, stored raw under (company, provider, event id) and a ``bridge.process`` job keyed the
same way is queued in the same transaction; the route answers 2xx. A repeated delivery changes nothing.
On a SQLite file the acknowledgement does not wait for the database's write lock: the delivery goes to
the database's journal (:mod:`punte.store.journal`), and the worker moves it into the inbox, with its
job, before it claims jobs (:func:`drain_journal`).

Processing (the worker runs :func:`process_inbox`): the provider maps the event to neutral facts; data
that needs an API call (a Checkout Session's line items, a PayPal order) is fetched outside any
transaction; then, in one unit of work, the payment is found or created by its provider ids
(``UNIQUE(company, provider, key)`` decides between concurrent workers), locked, given the event's data,
and moved as far as it can go (:func:`advance`):

``collecting`` (not confirmed) -> ``issued`` (the invoice, in the same transaction as the payment row)
or ``linked`` (it paid an existing punte document) or ``failed`` (the exact missing or invalid fields,
the company notified; a later event or ``punte bridge retry`` tries again) or, for the SmartBill target,
``sending`` (a ``bridge.remote`` job calls SmartBill with an Idempotency-Key and reconciles a lost answer).

Refunds raise the payment's refunded target (the largest of: the cumulative amount an event states, the
sum of refunds known by id); whenever it exceeds what stornos cover, a storno of the difference is issued
(the whole invoice through ``reverse_invoice`` when the first refund is total, else a partial storno), so
a refund counts once whichever events tell of it and however often.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from punte.config import Settings
from punte.crypto import SecretBox
from punte.domain.documents import INVOICE
from punte.domain.errors import DomainError
from punte.providers import PROVIDERS
from punte.providers.base import Facts, Interpretation, InvalidDelivery, VerifyContext, sale_to_json
from punte.smartbill.wire import EstimateRef, InvoiceRef, InvoiceRequest, PaymentData, PaymentRequest
from punte.store.db import Database
from punte.store.journal import AckJournal, Delivery
from punte.store.models import Company, Document, Job, Payment
from punte.store.models_bridge import (
    BridgeConfig,
    BridgeInbox,
    BridgePayment,
    BridgePaymentKey,
    BridgeRefund,
    BridgeStorno,
)
from punte.worker import queue

from . import events
from .bridge_config import VERIFICATIONS, decrypted
from .bridge_sale import Problem, build_request, combined_sale
from .bridge_storno import partial_storno
from .issuing import create_document, today_in_romania
from .operations import reverse_invoice
from .payments import canonical_type, create_payment, paid_amount

log = logging.getLogger("punte.bridge")

JOB_PROCESS = "bridge.process"  # also spelled in bridge_ops
JOB_REMOTE = "bridge.remote"
EMAIL_REFUSED = ("Documentul nu poate fi trimis pe e-mail", "Trimiterea documentelor pe e-mail nu este configurata")
ZERO = Decimal(0)


class UnknownBridge(Exception):  # noqa: N818
    """No enabled bridge for that company and provider (the route answers 404)."""


def _now() -> datetime:
    return datetime.now(UTC)


# ===== inbox =====================================================================================================


@dataclass(frozen=True)
class Receipt:
    """What the route tells the provider: the event was stored now, or had been stored before."""

    event_id: str
    event_type: str
    stored: bool


def receive(
    db: Database, box: SecretBox, provider_name: str, cif: str, body: bytes, headers: Mapping[str, str], *,
    now: float | None = None, services: Mapping[str, Any] | None = None,
) -> Receipt:
    """Verify and store one delivery (raises :class:`InvalidDelivery` or :class:`UnknownBridge`)."""
    provider = PROVIDERS.get(provider_name)
    if provider is None:
        raise UnknownBridge(provider_name)
    services = services or {}
    found = VERIFICATIONS.get(db, cif, provider_name, box)
    if found is None:
        raise UnknownBridge(f"{provider_name}/{cif}")
    lowered = {k.lower(): v for k, v in headers.items()}
    stamp = now if now is not None else _now().timestamp()
    provider.verify(body, lowered, found.secrets, VerifyContext(
        now=stamp, options=found.options, fetch=services.get("paypal_cert_fetch") or _certificates().fetch,
        trust_roots=services.get("paypal_trust_roots"),
    ))
    envelope = provider.envelope(body, lowered)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidDelivery("corpul cererii nu este UTF-8") from exc
    kept = {h: lowered[h] for h in provider.kept_headers if h in lowered}
    delivery = Delivery(found.company_id, provider_name, envelope.event_id, envelope.event_type, text, kept,
                        _now())
    if db.journal is not None:
        stored = _journal(db, db.journal, delivery)
    else:
        with db.session(write=True) as session:
            stored = _into_inbox(session, delivery)
    if stored:
        queue.WAKE.set()  # an in-process worker starts at once
    return Receipt(envelope.event_id, envelope.event_type, stored)


def _journal(db: Database, journal: AckJournal, delivery: Delivery) -> bool:
    """On SQLite: keep the delivery in the journal (no wait for the database's write lock); False for a
    delivery already in the inbox or the journal."""
    inbox = BridgeInbox.__table__
    with db.engine.connect() as conn:
        known = conn.execute(select(inbox.c.id).where(
            inbox.c.company_id == delivery.company_id, inbox.c.provider == delivery.provider,
            inbox.c.event_id == delivery.event_id)).first()
    return known is None and journal.append(delivery)


def drain_journal(db: Database, *, batch: int = 200) -> int:
    """Move the journal's deliveries into the inbox with their ``bridge.process`` jobs; returns how many
    were new there. Each batch is one transaction of the database, then removed from the journal: moved
    twice (a crash in between), a delivery is a repeat and changes nothing."""
    journal = db.journal
    if journal is None:
        return 0
    moved = 0
    while True:
        deliveries = journal.pending(batch)
        if not deliveries:
            return moved
        with db.session(write=True) as session:
            moved += sum(_into_inbox(session, d) for d in deliveries)
        journal.remove([d.id for d in deliveries if d.id is not None])
        journal.checkpoint()
        if len(deliveries) < batch:
            return moved


_CERTS: list[Any] = []


def _certificates() -> Any:
    """The process's cache of PayPal certificates (downloaded from PayPal's hosts only)."""
    if not _CERTS:
        from .bridge_clients import CertificateCache

        _CERTS.append(CertificateCache())
    return _CERTS[0]


_INBOX_COLUMNS = ("company_id", "provider", "event_id", "event_type", "body", "headers", "received_at", "status",
                  "detail", "attempts")
_JOB_COLUMNS = ("kind", "key", "company_id", "payload", "status", "attempts", "max_attempts", "run_at", "created_at")
_STATEMENTS: dict[str, tuple[Any, Any]] = {}


def _statements(session: Session) -> tuple[Any, Any]:
    """The two INSERT ... ON CONFLICT DO NOTHING of the inbox, built once per dialect (the hot path)."""
    dialect = session.get_bind().dialect.name
    found = _STATEMENTS.get(dialect)
    if found is None:
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        inbox = BridgeInbox.__table__
        jobs = Job.__table__
        found = (
            insert(inbox).values({c: bindparam(c, type_=inbox.c[c].type) for c in _INBOX_COLUMNS})
            .on_conflict_do_nothing(index_elements=["company_id", "provider", "event_id"]).returning(inbox.c.id),
            insert(jobs).values({c: bindparam(c, type_=jobs.c[c].type) for c in _JOB_COLUMNS})
            .on_conflict_do_nothing(index_elements=["kind", "key"]),
        )
        _STATEMENTS[dialect] = found
    return found


def _into_inbox(session: Session, d: Delivery) -> bool:
    """The delivery's inbox row and its ``bridge.process`` job, in the caller's transaction; False for a
    repeat (nothing written)."""
    inbox_id = _insert_inbox(session, d.company_id, d.provider, d.event_id, d.event_type, d.body, d.headers,
                             d.received_at)
    if inbox_id is None:
        return False
    _insert_job(session, d.company_id, inbox_id, f"{d.provider}:{d.company_id}:{d.event_id}")
    return True


def _insert_job(session: Session, company_id: int, inbox_id: int, key: str) -> None:
    """The ``bridge.process`` job of a new inbox row, in the same transaction (the outbox's enqueue, in one
    statement: the key is new with the row, and a leftover job of that key is left alone)."""
    at = _now()
    session.connection().execute(_statements(session)[1], {
        "kind": JOB_PROCESS, "key": key, "company_id": company_id, "payload": {"inbox_id": inbox_id},
        "status": "queued", "attempts": 0, "max_attempts": 12, "run_at": at, "created_at": at,
    })


def _insert_inbox(session: Session, company_id: int, provider: str, event_id: str, event_type: str, body: str,
                  headers: dict[str, str], received_at: datetime) -> int | None:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING id: the id of a new row, None for a repeat."""
    result = session.connection().execute(_statements(session)[0], {
        "company_id": company_id, "provider": provider, "event_id": event_id, "event_type": event_type[:100],
        "body": body, "headers": headers, "received_at": received_at, "status": "received", "detail": {}, "attempts": 0,
    })
    return result.scalar_one_or_none()


# ===== processing ===============================================================================================


@dataclass
class Outcome:
    """What processing an event came to (stored on the inbox row, shown by ``punte bridge events``)."""

    status: str  # done | waiting | ignored | failed
    text: str
    detail: dict[str, Any] = field(default_factory=dict)
    retry_after: float | None = None


@dataclass(frozen=True)
class _Loaded:
    inbox_id: int
    company_id: int
    provider: str
    event: dict[str, Any]
    headers: dict[str, str]
    config: dict[str, Any] | None
    api_key: str | None
    known_sources: dict[str, Any] | None


def process_inbox(db: Database, settings: Settings, inbox_id: int, services: Mapping[str, Any] | None = None, *,
                  now: datetime | None = None) -> Outcome:
    """Run one stored event through the bridge (idempotent: running it again changes nothing more)."""
    services = dict(services or {})
    box = SecretBox(settings.resolved_secret_key())
    found = _load(db, box, inbox_id)
    if found is None:
        return Outcome("ignored", "evenimentul nu mai exista")
    loaded, meaning = found
    if meaning.facts is None:
        outcome = Outcome("ignored", meaning.ignored)
        with db.session(write=True) as session:
            _finish(session, inbox_id, outcome, payment_id=None)
        return outcome
    facts = [meaning.facts]
    notes: list[str] = []
    enrich = _ENRICHERS.get(loaded.provider)
    if enrich is not None and loaded.config is not None:
        facts = enrich(loaded, facts, services, notes)
    with db.session(write=True) as session:
        outcome = _apply(session, loaded, facts, now or _now(), notes)
    return outcome


def _load(db: Database, box: SecretBox, inbox_id: int) -> tuple[_Loaded, Interpretation] | None:
    with db.session() as session:
        row = session.get(BridgeInbox, inbox_id)
        if row is None:
            return None
        config = session.scalar(select(BridgeConfig).where(BridgeConfig.company_id == row.company_id,
                                                           BridgeConfig.provider == row.provider))
        event = json.loads(row.body)
        provider = PROVIDERS[row.provider]
        meaning = provider.interpret(event, row.headers or {})
        known = None
        if meaning.facts is not None and row.provider in _ENRICHERS and config is not None and config.api_key_enc:
            payment = _find_payment(session, row.company_id, row.provider, meaning.facts.keys)
            known = dict(payment.sources or {}) if payment is not None else None
        return _Loaded(
            inbox_id=row.id, company_id=row.company_id, provider=row.provider, event=event,
            headers=dict(row.headers or {}),
            config={"api_base_url": config.api_base_url, "options": dict(config.options or {})} if config else None,
            api_key=decrypted(box, config.api_key_enc) if config is not None else None, known_sources=known,
        ), meaning


def _find_payment(session: Session, company_id: int, provider: str, keys: tuple[str, ...]) -> BridgePayment | None:
    if not keys:
        return None
    payment_id = session.scalar(
        select(BridgePaymentKey.payment_id).where(
            BridgePaymentKey.company_id == company_id, BridgePaymentKey.provider == provider,
            BridgePaymentKey.key.in_(keys),
        ).order_by(BridgePaymentKey.payment_id).limit(1)
    )
    return session.get(BridgePayment, payment_id) if payment_id is not None else None


# -- fetching what the events leave out (outside any transaction) ------------------------------------------------


def _enrich_stripe(loaded: _Loaded, facts: list[Facts], services: dict[str, Any], notes: list[str]) -> list[Facts]:
    from punte.providers import stripe as stripe_provider

    from .bridge_clients import Refused, Unavailable, stripe_api

    if not loaded.api_key:
        return facts
    first = facts[0]
    known = loaded.known_sources or {}
    base_url = (loaded.config or {}).get("api_base_url")
    sale = first.sale
    with stripe_api(loaded.api_key, base_url, services) as api:
        session_known = (known.get("checkout.session") or {}).get("sale") or {}
        if sale is not None and sale.fetch_lines and not session_known.get("lines"):
            try:
                items = api.session_line_items(sale.fetch_lines)
            except Refused as exc:
                notes.append(f"liniile sesiunii nu au putut fi citite din Stripe: {exc}")
            else:
                obj = (loaded.event.get("data") or {}).get("object") or {}
                currency = sale.currency or ""
                lines = stripe_provider.checkout_line_items(items, currency)
                extra = stripe_provider.shipping_line(obj, currency)
                if lines:
                    sale = replace(sale, lines=lines + ((extra,) if extra else ()), lines_rule="line_items (API)",
                                   fetch_lines=None)
                    first = replace(first, sale=sale)
        if first.source in ("payment_intent", "charge") and loaded.known_sources is None:
            intent = next((k for k in first.keys if k.startswith("pi_")), None)
            if intent and not any(k.startswith("in_") for k in first.keys):
                try:
                    invoices = api.invoices_paid_by(intent)
                except (Refused, Unavailable) as exc:  # a link only: the payment goes on without it
                    notes.append(f"legatura cu facturile Stripe nu a putut fi verificata: {exc}")
                else:
                    if invoices:
                        first = replace(first, keys=first.keys + tuple(invoices))
    return [first, *facts[1:]]


def _enrich_paypal(loaded: _Loaded, facts: list[Facts], services: dict[str, Any], notes: list[str]) -> list[Facts]:
    from punte.providers.paypal import order_sale

    from .bridge_clients import Refused, paypal_api

    first = facts[0]
    known = loaded.known_sources or {}
    order_id = first.sale.fetch_lines if first.sale is not None else None
    if not loaded.api_key or not order_id or known.get("order"):
        return facts
    try:
        with paypal_api(loaded.api_key, (loaded.config or {}).get("api_base_url"), services) as api:
            order = api.order(order_id)
    except Refused as exc:
        notes.append(f"comanda PayPal nu a putut fi citita: {exc}")
        return facts
    sale, captures, completed = order_sale(order)
    keys = tuple(k for k in (str(order.get("id") or order_id), *captures) if k)
    return [first, Facts(keys=keys, source="order", rank=1, confirmed=completed, strong=True, sale=sale,
                         currency=sale.currency)]


_ENRICHERS = {"stripe": _enrich_stripe, "paypal": _enrich_paypal}


# -- one unit of work ------------------------------------------------------------------------------------------


def _apply(session: Session, loaded: _Loaded, facts: list[Facts], now: datetime, notes: list[str]) -> Outcome:
    company = session.get(Company, loaded.company_id)
    assert company is not None
    config = session.scalar(select(BridgeConfig).where(BridgeConfig.company_id == company.id,
                                                       BridgeConfig.provider == loaded.provider))
    if config is None:
        outcome = Outcome("ignored", "puntea nu mai este configurata")
        _finish(session, loaded.inbox_id, outcome, payment_id=None)
        return outcome
    keys = tuple(dict.fromkeys(k for f in facts for k in f.keys))
    payment = resolve_payment(session, company.id, loaded.provider, keys, now)
    for item in facts:
        _merge(session, payment, item)
    outcome = advance(session, company, config, payment, now)
    if notes:
        outcome.detail.setdefault("notes", notes)
    if facts[0].note and outcome.status != "done":
        outcome.detail.setdefault("event", facts[0].note)
    _finish(session, loaded.inbox_id, outcome, payment_id=payment.id)
    return outcome


def _finish(session: Session, inbox_id: int, outcome: Outcome, *, payment_id: int | None) -> None:
    session.execute(
        update(BridgeInbox).where(BridgeInbox.id == inbox_id).values(
            status=outcome.status, outcome=outcome.text[:300], detail=outcome.detail, payment_id=payment_id,
            processed_at=_now(), attempts=BridgeInbox.attempts + 1,
        ).execution_options(synchronize_session=False)
    )


def resolve_payment(session: Session, company_id: int, provider: str, keys: tuple[str, ...],
                    now: datetime) -> BridgePayment:
    """The payment named by any of ``keys`` (created when none is), locked, with every key registered.

    Two workers seeing a new payment at once both try to register its keys; the unique constraint lets
    one win and the other finds the winner's payment. When an event reveals that two known payments are
    one (a late link between a PaymentIntent and a Stripe invoice), they are merged into the older one.
    """
    locking = session.get_bind().dialect.name != "sqlite"
    for _ in range(8):
        rows = session.execute(
            select(BridgePaymentKey.key, BridgePaymentKey.payment_id).where(
                BridgePaymentKey.company_id == company_id, BridgePaymentKey.provider == provider,
                BridgePaymentKey.key.in_(keys),
            )
        ).all()
        ids = sorted({r.payment_id for r in rows})
        if not ids:
            try:
                with session.begin_nested():
                    payment = BridgePayment(
                        company_id=company_id, provider=provider, status="collecting", confirmed=False, sources={},
                        overrides={}, missing=[], refund_claimed=ZERO, refunded=ZERO, first_seen_at=now,
                        updated_at=now,
                    )
                    session.add(payment)
                    session.flush()
                    session.add_all([BridgePaymentKey(company_id=company_id, provider=provider, key=k,
                                                      payment_id=payment.id) for k in keys])
                    session.flush()
                return payment
            except IntegrityError:
                continue
        stmt = select(BridgePayment).where(BridgePayment.id.in_(ids)).order_by(BridgePayment.id)
        if locking:
            stmt = stmt.with_for_update().execution_options(populate_existing=True)
        payments = list(session.scalars(stmt))
        if any(p.status == "merged" for p in payments):
            continue  # folded into another payment while we waited for the lock: its keys moved, look again
        main = payments[0]
        for other in payments[1:]:
            main = _merge_payments(session, main, other)
        registered = {r.key for r in rows}
        missing = [k for k in keys if k not in registered]
        try:
            with session.begin_nested():
                session.add_all([BridgePaymentKey(company_id=company_id, provider=provider, key=k,
                                                  payment_id=main.id) for k in missing])
                session.flush()
        except IntegrityError:
            continue
        return main
    raise RuntimeError(f"payment keys {keys} keep changing under us")


def _merge_payments(session: Session, main: BridgePayment, other: BridgePayment) -> BridgePayment:
    """Two payment rows turned out to be one payment: fold one into the other, return the one kept.

    The one that already has its document is kept (else the older one).
    """
    if not (main.document_id or main.linked_document_id) and (other.document_id or other.linked_document_id):
        main, other = other, main
    session.execute(update(BridgePaymentKey).where(BridgePaymentKey.payment_id == other.id)
                    .values(payment_id=main.id))
    sources = dict(main.sources or {})
    for key, entry in (other.sources or {}).items():
        if key not in sources or _better(entry, sources[key]):
            sources[key] = entry
    main.sources = sources
    main.confirmed = main.confirmed or other.confirmed
    main.refund_claimed = max(main.refund_claimed, other.refund_claimed)
    for refund in session.scalars(select(BridgeRefund).where(BridgeRefund.payment_id == other.id)):
        exists = session.scalar(select(BridgeRefund.id).where(BridgeRefund.payment_id == main.id,
                                                              BridgeRefund.refund_key == refund.refund_key))
        if exists is None:
            refund.payment_id = main.id
    if other.document_id or other.linked_document_id:
        docs = [d for d in (main.document_id, other.document_id) if d]
        events.record(session, company_id=main.company_id, entity="bridge_payment", entity_id=main.id,
                      action="duplicate_documents", actor="bridge",
                      data={"documents": docs, "merged_payment": other.id})
        log.error("payments %s and %s are one payment but both have documents: %s", main.id, other.id, docs)
    session.execute(update(BridgeInbox).where(BridgeInbox.payment_id == other.id).values(payment_id=main.id))
    session.execute(update(BridgePayment).where(BridgePayment.id == other.id).values(
        status="merged", sources={}, last_error=f"unit cu plata {main.id}"))
    session.flush()
    return main


def _better(new: Mapping[str, Any], old: Mapping[str, Any]) -> bool:
    if bool(new.get("confirmed")) != bool(old.get("confirmed")):
        return bool(new.get("confirmed"))
    return int(new.get("occurred_at") or 0) >= int(old.get("occurred_at") or 0)


def _merge(session: Session, payment: BridgePayment, facts: Facts) -> None:
    """Give the payment what one event said (its sale data, confirmation and refunds)."""
    settled = payment.status in ("issued", "linked", "sending", "merged")  # its sale data no longer matters
    if facts.sale is not None and not settled:
        entry = {"rank": facts.rank, "confirmed": facts.confirmed, "strong": facts.strong,
                 "occurred_at": facts.occurred_at, "sale": sale_to_json(facts.sale)}
        sources = dict(payment.sources or {})
        old = sources.get(facts.source)
        if old is None or _better(entry, old):
            if old is not None and old.get("sale", {}).get("lines") and not entry["sale"].get("lines"):
                entry["sale"] = {**entry["sale"], "lines": old["sale"]["lines"],
                                 "lines_rule": old["sale"]["lines_rule"]}
            sources[facts.source] = entry
        elif entry["sale"].get("lines") and not old.get("sale", {}).get("lines"):
            sources[facts.source] = {**old, "sale": {**old["sale"], "lines": entry["sale"]["lines"],
                                                     "lines_rule": entry["sale"]["lines_rule"]}}
        payment.sources = sources
    if facts.confirmed and not payment.confirmed:
        payment.confirmed = True
    if facts.failed and not payment.confirmed and payment.status == "collecting":
        payment.status = "ignored"
        payment.last_error = facts.note
    payment.currency = payment.currency or facts.currency
    if not facts.refunds and facts.refunded_total is None:
        if not settled:
            payment.updated_at = _now()
        return
    rows = session.scalars(select(BridgeRefund).where(BridgeRefund.payment_id == payment.id))
    known = {r.refund_key: r.amount for r in rows}
    for claim in facts.refunds:
        if claim.key not in known:
            session.add(BridgeRefund(payment_id=payment.id, refund_key=claim.key, amount=claim.amount))
            known[claim.key] = claim.amount
    claimed = max(payment.refund_claimed or ZERO, facts.refunded_total or ZERO, sum(known.values(), ZERO))
    if claimed != payment.refund_claimed:
        payment.refund_claimed = claimed
    payment.updated_at = _now()
    session.flush()


# -- moving a payment forward -------------------------------------------------------------------------------------


def advance(session: Session, company: Company, config: BridgeConfig, payment: BridgePayment,
            now: datetime) -> Outcome:
    """Take the payment as far as its data allows: invoice once, stornos for what is refunded."""
    if payment.status == "merged":
        return Outcome("done", "plata a fost unita cu alta")
    if payment.status in ("issued", "linked"):
        return _after_invoice(session, company, config, payment, already=True)
    if payment.status == "sending":
        return Outcome("done", "factura este in curs de emitere in SmartBill")
    if payment.status == "ignored":
        return Outcome("ignored", payment.last_error or "plata nu a fost incasata")
    if not payment.confirmed:
        if payment.refund_claimed > 0:
            return Outcome("waiting", "rambursarea asteapta factura platii")
        return Outcome("waiting", "plata nu este confirmata inca")
    sale = combined_sale(payment.sources or {}, payment.overrides)
    if sale is None:
        return Outcome("waiting", "nu se stie inca ce s-a vandut (asteapta evenimentul platii)")
    strong = any(isinstance(e, Mapping) and e.get("strong") for e in (payment.sources or {}).values())
    waited = (now - payment.first_seen_at).total_seconds()
    if not strong and sale.document_id is None and config.settle_seconds and waited < config.settle_seconds:
        return Outcome("waiting", "se asteapta evenimentele cu datele complete ale platii",
                       retry_after=config.settle_seconds - waited + 0.5)
    payment.amount = sale.total
    payment.currency = sale.currency or payment.currency
    if sale.document_id is not None:
        return _pay_document(session, company, config, payment, sale.document_id, sale)
    day = today_in_romania()
    provider_word = {"stripe": "Stripe", "shopify": "Shopify", "paypal": "PayPal"}.get(payment.provider,
                                                                                      payment.provider)
    reference = sale.reference or _main_key(session, payment)
    request, problems = build_request(
        session, company, sale, series=config.series, default_vat=config.vat_rate,
        reverse_charge=config.reverse_charge, email_payer=config.email_payer,
        mentions=f"Incasat prin {provider_word} ({reference})", day=day,
    )
    if problems or request is None:
        return _fail(session, company, config, payment, problems)
    if config.target == "smartbill":
        request.invoice.companyVatCode = config.smartbill_cif
        payment.status = "sending"
        payment.remote_request = request.invoice.to_wire()
        payment.remote_expected_number = None
        payment.missing = []
        _remote_job(session, company, payment, "invoice")
        events.record(session, company_id=company.id, entity="bridge_payment", entity_id=payment.id,
                      action="remote_intent", actor=config.issuer, data={"target": config.smartbill_url})
        return Outcome("done", "factura se emite in SmartBill")
    try:
        document = _issue(session, company, config, request.invoice)
    except DomainError as exc:
        return _fail(session, company, config, payment, [Problem("document", "invalid", exc.text)])
    payment.document_id = document.id
    payment.status = "issued"
    payment.issued_at = _now()
    payment.missing = []
    payment.last_error = None
    events.record(session, company_id=company.id, entity="bridge_payment", entity_id=payment.id, action="invoiced",
                  actor=config.issuer, data={"provider": payment.provider, "document_id": document.id,
                                             "document": f"{document.series_name}{document.number_text}",
                                             "amount": sale.total, "currency": sale.currency})
    _settle_siblings(session, payment, f"facturata: {_label(document)}")
    return _after_invoice(session, company, config, payment, already=False)


def _settle_siblings(session: Session, payment: BridgePayment, text: str) -> None:
    """The payment's other events that failed or waited are settled too: their payment is invoiced."""
    session.execute(
        update(BridgeInbox).where(BridgeInbox.payment_id == payment.id, BridgeInbox.status.in_(("failed", "waiting")))
        .values(status="done", outcome=text[:300], processed_at=_now()).execution_options(synchronize_session=False)
    )


def _main_key(session: Session, payment: BridgePayment) -> str:
    return session.scalar(select(BridgePaymentKey.key).where(BridgePaymentKey.payment_id == payment.id)
                          .order_by(BridgePaymentKey.id).limit(1)) or str(payment.id)


def _issue(session: Session, company: Company, config: BridgeConfig, request: InvoiceRequest) -> Document:
    """Issue through the engine in a savepoint (a refusal leaves nothing behind, no number taken)."""
    try:
        with session.begin_nested():
            return create_document(session, company, request, kind=INVOICE, actor=config.issuer).document
    except DomainError as exc:
        if not (request.sendEmail and exc.text.startswith(EMAIL_REFUSED)):
            raise
        exc_text = exc.text
    quiet = request.model_copy(update={"sendEmail": False, "email": None})
    with session.begin_nested():
        document = create_document(session, company, quiet, kind=INVOICE, actor=config.issuer).document
    events.record(session, company_id=company.id, entity="document", entity_id=document.id,
                  action="payer_email_skipped", actor=config.issuer,
                  data={"to": request.email.to if request.email else None, "reason": exc_text})
    return document


def _label(document: Any) -> str:
    return f"{document.series_name}{document.number_text}" if document is not None else "?"


def _after_invoice(session: Session, company: Company, config: BridgeConfig, payment: BridgePayment, *,
                   already: bool) -> Outcome:
    """The payment has its invoice (or paid a document): say so, and storno what was refunded since."""
    target_id = payment.document_id or payment.linked_document_id
    storno_due = (payment.refund_claimed or ZERO) > (payment.refunded or ZERO)
    document = None
    if target_id and storno_due:
        document = session.get(Document, target_id)
    elif target_id:
        document = session.execute(select(Document.series_name, Document.number_text)
                                   .where(Document.id == target_id)).one_or_none()
    if payment.remote_number:
        head = f"factura SmartBill {payment.remote_series}{payment.remote_number}"
    else:
        head = f"factura {_label(document)}"
    text = (f"deja facturata: {head}" if already else f"{head} emisa") if payment.status == "issued" else (
        f"plata inregistrata pe documentul {_label(document)}")
    detail: dict[str, Any] = {"document": head}
    storno = _storno_refunds(session, company, config, payment, document) if storno_due else None
    if storno is not None:
        if isinstance(storno, Problem):
            detail["problems"] = [storno.as_dict()]
            return Outcome("failed", f"{text}; storno: {storno.text}", detail)
        text += f"; {storno}"
    return Outcome("done", text, detail)


def _storno_refunds(session: Session, company: Company, config: BridgeConfig, payment: BridgePayment,
                    document: Document | None) -> str | Problem | None:
    wanted = payment.refund_claimed or ZERO
    if wanted <= (payment.refunded or ZERO):
        return None
    if payment.remote_number or payment.status == "sending":
        return _remote_storno_needed(session, company, config, payment)
    if document is None:
        return None
    amount = min(wanted, document.gross_total) - (payment.refunded or ZERO)
    if amount <= 0:
        return None
    whole = payment.refunded == 0 and amount == document.gross_total and not session.scalar(
        select(func.count()).select_from(BridgeStorno).where(BridgeStorno.payment_id == payment.id))
    try:
        with session.begin_nested():
            if whole:
                storno = reverse_invoice(session, company, document.series_name, document.number_text, None,
                                         actor=config.issuer)
            else:
                storno = partial_storno(session, company, document, amount, actor=config.issuer,
                                        note=f"rambursare {payment.provider}")
    except DomainError as exc:
        problem = Problem("storno", "invalid", exc.text)
        if payment.last_error != str(problem):
            payment.last_error = str(problem)
            events.record(session, company_id=company.id, entity="bridge_payment", entity_id=payment.id,
                          action="storno_failed", actor=config.issuer, data={"problem": problem.as_dict()})
            _notify(session, company, config, payment, [problem], subject="Storno neemis din rambursare")
        return problem
    session.add(BridgeStorno(payment_id=payment.id, document_id=storno.id, amount=amount))
    payment.refunded = (payment.refunded or ZERO) + amount
    payment.last_error = None
    events.record(session, company_id=company.id, entity="bridge_payment", entity_id=payment.id, action="stornoed",
                  actor=config.issuer, data={"storno_id": storno.id, "storno": _label(storno), "amount": amount,
                                             "whole": whole})
    return f"storno {_label(storno)} ({'total' if whole else 'partial'}, {format(amount, 'f')} {document.currency})"


def _remote_job(session: Session, company: Company, payment: BridgePayment, action: str) -> None:
    """Queue the SmartBill call (keyed per payment and action); a finished one is run again (a retry)."""
    job = queue.enqueue(session, JOB_REMOTE, {"payment_id": payment.id, "action": action}, company_id=company.id,
                        key=f"{action}:{payment.id}")
    if job.status in ("done", "dead"):
        queue.requeue(session, job.id)


def _remote_storno_needed(session: Session, company: Company, config: BridgeConfig,
                          payment: BridgePayment) -> str | Problem | None:
    if not payment.remote_number:
        return "storno dupa emiterea facturii in SmartBill"
    total = payment.amount or ZERO
    if payment.refunded == 0 and payment.refund_claimed >= total:
        _remote_job(session, company, payment, "storno")
        return "storno in curs in SmartBill"
    problem = Problem("storno", "invalid", "stornarea partiala nu se poate face automat in SmartBill; "
                      f"emiteti manual stornarea a {format(payment.refund_claimed - payment.refunded, 'f')}")
    if payment.last_error != str(problem):
        payment.last_error = str(problem)
        _notify(session, company, config, payment, [problem], subject="Storno partial de emis manual")
    return problem


def _fail(session: Session, company: Company, config: BridgeConfig, payment: BridgePayment,
          problems: list[Problem]) -> Outcome:
    """Record why the invoice cannot be made; notify the company once per distinct reason."""
    found = [p.as_dict() for p in problems]
    text = "factura nu poate fi emisa: " + "; ".join(str(p) for p in problems)
    if payment.status != "failed" or payment.missing != found:
        payment.status = "failed"
        payment.missing = found
        payment.last_error = text[:4000]
        events.record(session, company_id=company.id, entity="bridge_payment", entity_id=payment.id,
                      action="invoice_failed", actor=config.issuer, data={"problems": found})
        _notify(session, company, config, payment, problems, subject="Factura neemisa dintr-o plata")
    return Outcome("failed", text, {"problems": found})


def _notify(session: Session, company: Company, config: BridgeConfig, payment: BridgePayment,
            problems: list[Problem], *, subject: str) -> None:
    """Tell the company's address and the bridge's user (its ``issuer``, when that is an e-mail address, as a
    dashboard or API user's login is) by e-mail, as the seed promises; always log an event."""
    keys = list(session.scalars(select(BridgePaymentKey.key).where(BridgePaymentKey.payment_id == payment.id)))
    issuer_to = (config.issuer.strip(),) if "@" in config.issuer else ()
    body = (
        f"Plata {payment.provider} {', '.join(keys)} ({payment.amount or ''} {payment.currency or ''}) "
        f"nu a putut fi procesata automat.\n\n"
        + "\n".join(f"- {p}" for p in problems)
        + "\n\nCorectati datele si reluati cu: punte bridge retry <eveniment> (vezi punte bridge events --cif "
        f"{company.cif}).\nUtilizatorul puntii: {config.issuer}"
    )
    events.record(session, company_id=company.id, entity="bridge_payment", entity_id=payment.id,
                  action="notified", actor="bridge",
                  data={"to": company.email, "issuer": issuer_to[0] if issuer_to else None, "subject": subject,
                        "body": body})
    from punte.services.email import notify_company

    notify_company(session, company, f"{subject} ({payment.provider})", body, also_to=issuer_to)


# -- invoice first: the payment pays a document punte already issued -------------------------------------------


def _pay_document(session: Session, company: Company, config: BridgeConfig, payment: BridgePayment,
                  document_id: int, sale: Any) -> Outcome:
    document = session.get(Document, document_id)
    if document is None or document.company_id != company.id or document.status != "issued":
        return _fail(session, company, config, payment, [
            Problem("metadata.punte_document_id", "invalid", f"documentul {document_id} nu exista sau nu este emis")])
    value = sale.paid if sale.paid is not None else sale.total
    if value is None or value <= 0:
        return _fail(session, company, config, payment, [Problem("amount", "missing", "suma platita lipseste")])
    if (sale.currency or document.currency).upper() != document.currency:
        return _fail(session, company, config, payment, [
            Problem("currency", "invalid", f"plata este in {sale.currency}, documentul in {document.currency}")])
    ptype = canonical_type(sale.payment_type)
    if document.kind == "proforma":
        invoice = session.scalar(select(Document).where(Document.estimate_id == document.id,
                                                        Document.kind == INVOICE, Document.status == "issued"))
        if invoice is None:
            request = InvoiceRequest(
                companyVatCode=company.cif, seriesName=config.series, useEstimateDetails=True,
                estimate=EstimateRef(seriesName=document.series_name, number=document.number_text),
                issueDate=today_in_romania().isoformat(),
                payment=PaymentData(value=min(value, document.gross_total), type=ptype, isCash=False),
            )
            try:
                with session.begin_nested():
                    invoice = create_document(session, company, request, kind=INVOICE, actor=config.issuer).document
            except DomainError as exc:
                return _fail(session, company, config, payment, [Problem("document", "invalid", exc.text)])
            payment.document_id = invoice.id
            payment.status = "issued"
            payment.issued_at = _now()
            payment.missing = []
            events.record(session, company_id=company.id, entity="bridge_payment", entity_id=payment.id,
                          action="invoiced", actor=config.issuer,
                          data={"document_id": invoice.id, "document": _label(invoice), "from_proforma": document.id})
            _settle_siblings(session, payment, f"facturata: {_label(invoice)}")
            return _after_invoice(session, company, config, payment, already=False)
        document = invoice
    unpaid = document.gross_total - paid_amount(session, document.id)
    if value > unpaid:
        return _fail(session, company, config, payment, [Problem(
            "amount", "invalid",
            f"plata de {value} depaseste restul de plata al documentului {_label(document)} ({unpaid})")])
    _collect(session, company, document, value, ptype, actor=config.issuer)
    payment.linked_document_id = document.id
    payment.status = "linked"
    payment.issued_at = _now()
    payment.missing = []
    events.record(session, company_id=company.id, entity="bridge_payment", entity_id=payment.id, action="linked",
                  actor=config.issuer, data={"document_id": document.id, "document": _label(document), "value": value})
    _settle_siblings(session, payment, f"incasata pe {_label(document)}")
    return _after_invoice(session, company, config, payment, already=False)


def _collect(session: Session, company: Company, document: Document, value: Decimal, ptype: str, *,
             actor: str) -> Payment:
    """A payment received later against an issued invoice, through the payments service (dated today)."""
    request = PaymentRequest(
        companyVatCode=company.cif, type=ptype, value=value, isCash=False, issueDate=today_in_romania().isoformat(),
        invoicesList=[InvoiceRef(seriesName=document.series_name, number=document.number_text)],
        observation="Incasat prin puntea de plati",
    )
    return create_payment(session, company, request, actor=actor).payment


# ===== worker handlers ============================================================================================


def _register_handlers() -> None:
    from punte.worker.runner import JobContext, Retry, handler, intake

    from .bridge_clients import Unavailable
    from .bridge_remote import run_remote

    @handler(JOB_PROCESS)
    def _process(ctx: JobContext) -> None:
        outcome = process_inbox(ctx.db, ctx.settings, int(ctx.job.payload["inbox_id"]), ctx.services)
        if outcome.retry_after is not None:
            raise Retry(outcome.text, after=outcome.retry_after)

    @handler(JOB_REMOTE)
    def _remote(ctx: JobContext) -> None:
        try:
            run_remote(ctx.db, ctx.settings, int(ctx.job.payload["payment_id"]), str(ctx.job.payload["action"]),
                       ctx.services)
        except Unavailable as exc:
            raise Retry(str(exc), count=True) from exc

    @intake("bridge.journal")
    def _drain(db: Database, _settings: Settings) -> int:
        return drain_journal(db)


_register_handlers()

# The operators' side (listing, retrying) lives in bridge_ops; it is part of this module's surface.
from .bridge_ops import (  # noqa: E402 - bridge_ops builds on the definitions above
    EventRow,
    find_event,
    find_event_any,
    list_events,
    payment_summary,
    prepare_retry,
    requeue,
)

__all__ = [
    "EventRow", "JOB_PROCESS", "JOB_REMOTE", "Outcome", "Receipt", "UnknownBridge", "advance", "drain_journal",
    "find_event",
    "find_event_any", "list_events", "payment_summary", "prepare_retry", "process_inbox", "receive", "requeue",
    "resolve_payment",
]
