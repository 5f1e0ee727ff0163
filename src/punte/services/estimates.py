"""Invoices made from a proforma (``useEstimateDetails``), and the list of them (``GET /estimate/invoices``)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from punte.domain.errors import DomainError, NotFound
from punte.smartbill.wire import ClientData, InvoiceRequest, ProductData
from punte.store.models import Company, Document

from .operations import find_document


def apply_estimate_details(session: Session, company: Company, req: InvoiceRequest) -> InvoiceRequest:
    """Copy the proforma's client, currency and lines into the invoice request, linking both."""
    ref = req.estimate
    label = f"{(ref.seriesName if ref else '') or ''}{(ref.number if ref else '') or ''}"
    estimate = find_document(session, company, "proforma", ref.seriesName if ref else None, ref.number if ref else None)
    if estimate is None or estimate.status == "draft":
        raise DomainError(f"Factura proforma {label} nu a fost gasita!")
    if estimate.status == "cancelled":
        raise DomainError(f"Proforma {label} este anulata si nu poate fi facturata.")
    if not estimate.lines:
        raise DomainError("Proforma nu contine produse!")
    buyer = estimate.buyer
    client = ClientData(
        name=buyer.get("name"),
        vatCode=buyer.get("cif"),
        code=buyer.get("code"),
        address=buyer.get("address"),
        regCom=buyer.get("reg_com"),
        isTaxPayer=bool(buyer.get("is_tax_payer")),
        contact=buyer.get("contact"),
        phone=buyer.get("phone"),
        city=buyer.get("city"),
        county=buyer.get("county"),
        country=buyer.get("country"),
        email=buyer.get("email"),
        bank=buyer.get("bank"),
        iban=buyer.get("iban"),
        saveToDb=False,
    )
    products = []
    for ln in estimate.lines:
        if ln.is_discount:
            products.append(
                ProductData(
                    name=ln.name, isDiscount=True, numberOfItems=ln.discount_items,
                    discountType=2 if ln.discount_percentage is not None else 1,
                    discountPercentage=ln.discount_percentage,
                    discountValue=-(ln.entered_price or ln.unit_price),
                    isTaxIncluded=ln.tax_included, taxName=ln.vat_name, taxPercentage=ln.vat_percentage,
                    translatedName=ln.translated_name, translatedMeasuringUnit=ln.translated_unit,
                    measuringUnitName=ln.unit,
                )
            )
        else:
            products.append(
                ProductData(
                    name=ln.name, code=ln.code, productDescription=ln.description,
                    translatedName=ln.translated_name, translatedMeasuringUnit=ln.translated_unit,
                    measuringUnitName=ln.unit, currency=ln.entered_currency or estimate.currency,
                    quantity=ln.quantity, price=ln.entered_price if ln.entered_price is not None else ln.unit_price,
                    isTaxIncluded=ln.tax_included, taxName=ln.vat_name, taxPercentage=ln.vat_percentage,
                    exchangeRate=ln.entered_exchange_rate, warehouseName=ln.warehouse, isService=ln.is_service,
                )
            )
    merged = req.model_copy(
        update={
            "client": client,
            "products": products,
            "currency": estimate.currency,
            "exchangeRate": req.exchangeRate if req.exchangeRate is not None else estimate.exchange_rate,
            "language": estimate.language,
            "precision": estimate.precision,
            "mentions": req.mentions or estimate.details.get("mentions"),
            "useEstimateDetails": False,
            "useStock": bool(req.useStock or (req.estimate is not None and req.estimate.useStock)),
            "estimate": None,
        }
    )
    merged._estimate_id = estimate.id
    return merged


def invoices_from_estimate(
    session: Session, company: Company, series: str | None, number: str | None
) -> tuple[Document, list[Document]]:
    """The proforma and the invoices made from it (issued or since cancelled; drafts left out), in order."""
    estimate = find_document(session, company, "proforma", series, number)
    if estimate is None or estimate.status == "draft":
        raise NotFound(f"Proforma cu seria si numarul {(series or '').strip()}{(number or '').strip()} nu a fost gasita!")
    invoices = list(session.scalars(
        select(Document)
        .where(Document.estimate_id == estimate.id, Document.status != "draft")
        .order_by(Document.issued_at, Document.id)
    ))
    return estimate, invoices


def not_invoiced_text(estimate: Document) -> str:
    return f"Proforma cu seria si numarul {estimate.series_name}{estimate.number_text or ''} nu a fost facturata."
