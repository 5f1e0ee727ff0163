"""Storno of a refunded part: a negative invoice for the refunded amount, referencing the original.

``operations.reverse_invoice`` reverses a whole invoice (one storno per invoice, linked by
``reverses_id``). A refund of part of a payment needs a storno of that part only, possibly several
times for one invoice, so it cannot take ``reverses_id`` (unique); it names the original in its mentions
and in ``details["partialStornoOf"]`` instead. Its lines: the refunded amount spread over the original's
VAT categories in proportion to their gross amounts (one line per category, VAT included, negated), so
the VAT given back is the VAT that was charged, and the storno's gross total is exactly minus the refund.
"""

from __future__ import annotations

import secrets
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from punte.domain.documents import ProductInput, compute_lines, negate
from punte.domain.errors import Conflict, DomainError
from punte.domain.money import places, split_proportionally
from punte.domain.vat import NOT_SUBJECT, VatRate
from punte.store.models import Company, Document, Series

from . import events, lifecycle
from .issuing import assign_number, set_totals, snapshot, store_lines, today_in_romania

ZERO = Decimal(0)


def partial_storno(
    session: Session, company: Company, original: Document, amount: Decimal, *, actor: str, note: str = "",
    day: date | None = None,
) -> Document:
    """Issue, in ``original``'s series, a storno of ``amount`` (gross, in the original's currency)."""
    label = f"{original.series_name}{original.number_text}"
    if original.kind != "invoice" or original.status != "issued":
        raise Conflict(f"Factura {label} nu este emisa (status {original.status}). Nu se poate storna partial.")
    if original.reverses_id is not None or (original.details or {}).get("partialStornoOf"):
        raise Conflict(f"Factura {label} este de tip storno. Nu se poate storna.")
    if session.scalar(select(Document.id).where(Document.reverses_id == original.id)) is not None:
        raise Conflict("Factura este deja stornata.")
    if amount <= 0 or amount > original.gross_total:
        raise DomainError(
            f"Suma de stornat ({amount}) trebuie sa fie intre 0 si totalul facturii ({original.gross_total})."
        )
    when = day or today_in_romania()
    if when < original.issue_date:
        when = original.issue_date
    n = places(original.currency)
    groups = []
    for entry in original.vat_breakdown or []:
        gross = Decimal(entry["taxable_amount"]) + Decimal(entry["tax_amount"])
        if gross > 0:
            groups.append((entry, gross))
    if not groups:
        raise DomainError(f"Factura {label} nu are valori de stornat.")
    shares = split_proportionally(amount, [g for _, g in groups], n)
    items: list[ProductInput] = []
    for (entry, _), share in zip(groups, shares, strict=True):
        if share <= 0:
            continue
        rate = None
        if original.vat_payer and entry["category"] != NOT_SUBJECT:
            rate = VatRate(name=entry.get("name") or "Normala", percentage=Decimal(entry["percentage"]),
                           category=entry["category"], exemption_reason=entry.get("exemption_reason"))
        items.append(ProductInput(
            name=f"Storno partial factura {label}" + (f" ({note})" if note else ""), quantity=Decimal(1),
            price=share, unit="buc", rate=rate, tax_included=True, is_service=True,
        ))
    lines = negate(compute_lines(items, currency=original.currency, precision=max(2, original.precision),
                                 vat_payer=original.vat_payer))
    series = session.scalar(select(Series).where(Series.id == original.series_id).with_for_update())
    assert series is not None
    storno = Document(
        company_id=company.id, kind="invoice", series_id=original.series_id, series_name=original.series_name,
        status="draft", issue_date=when, due_date=when, delivery_date=None, currency=original.currency,
        exchange_rate=original.exchange_rate, language=original.language, precision=original.precision,
        vat_payer=original.vat_payer, vat_on_collection=original.vat_on_collection, seller=dict(original.seller),
        buyer=dict(original.buyer), client_name=original.client_name, client_cif=original.client_cif,
        details={
            "mentions": f"Storno partial la factura {label} din {original.issue_date.strftime('%d.%m.%Y')}: "
                        f"restituire {format(amount, 'f')} {original.currency}",
            "partialStornoOf": original.id,
        },
        view_token=secrets.token_urlsafe(24), created_by=actor,
    )
    set_totals(storno, lines)
    lifecycle.before_issue(session, company, kind="invoice")
    assign_number(session, series, storno)
    session.add(storno)
    session.flush()
    store_lines(session, storno, lines)
    events.record(
        session, company_id=company.id, entity="document", entity_id=storno.id, action="issued_storno_partial",
        actor=actor, data={**snapshot(storno, lines), "partially_reverses": original.id, "amount": amount},
    )
    events.record(
        session, company_id=company.id, entity="document", entity_id=original.id, action="partially_reversed",
        actor=actor, data={"storno_id": storno.id, "storno": f"{storno.series_name}{storno.number_text}",
                           "amount": amount},
    )
    lifecycle.after_issue(session, company, storno, actor=actor)
    return storno


__all__ = ["partial_storno"]
