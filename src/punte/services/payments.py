"""Payments collected on documents. A ``Chitanta`` (receipt) takes a number from a receipt series."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from punte.domain.errors import DomainError
from punte.domain.money import ZERO
from punte.smartbill.wire import PaymentData
from punte.store.models import Company, Document, Payment, Series

from . import events

PAYMENT_TYPES = {
    t.casefold(): t
    for t in (
        "Chitanta",
        "Bon",
        "Card",
        "Card online",
        "CEC",
        "Bilet ordin",
        "Ordin plata",
        "Mandat postal",
        "Extras de cont",
        "Ramburs",
        "Alta incasare",
    )
}
CASH_TYPES = {"Chitanta", "Bon"}


def canonical_type(text: str | None) -> str:
    if not (text or "").strip():
        raise DomainError("type trebuie specificat pentru incasare")
    found = PAYMENT_TYPES.get(text.strip().casefold())  # type: ignore[union-attr]
    if found is None:
        raise DomainError("Tipul incasarii nu a fost gasit!")
    return found


def paid_amount(session: Session, document_id: int) -> Decimal:
    total = session.scalar(select(func.count()).select_from(Payment).where(Payment.document_id == document_id))
    if not total:
        return ZERO
    values = session.scalars(select(Payment.value).where(Payment.document_id == document_id))
    return sum(values, ZERO)


def record_payment_at_issue(
    session: Session, company: Company, document: Document, data: PaymentData, *, actor: str
) -> Payment:
    """The ``payment`` section of ``POST /invoice``: the invoice is collected (partly or wholly) at issue."""
    ptype = canonical_type(data.type)
    if data.value is None:
        raise DomainError("value trebuie specificat pentru incasare")
    if data.value <= 0:
        raise DomainError("Valoarea incasarii trebuie sa fie pozitiva.")
    if document.gross_total > 0 and data.value > document.gross_total:
        raise DomainError(
            f"Valoarea incasarii ({data.value}) depaseste totalul facturii ({document.gross_total})."
        )
    payment = Payment(
        company_id=company.id,
        document_id=document.id,
        type=ptype,
        value=data.value,
        currency=document.currency,
        payment_date=document.issue_date,
        is_cash=bool(data.isCash) or ptype in CASH_TYPES,
        client_name=document.client_name,
        client_cif=document.client_cif,
        created_by=actor,
    )
    if ptype == "Chitanta":
        stmt = select(Series).where(Series.company_id == company.id, Series.type == "c")
        stmt = stmt.where(Series.name == data.paymentSeries.strip()) if data.paymentSeries else stmt.where(
            Series.is_default.is_(True)
        )
        series = session.scalar(stmt.with_for_update())
        if series is None:
            raise DomainError("Seria incasarii nu a fost gasita pe server.")
        payment.series_id = series.id
        payment.series_name = series.name
        payment.number = series.next_number
        series.next_number += 1
    session.add(payment)
    session.flush()
    events.record(
        session,
        company_id=company.id,
        entity="payment",
        entity_id=payment.id,
        action="collected",
        actor=actor,
        data={
            "type": ptype,
            "value": data.value,
            "document_id": document.id,
            "series": payment.series_name,
            "number": payment.number,
        },
    )
    return payment
