"""Invoice first, pay later: a Stripe Checkout link for a punte invoice or proforma.

``POST /invoice`` or ``/estimate`` with ``paymentUrl: "Generate URL"`` makes the issuing service ask here
for a Checkout Session (when the company configured a Stripe API key): one line with the document's
total, metadata carrying punte's document id (on the session and on its PaymentIntent, so every event
of the payment names the document), an idempotency key per document. The URL is stored on the document
and answered in ``url``. When the session is paid, the bridge records the payment against that document
(a paid proforma becomes an invoice) instead of issuing another invoice.

Stripe is called only once the document is committed, never inside the issuing transaction: that
transaction holds the series lock (on SQLite the database's write lock), so a slow Stripe would stop
every other issuer. What can be checked before (a Stripe bridge with an API key, a total Stripe can
charge) still refuses the document before it takes a number; ``create_document`` then returns a
:class:`PendingCheckout` (``Issued.checkout``). The caller that commits completes it explicitly: the API
route hands ``run_write`` a finisher, which runs after the commit outside any transaction and calls
:func:`complete_checkout`: the session is created, then stored on the document in a second short
transaction; ``run_write`` puts the URL in the answer and in the row kept for its ``Idempotency-Key``.
When Stripe fails at that point the document stays issued: the answer has ``url: ""`` and a ``message``
with Stripe's reason, and the failure is an event on the document (``checkout_failed``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from punte.crypto import SecretBox
from punte.domain.documents import INVOICE, PROFORMA
from punte.domain.errors import DomainError
from punte.providers.stripe import DOCUMENT_METADATA, to_minor
from punte.store.db import Database
from punte.store.models import Company, Document, Event
from punte.store.models_bridge import BridgeCheckout

from . import events
from .bridge_clients import Refused, Unavailable, stripe_api
from .bridge_config import decrypted, get_config
from .payments import paid_amount

log = logging.getLogger("punte.bridge")

ZERO = Decimal(0)
NOT_CONFIGURED = (
    "Nu este configurat niciun procesator de plati pentru generarea linkului de plata. "
    "Trimiteti in paymentUrl linkul de plata."
)


@dataclass
class Runtime:
    """What the checkout needs from the running installation (set by the API app at start)."""

    secret_key: str | None = None
    public_url: str = "http://127.0.0.1:8000"
    services: dict[str, Any] = field(default_factory=dict)


RUNTIME = Runtime()


def configure_runtime(secret_key: str, public_url: str, services: dict[str, Any] | None = None) -> None:
    RUNTIME.secret_key = secret_key
    RUNTIME.public_url = public_url
    RUNTIME.services = services if services is not None else {}


def _secret_key() -> str:
    if RUNTIME.secret_key:
        return RUNTIME.secret_key
    from punte.config import get_settings

    return get_settings().resolved_secret_key()


def plan_checkout(session: Session, company: Company) -> Callable[[Session, Company, Document], PendingCheckout]:
    """Check that a link can be made (Stripe bridge with an API key); returns what arranges it once issued."""
    config = get_config(session, company, "stripe")
    if config is None or not config.enabled or not config.api_key_enc:
        raise DomainError(NOT_CONFIGURED)
    return defer_checkout


@dataclass(frozen=True)
class PendingCheckout:
    """A Checkout Session to create once the issuing transaction has committed (:func:`complete_checkout`).

    Whoever commits that transaction completes it: the API's ``run_write`` (through the finisher of
    ``smartbill_routes._create``). Nothing happens by itself when the session commits: a caller that does not
    complete it gives out no link.
    """

    company_id: int
    document_id: int
    actor: str
    api_key: str
    api_base_url: str | None
    form: list[tuple[str, str]]
    idempotency_key: str
    amount: Decimal
    currency: str


@dataclass(frozen=True)
class CheckoutOutcome:
    """The link made for a document, or why none could be made (the text the API answers in ``message``)."""

    url: str = ""
    error: str | None = None


def defer_checkout(session: Session, company: Company, document: Document, *, amount: Decimal | None = None,
                   attempt: int = 0) -> PendingCheckout:
    """Validate ``document`` (flushed, with its number) for a Checkout link, to be made after the commit.

    A total Stripe cannot charge refuses the document here, in its transaction, so no number is taken.
    ``amount``: what the link charges (default the document's total); ``attempt``: how many links were
    asked for the document before (each attempt has its own idempotency key).
    """
    config = get_config(session, company, "stripe")
    if config is None or not config.api_key_enc:
        raise DomainError(NOT_CONFIGURED)
    if document.status != "issued":
        raise DomainError("Linkul de plata se genereaza doar pentru documente emise, nu pentru ciorne.")
    api_key = decrypted(SecretBox(_secret_key()), config.api_key_enc)
    assert api_key is not None
    charged = document.gross_total if amount is None else amount
    try:
        minor = to_minor(charged, document.currency)
    except ValueError as exc:
        raise DomainError(f"Totalul documentului nu poate fi incasat prin Stripe: {exc}") from exc
    if minor <= 0:
        raise DomainError("Un document cu totalul zero sau negativ nu poate fi incasat prin Stripe.")
    return PendingCheckout(
        company_id=company.id, document_id=document.id, actor=document.created_by, api_key=api_key,
        api_base_url=config.api_base_url, form=_form(company, document, minor),
        idempotency_key=checkout_key(company, document, attempt),
        amount=charged, currency=document.currency,
    )


def checkout_key(company: Company, document: Document, attempt: int = 0) -> str:
    """The idempotency key of the ``attempt``-th link asked for the document (0: the one at issue)."""
    return f"punte-checkout-{company.cif}-{document.id}" + (f"-{attempt}" if attempt else "")


def _form(company: Company, document: Document, minor: int) -> list[tuple[str, str]]:
    """The Checkout Session's parameters (Stripe's form encoding)."""
    word = "Factura" if document.kind == "invoice" else "Proforma"
    label = f"{word} {document.series_name}{document.number_text}"
    form: list[tuple[str, str]] = [
        ("mode", "payment"),
        ("line_items[0][quantity]", "1"),
        ("line_items[0][price_data][currency]", document.currency.lower()),
        ("line_items[0][price_data][unit_amount]", str(minor)),
        ("line_items[0][price_data][product_data][name]", label),
        (f"metadata[{DOCUMENT_METADATA}]", str(document.id)),
        ("metadata[punte_company]", company.cif),
        (f"payment_intent_data[metadata][{DOCUMENT_METADATA}]", str(document.id)),
        ("payment_intent_data[metadata][punte_company]", company.cif),
        ("client_reference_id", f"{document.series_name}{document.number_text}"),
        ("success_url", f"{RUNTIME.public_url.rstrip('/')}/view/{document.view_token}"),
    ]
    email = (document.buyer or {}).get("email")
    if email and "@" in email:
        form.append(("customer_email", email))
    return form


def complete_checkout(db: Database, pending: PendingCheckout, *, keys: Sequence[str] | None = None) -> CheckoutOutcome:
    """After the commit: ask Stripe (no transaction open), then record the outcome in a short transaction.

    ``keys``: the idempotency keys to try in turn until one makes the session (default: the pending's own).
    Never raises: the document is committed whatever Stripe says, so a failure is an outcome to report.
    """
    url = session_id = None
    error: str | None = None
    for key in keys or [pending.idempotency_key]:
        url, session_id, error = _ask_stripe(pending, key)
        if error is None:
            break
    if error is not None:
        outcome = CheckoutOutcome(
            error=f"Documentul a fost emis, dar linkul de plata Stripe nu a putut fi generat: {error}"
        )
    else:
        outcome = CheckoutOutcome(url=str(url))
    try:
        _store(db, pending, outcome, str(session_id) if outcome.url else None)
    except Exception:  # noqa: BLE001 - the answer still reports the document; the log says what was lost
        log.exception("storing the checkout link of document %s", pending.document_id)
    return outcome


def _ask_stripe(pending: PendingCheckout, key: str) -> tuple[str | None, str | None, str | None]:
    """One ``POST /v1/checkout/sessions``: (url, session id, None) or (None, None, why not)."""
    try:
        with stripe_api(pending.api_key, pending.api_base_url, RUNTIME.services) as api:
            answer = api.create_checkout_session(pending.form, idempotency_key=key)
    except (Refused, Unavailable) as exc:
        return None, None, str(exc)
    except Exception as exc:  # noqa: BLE001 - the document is committed: never let the answer fail for the link
        log.exception("checkout for document %s", pending.document_id)
        return None, None, f"eroare neasteptata ({type(exc).__name__})"
    url, session_id = answer.get("url"), answer.get("id")
    if not isinstance(url, str) or not url or not isinstance(session_id, str):
        return None, None, "raspunsul nu contine url si id"
    return url, session_id, None


def _store(db: Database, pending: PendingCheckout, outcome: CheckoutOutcome, session_id: str | None) -> None:
    """Record the link (or the failure) on the document."""
    with db.session(write=True) as session:
        document = session.get(Document, pending.document_id)
        if document is None:
            return
        if outcome.url and session_id is not None:
            session.add(BridgeCheckout(company_id=pending.company_id, document_id=document.id, session_id=session_id,
                                       url=outcome.url, amount=pending.amount, currency=pending.currency))
            document.details = {**(document.details or {}), "paymentUrl": outcome.url}
            events.record(session, company_id=pending.company_id, entity="document", entity_id=document.id,
                          action="checkout_created", actor=pending.actor,
                          data={"provider": "stripe", "session": session_id, "url": outcome.url})
        else:
            events.record(session, company_id=pending.company_id, entity="document", entity_id=document.id,
                          action="checkout_failed", actor=pending.actor,
                          data={"provider": "stripe", "reason": outcome.error})


#: Stripe's Checkout Sessions expire 24 hours after they are made (its default); a link older than this is
#: taken for expired and a new one is made when asked for.
LINK_LIFETIME = timedelta(hours=23)


def link_due(session: Session, document: Document) -> tuple[Decimal, str | None]:
    """What a payment link made now for ``document`` would charge (what is left to pay), and why none can
    be made (``None`` when one can): the one rule for :func:`renew_checkout` and the document page."""
    if document.kind not in (INVOICE, PROFORMA) or document.status != "issued" or document.reverses_id:
        return ZERO, ("Linkul de plata se face doar pentru o factura sau o proforma emisa (nu storno, nu anulata, "
                      "nu ciorna).")
    due = document.gross_total
    if document.kind == INVOICE:
        due -= paid_amount(session, document.id)
    elif session.scalar(select(Document.id).where(Document.estimate_id == document.id,
                                                  Document.status != "cancelled").limit(1)) is not None:
        return ZERO, "Proforma a fost deja facturata."
    return (due, None) if due > 0 else (ZERO, "Documentul este deja incasat.")


def link_expired(link: BridgeCheckout, now: datetime) -> bool:
    return link.created_at <= now - LINK_LIFETIME


def renew_checkout(db: Database, company_id: int, document_id: int, *, actor: str,
                   now: datetime | None = None) -> CheckoutOutcome:
    """A payment link for an issued invoice or proforma that is still to be paid, made now.

    For a document whose link could not be made at issue (Stripe was down, say), whose link expired, or
    that was issued without one. A link made less than :data:`LINK_LIFETIME` ago for the same amount is
    given again rather than a second one. The link charges what is left to pay (:func:`link_due`), and the
    document's links that could still be paid are expired at Stripe first, so that only one can be (a link
    already paid refuses: its payment is on its way).

    When no link was ever made, the key of the attempt at issue is tried first: had Stripe made that
    session and its answer been lost, the same session comes back instead of a second one.
    Refusals are :class:`DomainError`; a Stripe failure is an outcome with ``error`` (and a
    ``checkout_failed`` event), as at issue.
    """
    now = now or datetime.now(UTC)
    with db.session() as session:
        company = session.get(Company, company_id)
        document = session.get(Document, document_id)
        if company is None or document is None or document.company_id != company_id:
            raise DomainError("Documentul nu exista.")
        due, refusal = link_due(session, document)
        if refusal is not None:
            raise DomainError(refusal)
        links = list(session.scalars(select(BridgeCheckout).where(BridgeCheckout.document_id == document.id)
                                     .order_by(BridgeCheckout.id.desc())))
        if links and links[0].amount == due and not link_expired(links[0], now):
            return CheckoutOutcome(url=links[0].url)
        payable = [link.session_id for link in links if not link_expired(link, now)]
        failures = session.scalar(select(func.count()).select_from(Event).where(
            Event.entity == "document", Event.entity_id == document.id, Event.action == "checkout_failed")) or 0
        pending = replace(defer_checkout(session, company, document, amount=due, attempt=len(links) + failures),
                          actor=actor)
        first = checkout_key(company, document)
    _retire(pending, payable)
    keys = [first, pending.idempotency_key] if not links and failures else [pending.idempotency_key]
    return complete_checkout(db, pending, keys=keys)


def _retire(pending: PendingCheckout, session_ids: list[str]) -> None:
    """Expire the document's sessions that could still be paid (raises :class:`DomainError` when one was
    paid, or when Stripe cannot be asked: nothing is made then)."""
    if not session_ids:
        return
    try:
        with stripe_api(pending.api_key, pending.api_base_url, RUNTIME.services) as api:
            for session_id in session_ids:
                status = api.checkout_session(session_id).get("status")
                if status == "complete":
                    raise DomainError("Linkul de plata anterior a fost deja platit; plata se inregistreaza pe "
                                      "document cand sosesc evenimentele Stripe.")
                if status == "open":
                    api.expire_checkout_session(session_id)
    except (Refused, Unavailable) as exc:
        raise DomainError(f"Linkul de plata anterior nu a putut fi inchis la Stripe: {exc}") from exc


__all__ = [
    "LINK_LIFETIME", "NOT_CONFIGURED", "RUNTIME", "CheckoutOutcome", "PendingCheckout", "complete_checkout",
    "configure_runtime", "defer_checkout", "link_due", "link_expired", "plan_checkout", "renew_checkout",
]
