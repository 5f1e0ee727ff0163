"""RO e-Factura writer: an issued document as a CIUS-RO 1.0.1 UBL 2.1 Invoice or CreditNote.

:func:`build_ubl` returns the XML bytes; :class:`UblError` says which field makes a document
impossible to report (see :mod:`punte.efactura.ubl_parties` for parties, addresses and
identifiers, and :func:`check_reportable`, which the issuing service calls at issue time).

Document shape
    * ``380`` Invoice. A storno (``doc.reverses``) is also a 380, with negative quantities and
      line amounts but positive prices (BR-27), referencing the original in
      ``cac:BillingReference`` (BT-25/BT-26). With ``doc.extra["credit_note"]`` the document is a
      ``381`` CreditNote with positive amounts (a storno's amounts are negated back).
    * Discount lines become document-level ``cac:AllowanceCharge``: an allowance when their
      amount is negative (an invoice), a charge when it is positive (a storno), so that lines,
      allowances, charges, VAT breakdown and totals add up exactly as the domain computed them.
    * BT-131 (line net) is the domain's rounded line amount. Neither EN 16931 nor CIUS-RO has a
      Schematron rule comparing it with quantity x price, so the cent a VAT-included price may
      leave between them is accepted by ANAF; prices keep up to 4 decimals.
    * Foreign currency: ``TaxCurrencyCode`` RON plus a second ``cac:TaxTotal`` holding only the
      VAT total in RON (BT-111). ``TaxPointDate`` is never sent; VAT on collection is
      ``InvoicePeriod/DescriptionCode`` 432 and the note "TVA la incasare".

VAT categories (what a line's category becomes in the XML)
    * seller not a VAT payer: every line is ``O`` (not subject, VATEX-EU-O), no VAT id for the
      seller or the buyer (BR-O-02); ``O`` cannot be mixed with other categories (BR-O-11..14).
    * ``S`` with a positive rate stays ``S``; a 0% ``S`` is reported as ``Z``.
    * ``E`` "with right of deduction" (``SDD``; reason "Scutit cu drept de deducere") becomes
      ``K`` (intra-community supply, VATEX-EU-IC) when the buyer is in another EU state and has a
      VAT id, and ``G`` (export, VATEX-EU-G) when the buyer is outside the EU. Every other
      ``E`` stays ``E`` with its exemption reason text (BT-120).
    * ``AE`` (reverse charge, VATEX-EU-AE, "Taxare inversa") needs the buyer's VAT id;
      ``K`` needs a buyer with a VAT id in another EU state and gets a delivery date and
      deliver-to country (BR-IC-11/12).
    Categories other than ``S`` are reported with one VAT breakdown each (BR-E-01 ...), so the
    domain's groups that differ only by exemption reason are merged.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from decimal import Decimal

from lxml import etree

from punte.domain.documents import INVOICE, IssuedDocument, Line
from punte.domain.money import CENT, ZERO
from punte.domain.units import unit_code
from punte.efactura.ubl_parties import (
    ResolvedParty,
    UblError,
    buyer_in_other_eu_state,
    check_reportable,
    clean,
    clip,
    resolve_buyer,
    resolve_seller,
)

CUSTOMIZATION_ID = "urn:cen.eu:en16931:2017#compliant#urn:efactura.mfinante.ro:CIUS-RO:1.0.1"
INVOICE_NS = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
CREDIT_NOTE_NS = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"

MAX_NOTES = 20
NOTE_LENGTH = 300
VAT_ON_COLLECTION_NOTE = "TVA la incasare"
PAYMENT_TERMS_NOTE = "Plata la primirea facturii"

_EXEMPTION = {  # category -> (VATEX code, default BT-120 text)
    "E": (None, "Scutit de TVA"),
    "AE": ("VATEX-EU-AE", "Taxare inversa"),
    "K": ("VATEX-EU-IC", "Livrare intracomunitara scutita de TVA"),
    "G": ("VATEX-EU-G", "Export scutit de TVA"),
    "O": ("VATEX-EU-O", "Operatiune in afara sferei de aplicare a TVA"),
}
_NOT_PAYER_REASON = "Furnizor neinregistrat in scopuri de TVA"

Key = tuple[str, Decimal | None]  # (reported category, percent; None for O)


def _fold(text: str | None) -> str:
    decomposed = unicodedata.normalize("NFKD", text or "")
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).casefold().split())


def _with_deduction(reason: str | None, name: str | None) -> bool:
    """True for an exemption with right of deduction (SmartBill's "SDD")."""
    text = _fold(reason)
    if "fara drept" in text:
        return False
    return "cu drept de deducere" in text or (name or "").strip().upper() == "SDD"


def _amount(value: Decimal, field: str) -> str:
    rounded = value.quantize(CENT)
    if rounded != value:
        raise UblError(field, f"suma {value} are mai mult de 2 zecimale; e-Factura accepta cel mult 2.")
    return format(rounded if rounded != 0 else ZERO.quantize(CENT), "f")


def _decimal(value: Decimal, min_places: int = 0) -> str:
    """A plain decimal numeral (no exponent, no -0) with at least ``min_places`` decimals."""
    if value == 0:
        value = abs(value)
    normal = value.normalize()
    if normal.as_tuple().exponent > -min_places:  # type: ignore[operator]
        normal = normal.quantize(Decimal(1).scaleb(-min_places))
    return format(normal, "f")


def _note_chunks(text: str | None) -> list[str]:
    """A text as notes of at most 300 characters, split between words."""
    words = clean(text).split(" ")
    chunks: list[str] = []
    current = ""
    for word in filter(None, words):
        while len(word) > NOTE_LENGTH:
            if current:
                chunks.append(current)
                current = ""
            chunks.append(word[:NOTE_LENGTH])
            word = word[NOTE_LENGTH:]
        candidate = f"{current} {word}" if current else word
        if len(candidate) > NOTE_LENGTH:
            chunks.append(current)
            current = word
        else:
            current = candidate
    if current:
        chunks.append(current)
    return chunks


class _Writer:
    def __init__(self, doc: IssuedDocument) -> None:
        if doc.kind != INVOICE:
            raise UblError("kind", f"doar facturile se transmit in e-Factura, nu '{doc.kind}'.")
        if not doc.number:
            raise UblError("number", "documentul nu are numar (ciorna); e-Factura cere numarul facturii.")
        self.doc = doc
        self.credit_note = bool(doc.extra.get("credit_note"))
        self.sign = Decimal(-1) if self.credit_note and doc.totals.line_total < 0 else Decimal(1)
        self.currency = doc.currency.strip().upper()
        self.seller = resolve_seller(doc.seller)
        self.buyer = resolve_buyer(doc.buyer)
        self.products = [ln for ln in doc.lines if not ln.is_discount]
        self.discounts = [ln for ln in doc.lines if ln.is_discount]
        if not self.products:
            raise UblError("lines", "factura nu contine produse.")
        self.reasons: dict[str, list[str]] = {}
        self.line_keys = {id(ln): self._key(ln.vat_category, ln.vat_percentage, ln.vat_exemption_reason,
                                            ln.vat_name, f"lines[{ln.position}]") for ln in doc.lines}
        self.codes = {key[0] for key in self.line_keys.values()}
        self._check_categories()
        self.show_seller_vat = doc.seller_vat_payer and "O" not in self.codes
        self.show_buyer_vat = self.buyer.vat_id is not None and "O" not in self.codes

    # -- VAT categories -------------------------------------------------------------------

    def _key(self, category: str, percent: Decimal | None, reason: str | None, name: str | None, field: str) -> Key:
        code = category.strip().upper() if category else "O"
        if not self.doc.seller_vat_payer:
            code = "O"
        elif code == "S" and not percent:
            code = "Z"
        elif code == "E" and _with_deduction(reason, name):
            if self.buyer.vat_id and buyer_in_other_eu_state(self.buyer):
                code = "K"
            elif self.buyer.address.country != "RO" and not buyer_in_other_eu_state(self.buyer):
                code = "G"
        if code not in ("S", "Z", "E", "AE", "K", "G", "O"):
            raise UblError(f"{field}.vat", f"categoria de TVA '{category}' nu este acceptata in e-Factura.")
        if code == "S" and percent is not None and percent < 0:
            raise UblError(f"{field}.vat", "cota de TVA nu poate fi negativa.")
        text = clean(reason) or (_NOT_PAYER_REASON if code == "O" and not self.doc.seller_vat_payer else "")
        if text and code in ("E", "AE", "O"):  # K and G get their fixed texts
            known = self.reasons.setdefault(code, [])
            if text not in known:
                known.append(text)
        if code == "S":
            return (code, percent)
        return (code, None if code == "O" else ZERO)

    def _check_categories(self) -> None:
        if "O" in self.codes and len(self.codes) > 1:
            raise UblError("lines", "categoria O (neimpozabil) nu poate fi combinata cu alte categorii de TVA.")
        if "AE" in self.codes and not self.buyer.vat_id:
            raise UblError("buyer.cif", "taxarea inversa cere codul de inregistrare in scopuri de TVA al clientului.")
        if "K" in self.codes and not (self.buyer.vat_id and buyer_in_other_eu_state(self.buyer)):
            raise UblError("buyer.cif", "livrarea intracomunitara cere un client din alt stat UE, cu cod de TVA.")

    def _tax_category(self, parent: etree._Element, tag: str, key: Key, *, exemption: bool) -> None:
        cat = _el(parent, CAC, tag)
        _el(cat, CBC, "ID", key[0])
        if key[1] is not None:
            _el(cat, CBC, "Percent", _decimal(key[1], 2))
        if exemption and key[0] in _EXEMPTION:
            code, default = _EXEMPTION[key[0]]
            if code:
                _el(cat, CBC, "TaxExemptionReasonCode", code)
            _el(cat, CBC, "TaxExemptionReason", clip("; ".join(self.reasons.get(key[0], [])) or default, 100))
        _el(_el(cat, CAC, "TaxScheme"), CBC, "ID", "VAT")

    # -- document -------------------------------------------------------------------------

    def build(self) -> bytes:
        doc = self.doc
        ns = CREDIT_NOTE_NS if self.credit_note else INVOICE_NS
        root = etree.Element(f"{{{ns}}}{'CreditNote' if self.credit_note else 'Invoice'}",
                             nsmap={None: ns, "cac": CAC, "cbc": CBC})
        _el(root, CBC, "CustomizationID", CUSTOMIZATION_ID)
        number = clip(doc.full_number, 200)
        if not re.search(r"[0-9]", number):
            raise UblError("number", f"numarul facturii '{number}' trebuie sa contina cel putin o cifra.")
        _el(root, CBC, "ID", number)
        _el(root, CBC, "IssueDate", doc.issue_date.isoformat())
        if self.credit_note:
            _el(root, CBC, "CreditNoteTypeCode", "381")
        else:
            if doc.due_date:
                _el(root, CBC, "DueDate", doc.due_date.isoformat())
            _el(root, CBC, "InvoiceTypeCode", "380")
        for note in self._notes():
            _el(root, CBC, "Note", note)
        _el(root, CBC, "DocumentCurrencyCode", self.currency)
        if self.currency != "RON":
            _el(root, CBC, "TaxCurrencyCode", "RON")
        if doc.vat_on_collection and doc.seller_vat_payer:
            _el(_el(root, CAC, "InvoicePeriod"), CBC, "DescriptionCode", "432")
        if doc.reverses is not None:
            ref = _el(_el(root, CAC, "BillingReference"), CAC, "InvoiceDocumentReference")
            _el(ref, CBC, "ID", clip(f"{doc.reverses.series}{doc.reverses.number}", 200))
            _el(ref, CBC, "IssueDate", doc.reverses.issue_date.isoformat())
        self._party(_el(root, CAC, "AccountingSupplierParty"), self.seller, seller=True)
        self._party(_el(root, CAC, "AccountingCustomerParty"), self.buyer, seller=False)
        self._delivery(root)
        payable = self._payment(root)
        allowances, charges = self._allowances(root)
        self._tax_totals(root)
        self._monetary_total(root, allowances, charges, payable)
        for line in self.products:
            self._line(root, line)
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)

    def _notes(self) -> list[str]:
        notes: list[str] = []
        if self.doc.vat_on_collection and self.doc.seller_vat_payer:
            notes.append(VAT_ON_COLLECTION_NOTE)
        for text in (self.doc.mentions, self.doc.observations):
            notes.extend(_note_chunks(text))
        if len(notes) > MAX_NOTES:
            notes = notes[: MAX_NOTES - 1] + [clip(" ".join(notes[MAX_NOTES - 1:]), NOTE_LENGTH)]
        return notes

    def _party(self, holder: etree._Element, info: ResolvedParty, *, seller: bool) -> None:
        party = _el(holder, CAC, "Party")
        _el(_el(party, CAC, "PartyName"), CBC, "Name", info.name)
        address = _el(party, CAC, "PostalAddress")
        _el(address, CBC, "StreetName", info.address.street)
        _el(address, CBC, "CityName", info.address.city)
        if info.address.subentity:
            _el(address, CBC, "CountrySubentity", info.address.subentity)
        _el(_el(address, CAC, "Country"), CBC, "IdentificationCode", info.address.country)
        show_vat = self.show_seller_vat if seller else self.show_buyer_vat
        if show_vat and info.vat_id:
            scheme = _el(party, CAC, "PartyTaxScheme")
            _el(scheme, CBC, "CompanyID", info.vat_id)
            _el(_el(scheme, CAC, "TaxScheme"), CBC, "ID", "VAT")
        legal = _el(party, CAC, "PartyLegalEntity")
        _el(legal, CBC, "RegistrationName", info.name)
        company_id = info.legal_id if show_vat and info.vat_id else info.plain_id
        if company_id:
            _el(legal, CBC, "CompanyID", company_id)
        if seller and info.reg_com and company_id != clip(info.reg_com, 100):
            _el(legal, CBC, "CompanyLegalForm", clip(f"Reg. Com. {info.reg_com}", 1000))
        if info.contact or info.phone or info.email:
            contact = _el(party, CAC, "Contact")
            for tag, value in (("Name", info.contact), ("Telephone", info.phone), ("ElectronicMail", info.email)):
                if value:
                    _el(contact, CBC, tag, value)

    def _delivery(self, root: etree._Element) -> None:
        intra = "K" in self.codes
        day = self.doc.delivery_date or (self.doc.issue_date if intra else None)
        if day is None:
            return
        delivery = _el(root, CAC, "Delivery")
        _el(delivery, CBC, "ActualDeliveryDate", day.isoformat())
        if intra:  # BR-IC-12 wants the deliver-to country; CIUS-RO then wants street, city, region
            address = _el(_el(delivery, CAC, "DeliveryLocation"), CAC, "Address")
            where = self.buyer.address
            _el(address, CBC, "StreetName", where.street)
            _el(address, CBC, "CityName", where.city)
            _el(address, CBC, "CountrySubentity", where.subentity or where.region_text or where.city)
            _el(_el(address, CAC, "Country"), CBC, "IdentificationCode", where.country)

    def _payment(self, root: etree._Element) -> Decimal:
        doc = self.doc
        gross = doc.totals.gross_total * self.sign
        payable = gross - doc.paid_amount * self.sign
        means = _el(root, CAC, "PaymentMeans")
        iban = re.sub(r"\s+", "", clean(doc.seller.iban)).upper()
        _el(means, CBC, "PaymentMeansCode", "30" if iban else "1")
        if self.credit_note and doc.due_date:
            _el(means, CBC, "PaymentDueDate", doc.due_date.isoformat())
        if iban:
            _el(means, CBC, "PaymentID", clip(doc.full_number, 140))
            _el(_el(means, CAC, "PayeeFinancialAccount"), CBC, "ID", iban)
        if not self.credit_note and payable > 0 and doc.due_date is None:
            _el(_el(root, CAC, "PaymentTerms"), CBC, "Note", PAYMENT_TERMS_NOTE)
        return payable

    def _allowances(self, root: etree._Element) -> tuple[Decimal, Decimal]:
        allowances = charges = ZERO
        for line in self.discounts:
            value = line.net_amount * self.sign
            is_charge = value > 0
            element = _el(root, CAC, "AllowanceCharge")
            _el(element, CBC, "ChargeIndicator", "true" if is_charge else "false")
            if not is_charge:
                _el(element, CBC, "AllowanceChargeReasonCode", "95")
            _el(element, CBC, "AllowanceChargeReason", clip(line.name, 100) or "Discount")
            _el(element, CBC, "Amount", _amount(abs(value), f"lines[{line.position}].amount"),
                currencyID=self.currency)
            self._tax_category(element, "TaxCategory", self.line_keys[id(line)], exemption=False)
            if is_charge:
                charges += value
            else:
                allowances -= value
        return allowances, charges

    def _tax_totals(self, root: etree._Element) -> None:
        totals = self.doc.totals
        subtotals: dict[Key, list[Decimal]] = {}
        for sub in totals.vat_breakdown:
            key = self._key(sub.category, sub.percentage, sub.exemption_reason, sub.name, "totals.vat_breakdown")
            sums = subtotals.setdefault(key, [ZERO, ZERO])
            sums[0] += sub.taxable_amount * self.sign
            sums[1] += sub.tax_amount * self.sign
        self._check_breakdown(subtotals)
        tax_total = _el(root, CAC, "TaxTotal")
        _el(tax_total, CBC, "TaxAmount", _amount(totals.vat_total * self.sign, "totals.vat_total"),
            currencyID=self.currency)
        for key, (taxable, tax) in subtotals.items():
            sub_el = _el(tax_total, CAC, "TaxSubtotal")
            _el(sub_el, CBC, "TaxableAmount", _amount(taxable, "totals.vat_breakdown"), currencyID=self.currency)
            _el(sub_el, CBC, "TaxAmount", _amount(tax, "totals.vat_breakdown"), currencyID=self.currency)
            self._tax_category(sub_el, "TaxCategory", key, exemption=True)
        if self.currency != "RON":
            vat_ron = totals.vat_total_ron
            if vat_ron is None and self.doc.exchange_rate is not None:
                vat_ron = (totals.vat_total * self.doc.exchange_rate).quantize(CENT)
            if vat_ron is None:
                raise UblError("exchange_rate", "pentru o factura in valuta e-Factura cere TVA-ul in lei (cursul).")
            _el(_el(root, CAC, "TaxTotal"), CBC, "TaxAmount", _amount(vat_ron * self.sign, "totals.vat_total_ron"),
                currencyID="RON")

    def _check_breakdown(self, subtotals: dict[Key, list[Decimal]]) -> None:
        """The breakdown must match the lines and discounts category by category (BR-S-08 ...)."""
        expected: dict[Key, Decimal] = {}
        for line in self.doc.lines:
            key = self.line_keys[id(line)]
            expected[key] = expected.get(key, ZERO) + line.net_amount * self.sign
        for key in set(expected) | set(subtotals):
            taxable, tax = subtotals.get(key, [None, ZERO])
            if taxable is None or taxable != expected.get(key, ZERO):
                raise UblError("totals.vat_breakdown", f"baza categoriei {key[0]} nu corespunde liniilor.")
            if key[0] != "S" and tax != 0:
                raise UblError("totals.vat_breakdown", f"categoria {key[0]} nu poate avea TVA.")

    def _monetary_total(self, root: etree._Element, allowances: Decimal, charges: Decimal, payable: Decimal) -> None:
        totals, sign = self.doc.totals, self.sign
        line_total = totals.line_total * sign
        net = totals.net_total * sign
        if line_total - allowances + charges != net:
            raise UblError("totals", "totalul fara TVA nu corespunde liniilor si discounturilor.")
        total = _el(root, CAC, "LegalMonetaryTotal")
        rows: Iterable[tuple[str, Decimal | None]] = (
            ("LineExtensionAmount", line_total),
            ("TaxExclusiveAmount", net),
            ("TaxInclusiveAmount", totals.gross_total * sign),
            ("AllowanceTotalAmount", allowances if self._has(False) else None),
            ("ChargeTotalAmount", charges if self._has(True) else None),
            ("PrepaidAmount", self.doc.paid_amount * sign if self.doc.paid_amount else None),
            ("PayableAmount", payable),
        )
        for tag, value in rows:
            if value is not None:
                _el(total, CBC, tag, _amount(value, f"totals.{tag}"), currencyID=self.currency)

    def _has(self, charge: bool) -> bool:
        return any((ln.net_amount * self.sign > 0) == charge for ln in self.discounts)

    def _line(self, root: etree._Element, line: Line) -> None:
        field = f"lines[{line.position}]"
        element = _el(root, CAC, "CreditNoteLine" if self.credit_note else "InvoiceLine")
        _el(element, CBC, "ID", str(line.position))
        _el(element, CBC, "CreditedQuantity" if self.credit_note else "InvoicedQuantity",
            _decimal(line.quantity * self.sign), unitCode=unit_code(line.unit))
        _el(element, CBC, "LineExtensionAmount", _amount(line.net_amount * self.sign, f"{field}.amount"),
            currencyID=self.currency)
        item = _el(element, CAC, "Item")
        description = clip(line.description, 200)
        if description:
            _el(item, CBC, "Description", description)
        name = clip(line.name, 100)
        if not name:
            raise UblError(f"{field}.name", "denumirea produsului este obligatorie.")
        _el(item, CBC, "Name", name)
        code = clean(line.code)
        if code:
            _el(_el(item, CAC, "SellersItemIdentification"), CBC, "ID", code)
        self._tax_category(item, "ClassifiedTaxCategory", self.line_keys[id(line)], exemption=False)
        if line.unit_price < 0:
            raise UblError(f"{field}.price", "pretul unitar nu poate fi negativ (BR-27).")
        _el(_el(element, CAC, "Price"), CBC, "PriceAmount", _decimal(line.unit_price, 2), currencyID=self.currency)


def _el(parent: etree._Element, ns: str, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    element = etree.SubElement(parent, f"{{{ns}}}{tag}", attrs)
    if text is not None:
        element.text = text
    return element


def build_ubl(doc: IssuedDocument) -> bytes:
    """The document as CIUS-RO 1.0.1 UBL (Invoice, or CreditNote when ``doc.extra["credit_note"]``)."""
    return _Writer(doc).build()


__all__ = ["CUSTOMIZATION_ID", "UblError", "build_ubl", "check_reportable"]
