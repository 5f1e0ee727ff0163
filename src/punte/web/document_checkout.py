"""The online-payment panel of a document's page: its Stripe payment links, and making one now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from punte.domain.documents import INVOICE, PROFORMA
from punte.services.bridge_checkout import link_due, link_expired
from punte.services.bridge_config import get_config
from punte.store.models import Company, Document, Event
from punte.store.models_bridge import BridgeCheckout


@dataclass(frozen=True)
class LinkRow:
    url: str
    amount: Decimal
    currency: str
    created_at: datetime
    expired: bool


@dataclass(frozen=True)
class CheckoutPanel:
    links: list[LinkRow]
    failure: str | None  # the last failure, when it came after the last link
    can_make: bool  # a Stripe bridge with an API key, and something left to pay
    due: Decimal


def panel(session: Session, doc: Document) -> CheckoutPanel | None:
    """None for documents that cannot have a link and never had one."""
    if doc.kind not in (INVOICE, PROFORMA) or doc.status != "issued" or doc.reverses_id:
        return None
    company = session.get(Company, doc.company_id)
    config = get_config(session, company, "stripe") if company is not None else None
    configured = config is not None and config.enabled and bool(config.api_key_enc)
    rows = list(session.scalars(select(BridgeCheckout).where(BridgeCheckout.document_id == doc.id)
                                .order_by(BridgeCheckout.id.desc())))
    failed = session.scalar(select(Event).where(Event.entity == "document", Event.entity_id == doc.id,
                                                Event.action == "checkout_failed").order_by(Event.id.desc()).limit(1))
    if not configured and not rows and failed is None:
        return None
    now = datetime.now(UTC)
    links = [LinkRow(r.url, r.amount, r.currency, r.created_at, link_expired(r, now)) for r in rows]
    failure = None
    if failed is not None and (not rows or failed.at > rows[0].created_at):
        failure = str((failed.data or {}).get("reason") or "")
    due, refusal = link_due(session, doc)
    return CheckoutPanel(links=links, failure=failure, can_make=configured and refusal is None, due=due)


__all__ = ["CheckoutPanel", "LinkRow", "panel"]
