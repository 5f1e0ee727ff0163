"""Seller and buyer as CIUS-RO wants them: addresses, identifiers, contact; and the errors.

A :class:`~punte.domain.documents.Party` is resolved into a :class:`ResolvedParty` before any XML
is written, so that the issuing service can call :func:`check_reportable` when a document is
issued and punte never issues a document it cannot report to ANAF.

Addresses (BR-RO-080/090/100/110): street and city are mandatory; a Romanian address carries
its county as an ISO 3166-2:RO code (``CountrySubentity``) and, in Bucharest (``RO-B``), the city
is the sector, ``SECTOR1`` .. ``SECTOR6``, found in the city, county or street text. Foreign
addresses carry no ``CountrySubentity``.

Identifiers:

* seller: the CIF must be a valid CUI (ANAF checks the checksum). A VAT payer gets BT-31
  (``PartyTaxScheme/CompanyID`` = ``RO`` + digits, scheme VAT) and BT-30 = its trade register
  number (``reg_com``) when known, else the CIF digits. When the seller may not show a VAT id
  (not a VAT payer, or a document in category O, BR-O-02) BT-30 is the CIF digits and the trade
  register number goes to BT-33 (``CompanyLegalForm``).
* buyer: an individual (CIF empty, ``-``, zeros, or a 13-digit CNP) gets BT-47 =
  ``0000000000000`` or the CNP, never under a VAT scheme (BR-CO-09). A Romanian company gets
  BT-48 = ``RO`` + digits when it is a VAT payer (``is_tax_payer`` or the CIF was written with
  ``RO``), else BT-47 = the CIF digits. A foreign company gets BT-48 when it is marked as a tax
  payer or its identifier starts with a country prefix; the prefix is the buyer country's VAT
  prefix (``EL`` for Greece) unless one is already written. Otherwise BT-47 = the identifier as
  written. Buyer identifiers are not checksum-validated here: a wrong buyer CIF is still
  reportable, and the domain validates them when a client is saved.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from punte.domain.documents import Party
from punte.domain.geo import ISO_ALPHA2, bucharest_sector, country_code, county_code, is_eu, vat_prefix
from punte.domain.identifiers import cif_digits, has_ro_prefix, is_anonymous_cnp, is_valid_cif

ANONYMOUS_ID = "0000000000000"

# Characters XML 1.0 cannot carry (and other invisible controls users paste in).
_BAD_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


class UblError(Exception):
    """A document (or a party) cannot be represented as a valid CIUS-RO invoice.

    ``field`` names the offending data (``buyer.county``, ``lines[3].name``...), ``text`` says why
    in the users' language; ``str(error)`` is ``"<field>: <text>"``.
    """

    def __init__(self, field: str, text: str) -> None:
        super().__init__(f"{field}: {text}")
        self.field = field
        self.text = text


def clean(text: str | None) -> str:
    """Text without control characters, with single spaces, stripped."""
    value = unicodedata.normalize("NFC", text or "")
    return " ".join(_BAD_CHARS.sub(" ", value).split())


def clip(text: str | None, limit: int) -> str:
    """Cleaned text of at most ``limit`` characters, cut at a word boundary with an ellipsis."""
    value = clean(text)
    if len(value) <= limit:
        return value
    cut = value[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit * 0.6:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-/") + "\u2026"


def _meaningful(text: str | None) -> str | None:
    value = clean(text)
    if not value or value in {"-", "0", ".", "_"}:
        return None
    return value


@dataclass(frozen=True)
class Address:
    street: str  # BT-35 / BT-50
    city: str  # BT-37 / BT-52 (SECTORn in Bucharest)
    country: str  # BT-40 / BT-55, ISO 3166-1 alpha-2
    subentity: str | None  # BT-39 / BT-54, ISO 3166-2:RO for Romania, None abroad
    region_text: str  # county or city as written, for a foreign delivery address (BR-RO-211)


@dataclass(frozen=True)
class ResolvedParty:
    name: str
    address: Address
    vat_id: str | None  # BT-31 / BT-48 with its country prefix, when the party has one
    legal_id: str | None  # BT-30 / BT-47 when the VAT id is shown
    plain_id: str | None  # BT-30 / BT-47 when no VAT id may be shown (CIF digits, CNP, zeros)
    reg_com: str | None
    is_individual: bool
    email: str | None
    phone: str | None
    contact: str | None


def resolve_address(party: Party, role: str) -> Address:
    """The postal address of a party, or :class:`UblError` naming the missing or unknown part."""
    country_text = clean(party.country)
    country = country_code(country_text) if country_text else "RO"
    if country is None:
        raise UblError(f"{role}.country", f"tara '{country_text}' nu este recunoscuta.")
    street = clip(party.address, 150)
    if not street:
        raise UblError(f"{role}.address", "adresa (strada, numarul) este obligatorie in e-Factura.")
    city_text = clean(party.city)
    if not city_text:
        raise UblError(f"{role}.city", "localitatea este obligatorie in e-Factura.")
    county_text = clean(party.county)
    subentity: str | None = None
    city = clip(city_text, 50)
    if country == "RO":
        if county_text:
            subentity = county_code(county_text)
            if subentity is None:
                raise UblError(f"{role}.county", f"judetul '{county_text}' nu este un judet din Romania.")
        else:
            subentity = county_code(city_text)
            if subentity is None:
                raise UblError(f"{role}.county", "judetul este obligatoriu pentru o adresa din Romania.")
        if subentity == "RO-B":
            sector = bucharest_sector(city_text) or bucharest_sector(county_text) or bucharest_sector(party.address)
            if sector is None:
                raise UblError(
                    f"{role}.city",
                    f"pentru Bucuresti localitatea trebuie sa indice sectorul (Sector 1 .. Sector 6), nu '{city_text}'.",
                )
            city = sector
    return Address(street=street, city=city, country=country, subentity=subentity,
                   region_text=clip(county_text or city_text, 50))


def _contact(party: Party) -> tuple[str | None, str | None, str | None]:
    email = clip(party.email, 100) if party.email and "@" in party.email else None
    phone = clip(party.phone, 100) or None
    contact = clip(party.contact, 100) or None
    return email, phone, contact


def resolve_seller(party: Party) -> ResolvedParty:
    """The seller with a valid CIF and a reportable address."""
    name = clip(party.name, 200)
    if not name:
        raise UblError("seller.name", "denumirea furnizorului este obligatorie.")
    address = resolve_address(party, "seller")
    raw = clean(party.cif)
    if not raw:
        raise UblError("seller.cif", "CIF-ul furnizorului este obligatoriu.")
    vat_id: str | None
    if address.country == "RO":
        if not is_valid_cif(raw):
            raise UblError("seller.cif", f"CIF-ul furnizorului '{raw}' nu este valid (cifra de control).")
        digits = cif_digits(raw)
        vat_id = "RO" + digits
    else:
        digits = re.sub(r"[\s.\-/]", "", raw).upper()
        if digits[:2] in ISO_ALPHA2 or digits[:2] == "EL":
            vat_id, digits = digits, digits[2:]
        else:
            vat_id = vat_prefix(address.country) + digits
    reg_com = _meaningful(party.reg_com)
    email, phone, contact = _contact(party)
    return ResolvedParty(
        name=name,
        address=address,
        vat_id=vat_id,
        legal_id=clip(reg_com, 100) if reg_com else digits,
        plain_id=digits,
        reg_com=reg_com,
        is_individual=False,
        email=email,
        phone=phone,
        contact=contact,
    )


def is_individual(buyer: Party) -> bool:
    """True when the buyer is a natural person (no CIF, zeros or a CNP): a B2C document."""
    raw = clean(buyer.cif)
    if is_anonymous_cnp(raw):
        return True
    compact = re.sub(r"\s+", "", raw)
    return compact.isdigit() and len(compact) == 13


def resolve_buyer(party: Party) -> ResolvedParty:
    """The buyer with its identifiers classified (company VAT id, legal id, CNP or anonymous)."""
    name = clip(party.name, 200)
    if not name:
        raise UblError("buyer.name", "numele clientului este obligatoriu.")
    address = resolve_address(party, "buyer")
    raw = clean(party.cif)
    reg_com = _meaningful(party.reg_com)
    email, phone, contact = _contact(party)
    vat_id: str | None = None
    legal_id: str | None = None
    individual = is_individual(party)
    if individual:
        compact = re.sub(r"\s+", "", raw)
        plain_id = compact if (compact.isdigit() and len(compact) == 13 and set(compact) != {"0"}) else ANONYMOUS_ID
    elif address.country == "RO":
        digits = cif_digits(raw)
        plain_id = clip(digits, 100) or ANONYMOUS_ID
        if digits and (party.is_tax_payer or has_ro_prefix(raw)):
            vat_id = "RO" + digits
            legal_id = clip(reg_com, 100) if reg_com else None
    else:
        compact = re.sub(r"[\s.\-/]", "", raw).upper()
        written_prefix = compact[:2] if compact[:2].isalpha() and (compact[:2] in ISO_ALPHA2 or compact[:2] == "EL") else None
        plain_id = clip(raw, 100)
        if party.is_tax_payer or written_prefix:
            if written_prefix:
                vat_id = ("EL" + compact[2:]) if written_prefix == "GR" else compact
            else:
                vat_id = vat_prefix(address.country) + compact
    return ResolvedParty(
        name=name,
        address=address,
        vat_id=vat_id,
        legal_id=legal_id,
        plain_id=plain_id,
        reg_com=reg_com,
        is_individual=individual,
        email=email,
        phone=phone,
        contact=contact,
    )


def buyer_in_other_eu_state(buyer: ResolvedParty) -> bool:
    return buyer.address.country != "RO" and is_eu(buyer.address.country)


def check_reportable(seller: Party, buyer: Party) -> None:
    """Raise :class:`UblError` when the parties' data cannot be reported in e-Factura.

    Checks what the document cannot fix later: seller name, valid CIF, street, city, county
    (ISO 3166-2:RO, with the sector in Bucharest) and country; buyer name, street, city, county
    for Romania and a known country.
    """
    resolve_seller(seller)
    resolve_buyer(buyer)


__all__ = [
    "ANONYMOUS_ID",
    "Address",
    "ResolvedParty",
    "UblError",
    "buyer_in_other_eu_state",
    "check_reportable",
    "clean",
    "clip",
    "is_individual",
    "resolve_address",
    "resolve_buyer",
    "resolve_seller",
]
