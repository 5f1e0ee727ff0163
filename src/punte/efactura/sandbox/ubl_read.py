"""Reading a received UBL Invoice / CreditNote: the facts ANAF's processing needs.

:func:`read_facts` is tolerant (it never fails on a well-formed document; a missing field is
``None``): the sandbox uses it to record what was uploaded, to check the seller and to detect
duplicates. ``transformare`` draws its PDF from punte's own reader of received invoices
(:func:`punte.efactura.ubl_read.read_ubl`), so that one reader serves both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

from punte.efactura.ubl_read import CREDIT_NOTE_NS, INVOICE_NS, NS, _text

CII_NS = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
ROOTS = {f"{{{INVOICE_NS}}}Invoice": "UBL", f"{{{CREDIT_NOTE_NS}}}CreditNote": "CN",
         f"{{{CII_NS}}}CrossIndustryInvoice": "CII"}
_RO_PREFIX = re.compile(r"^\s*RO\s*", re.IGNORECASE)


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
