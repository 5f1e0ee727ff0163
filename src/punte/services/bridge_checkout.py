"""Invoice first, pay later: a Stripe Checkout link for a punte invoice or proforma.

``POST /invoice`` or ``/estimate`` with ``paymentUrl: "Generate URL"`` makes the issuing service ask here
for a Checkout Session (when the company configured a Stripe API key): one line with the document's
total, metadata carrying punte's document id (on the session and on its PaymentIntent, so every event
of the payment names the document), an idempotency key per document. The URL is stored on the document
and answered in ``url``. When the session is paid, the bridge records the payment against that document
(a paid proforma becomes an invoice) instead of issuing another invoice.

The call happens inside the issuing transaction, because the answer must carry the URL: a Stripe failure
refuses the document (nothing is numbered), with Stripe's reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from punte.crypto import SecretBox
from punte.domain.errors import DomainError
from punte.providers.stripe import DOCUMENT_METADATA, to_minor
from punte.store.models import Company, Document
from punte.store.models_bridge import BridgeCheckout

from . import events
from .bridge_clients import Refused, Unavailable, stripe_api
from .bridge_config import decrypted, get_config

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


def plan_checkout(session: Session, company: Company) -> Callable[[Session, Company, Document], str]:
    """Check that a link can be made (Stripe bridge with an API key); returns what makes it once issued."""
    config = get_config(session, company, "stripe")
    if config is None or not config.enabled or not config.api_key_enc:
        raise DomainError(NOT_CONFIGURED)
    return create_checkout


def create_checkout(session: Session, company: Company, document: Document) -> str:
    """Create the Checkout Session for ``document`` (flushed, with its id) and store its URL."""
    config = get_config(session, company, "stripe")
    if config is None or not config.api_key_enc:
        raise DomainError(NOT_CONFIGURED)
    if document.status != "issued":
        raise DomainError("Linkul de plata se genereaza doar pentru documente emise, nu pentru ciorne.")
    api_key = decrypted(SecretBox(_secret_key()), config.api_key_enc)
    assert api_key is not None
    try:
        minor = to_minor(document.gross_total, document.currency)
    except ValueError as exc:
        raise DomainError(f"Totalul documentului nu poate fi incasat prin Stripe: {exc}") from exc
    if minor <= 0:
        raise DomainError("Un document cu totalul zero sau negativ nu poate fi incasat prin Stripe.")
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
    try:
        with stripe_api(api_key, config.api_base_url, RUNTIME.services) as api:
            answer = api.create_checkout_session(form, idempotency_key=f"punte-checkout-{company.cif}-{document.id}")
    except (Refused, Unavailable) as exc:
        raise DomainError(f"Linkul de plata Stripe nu a putut fi generat: {exc}") from exc
    url, session_id = answer.get("url"), answer.get("id")
    if not isinstance(url, str) or not url or not isinstance(session_id, str):
        raise DomainError("Linkul de plata Stripe nu a putut fi generat: raspunsul nu contine url si id.")
    session.add(BridgeCheckout(company_id=company.id, document_id=document.id, session_id=session_id, url=url,
                               amount=document.gross_total, currency=document.currency))
    document.details = {**(document.details or {}), "paymentUrl": url}
    events.record(session, company_id=company.id, entity="document", entity_id=document.id,
                  action="checkout_created", actor=document.created_by,
                  data={"provider": "stripe", "session": session_id, "url": url})
    return url


__all__ = ["NOT_CONFIGURED", "RUNTIME", "configure_runtime", "create_checkout", "plan_checkout"]
