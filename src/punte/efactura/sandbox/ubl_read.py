"""Reading a received UBL Invoice / CreditNote: the facts ANAF's processing needs, and a document for the PDF.

:func:`read_facts` is tolerant (it never fails on a well-formed document; a missing field is
``None``): the sandbox uses it to record what was uploaded, to check the seller and to detect
duplicates. :func:`to_document` maps a document onto punte's :class:`IssuedDocument` so that
``transformare`` can draw it with punte's own PDF renderer; it raises :class:`UblReadError`
when an amount, quantity or date cannot be read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from lxml import etree

from punte.domain.documents import INVOICE, DocumentRef, IssuedDocument, Line, Party, Totals, VatSubtotal
from punte.domain.units import DEFAULT_UNITS

INVOICE_NS = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
CREDIT_NOTE_NS = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
CII_NS = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
NS = {"cac": CAC, "cbc": CBC}
ROOTS = {f"{{{INVOICE_NS}}}Invoice": "UBL", f"{{{CREDIT_NOTE_NS}}}CreditNote": "CN",
         f"{{{CII_NS}}}CrossIndustryInvoice": "CII"}
_UNIT_NAMES = {code: name for name, code in reversed(list(DEFAULT_UNITS.items()))}
_RO_PREFIX = re.compile(r"^\s*RO\s*", re.IGNORECASE)


class UblReadError(ValueError):
    """A value of the document cannot be read (not a number, not a date)."""


@dataclass(frozen=True)
class UblFacts:
    """What the sandbox records about a received document."""

    standard: str | None  # UBL, CN or CII by the root element; None for anything else
    number: str | None
    issue_date: str | None
    seller_cif: str | None  # digits of a Romanian CIF, or the identifier as written abroad
    seller_country: str | None
    buyer_cif: str | None
    buyer_country: str | None


def _text(node: etree._Element | None, path: str) -> str | None:
    if node is None:
        return None
    found = node.find(path, NS)
    if found is None or found.text is None:
        return None
    value = " ".join(found.text.split())
    return value or None


def _party_id(party: etree._Element | None) -> str | None:
    if party is None:
        return None
    for scheme in party.findall("cac:PartyTaxScheme", NS):
        value = _text(scheme, "cbc:CompanyID")
        if value:
            return value
    return _text(party, "cac:PartyLegalEntity/cbc:CompanyID")


def _cif(raw: str | None, country: str | None) -> str | None:
    if raw is None:
        return None
    compact = re.sub(r"\s+", "", raw)
    if (country or "RO") == "RO" or _RO_PREFIX.match(compact):
        stripped = _RO_PREFIX.sub("", compact)
        if stripped.isdigit():
            return stripped
    return compact


def read_facts(root: etree._Element) -> UblFacts:
    standard = ROOTS.get(root.tag)
    if standard not in ("UBL", "CN"):
        return UblFacts(standard, None, None, None, None, None, None)
    seller = root.find("cac:AccountingSupplierParty/cac:Party", NS)
    buyer = root.find("cac:AccountingCustomerParty/cac:Party", NS)
    seller_country = _text(seller, "cac:PostalAddress/cac:Country/cbc:IdentificationCode")
    buyer_country = _text(buyer, "cac:PostalAddress/cac:Country/cbc:IdentificationCode")
    buyer_id = None
    if buyer is not None:  # BT-48 first, then BT-47 (a CNP or zeros for an individual)
        buyer_id = _party_id(buyer)
    return UblFacts(
        standard=standard,
        number=_text(root, "cbc:ID"),
        issue_date=_text(root, "cbc:IssueDate"),
        seller_cif=_cif(_party_id(seller), seller_country),
        seller_country=seller_country,
        buyer_cif=_cif(buyer_id, buyer_country),
        buyer_country=buyer_country,
    )


# -- the document for the PDF -----------------------------------------------------------------


def _decimal(node: etree._Element | None, path: str, default: Decimal | None = Decimal(0)) -> Decimal:
    value = _text(node, path)
    if value is None:
        if default is None:
            raise UblReadError(f"{path} lipseste")
        return default
    try:
        return Decimal(value)
    except InvalidOperation as exc:
        raise UblReadError(f"{path}: '{value}' nu este un numar") from exc


def _date(node: etree._Element, path: str) -> date | None:
    value = _text(node, path)
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise UblReadError(f"{path}: '{value}' nu este o data AAAA-LL-ZZ") from exc


def _party(node: etree._Element | None, iban: str | None = None) -> Party:
    if node is None:
        return Party(name="-")
    name = _text(node, "cac:PartyLegalEntity/cbc:RegistrationName") or _text(node, "cac:PartyName/cbc:Name") or "-"
    legal_form = _text(node, "cac:PartyLegalEntity/cbc:CompanyLegalForm")
    return Party(
        name=name,
        cif=_party_id(node),
        reg_com=legal_form,
        address=_text(node, "cac:PostalAddress/cbc:StreetName"),
        city=_text(node, "cac:PostalAddress/cbc:CityName"),
        county=_text(node, "cac:PostalAddress/cbc:CountrySubentity"),
        country=_text(node, "cac:PostalAddress/cac:Country/cbc:IdentificationCode"),
        email=_text(node, "cac:Contact/cbc:ElectronicMail"),
        phone=_text(node, "cac:Contact/cbc:Telephone"),
        contact=_text(node, "cac:Contact/cbc:Name"),
        iban=iban,
    )


def _split_number(full: str) -> tuple[str, str]:
    match = re.match(r"^(.*?)(\d[\w\-/]*)$", full)
    if match and match.group(1):
        return match.group(1).strip(), match.group(2)
    return "", full


def to_document(root: etree._Element) -> IssuedDocument:
    """The UBL document as punte's read model (what the PDF renderer draws)."""
    standard = ROOTS.get(root.tag)
    if standard not in ("UBL", "CN"):
        raise UblReadError("documentul nu este o factura (Invoice) sau o nota de creditare (CreditNote) UBL 2.1")
    credit = standard == "CN"
    currency = _text(root, "cbc:DocumentCurrencyCode") or "RON"
    iban = _text(root, "cac:PaymentMeans/cac:PayeeFinancialAccount/cbc:ID")
    lines: list[Line] = []
    line_tag, qty_tag = ("cac:CreditNoteLine", "cbc:CreditedQuantity") if credit else ("cac:InvoiceLine",
                                                                                         "cbc:InvoicedQuantity")
    categories: set[str] = set()
    for position, item in enumerate(root.findall(line_tag, NS), start=1):
        quantity_el = item.find(qty_tag, NS)
        unit_code = quantity_el.get("unitCode", "") if quantity_el is not None else ""
        category = _text(item, "cac:Item/cac:ClassifiedTaxCategory/cbc:ID") or "S"
        categories.add(category)
        percent = _text(item, "cac:Item/cac:ClassifiedTaxCategory/cbc:Percent")
        lines.append(Line(
            position=position,
            name=_text(item, "cac:Item/cbc:Name") or "-",
            description=_text(item, "cac:Item/cbc:Description"),
            code=_text(item, "cac:Item/cac:SellersItemIdentification/cbc:ID"),
            quantity=_decimal(item, qty_tag),
            unit_price=_decimal(item, "cac:Price/cbc:PriceAmount"),
            net_amount=_decimal(item, "cbc:LineExtensionAmount"),
            unit=_UNIT_NAMES.get(unit_code, unit_code or "buc"),
            vat_name=None,
            vat_percentage=_decimal(item, "cac:Item/cac:ClassifiedTaxCategory/cbc:Percent") if percent else None,
            vat_category=category,
        ))
    for allowance in root.findall("cac:AllowanceCharge", NS):
        charge = (_text(allowance, "cbc:ChargeIndicator") or "false").lower() == "true"
        amount = _decimal(allowance, "cbc:Amount")
        category = _text(allowance, "cac:TaxCategory/cbc:ID") or "S"
        percent = _text(allowance, "cac:TaxCategory/cbc:Percent")
        lines.append(Line(
            position=len(lines) + 1,
            name=_text(allowance, "cbc:AllowanceChargeReason") or ("Majorare" if charge else "Discount"),
            quantity=Decimal(1),
            unit_price=amount,
            net_amount=amount if charge else -amount,
            unit="buc",
            vat_name=None,
            vat_percentage=_decimal(allowance, "cac:TaxCategory/cbc:Percent") if percent else None,
            vat_category=category,
            is_discount=True,
        ))
    currency_totals = [t for t in root.findall("cac:TaxTotal", NS)
                       if (t.find("cbc:TaxAmount", NS) is not None
                           and t.find("cbc:TaxAmount", NS).get("currencyID", currency) == currency)]
    ron_totals = [t for t in root.findall("cac:TaxTotal", NS) if t not in currency_totals]
    breakdown = []
    vat_total = Decimal(0)
    for total in currency_totals[:1]:
        vat_total = _decimal(total, "cbc:TaxAmount")
        for sub in total.findall("cac:TaxSubtotal", NS):
            category = _text(sub, "cac:TaxCategory/cbc:ID") or "S"
            categories.add(category)
            breakdown.append(VatSubtotal(
                category=category,
                percentage=_decimal(sub, "cac:TaxCategory/cbc:Percent"),
                taxable_amount=_decimal(sub, "cbc:TaxableAmount"),
                tax_amount=_decimal(sub, "cbc:TaxAmount"),
                exemption_reason=_text(sub, "cac:TaxCategory/cbc:TaxExemptionReason"),
            ))
    monetary = root.find("cac:LegalMonetaryTotal", NS)
    totals = Totals(
        line_total=_decimal(monetary, "cbc:LineExtensionAmount"),
        allowance_total=_decimal(monetary, "cbc:AllowanceTotalAmount"),
        net_total=_decimal(monetary, "cbc:TaxExclusiveAmount"),
        vat_total=vat_total,
        gross_total=_decimal(monetary, "cbc:TaxInclusiveAmount"),
        vat_breakdown=tuple(breakdown),
        vat_total_ron=_decimal(ron_totals[0], "cbc:TaxAmount") if ron_totals else None,
    )
    full_number = _text(root, "cbc:ID") or "-"
    series, number = _split_number(full_number)
    issue = _date(root, "cbc:IssueDate")
    if issue is None:
        raise UblReadError("cbc:IssueDate lipseste")
    reverses = None
    original = root.find("cac:BillingReference/cac:InvoiceDocumentReference", NS)
    if original is not None:
        ref_series, ref_number = _split_number(_text(original, "cbc:ID") or "-")
        ref_date = _date(original, "cbc:IssueDate")
        if ref_date is not None:
            reverses = DocumentRef(ref_series, ref_number, ref_date)
    notes = [n.text.strip() for n in root.findall("cbc:Note", NS) if n.text and n.text.strip()]
    due = _date(root, "cbc:DueDate") or _date(root, "cac:PaymentMeans/cbc:PaymentDueDate")
    return IssuedDocument(
        id=0,
        kind=INVOICE,
        series=series,
        number=number,
        issue_date=issue,
        currency=currency,
        seller=_party(root.find("cac:AccountingSupplierParty/cac:Party", NS), iban),
        buyer=_party(root.find("cac:AccountingCustomerParty/cac:Party", NS)),
        lines=lines,
        totals=totals,
        seller_vat_payer=bool(categories - {"O"}),
        due_date=due,
        delivery_date=_date(root, "cac:Delivery/cbc:ActualDeliveryDate"),
        mentions="\n".join(notes) or None,
        precision=4,
        reverses=reverses,
        paid_amount=_decimal(monetary, "cbc:PrepaidAmount"),
        extra={"credit_note": credit},
    )
