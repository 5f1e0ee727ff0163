"""The items of a fiscal receipt (Bon): from the products of ``POST /payment`` or from the invoices it pays."""

from __future__ import annotations

import base64
from dataclasses import replace
from datetime import date
from decimal import Decimal

from sqlalchemy.orm import Session

from punte.domain.errors import DomainError
from punte.domain.fiscal_receipt import MAX_ENTRIES, ReceiptItem, vat_group
from punte.domain.money import ZERO, round_to, split_proportionally
from punte.domain.vat import NOT_SUBJECT, find_rate
from punte.smartbill.wire import ProductData
from punte.store.models import Company, Document

from .companies import vat_rates, vat_status_on

TOO_MANY = "Numarul maxim acceptat de 70 intrari pe document a fost depasit."


def encode_text(text: str) -> str:
    """The register's text as SmartBill hands it over: base64 of the (ASCII) file content."""
    return base64.b64encode(text.encode("ascii", "replace")).decode("ascii")


def items_from_products(session: Session, company: Company, products: list[ProductData], day: date) -> list[ReceiptItem]:
    """Sold items with VAT-included prices in lei; percentage discounts go onto the items they cover."""
    if len(products) > MAX_ENTRIES:
        raise DomainError(TOO_MANY)
    vat_payer = vat_status_on(company, day).vat_payer
    rates = vat_rates(session, company.id) if vat_payer else []
    items: list[ReceiptItem] = []
    for p in products:
        if p.isDiscount:
            items = _apply_discount(p, items)
            continue
        name = (p.name or "").strip()
        if not name:
            raise DomainError("name trebuie specificat pentru fiecare produs")
        if not (p.measuringUnitName or "").strip():
            raise DomainError("measuringUnitName trebuie specificat pentru fiecare produs")
        if not (p.currency or "").strip():
            raise DomainError("currency trebuie specificat pentru fiecare produs")
        if p.quantity is None:
            raise DomainError("quantity trebuie specificat pentru fiecare produs")
        if p.price is None:
            raise DomainError("price trebuie specificat pentru fiecare produs")
        if p.currency.strip().upper() != "RON":  # type: ignore[union-attr]
            raise DomainError("Bonurile fiscale pot fi emise doar in Lei!")
        if p.quantity <= 0 or p.price < 0 or p.quantity > Decimal("1e9") or p.price > Decimal("1e12"):
            raise DomainError(f"Cantitatea sau pretul produsului '{name}' nu sunt acceptate pe bon.")
        if vat_payer:
            rate = find_rate(rates, day, name=p.taxName or None, percentage=p.taxPercentage, product=name)
            price = p.price if p.isTaxIncluded else p.price * (1 + rate.fraction)
            group = vat_group(rate.category, rate.percentage)
        else:
            price, group = p.price, vat_group(NOT_SUBJECT, None)
        items.append(ReceiptItem(name=name, quantity=p.quantity, unit_price=round_to(price, 2), vat_group=group))
    if not items:
        raise DomainError("Bonul nu contine produse!")
    return items


def _apply_discount(p: ProductData, items: list[ReceiptItem]) -> list[ReceiptItem]:
    if p.discountType == 1 or (p.discountPercentage is None and p.discountValue is not None):
        raise DomainError("Discountul nu poate fi de tip valoric!")
    if p.discountPercentage is None:
        raise DomainError("discountPercentage trebuie specificat pentru fiecare produs de tip discount")
    if not items:
        raise DomainError(
            "Nu poti sa emiti un document care contine doar un discount. Trebuie sa ai si produse / servicii adaugate."
        )
    name = (p.name or "Discount").strip()
    pct = p.discountPercentage
    if pct <= 0 or pct > 100:
        raise DomainError(f"Procentul discountului '{name}' trebuie sa fie intre 0 si 100.")
    count = p.numberOfItems if p.numberOfItems is not None else len(items)
    if count < 1 or count > len(items):
        raise DomainError(f"Discountul '{name}' se aplica pe {count} produse, dar inaintea lui sunt {len(items)}.")
    covered = items[-count:]
    if any(i.discount_percentage for i in covered):
        raise DomainError(f"Discountul '{name}' acopera un produs care are deja discount; pe bon fiecare produs "
                          "poate avea un singur discount.")
    return items[:-count] + [replace(i, discount_percentage=pct) for i in covered]


def items_from_invoices(targets: list[tuple[Document, Decimal]]) -> list[ReceiptItem]:
    """A receipt for invoices, without products: per invoice, one item per VAT rate, the amount paid
    spread over the invoice's VAT rates in proportion to their totals."""
    items: list[ReceiptItem] = []
    for doc, amount in targets:
        label = f"{doc.series_name}{doc.number_text or ''}"
        groups = [(b["category"], Decimal(b["percentage"]), Decimal(b["taxable_amount"]) + Decimal(b["tax_amount"]))
                  for b in doc.vat_breakdown]
        groups = [g for g in groups if g[2] > 0] or [(NOT_SUBJECT if not doc.vat_payer else "S", ZERO, amount)]
        parts = split_proportionally(amount, [g[2] for g in groups], 2)
        for (category, pct, _), part in zip(groups, parts, strict=True):
            if part <= 0:
                continue
            name = f"Factura {label}" if len(groups) == 1 else f"Factura {label} TVA {format(pct.normalize(), 'f')}%"
            items.append(ReceiptItem(name=name, quantity=Decimal(1), unit_price=part, vat_group=vat_group(category, pct)))
    return items
