"""From what a payment's events said to a SmartBill invoice request, or the exact list of what is missing.

The sources of one payment (the Checkout Session, the Stripe invoice, the charge, the PaymentIntent...)
are merged in a fixed order (richest first): a buyer field's first non-empty value wins, the lines come
from the first source that has lines, the amounts from the first confirmed source. Operator corrections
(``punte bridge retry --set buyer.county=Cluj``) come before everything.

The request is then built so that all of the engine's rules apply (``create_document``), after checks that
name every missing or invalid field at once (the engine stops at the first one):

* the buyer is a company when a valid CIF is present (a Romanian CUI, or an EU VAT number outside
  Romania), an individual otherwise (with a valid CNP when one was given);
* a Romanian county is normalised to its official name (``punte.domain.geo``);
* every line's total (VAT included) is exact in the currency, and the lines add up to the amount paid;
* prices are VAT-included, at the provider's rate when its tax data has one, else the company's configured
  default rate; reverse charge ("Inversa") for an EU business buyer with a valid VAT number when the
  company turned it on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session
from stdnum.eu import vat as eu_vat

from punte.domain.documents import Party
from punte.domain.errors import DomainError
from punte.domain.geo import COUNTIES, COUNTRIES, country_code, county_code, is_eu, vat_prefix
from punte.domain.identifiers import cif_digits, has_ro_prefix, is_valid_cif, is_valid_cnp
from punte.domain.money import CURRENCIES, places, round_to
from punte.domain.vat import REVERSE_CHARGE, VatRate, find_rate
from punte.efactura.ubl_parties import UblError, resolve_buyer
from punte.providers.base import BUYER_FIELDS, BuyerInfo, Sale, SaleLine, buyer_from, sale_from_json
from punte.smartbill.wire import ClientData, EmailData, InvoiceRequest, PaymentData, ProductData
from punte.store.models import Company

from .companies import vat_rates, vat_status_on

ZERO = Decimal(0)
MAX_NAME = 300


@dataclass(frozen=True)
class Problem:
    """A missing or invalid field, as recorded on the failure and shown to the company."""

    field: str
    kind: str  # missing | invalid
    text: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "kind": self.kind, "text": self.text}

    def __str__(self) -> str:
        word = "lipseste" if self.kind == "missing" else "invalid"
        return f"{self.field} ({word}): {self.text}"


# -- merging the sources ----------------------------------------------------------------------------------------


def _order(entry: Mapping[str, Any]) -> tuple[int, int, int]:
    return (int(entry.get("rank", 9)), 0 if entry.get("confirmed") else 1, -int(entry.get("occurred_at") or 0))


def combined_sale(sources: Mapping[str, Any], overrides: Mapping[str, Any] | None = None) -> Sale | None:
    """One sale from every source of a payment (``BridgePayment.sources``), richest first."""
    entries = sorted((e for e in sources.values() if isinstance(e, Mapping) and e.get("sale")), key=_order)
    if not entries:
        return None
    sales = [(e, sale_from_json(e["sale"])) for e in entries]
    money = next((s for e, s in sales if e.get("confirmed") and s.total is not None), None)
    money = money or next((s for _, s in sales if s.total is not None), sales[0][1])
    with_lines = next((s for _, s in sales if s.lines), None)
    rule = with_lines.lines_rule if with_lines else next((s.lines_rule for _, s in sales if s.lines_rule), None)
    buyer = buyer_from([s.buyer for _, s in sales])
    corrected = {k: v for k, v in (overrides or {}).items() if k in BUYER_FIELDS}
    if corrected:  # an operator's corrections replace single fields, not the whole address
        buyer = replace(buyer, **{k: (v or None) for k, v in corrected.items()})
    return Sale(
        currency=money.currency or next((s.currency for _, s in sales if s.currency), None),
        total=money.total,
        paid=money.paid,
        lines=with_lines.lines if with_lines else None,
        lines_rule=rule,
        buyer=buyer,
        payment_type=money.payment_type,
        document_id=next((s.document_id for _, s in sales if s.document_id), None),
        fetch_lines=next((s.fetch_lines for _, s in sales if s.fetch_lines), None),
        reference=next((s.reference for _, s in sales if s.reference), None),
    )


# -- the buyer ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Buyer:
    client: ClientData
    is_company: bool
    eu_business: bool


def _country(info: BuyerInfo) -> tuple[str | None, Problem | None]:
    if info.country:
        code = country_code(info.country)
        if code is None:
            return None, Problem("buyer.country", "invalid", f"tara '{info.country}' nu este recunoscuta")
        return code, None
    if info.state and county_code(info.state):
        return "RO", None
    return None, None


def _company_id(info: BuyerInfo, country: str | None) -> tuple[str | None, bool, bool]:
    """(vatCode, isTaxPayer, EU business outside Romania) when a valid CIF/VAT number is present."""
    for raw in (info.cif, info.vat_id, info.tin):
        if raw and is_valid_cif(raw):
            digits = cif_digits(raw)
            payer = has_ro_prefix(raw)
            return ("RO" + digits) if payer else digits, payer, False
    for raw in (info.vat_id, info.cif):
        if not raw:
            continue
        compact = re.sub(r"[\s.\-/]", "", raw).upper()
        if compact[:2].isalpha() and compact[:2] != "RO" and eu_vat.is_valid(compact):
            return compact, True, True
        if country and country != "RO" and is_eu(country):
            prefixed = vat_prefix(country) + compact
            if eu_vat.is_valid(prefixed):
                return prefixed, True, True
    return None, False, False


def build_buyer(info: BuyerInfo) -> tuple[Buyer | None, list[Problem]]:
    problems: list[Problem] = []
    country, problem = _country(info)
    if problem:
        problems.append(problem)
    vat_code, payer, eu_business = _company_id(info, country)
    is_company = vat_code is not None
    if not is_company:
        cnp = next((c.strip() for c in (info.tin, info.cif) if c and is_valid_cnp(c.strip())), None)
        vat_code = cnp
    name = (info.business_name or info.name) if is_company else (info.name or info.business_name)
    if not name:
        problems.append(Problem("buyer.name", "missing", "numele clientului (sau al firmei) lipseste"))
    if not info.line1:
        problems.append(Problem("buyer.address", "missing", "adresa clientului (strada, numarul) lipseste"))
    if not info.city:
        problems.append(Problem("buyer.city", "missing", "localitatea clientului lipseste"))
    if country is None and problem is None:
        problems.append(Problem("buyer.country", "missing", "tara clientului lipseste"))
    county = info.state
    if country == "RO":
        code = county_code(info.state) if info.state else county_code(info.city)
        if code is None:
            if info.state:
                problems.append(
                    Problem("buyer.county", "invalid", f"judetul '{info.state}' nu este un judet din Romania")
                )
            else:
                problems.append(Problem("buyer.county", "missing", "judetul clientului lipseste"))
        else:
            county = COUNTIES[code][0]
    address = ", ".join(p for p in (info.line1, info.line2) if p) or None
    country_name = COUNTRIES[country][1][0] if country in COUNTRIES else (info.country or None)
    if problems:
        return None, problems
    client = ClientData(
        name=str(name)[:200], vatCode=vat_code, isTaxPayer=payer, address=address, regCom=info.reg_com,
        city=info.city, county=county, country=country_name, email=info.email, phone=info.phone, saveToDb=False,
    )
    try:
        resolve_buyer(Party(name=client.name or "", cif=client.vatCode, reg_com=client.regCom, address=client.address,
                            city=client.city, county=client.county, country=client.country, email=client.email,
                            phone=client.phone, is_tax_payer=client.isTaxPayer))
    except UblError as exc:
        return None, [Problem(exc.field, "invalid", exc.text)]
    return Buyer(client=client, is_company=is_company, eu_business=eu_business), []


# -- lines ---------------------------------------------------------------------------------------------------------


def _decimals(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _unit_price(line: SaleLine, n: int) -> tuple[Decimal, Decimal, str]:
    """(quantity, VAT-included unit price, name) with quantity x price rounding to the line's amount.

    An exact unit price when there is one; else one with 4 decimals when quantity x price still rounds
    to the amount (232.00 for 3 items: 77.3333); else the line as one unit naming the quantity.
    """
    if line.quantity > 0:
        price = line.amount / line.quantity
        if _decimals(price) <= 4 and price * line.quantity == line.amount:
            return line.quantity, price.quantize(Decimal(1).scaleb(-_decimals(price))), line.name
        rounded = round_to(price, 4)
        if round_to(rounded * line.quantity, n) == line.amount:
            return line.quantity, rounded, line.name
    quantity_text = format(line.quantity.normalize(), "f")
    return Decimal(1), line.amount, f"{line.name} ({quantity_text} {line.unit})"


@dataclass
class Request:
    """The invoice request for a sale, with the data the bridge keeps besides it."""

    invoice: InvoiceRequest
    total: Decimal
    paid: Decimal
    payer_email: str | None = None
    notes: list[str] = field(default_factory=list)


def _rate(rates: list[VatRate], day: date, percentage: Decimal, index: int) -> tuple[VatRate | None, Problem | None]:
    try:
        return find_rate(rates, day, name=None, percentage=percentage, product=""), None
    except DomainError:
        return None, Problem(f"lines[{index}].vat", "invalid",
                             f"cota TVA {format(percentage.normalize(), 'f')}% nu exista in firma la {day.isoformat()}")


def build_request(
    session: Session, company: Company, sale: Sale, *, series: str | None, default_vat: Decimal,
    reverse_charge: bool, email_payer: bool, mentions: str, day: date,
) -> tuple[Request | None, list[Problem]]:
    """The SmartBill invoice request for ``sale``, or every problem found."""
    problems: list[Problem] = []
    currency = (sale.currency or "").upper()
    if not currency:
        problems.append(Problem("currency", "missing", "moneda platii lipseste"))
    elif currency not in CURRENCIES:
        problems.append(Problem("currency", "invalid", f"moneda {currency} nu este acceptata pe documente"))
    if sale.total is None:
        problems.append(Problem("amount", "missing", "suma platita lipseste"))
    n = places(currency) if currency else 2
    lines = list(sale.lines or ())
    if not lines:
        if sale.lines_rule and "nu poate" in sale.lines_rule:
            problems.append(Problem("lines", "invalid", sale.lines_rule))
        else:
            problems.append(Problem(
                "lines", "missing",
                "nicio sursa de linii (description, lines, line_items, Order Item, lineitem, quantity/product_name)",
            ))
    for i, ln in enumerate(lines):
        if round_to(ln.amount, n) != ln.amount:
            problems.append(Problem(f"lines[{i}].amount", "invalid",
                                    f"valoarea {ln.amount} are mai multe zecimale decat moneda {currency}"))
        if not ln.name.strip():
            problems.append(Problem(f"lines[{i}].name", "missing", "linia nu are denumire"))
    if lines and sale.total is not None:
        added = sum((ln.amount for ln in lines), ZERO)
        if added != sale.total:
            problems.append(Problem("lines", "invalid",
                                    f"liniile insumeaza {added} {currency}, dar plata este de {sale.total} {currency}"))
    paid = sale.paid if sale.paid is not None else sale.total
    if paid is not None and sale.total is not None and paid > sale.total:
        problems.append(Problem("amount", "invalid", f"suma incasata {paid} depaseste totalul {sale.total}"))
    buyer, buyer_problems = build_buyer(sale.buyer)
    problems.extend(buyer_problems)

    vat_payer = vat_status_on(company, day).vat_payer
    rates = vat_rates(session, company.id) if vat_payer else []
    inverse: VatRate | None = None
    reverse = vat_payer and reverse_charge and buyer is not None and buyer.eu_business
    if vat_payer and (reverse or any(ln.reverse_charge for ln in lines)):
        inverse = next((r for r in rates if r.category == REVERSE_CHARGE and r.valid_on(day)), None)
        if inverse is None:
            problems.append(Problem("lines.vat", "invalid", "firma nu are cota de taxare inversa (Inversa)"))

    products: list[ProductData] = []
    precision = 2
    default_rate: VatRate | None = None
    if vat_payer:
        default_rate, problem = _rate(rates, day, default_vat, 0)
        if problem:
            problems.append(Problem("vat_rate", "invalid", problem.text + " (cota implicita a puntii)"))
    product_count = 0
    for i, ln in enumerate(lines):
        rate: VatRate | None = None
        if vat_payer:
            if (reverse or ln.reverse_charge) and inverse is not None:
                rate = inverse
            elif ln.vat_percentage is not None:
                rate, problem = _rate(rates, day, ln.vat_percentage, i)
                if problem:
                    problems.append(problem)
            else:
                rate = default_rate
        tax = {"taxName": rate.name, "taxPercentage": rate.percentage} if rate is not None else {}
        if ln.amount < 0:
            products.append(ProductData(
                name=ln.name[:MAX_NAME], isDiscount=True, discountType=1, discountValue=-ln.amount,
                numberOfItems=product_count, isTaxIncluded=True, measuringUnitName="buc", **tax,
            ))
            continue
        quantity, price, name = _unit_price(ln, n)
        precision = max(precision, min(4, _decimals(price)))
        product_count += 1
        products.append(ProductData(
            name=name[:MAX_NAME], code=ln.code, measuringUnitName=ln.unit or "buc", currency=currency or "RON",
            quantity=quantity, price=price, isTaxIncluded=True, isService=ln.is_service, saveToDb=False, **tax,
        ))
    if problems or buyer is None or sale.total is None or paid is None:
        return None, problems
    email = buyer.client.email if email_payer and buyer.client.email and "@" in buyer.client.email else None
    invoice = InvoiceRequest(
        companyVatCode=company.cif, client=buyer.client, seriesName=series, currency=currency,
        issueDate=day.isoformat(), precision=precision, mentions=mentions[:500], products=products,
        payment=PaymentData(value=paid, type=sale.payment_type, isCash=False) if paid > 0 else None,
        sendEmail=email is not None, email=EmailData(to=email) if email else None,
    )
    return Request(invoice=invoice, total=sale.total, paid=paid, payer_email=email), []


__all__ = ["Buyer", "Problem", "Request", "build_buyer", "build_request", "combined_sale"]
