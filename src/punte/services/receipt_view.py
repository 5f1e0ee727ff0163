"""A receipt (Chitanta) as a printable document: who paid, how much, for which invoices."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from punte.domain.documents import RECEIPT, IssuedDocument, Line, Party, Totals
from punte.domain.errors import NotFound
from punte.domain.money import ZERO
from punte.smartbill.wire import ClientData
from punte.store.models import Company, Payment, Series

from .companies import vat_status_on
from .issuing import _party_from_client, _party_from_company
from .payments import allocations, label

RECEIPT_NOT_FOUND = "Chitanta nu a fost gasita!"


def find_receipt(session: Session, company: Company, series_name: str | None, number: str | None) -> Payment:
    value = (number or "").strip()
    if not (series_name or "").strip() or not value.isdigit():
        raise NotFound(RECEIPT_NOT_FOUND)
    payment = session.scalar(
        select(Payment).join(Series, Series.id == Payment.series_id).where(
            Payment.company_id == company.id, Series.type == "c", Series.name == (series_name or "").strip(),
            Payment.number == int(value), Payment.type == "Chitanta",
        )
    )
    if payment is None:
        raise NotFound(RECEIPT_NOT_FOUND)
    return payment


def receipt_document(session: Session, company: Company, payment: Payment) -> IssuedDocument:
    """The read model the PDF renderer prints for a receipt (no VAT: a receipt only states money received)."""
    vat_payer = vat_status_on(company, payment.payment_date).vat_payer
    seller = Party(**_party_from_company(company, use_intra_cif=False, vat_payer=vat_payer))  # type: ignore[arg-type]
    client = (payment.details or {}).get("client") or {}
    buyer = (
        Party(**_party_from_client(ClientData.model_validate(client)))  # type: ignore[arg-type]
        if client else Party(name=payment.client_name or "", cif=payment.client_cif)
    )
    rows = allocations(session, payment)
    items = [
        (f"Contravaloare factura {label(doc)} din {doc.issue_date.strftime('%d.%m.%Y')}", amount) for doc, amount in rows
    ] or [((payment.details or {}).get("text") or "Incasare", payment.value)]
    lines = [
        Line(position=i, name=name, quantity=Decimal(1), unit_price=amount, net_amount=amount, unit="buc", vat_name=None,
             vat_percentage=None, vat_category="O")
        for i, (name, amount) in enumerate(items, start=1)
    ]
    total = sum((ln.net_amount for ln in lines), ZERO)
    totals = Totals(line_total=total, allowance_total=ZERO, net_total=total, vat_total=ZERO, gross_total=total,
                    vat_breakdown=())
    return IssuedDocument(
        id=payment.id, kind=RECEIPT, series=payment.series_name or "", number=payment.number_text,
        issue_date=payment.payment_date, currency=payment.currency, seller=seller, buyer=buyer, lines=lines,
        totals=totals, seller_vat_payer=False, language=payment.language or "RO",
        status="issued" if payment.status != "draft" else "draft",
    )
