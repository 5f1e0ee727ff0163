"""Issuing invoices (and, with the same engine, proformas): validate, price, number, store, log.

Numbers are assigned only when a document is issued, from the series row taken under a lock
(``SELECT ... FOR UPDATE`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite) in the same transaction
that inserts the document, and ``UNIQUE(company, series, number)`` arbitrates in the end. A rollback
therefore never leaves a gap, and two issuers never share a number.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from punte.domain.documents import (
    INVOICE,
    IssuedDocument,
    PROFORMA,
    DiscountInput,
    Line,
    Party,
    ProductInput,
    check_positive_quantity,
    compute_lines,
    summarize,
)
from punte.domain.errors import DomainError
from punte.domain.identifiers import cif_digits
from punte.domain.money import CURRENCIES
from punte.domain.vat import VatRate, find_rate
from punte.efactura.ubl import build_ubl
from punte.efactura.ubl_parties import UblError, check_reportable
from punte.smartbill.wire import ClientData, DocumentRequest, InvoiceRequest, ProductData
from punte.store.models import Client, Company, Document, DocumentLine, ExchangeRate, Product, Series

from . import events, lifecycle
from .companies import vat_rates, vat_status_on
from .payments import record_payment_at_issue
from .price_lists import PriceResolver

if TYPE_CHECKING:
    from .bridge_checkout import PendingCheckout

BUCHAREST = ZoneInfo("Europe/Bucharest")
LANGUAGES = {"RO", "EN", "FR", "DE", "IT", "ES", "HU"}
SERIES_TYPE = {INVOICE: "f", PROFORMA: "p"}
DATE_ERROR = "Data documentului trebuie sa fie de forma yyyy-MM-dd."
SERIES_NOT_FOUND = "Seria nu a fost gasita! Folositi o serie creata in contul de cloud."


def today_in_romania() -> date:
    return datetime.now(BUCHAREST).date()


def parse_date(text: str | None, *, default: date | None = None) -> date | None:
    """SmartBill dates are exactly ``yyyy-MM-dd``."""
    if text is None or text == "":
        return default
    try:
        if len(text) != 10:
            raise ValueError
        return date.fromisoformat(text)
    except ValueError as exc:
        raise DomainError(DATE_ERROR) from exc


def parse_number(text: str | None) -> int | None:
    value = (text or "").strip()
    return int(value) if value.isdigit() else None


def doc_label(series: str, number: str | None) -> str:
    return f"{series}{number or ''}"


@dataclass
class Issued:
    document: Document
    payment_url: str = ""
    #: "Generate URL": the Stripe Checkout link to make once the issuing transaction has committed; the
    #: caller that commits completes it (``bridge_checkout.complete_checkout``), nothing does it by itself.
    checkout: PendingCheckout | None = None


def _party_from_company(company: Company, *, use_intra_cif: bool, vat_payer: bool) -> dict[str, object]:
    cif = company.cif
    if use_intra_cif and company.intra_cif:
        cif = company.intra_cif
    elif vat_payer:
        cif = f"RO{company.cif}"
    return asdict(Party(
        name=company.name,
        cif=cif,
        reg_com=company.reg_com,
        address=company.address,
        city=company.city,
        county=company.county,
        country=company.country,
        email=company.email,
        phone=company.phone,
        iban=company.iban,
        bank=company.bank,
        is_tax_payer=vat_payer,
    ))


def _party_from_client(client: ClientData) -> dict[str, object]:
    return asdict(Party(
        name=(client.name or "").strip(),
        cif=(client.vatCode or "").strip() or None,
        reg_com=client.regCom,
        address=client.address,
        city=client.city,
        county=client.county,
        country=client.country or "Romania",
        email=client.email,
        phone=client.phone,
        contact=client.contact,
        iban=client.iban,
        bank=client.bank,
        is_tax_payer=client.isTaxPayer,
        code=client.code,
    ))


def _save_client(session: Session, company: Company, client: ClientData) -> None:
    name = (client.name or "").strip()
    existing = session.scalar(select(Client).where(Client.company_id == company.id, Client.name == name))
    vat = (client.vatCode or "").strip() or None
    if existing is not None:
        if (existing.vat_code or None) != vat and existing.vat_code and vat:
            raise DomainError("Clientul exista deja pe server")
    else:
        existing = Client(company_id=company.id, name=name)
        session.add(existing)
    existing.vat_code = vat or existing.vat_code
    for attr, value in (
        ("code", client.code),
        ("reg_com", client.regCom),
        ("address", client.address),
        ("city", client.city),
        ("county", client.county),
        ("country", client.country),
        ("email", client.email),
        ("phone", client.phone),
        ("contact", client.contact),
        ("bank", client.bank),
        ("iban", client.iban),
    ):
        if value:
            setattr(existing, attr, value)
    existing.is_tax_payer = client.isTaxPayer


def _save_product(session: Session, company: Company, item: ProductInput, currency: str) -> None:
    code = item.code or ""
    row = session.scalar(
        select(Product).where(Product.company_id == company.id, Product.name == item.name, Product.code == code)
    )
    if row is None:
        row = Product(company_id=company.id, name=item.name, code=code)
        session.add(row)
    row.unit = item.unit
    row.price = item.price
    row.currency = (item.currency or currency).upper()
    row.tax_included = item.tax_included
    row.vat_name = item.rate.name if item.rate else None
    row.vat_percentage = item.rate.percentage if item.rate else None
    row.is_service = item.is_service


STALE_RATE_DAYS = 7


def lookup_exchange_rate(session: Session, currency: str, day: date) -> Decimal:
    """BNR rate of the last publication on or before ``day``; a clear error when none is known."""
    row = session.scalar(
        select(ExchangeRate)
        .where(ExchangeRate.currency == currency.upper(), ExchangeRate.day <= day)
        .order_by(ExchangeRate.day.desc())
        .limit(1)
    )
    # BNR publishes every banking day; the longest pause (Easter, Christmas) is a few days. A newest
    # stored rate older than a week means the store is behind, not that BNR published nothing.
    if row is None or (day - row.day).days > STALE_RATE_DAYS:
        raise DomainError(
            f"Cursul BNR pentru {currency.upper()} la data {day.isoformat()} nu este cunoscut. "
            "Trimiteti exchangeRate sau incarcati cursurile BNR (punte rates load / punte rates fetch)."
        )
    return row.rate


def _product_items(
    req: DocumentRequest,
    *,
    company: Company,
    vat_payer: bool,
    rates: list[VatRate],
    day: date,
    currency: str,
    none_text: str,
    prices: PriceResolver | None = None,
) -> list[ProductInput | DiscountInput]:
    products = req.products or []
    if not products:
        raise DomainError(none_text)
    if len(products) > 400:
        raise DomainError("Numarul maxim acceptat de 400 intrari pe document a fost depasit.")
    items: list[ProductInput | DiscountInput] = []
    for p in products:
        items.append(
            _discount(p, vat_payer, rates, day) if p.isDiscount else _product(p, company, vat_payer, rates, day, prices)
        )
    for p in products:
        if not p.isDiscount and p.currency and p.currency.upper() not in CURRENCIES:
            raise DomainError("Moneda nu a fost gasita pe server!")
    return items


def _rate_for(p: ProductData, vat_payer: bool, rates: list[VatRate], day: date, name: str) -> VatRate | None:
    if not vat_payer:
        return None
    return find_rate(rates, day, name=p.taxName or None, percentage=p.taxPercentage, product=name)


def _product(
    p: ProductData, company: Company, vat_payer: bool, rates: list[VatRate], day: date,
    prices: PriceResolver | None = None,
) -> ProductInput:
    name = (p.name or "").strip()
    if not name:
        raise DomainError("name trebuie specificat pentru fiecare produs")
    if p.price is None and prices is not None:
        # A nomenclature product named without a price: the client's special price list, else its own price.
        found = prices.price_for(name, (p.code or "").strip() or None)
        if found is not None:
            if (p.currency or "").strip() and p.currency.strip().upper() != found.currency:  # type: ignore[union-attr]
                raise DomainError(
                    f"Pretul produsului {name} ({found.source}) este in {found.currency}; "
                    f"trimiteti pretul sau currency {found.currency}."
                )
            p = p.model_copy(update={
                "price": found.price,
                "currency": found.currency,
                "isTaxIncluded": found.tax_included,
                "measuringUnitName": p.measuringUnitName or found.unit,
                "taxName": p.taxName if (p.taxName or p.taxPercentage is not None) else found.vat_name,
                "isService": p.isService or found.is_service,
            })
    if not (p.measuringUnitName or "").strip():
        raise DomainError("measuringUnitName trebuie specificat pentru fiecare produs")
    if not (p.currency or "").strip():
        raise DomainError("currency trebuie specificat pentru fiecare produs")
    if p.quantity is None:
        raise DomainError("quantity trebuie specificat pentru fiecare produs")
    if p.price is None:
        raise DomainError("price trebuie specificat pentru fiecare produs")
    if company.uses_product_codes and not (p.code or "").strip():
        raise DomainError(f"Produsul {name} nu are codul specificat.")
    if p.quantity.copy_abs() > Decimal("1e9") or p.price.copy_abs() > Decimal("1e12"):
        raise DomainError(f"Cantitatea sau pretul produsului '{name}' depaseste valorile acceptate.")
    if p.exchangeRate is not None and p.exchangeRate <= 0:
        raise DomainError(f"Cursul valutar al produsului '{name}' trebuie sa fie pozitiv.")
    item = ProductInput(
        name=name,
        quantity=p.quantity,
        price=p.price,
        unit=p.measuringUnitName.strip(),  # type: ignore[union-attr]
        rate=_rate_for(p, vat_payer, rates, day, name),
        tax_included=p.isTaxIncluded,
        code=(p.code or "").strip() or None,
        description=p.productDescription,
        is_service=p.isService,
        currency=p.currency.strip().upper(),  # type: ignore[union-attr]
        exchange_rate=p.exchangeRate,
        translated_name=p.translatedName,
        translated_unit=p.translatedMeasuringUnit,
        warehouse=p.warehouseName or None,
    )
    check_positive_quantity(item)
    return item


def _discount(p: ProductData, vat_payer: bool, rates: list[VatRate], day: date) -> DiscountInput:
    name = (p.name or "Discount").strip()
    kind = p.discountType if p.discountType in (1, 2) else (2 if p.discountType is None else 1)
    explicit = None
    if vat_payer and (p.taxName or p.taxPercentage is not None):
        explicit = find_rate(rates, day, name=p.taxName or None, percentage=p.taxPercentage, product=name)
    if kind == 2:
        if p.discountPercentage is None:
            raise DomainError("discountPercentage trebuie specificat pentru fiecare produs de tip discount")
        return DiscountInput(
            name=name, number_of_items=p.numberOfItems, percentage=p.discountPercentage, rate=explicit,
            tax_included=p.isTaxIncluded, translated_name=p.translatedName, translated_unit=p.translatedMeasuringUnit,
            unit=p.measuringUnitName or "buc",
        )
    if p.discountValue is None or p.discountValue == 0:
        raise DomainError("discountValue trebuie specificat pentru fiecare produs de tip discount")
    return DiscountInput(
        name=name, number_of_items=p.numberOfItems, value=p.discountValue.copy_abs(), rate=explicit,
        tax_included=p.isTaxIncluded, translated_name=p.translatedName, translated_unit=p.translatedMeasuringUnit,
        unit=p.measuringUnitName or "buc",
    )


def resolve_series(session: Session, company: Company, kind: str, name: str | None, *, lock: bool) -> Series:
    stmt = select(Series).where(Series.company_id == company.id, Series.type == SERIES_TYPE[kind])
    stmt = stmt.where(Series.name == name.strip()) if name else stmt.where(Series.is_default.is_(True))
    if lock:
        stmt = stmt.with_for_update()
    series = session.scalar(stmt)
    if series is None:
        raise DomainError(SERIES_NOT_FOUND)
    return series


def assign_number(session: Session, series: Series, document: Document) -> None:
    """Give ``document`` the series' next number; the caller holds the series lock."""
    number = series.next_number
    series.next_number = number + 1
    document.number = number
    document.number_text = series.format(number)
    document.status = "issued"
    document.issued_at = datetime.now(UTC)


def store_lines(session: Session, document: Document, lines: list[Line]) -> None:
    """Insert the lines of a flushed document in one executemany (the ORM's per-row work is the cost)."""
    session.execute(
        insert(DocumentLine),
        [
            {
                "document_id": document.id,
                "position": ln.position,
                "is_discount": ln.is_discount,
                "name": ln.name,
                "code": ln.code,
                "description": ln.description,
                "unit": ln.unit,
                "quantity": ln.quantity,
                "unit_price": ln.unit_price,
                "net_amount": ln.net_amount,
                "vat_name": ln.vat_name,
                "vat_percentage": ln.vat_percentage,
                "vat_category": ln.vat_category,
                "vat_exemption_reason": ln.vat_exemption_reason,
                "tax_included": ln.tax_included,
                "entered_price": ln.entered_price,
                "entered_currency": ln.entered_currency,
                "entered_exchange_rate": ln.entered_exchange_rate,
                "is_service": ln.is_service,
                "translated_name": ln.translated_name,
                "translated_unit": ln.translated_unit,
                "warehouse": ln.warehouse,
                "discount_items": ln.discount_items,
                "discount_percentage": ln.discount_percentage,
                "gross_amount": ln.gross_amount,
            }
            for ln in lines
        ],
    )


def set_totals(document: Document, lines: list[Line]) -> None:
    totals = summarize(lines, currency=document.currency, exchange_rate=document.exchange_rate)
    document.line_total = totals.line_total
    document.allowance_total = totals.allowance_total
    document.net_total = totals.net_total
    document.vat_total = totals.vat_total
    document.gross_total = totals.gross_total
    document.vat_total_ron = totals.vat_total_ron
    document.gross_total_ron = totals.gross_total_ron
    document.vat_breakdown = [
        {
            "category": b.category,
            "percentage": format(b.percentage, "f"),
            "taxable_amount": format(b.taxable_amount, "f"),
            "tax_amount": format(b.tax_amount, "f"),
            "name": b.name,
            "exemption_reason": b.exemption_reason,
        }
        for b in totals.vat_breakdown
    ]


def snapshot(document: Document, lines: list[Line] | None = None) -> dict[str, object]:
    """What the event log keeps of a document (enough to rebuild it)."""
    rows = lines if lines is not None else document.lines
    return {
        "kind": document.kind,
        "series": document.series_name,
        "number": document.number_text,
        "status": document.status,
        "issue_date": document.issue_date,
        "currency": document.currency,
        "gross_total": document.gross_total,
        "vat_total": document.vat_total,
        "client": document.client_name,
        "buyer": document.buyer,
        "lines": [
            {
                "name": ln.name,
                "quantity": ln.quantity,
                "unit_price": ln.unit_price,
                "net_amount": ln.net_amount,
                "vat": ln.vat_percentage,
                "discount": ln.is_discount,
            }
            for ln in rows
        ],
    }


def create_document(
    session: Session,
    company: Company,
    req: DocumentRequest,
    *,
    kind: str,
    actor: str,
    today: date | None = None,
    rate_lookup: Callable[[Session, str, date], Decimal] = lookup_exchange_rate,
) -> Issued:
    """Validate a SmartBill request and store the document (issued with a number, or a draft)."""
    today = today or today_in_romania()
    issue_date = parse_date(req.issueDate, default=today)
    assert issue_date is not None
    due_date = parse_date(req.dueDate)
    delivery_date = parse_date(req.deliveryDate)
    parse_date(req.paymentDate)
    if due_date is not None and due_date < issue_date:
        raise DomainError("Data scadentei nu poate fi anterioara datei emiterii.")

    if isinstance(req, InvoiceRequest) and (req.useEstimateDetails or req.estimate is not None):
        from .estimates import apply_estimate_details

        req = apply_estimate_details(session, company, req)

    if req.client is None:
        raise DomainError("client trebuie specificat")
    if not (req.client.name or "").strip():
        raise DomainError("Client invalid!")

    currency = (req.currency or "RON").strip().upper()
    if currency not in CURRENCIES:
        raise DomainError("Moneda nu a fost gasita pe server!")
    language = (req.language or "RO").strip().upper()
    if language not in LANGUAGES:
        raise DomainError("Limba nu a fost gasita pe server!")
    precision = max(2, min(4, req.precision if req.precision is not None else 2))

    status = vat_status_on(company, issue_date)
    vat_payer = status.vat_payer
    if req.usePaymentTax and not vat_payer:
        raise DomainError("O firma neplatitoare de tva nu poate folosi tva la incasare!")

    series = resolve_series(session, company, kind, req.seriesName, lock=not req.isDraft)
    rates = vat_rates(session, company.id) if vat_payer else []
    none_text = "Factura nu contine produse!" if kind == INVOICE else "Proforma nu contine produse!"
    items = _product_items(
        req, company=company, vat_payer=vat_payer, rates=rates, day=issue_date, currency=currency, none_text=none_text,
        prices=PriceResolver(session, company, req.client),
    )

    exchange_rate: Decimal | None = None
    if currency != "RON":
        if req.exchangeRate is not None:
            if req.exchangeRate <= 0:
                raise DomainError("Cursul valutar trebuie sa fie pozitiv.")
            exchange_rate = req.exchangeRate
        else:
            exchange_rate = rate_lookup(session, currency, issue_date)

    lines = compute_lines(
        items,
        currency=currency,
        precision=precision,
        vat_payer=vat_payer,
        rate_for_currency=lambda cur: rate_lookup(session, cur, issue_date),
    )

    payment_url = ""
    checkout = None  # "Generate URL": a Stripe Checkout link, made after commit (never under the series lock)
    if req.paymentUrl:
        if req.paymentUrl.strip().lower() == "generate url":
            from .bridge_checkout import plan_checkout  # refuses unless a Stripe bridge with an API key exists

            checkout = plan_checkout(session, company)
        else:
            payment_url = req.paymentUrl.strip()

    details: dict[str, object] = {
        k: v
        for k, v in {
            "mentions": req.mentions,
            "observations": req.observations,
            "issuerCnp": req.issuerCnp,
            "issuerName": req.issuerName,
            "aviz": req.aviz,
            "delegateName": req.delegateName,
            "delegateIdentityCard": req.delegateIdentityCard,
            "delegateAuto": req.delegateAuto,
            "paymentDate": req.paymentDate,
            "paymentUrl": payment_url or None,
            "useIntraCif": req.useIntraCif or None,
            "useStock": req.useStock or None,
            "paymentBase": format(req.paymentBase, "f") if req.usePaymentTax and req.paymentBase is not None else None,
            "colectedTax": format(req.colectedTax, "f") if req.usePaymentTax and req.colectedTax is not None else None,
            "paymentTotal": format(req.paymentTotal, "f") if req.usePaymentTax and req.paymentTotal is not None else None,
        }.items()
        if v not in (None, "")
    }

    document = Document(
        company_id=company.id,
        kind=kind,
        series_id=series.id,
        series_name=series.name,
        status="draft",
        issue_date=issue_date,
        due_date=due_date,
        delivery_date=delivery_date,
        currency=currency,
        exchange_rate=exchange_rate,
        language=language,
        precision=precision,
        vat_payer=vat_payer,
        vat_on_collection=vat_payer and (req.usePaymentTax or status.vat_on_collection),
        seller=_party_from_company(company, use_intra_cif=req.useIntraCif, vat_payer=vat_payer),
        buyer=_party_from_client(req.client),
        client_name=req.client.name.strip(),  # type: ignore[union-attr]
        client_cif=cif_digits(req.client.vatCode or "") or None,
        details=details,
        view_token=secrets.token_urlsafe(24),
        created_by=actor,
    )
    if isinstance(req, InvoiceRequest) and req._estimate_id:
        document.estimate_id = req._estimate_id
    set_totals(document, lines)

    if not req.isDraft:
        if kind == INVOICE:
            ensure_reportable(document, lines)
        lifecycle.before_issue(session, company, kind=kind)
        assign_number(session, series, document)
    session.add(document)
    try:
        session.flush()
    except IntegrityError as exc:
        raise DomainError(
            f"Numarul {document.number_text} exista deja pe seria {series.name}. Verificati numarul urmator al seriei."
        ) from exc
    store_lines(session, document, lines)
    pending = checkout(session, company, document) if checkout is not None else None

    if req.client.saveToDb:
        _save_client(session, company, req.client)
    for item in items:
        if isinstance(item, ProductInput) and req.products and any(
            p.saveToDb and (p.name or "").strip() == item.name for p in req.products
        ):
            _save_product(session, company, item, currency)

    events.record(
        session,
        company_id=company.id,
        entity="document",
        entity_id=document.id,
        action="issued" if not req.isDraft else "draft_created",
        actor=actor,
        data=snapshot(document, lines),
    )
    if not req.isDraft:
        lifecycle.after_issue(session, company, document, actor=actor)
    if isinstance(req, InvoiceRequest) and req.payment is not None:
        if req.isDraft:
            raise DomainError("O factura ciorna nu poate fi incasata.")
        record_payment_at_issue(session, company, document, req.payment, actor=actor)
    if req.sendEmail and not req.isDraft:
        from .email import queue_issue_email  # refuses (rolling all back) when the company has no SMTP server

        queue_issue_email(session, company, document, req.email, actor=actor)
    return Issued(document=document, payment_url=payment_url, checkout=pending)


def ensure_reportable(document: Document, lines: list[Line] | None = None) -> None:
    """punte never issues an invoice it could not report to e-Factura: its UBL is built first.

    Party data (unknown county, no city...) and line mixes the rules forbid (reverse charge to a
    buyer without a VAT id...) are refused here, with the field named, before a number is taken.
    """
    try:
        seller, buyer = Party(**document.seller), Party(**document.buyer)
        check_reportable(seller, buyer)
        if lines is not None:
            totals = summarize(lines, currency=document.currency, exchange_rate=document.exchange_rate)
            view = IssuedDocument(
                id=0, kind=document.kind, series=document.series_name, number="0", issue_date=document.issue_date,
                currency=document.currency, seller=seller, buyer=buyer, lines=lines, totals=totals,
                seller_vat_payer=document.vat_payer, due_date=document.due_date,
                delivery_date=document.delivery_date, exchange_rate=document.exchange_rate,
                vat_on_collection=document.vat_on_collection, mentions=(document.details or {}).get("mentions"),
            )
            build_ubl(view)
    except UblError as exc:
        raise DomainError(f"Factura nu poate fi raportata in e-Factura: {exc}") from exc


def issue_draft(session: Session, company: Company, document: Document, *, actor: str) -> Document:
    """Give a draft its number (punte extension: SmartBill does this in its web interface)."""
    if document.status != "draft":
        raise DomainError(f"Documentul {doc_label(document.series_name, document.number_text)} nu este ciorna.")
    if document.kind == INVOICE:
        ensure_reportable(document)
    series = session.scalar(select(Series).where(Series.id == document.series_id).with_for_update())
    assert series is not None
    lifecycle.before_issue(session, company, kind=document.kind)
    assign_number(session, series, document)
    session.flush()
    events.record(
        session, company_id=company.id, entity="document", entity_id=document.id, action="issued",
        actor=actor, data=snapshot(document),
    )
    lifecycle.after_issue(session, company, document, actor=actor)
    return document


__all__ = ["Issued", "create_document", "ensure_reportable", "issue_draft", "parse_date", "today_in_romania"]
