"""Reading a UBL 2.1 Invoice or CreditNote (CIUS-RO or plain EN 16931) written by any software.

Used for the invoices suppliers send a company through e-Factura (and by the ANAF sandbox's
``transformare``): the supplier, number, dates, lines, allowances and charges, totals and VAT
breakdown are taken as the supplier wrote them (never recomputed), and the result can be listed,
stored and rendered to PDF with punte's own renderer. :meth:`ReadInvoice.to_document` draws
document-level allowances and charges as lines of their own, so that the drawn lines add up to the
stated total without VAT; what punte's document model has no field for (a price per N units, a
price with more than 4 decimals, line allowances, the invoicing period, a payable rounding) is
written as text on the line or in the mentions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from lxml import etree

from punte.domain.documents import DocumentRef, IssuedDocument, Line, Party, Totals, VatSubtotal
from punte.domain.identifiers import cif_digits
from punte.domain.money import ZERO, places, round_to

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


PRICE_PLACES = 4  # the most decimals punte's renderer prints in a unit price


@dataclass(frozen=True)
class ReadAllowance:
    """An allowance (discount) or a charge: of the document (BG-20/BG-21) or of one line (BG-27/BG-28)."""

    is_charge: bool
    amount: Decimal  # as stated: positive, the indicator gives the sign
    reason: str | None = None
    reason_code: str | None = None
    percentage: Decimal | None = None  # MultiplierFactorNumeric
    base_amount: Decimal | None = None
    vat_category: str | None = None  # document level only
    vat_percentage: Decimal | None = None

    @property
    def signed_amount(self) -> Decimal:
        """What it adds to the total without VAT: a discount subtracts."""
        return self.amount if self.is_charge else -self.amount


@dataclass(frozen=True)
class ReadLine:
    name: str
    quantity: Decimal
    unit_code: str
    unit_price: Decimal  # per one unit: PriceAmount / BaseQuantity, exact (not rounded)
    net_amount: Decimal
    vat_category: str
    vat_percentage: Decimal | None
    description: str | None = None
    code: str | None = None
    price_amount: Decimal | None = None  # BT-146 as stated
    base_quantity: Decimal | None = None  # BT-149: the price is for this many units
    base_unit_code: str | None = None
    gross_price: Decimal | None = None  # BT-148, the price before the price discount
    price_discount: Decimal | None = None  # BT-147
    allowances: tuple[ReadAllowance, ...] = ()  # BG-27/BG-28, already inside net_amount
    note: str | None = None  # BT-127
    period_start: date | None = None  # BT-134
    period_end: date | None = None  # BT-135


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
    allowances: tuple[ReadAllowance, ...] = ()  # BG-20/BG-21, document level
    rounding: Decimal = ZERO  # BT-114, PayableRoundingAmount
    delivery_date: date | None = None  # BT-72
    period_start: date | None = None  # BT-73
    period_end: date | None = None  # BT-74

    @property
    def supplier_cif(self) -> str:
        return self.supplier.cif or ""

    def to_document(self) -> IssuedDocument:
        """The read model punte's PDF renderer prints (amounts as the supplier stated them).

        The product lines come first, then one line per document-level allowance (negative) or
        charge, so the drawn lines add up to the stated total without VAT (BT-109). The totals box
        prints "subtotal" minus "discounts" when there are discounts, so the subtotal given to it
        is the products plus the charges (BT-106 + BT-108), the sum of the lines drawn above it.
        """
        lines = [_product_line(i, ln, self.currency) for i, ln in enumerate(self.lines, start=1)]
        lines += [_allowance_line(len(lines) + i, a, self.currency)
                  for i, a in enumerate(self.allowances, start=1)]
        reverses = None
        mentions = list(self.notes)
        corrects = self.kind == "credit_note" or self.net_total < 0
        if corrects and self.preceding_number and self.preceding_date:
            reverses = DocumentRef(series="", number=self.preceding_number, issue_date=self.preceding_date)
        elif self.kind == "credit_note":
            reference = f" la factura {self.preceding_number}" if self.preceding_number else ""
            mentions.insert(0, f"Nota de creditare (cod {self.type_code}){reference}")
        mentions += self._extra_mentions()
        totals = Totals(
            line_total=self.line_total + self.charge_total,
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
            series="",  # UBL has one number (BT-1); it is printed whole, never split into a series
            number=self.number,
            issue_date=self.issue_date,
            currency=self.currency,
            seller=self.supplier,
            buyer=self.customer,
            lines=lines,
            totals=totals,
            seller_vat_payer=any(s.category not in {"O", "E"} for s in self.vat_breakdown) or self.vat_total != 0,
            due_date=self.due_date,
            delivery_date=self.delivery_date,
            precision=max(2, min(PRICE_PLACES, max((_places(ln.unit_price) for ln in lines), default=2))),
            mentions="\n".join(mentions) or None,
            reverses=reverses,
            paid_amount=self.prepaid,
            extra={"credit_note": True} if self.kind == "credit_note" else {},
        )

    def _extra_mentions(self) -> list[str]:
        """What the document model has no field for: the invoicing period and a payable rounding."""
        out: list[str] = []
        period = _period(self.period_start, self.period_end)
        if period:
            out.append(f"Perioada de facturare: {period}")
        if self.rounding:
            out.append(f"Rotunjire: {_amount(self.rounding, self.currency)}; "
                       f"suma de plata: {_amount(self.payable, self.currency)}")
        return out


def _places(value: Decimal) -> int:
    """How many decimals ``value`` really carries (trailing zeros do not count)."""
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _ro(value: Decimal, digits: int | None = None) -> str:
    """A number the Romanian way (1.234,56), rounded half-up to ``digits`` or with all its decimals."""
    digits = _places(value) if digits is None else digits
    rounded = round_to(value, digits)
    text = f"{abs(rounded):,.{digits}f}".replace(",", " ").replace(".", ",").replace(" ", ".")
    return f"-{text}" if rounded < 0 else text


def _amount(value: Decimal, currency: str) -> str:
    return f"{_ro(value, places(currency))} {currency}"


def _price(value: Decimal, currency: str) -> str:
    """A price with every decimal it carries, and at least the currency's."""
    return f"{_ro(value, max(places(currency), _places(value)))} {currency}"


def _day(value: date) -> str:
    return value.strftime("%d.%m.%Y")


def _period(start: date | None, end: date | None) -> str | None:
    if start and end:
        return f"{_day(start)} - {_day(end)}"
    if start:
        return f"de la {_day(start)}"
    return f"pana la {_day(end)}" if end else None


def _unit(code: str | None) -> str:
    return UNIT_NAMES.get(code or "", code or "")


def _allowance_text(a: ReadAllowance, currency: str) -> str:
    """The percentage and base an allowance or charge was computed from, and its reason code."""
    parts: list[str] = []
    if a.percentage is not None and a.base_amount is not None:
        parts.append(f"{_ro(a.percentage)}% din {_amount(a.base_amount, currency)}")
    elif a.percentage is not None:
        parts.append(f"{_ro(a.percentage)}%")
    elif a.base_amount is not None:
        parts.append(f"din {_amount(a.base_amount, currency)}")
    if a.reason_code:
        parts.append(f"cod {a.reason_code}")
    return ", ".join(parts)


def _line_notes(ln: ReadLine, currency: str) -> list[str]:
    """Text under a line's name: what the columns cannot show, so the reader can check the value."""
    notes = [t for t in (ln.description, ln.note) if t]
    period = _period(ln.period_start, ln.period_end)
    if period:
        notes.append(f"Perioada: {period}")
    stated = ln.price_amount if ln.price_amount is not None else ln.unit_price
    if ln.base_quantity is not None and ln.base_quantity not in (0, 1):
        notes.append(f"Pret: {_price(stated, currency)} pentru {_ro(ln.base_quantity)} "
                     f"{_unit(ln.base_unit_code or ln.unit_code)}")
    elif _places(ln.unit_price) > PRICE_PLACES:
        notes.append(f"Pret unitar exact: {_price(ln.unit_price, currency)} (afisat rotunjit la "
                     f"{PRICE_PLACES} zecimale)")
    if ln.gross_price is not None or ln.price_discount is not None:
        gross = f"pret brut {_price(ln.gross_price, currency)}" if ln.gross_price is not None else ""
        cut = f"reducere de pret {_price(ln.price_discount, currency)}" if ln.price_discount is not None else ""
        text = ", ".join(t for t in (gross, cut) if t)
        notes.append(text[0].upper() + text[1:])
    for a in ln.allowances:
        label = ("Majorare" if a.is_charge else "Reducere") + (f" ({a.reason})" if a.reason else "")
        detail = _allowance_text(a, currency)
        notes.append(f"{label}: {_amount(a.signed_amount, currency)}" + (f", {detail}" if detail else "")
                     + ", inclusa in valoare")
    return notes


def _product_line(position: int, ln: ReadLine, currency: str) -> Line:
    return Line(
        position=position,
        name=ln.name,
        quantity=ln.quantity,
        unit_price=ln.unit_price,
        net_amount=ln.net_amount,
        unit=_unit(ln.unit_code),
        vat_name=None,
        vat_percentage=ln.vat_percentage,
        vat_category=ln.vat_category,
        code=ln.code,
        description="\n".join(_line_notes(ln, currency)) or None,
    )


def _allowance_line(position: int, a: ReadAllowance, currency: str) -> Line:
    """A document-level allowance (drawn negative, like punte's own discounts) or charge, as a line."""
    label = "Majorare" if a.is_charge else "Reducere"
    return Line(
        position=position,
        name=f"{label}: {a.reason}" if a.reason else label,
        quantity=Decimal(1),
        unit_price=a.amount,
        net_amount=a.signed_amount,
        unit="buc",
        vat_name=None,
        vat_percentage=a.vat_percentage,
        vat_category=a.vat_category or "S",
        is_discount=not a.is_charge,
        description=_allowance_text(a, currency) or None,
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


def _allowances(holder: etree._Element) -> tuple[ReadAllowance, ...]:
    """The cac:AllowanceCharge children of the document or of one line (never those of a price)."""
    out: list[ReadAllowance] = []
    for node in holder.findall("cac:AllowanceCharge", NS):
        indicator = (_text(node, "cbc:ChargeIndicator") or "").lower()
        if indicator not in {"true", "false", "1", "0"}:
            raise UblReadError(f"valoare invalida in AllowanceCharge/ChargeIndicator: {indicator!r}")
        category = node.find("cac:TaxCategory", NS)
        out.append(ReadAllowance(
            is_charge=indicator in {"true", "1"},
            amount=_money(node, "cbc:Amount", required=True),
            reason=_text(node, "cbc:AllowanceChargeReason"),
            reason_code=_text(node, "cbc:AllowanceChargeReasonCode"),
            percentage=_optional_decimal(node, "cbc:MultiplierFactorNumeric"),
            base_amount=_optional_decimal(node, "cbc:BaseAmount"),
            vat_category=_text(category, "cbc:ID"),
            vat_percentage=_optional_decimal(category, "cbc:Percent"),
        ))
    return tuple(out)


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
        base_node = node.find("cac:Price/cbc:BaseQuantity", NS)
        price_base = _optional_decimal(node, "cac:Price/cbc:BaseQuantity")
        price = _money(node, "cac:Price/cbc:PriceAmount")
        per_unit = price / price_base if price_base is not None and price_base not in (0, 1) else price
        price_cut = node.find("cac:Price/cac:AllowanceCharge", NS)
        lines.append(
            ReadLine(
                name=_text(item, "cbc:Name") or "",
                quantity=_money(node, qty_tag),
                unit_code=(qty_node.get("unitCode") if qty_node is not None else None) or "H87",
                unit_price=per_unit,
                net_amount=_money(node, "cbc:LineExtensionAmount", required=True),
                vat_category=_text(category, "cbc:ID") or "S",
                vat_percentage=percent,
                description=_text(item, "cbc:Description"),
                code=_text(item, "cac:SellersItemIdentification/cbc:ID"),
                price_amount=price,
                base_quantity=price_base,
                base_unit_code=base_node.get("unitCode") if base_node is not None else None,
                gross_price=_optional_decimal(price_cut, "cbc:BaseAmount"),
                price_discount=_optional_decimal(price_cut, "cbc:Amount"),
                allowances=_allowances(node),
                note=_text(node, "cbc:Note"),
                period_start=_date(node, "cac:InvoicePeriod/cbc:StartDate"),
                period_end=_date(node, "cac:InvoicePeriod/cbc:EndDate"),
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
        allowances=_allowances(root),
        rounding=_money(monetary, "cbc:PayableRoundingAmount"),
        delivery_date=_date(root, "cac:Delivery/cbc:ActualDeliveryDate"),
        period_start=_date(root, "cac:InvoicePeriod/cbc:StartDate"),
        period_end=_date(root, "cac:InvoicePeriod/cbc:EndDate"),
    )


__all__ = ["ReadAllowance", "ReadInvoice", "ReadLine", "UblReadError", "read_ubl"]
