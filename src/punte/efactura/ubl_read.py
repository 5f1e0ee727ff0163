"""Reading a UBL 2.1 Invoice or CreditNote (CIUS-RO or plain EN 16931) written by any software.

Used for the invoices suppliers send a company through e-Factura: the supplier, number, dates,
lines, totals and VAT breakdown are taken as the supplier wrote them (never recomputed), and the
result can be listed, stored and rendered to PDF with punte's own renderer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from lxml import etree

from punte.domain.documents import DocumentRef, IssuedDocument, Line, Party, Totals, VatSubtotal
from punte.domain.identifiers import cif_digits
from punte.domain.money import ZERO

CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
INVOICE_NS = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
CREDIT_NOTE_NS = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
NS = {"cbc": CBC, "cac": CAC}

# UN/ECE rec. 20 codes punte prints with a familiar name; others are printed as the code.
UNIT_NAMES = {"H87": "buc", "C62": "buc", "XPP": "buc", "KGM": "kg", "MTR": "m", "LTR": "l", "HUR": "ora",
              "DAY": "zi", "MON": "luna", "KWH": "kWh", "MTK": "mp", "MTQ": "mc", "SET": "set", "TNE": "t"}


class UblReadError(Exception):
    """The file is not a UBL invoice or credit note punte can read (the text says what is wrong)."""


@dataclass(frozen=True)
class ReadLine:
    name: str
    quantity: Decimal
    unit_code: str
    unit_price: Decimal
    net_amount: Decimal
    vat_category: str
    vat_percentage: Decimal | None
    description: str | None = None
    code: str | None = None


@dataclass(frozen=True)
class ReadInvoice:
    kind: str  # "invoice" | "credit_note"
    number: str
    type_code: str
    issue_date: date
    due_date: date | None
    currency: str
    supplier: Party
    customer: Party
    lines: tuple[ReadLine, ...]
    line_total: Decimal
    allowance_total: Decimal
    charge_total: Decimal
    net_total: Decimal
    vat_total: Decimal
    gross_total: Decimal
    payable: Decimal
    vat_breakdown: tuple[VatSubtotal, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)
    vat_total_ron: Decimal | None = None
    prepaid: Decimal = ZERO
    preceding_number: str | None = None  # BT-25, the invoice a credit note or storno corrects
    preceding_date: date | None = None  # BT-26

    @property
    def supplier_cif(self) -> str:
        return self.supplier.cif or ""

    def to_document(self) -> IssuedDocument:
        """The read model punte's PDF renderer prints (amounts as the supplier stated them)."""
        lines = [
            Line(
                position=i,
                name=ln.name,
                quantity=ln.quantity,
                unit_price=ln.unit_price,
                net_amount=ln.net_amount,
                unit=UNIT_NAMES.get(ln.unit_code, ln.unit_code),
                vat_name=None,
                vat_percentage=ln.vat_percentage,
                vat_category=ln.vat_category,
                code=ln.code,
                description=ln.description,
            )
            for i, ln in enumerate(self.lines, start=1)
        ]
        reverses = None
        mentions = list(self.notes)
        corrects = self.kind == "credit_note" or self.net_total < 0
        if corrects and self.preceding_number and self.preceding_date:
            reverses = DocumentRef(series="", number=self.preceding_number, issue_date=self.preceding_date)
        elif self.kind == "credit_note":
            reference = f" la factura {self.preceding_number}" if self.preceding_number else ""
            mentions.insert(0, f"Nota de creditare (cod {self.type_code}){reference}")
        totals = Totals(
            line_total=self.line_total,
            allowance_total=self.allowance_total,
            net_total=self.net_total,
            vat_total=self.vat_total,
            gross_total=self.gross_total,
            vat_breakdown=self.vat_breakdown,
            vat_total_ron=self.vat_total_ron,
        )
        return IssuedDocument(
            id=0,
            kind="invoice",
            series="",
            number=self.number,
            issue_date=self.issue_date,
            currency=self.currency,
            seller=self.supplier,
            buyer=self.customer,
            lines=lines,
            totals=totals,
            seller_vat_payer=any(s.category not in {"O", "E"} for s in self.vat_breakdown) or self.vat_total != 0,
            due_date=self.due_date,
            mentions="\n".join(mentions) or None,
            reverses=reverses,
            paid_amount=self.prepaid,
        )


def _text(node: etree._Element | None, path: str) -> str | None:
    if node is None:
        return None
    found = node.find(path, NS)
    if found is None or found.text is None:
        return None
    value = " ".join(found.text.split())
    return value or None


def _decimal(raw: str, where: str) -> Decimal:
    try:
        value = Decimal(raw.strip())
    except InvalidOperation as exc:
        raise UblReadError(f"valoare invalida in {where}: {raw!r}") from exc
    if not value.is_finite():
        raise UblReadError(f"valoare invalida in {where}: {raw!r}")
    return value


def _money(node: etree._Element | None, path: str, *, required: bool = False) -> Decimal:
    raw = _text(node, path)
    if raw is None:
        if required:
            raise UblReadError(f"lipseste {path.replace('cbc:', '').replace('cac:', '')}")
        return ZERO
    return _decimal(raw, path)


def _optional_decimal(node: etree._Element | None, path: str) -> Decimal | None:
    raw = _text(node, path)
    return None if raw is None else _decimal(raw, path)


def _date(node: etree._Element, path: str, *, required: bool = False) -> date | None:
    raw = _text(node, path)
    if raw is None:
        if required:
            raise UblReadError(f"lipseste {path.replace('cbc:', '')}")
        return None
    try:
        return date.fromisoformat(raw[:10])
    except ValueError as exc:
        raise UblReadError(f"data invalida in {path}: {raw!r}") from exc


def _party(holder: etree._Element | None, iban: str | None = None) -> Party:
    party = holder.find("cac:Party", NS) if holder is not None else None
    if party is None:
        return Party(name="")
    name = (
        _text(party, "cac:PartyLegalEntity/cbc:RegistrationName")
        or _text(party, "cac:PartyName/cbc:Name")
        or ""
    )
    vat_id = _text(party, "cac:PartyTaxScheme/cbc:CompanyID")
    legal_id = _text(party, "cac:PartyLegalEntity/cbc:CompanyID")
    reg_com = _text(party, "cac:PartyLegalEntity/cbc:CompanyLegalForm")
    cif = vat_id or legal_id or _text(party, "cac:PartyIdentification/cbc:ID")
    if vat_id and legal_id and cif_digits(legal_id) != cif_digits(vat_id) and not reg_com:
        reg_com = legal_id  # CIUS-RO: BT-30 carries the trade register number next to a VAT id (or the CUI again)
    address = party.find("cac:PostalAddress", NS)
    street = " ".join(
        t for t in (_text(address, "cbc:StreetName"), _text(address, "cbc:AdditionalStreetName"),
                    _text(address, "cac:AddressLine/cbc:Line")) if t
    )
    return Party(
        name=name,
        cif=cif,
        reg_com=reg_com,
        address=street or None,
        city=_text(address, "cbc:CityName"),
        county=_text(address, "cbc:CountrySubentity"),
        country=_text(address, "cac:Country/cbc:IdentificationCode"),
        email=_text(party, "cac:Contact/cbc:ElectronicMail"),
        phone=_text(party, "cac:Contact/cbc:Telephone"),
        contact=_text(party, "cac:Contact/cbc:Name"),
        iban=iban,
        is_tax_payer=bool(vat_id),
    )


def read_ubl(data: bytes) -> ReadInvoice:
    """Parse a UBL Invoice or CreditNote; raises :class:`UblReadError` with the reason otherwise."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise UblReadError(f"fisierul nu este XML valid: {exc}") from exc
    ns = etree.QName(root).namespace
    if ns == INVOICE_NS:
        kind, line_tag, qty_tag, type_tag = "invoice", "cac:InvoiceLine", "cbc:InvoicedQuantity", "cbc:InvoiceTypeCode"
    elif ns == CREDIT_NOTE_NS:
        kind, line_tag, qty_tag, type_tag = (
            "credit_note", "cac:CreditNoteLine", "cbc:CreditedQuantity", "cbc:CreditNoteTypeCode"
        )
    else:
        raise UblReadError(f"radacina {etree.QName(root).localname} nu este o factura UBL (Invoice/CreditNote)")

    number = _text(root, "cbc:ID")
    if not number:
        raise UblReadError("lipseste numarul facturii (cbc:ID)")
    issue_date = _date(root, "cbc:IssueDate", required=True)
    assert issue_date is not None
    currency = _text(root, "cbc:DocumentCurrencyCode") or "RON"
    due = _date(root, "cbc:DueDate") or _date(root, "cac:PaymentMeans/cbc:PaymentDueDate")

    lines = []
    for node in root.findall(line_tag, NS):
        item = node.find("cac:Item", NS)
        category = node.find("cac:Item/cac:ClassifiedTaxCategory", NS)
        percent = _optional_decimal(category, "cbc:Percent")
        qty_node = node.find(qty_tag, NS)
        price_base = _optional_decimal(node, "cac:Price/cbc:BaseQuantity")
        price = _money(node, "cac:Price/cbc:PriceAmount")
        if price_base is not None and price_base not in (0, 1):
            price = price / price_base
        lines.append(
            ReadLine(
                name=_text(item, "cbc:Name") or "",
                quantity=_money(node, qty_tag),
                unit_code=(qty_node.get("unitCode") if qty_node is not None else None) or "H87",
                unit_price=price,
                net_amount=_money(node, "cbc:LineExtensionAmount", required=True),
                vat_category=_text(category, "cbc:ID") or "S",
                vat_percentage=percent,
                description=_text(item, "cbc:Description"),
                code=_text(item, "cac:SellersItemIdentification/cbc:ID"),
            )
        )
    if not lines:
        raise UblReadError("factura nu are linii")

    breakdown: list[VatSubtotal] = []
    vat_total = ZERO
    vat_total_ron: Decimal | None = None
    for total in root.findall("cac:TaxTotal", NS):
        amount_node = total.find("cbc:TaxAmount", NS)
        amount = _decimal(amount_node.text or "0", "cac:TaxTotal/cbc:TaxAmount") if amount_node is not None else ZERO
        if amount_node is not None and amount_node.get("currencyID", currency) != currency:
            vat_total_ron = amount  # BT-111, the VAT in the accounting currency
            continue
        vat_total = amount
        for sub in total.findall("cac:TaxSubtotal", NS):
            cat = sub.find("cac:TaxCategory", NS)
            pct = _optional_decimal(cat, "cbc:Percent")
            breakdown.append(
                VatSubtotal(
                    category=_text(cat, "cbc:ID") or "S",
                    percentage=pct if pct is not None else ZERO,
                    taxable_amount=_money(sub, "cbc:TaxableAmount"),
                    tax_amount=_money(sub, "cbc:TaxAmount"),
                    exemption_reason=_text(cat, "cbc:TaxExemptionReason"),
                )
            )
    monetary = root.find("cac:LegalMonetaryTotal", NS)
    if monetary is None:
        raise UblReadError("lipseste LegalMonetaryTotal")
    return ReadInvoice(
        kind=kind,
        number=number,
        type_code=_text(root, type_tag) or ("380" if kind == "invoice" else "381"),
        issue_date=issue_date,
        due_date=due,
        currency=currency,
        supplier=_party(root.find("cac:AccountingSupplierParty", NS),
                        iban=_text(root, "cac:PaymentMeans/cac:PayeeFinancialAccount/cbc:ID")),
        customer=_party(root.find("cac:AccountingCustomerParty", NS)),
        lines=tuple(lines),
        line_total=_money(monetary, "cbc:LineExtensionAmount", required=True),
        allowance_total=_money(monetary, "cbc:AllowanceTotalAmount"),
        charge_total=_money(monetary, "cbc:ChargeTotalAmount"),
        net_total=_money(monetary, "cbc:TaxExclusiveAmount", required=True),
        vat_total=vat_total,
        gross_total=_money(monetary, "cbc:TaxInclusiveAmount", required=True),
        payable=_money(monetary, "cbc:PayableAmount", required=True),
        vat_breakdown=tuple(breakdown),
        notes=tuple(n.text.strip() for n in root.findall("cbc:Note", NS) if n.text and n.text.strip()),
        vat_total_ron=vat_total_ron,
        prepaid=_money(monetary, "cbc:PrepaidAmount"),
        preceding_number=_text(root, "cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID"),
        preceding_date=_date(root, "cac:BillingReference/cac:InvoiceDocumentReference/cbc:IssueDate"),
    )


__all__ = ["ReadInvoice", "ReadLine", "UblReadError", "read_ubl"]
