"""Extension points: the cards of the overview and the panels of a document's page.

A card or a panel is a partial template and a loader. Adding one (the e-Factura state of a document,
the items needing attention, the quota...) is one template plus one entry here calling its service;
the overview and the document page render whatever is listed, in order, and skip what loads as None.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from punte.services import quotas
from punte.services.issuing import today_in_romania
from punte.store.models import Company, Document

from . import document_checkout, document_mail, efactura_queries, queries


@dataclass(frozen=True)
class Card:
    """A card of the overview: ``load(session, company_id, today)`` gives the template's ``data``."""

    template: str
    load: Callable[[Session, int, date], Any]
    wide: bool = False  # a full-width card under the small ones
    level: str = "viewer"


@dataclass(frozen=True)
class Panel:
    """A section of a document's page: ``load(session, document)`` gives the template's ``data``."""

    template: str
    load: Callable[[Session, Document], Any]
    level: str = "viewer"


def _payments(session: Session, doc: Document) -> list[queries.PaymentRow] | None:
    return queries.payments_of(session, doc.id) if doc.kind == "invoice" else None


def _efactura(session: Session, doc: Document) -> efactura_queries.Timeline | None:
    return efactura_queries.timeline(session, doc, today_in_romania())


def _quota(session: Session, company_id: int, today: date) -> quotas.QuotaStatus | None:
    company = session.get(Company, company_id)
    found = quotas.status(session, company) if company is not None else None
    return found if found is not None and found.plan is not None else None  # no plan: no card


OVERVIEW_CARDS: list[Card] = [
    Card("cards/issued.html", queries.issued_this_month),
    Card("cards/unpaid.html", queries.unpaid_invoices),
    Card("cards/quota.html", _quota),
    Card("cards/efactura_attention.html", efactura_queries.attention),
    Card("cards/unpaid_oldest.html", queries.unpaid_invoices, wide=True),
]

DOCUMENT_PANELS: list[Panel] = [
    Panel("panels/efactura.html", _efactura),
    Panel("panels/payments.html", _payments),
    Panel("panels/checkout.html", document_checkout.panel),
    Panel("panels/emails.html", document_mail.panel),
]


def load_cards(session: Session, company_id: int, today: date, can: Callable[[str], bool]) -> list[tuple[Card, Any]]:
    """(card, data) of the cards to show; a loader shared by two cards runs once."""
    results: dict[Callable[..., Any], Any] = {}
    shown = []
    for card in OVERVIEW_CARDS:
        if not can(card.level):
            continue
        if card.load not in results:
            results[card.load] = card.load(session, company_id, today)
        if results[card.load] is not None:
            shown.append((card, results[card.load]))
    return shown


def load_panels(session: Session, doc: Document, can: Callable[[str], bool]) -> list[tuple[Panel, Any]]:
    shown = []
    for panel in DOCUMENT_PANELS:
        if can(panel.level):
            data = panel.load(session, doc)
            if data is not None:
                shown.append((panel, data))
    return shown
