"""Deleting payments: ``DELETE /payment/chitanta`` (the last receipt of a series, or a draft receipt) and
``DELETE /payment/v2`` (another payment, found by its invoice or by its data).

A deleted payment is removed (the event log keeps a copy), its cash movement is reversed by a new
movement, and a receipt's number goes back to its series.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from punte.domain.errors import Conflict, DomainError, NotFound
from punte.store.models import Company, Payment, Series
from punte.store.models_payments import PaymentAllocation

from . import cash, events
from .payments import (
    CASH_TYPES,
    NO_MATCH,
    RECEIPT_NOT_FOUND,
    allocations,
    canonical_type,
    find_invoice,
    label,
    local_today,
    lock_documents,
    own_payment,
    payment_label,
    refresh_paid,
    snapshot,
)


def _remove(session: Session, company: Company, payment: Payment, *, actor: str, today: date) -> None:
    targets = allocations(session, payment)
    # the invoices before the cash register, as recording a payment locks them (their paid totals change)
    lock_documents(session, [doc.id for doc, _ in targets])
    events.record(session, company_id=company.id, entity="payment", entity_id=payment.id, action="deleted",
                  actor=actor, data=snapshot(payment, targets))
    cash.reverse_payment(session, company, payment.id, day=today, actor=actor, document=payment_label(payment))
    session.delete(payment)
    session.flush()  # the allocations go with the payment (ON DELETE CASCADE)
    refresh_paid(session, [doc.id for doc, _ in targets])


def _lock_invoices_of_receipt(session: Session, company: Company, series_name: str, number: int) -> None:
    """Lock the invoices a receipt pays before its series is locked.

    Recording a receipt locks its invoices, then the receipt series (services.payments); deleting one
    changes those invoices' paid totals, so it takes the same two locks in the same order. The receipt is
    found unlocked here: allocations never change, and a receipt deleted meanwhile is not found later.
    """
    doc_ids = session.scalars(
        select(PaymentAllocation.document_id)
        .join(Payment, Payment.id == PaymentAllocation.payment_id)
        .join(Series, Series.id == Payment.series_id)
        .where(Payment.company_id == company.id, Payment.type == "Chitanta", Series.type == "c",
               Series.name == series_name, Payment.number == number)
    ).all()
    lock_documents(session, list(doc_ids))


def delete_receipt(session: Session, company: Company, series_name: str | None, number: str | None, *,
                   actor: str, today: date | None = None) -> tuple[str, str]:
    """``DELETE /payment/chitanta``: only the last receipt of its series; its number goes back."""
    value = (number or "").strip()
    if not (series_name or "").strip() or not value.isdigit():
        raise NotFound(RECEIPT_NOT_FOUND)
    _lock_invoices_of_receipt(session, company, series_name.strip(), int(value))  # type: ignore[union-attr]
    series = session.scalar(
        select(Series).where(Series.company_id == company.id, Series.type == "c", Series.name == series_name.strip())  # type: ignore[union-attr]
        .with_for_update().execution_options(populate_existing=True)
    )
    if series is None:
        raise NotFound(RECEIPT_NOT_FOUND)
    payment = session.scalar(
        select(Payment).where(Payment.company_id == company.id, Payment.series_id == series.id,
                              Payment.number == int(value), Payment.type == "Chitanta").with_for_update()
    )
    if payment is None or payment.number is None:
        raise NotFound(RECEIPT_NOT_FOUND)
    text = series.format(payment.number)
    if payment.number != series.next_number - 1:
        raise Conflict(f"Documentul cu seria si numarul {series.name} {text} nu este ultimul din serie!")
    _remove(session, company, payment, actor=actor, today=today or local_today())
    series.next_number = int(value)
    return series.name, text


def delete_draft_receipt(session: Session, company: Company, payment_id: str | None, *, actor: str) -> Payment:
    """Delete a draft receipt (it has no number yet). punte extension: ``DELETE /payment/chitanta?id=``."""
    payment = own_payment(session, company, payment_id, lock=True)
    if payment is None or payment.status != "draft":
        raise NotFound(f"Chitanta ciorna {payment_id} nu a fost gasita.")
    _remove(session, company, payment, actor=actor, today=local_today())
    return payment


@dataclass(frozen=True)
class PaymentQuery:
    """The query parameters of ``DELETE /payment/v2``."""

    payment_type: str | None = None
    invoice_series: str | None = None
    invoice_number: str | None = None
    payment_date: str | None = None
    payment_value: str | None = None
    client_name: str | None = None
    client_cif: str | None = None


def delete_payment(session: Session, company: Company, query: PaymentQuery, *, actor: str,
                   today: date | None = None) -> Payment:
    """``DELETE /payment/v2``: a payment other than a receipt, found by its invoice or by its data."""
    ptype = canonical_type(query.payment_type, missing="Tipul incasarii (paymentType) trebuie specificat.")
    if ptype in CASH_TYPES:
        raise DomainError(CASH_NOT_HERE)
    base = select(Payment).where(Payment.company_id == company.id, Payment.type == ptype, Payment.status == "issued")
    if (query.invoice_series or "").strip() or (query.invoice_number or "").strip():
        if not (query.invoice_series or "").strip():
            raise DomainError("Seria facturii (invoiceSeries) trebuie specificata pentru identificarea incasarii.")
        if not (query.invoice_number or "").strip():
            raise DomainError("Numarul facturii (invoiceNumber) trebuie specificat pentru identificarea incasarii.")
        wanted = f"{query.invoice_series.strip()}{query.invoice_number.strip()}"  # type: ignore[union-attr]
        doc = find_invoice(session, company, query.invoice_series, query.invoice_number)
        if doc is None or doc.status == "draft":
            raise NotFound(f"Factura cu seria si numarul {wanted} nu a fost gasita!")
        if doc.status == "cancelled":
            raise Conflict(f"Factura cu seria si numarul {label(doc)} este anulata si nu mai are incasari atasate!")
        stmt = base.join(PaymentAllocation, PaymentAllocation.payment_id == Payment.id).where(
            PaymentAllocation.document_id == doc.id)
        payment = session.scalar(stmt.order_by(Payment.id).limit(1).with_for_update())
    else:
        payment = _match_by_data(session, base, query)
    if payment is None:
        raise NotFound(NO_MATCH)
    _remove(session, company, payment, actor=actor, today=today or local_today())
    return payment


CASH_NOT_HERE = (
    "Incasarile prin chitanta sau bon fiscal nu se sterg prin aceasta metoda; chitanta se sterge "
    "cu DELETE /payment/chitanta, iar bonul fiscal nu poate fi sters."
)


def delete_by_id(session: Session, company: Company, payment_id: int, *, actor: str,
                 today: date | None = None) -> Payment:
    """Delete one known payment (the dashboard names it by id) with the API's rules for its kind: a draft
    receipt always, a receipt only when last in its series, a fiscal receipt never, another payment unless
    its invoice is cancelled."""
    payment = own_payment(session, company, payment_id, lock=True)
    if payment is None:
        raise NotFound(NO_MATCH)
    if payment.status == "draft":
        return delete_draft_receipt(session, company, str(payment.id), actor=actor)
    if payment.type == "Chitanta":
        delete_receipt(session, company, payment.series_name, str(payment.number or ""), actor=actor, today=today)
        return payment
    if payment.type in CASH_TYPES:
        raise DomainError("Bonul fiscal nu poate fi sters.")
    for doc, _ in allocations(session, payment):
        if doc.status == "cancelled":
            raise Conflict(f"Factura cu seria si numarul {label(doc)} este anulata si nu mai are incasari atasate!")
    _remove(session, company, payment, actor=actor, today=today or local_today())
    return payment


def _match_by_data(session: Session, base: Any, query: PaymentQuery) -> Payment | None:
    from .issuing import parse_date

    if not (query.payment_date or "").strip():
        raise DomainError("Data incasarii (paymentDate) trebuie specificata")
    day = parse_date(query.payment_date.strip())  # type: ignore[union-attr]
    if not (query.payment_value or "").strip():
        raise DomainError("Valoarea incasarii (paymentValue) trebuie specificata.")
    try:
        value = Decimal(query.payment_value.strip())  # type: ignore[union-attr]
    except ArithmeticError as exc:
        raise DomainError("Valoarea incasarii (paymentValue) trebuie specificata.") from exc
    name, cif = (query.client_name or "").strip(), (query.client_cif or "").strip()
    if not name and not cif:
        raise DomainError("Numele clientului incasarii (clientName) trebuie specificat.")
    rows = [p for p in session.scalars(base.where(Payment.payment_date == day).order_by(Payment.id).with_for_update())
            if p.value == value]
    if cif:
        found = [p for p in rows if (p.client_cif or "") == cif]
    else:
        found = [p for p in rows if (p.client_name or "") == name]
        if found and all(p.client_cif for p in found):
            raise DomainError("Ciful clientului incasarii (clientCif) trebuie specificat.")
        found = [p for p in found if not p.client_cif]
    return found[0] if found else None
