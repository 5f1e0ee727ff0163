"""Billing fields written by people in free-form places: metadata, custom fields, note attributes.

Keys are matched without case, spaces or punctuation, in Romanian or English ("CUI", "Cod fiscal",
"Reg. Com.", "judet", "county"...). Values that are JSON objects written as text (Stripe metadata
values are always strings) are read as objects.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

_NOT_ALNUM = re.compile(r"[^0-9a-z]+")

ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("name", "nume", "customername", "clientname", "client", "numeclient", "fullname", "individualname"),
    "business_name": (
        "company", "companyname", "businessname", "firma", "companie", "denumire", "denumirefirma", "societate",
    ),
    "email": ("email", "mail", "customeremail"),
    "phone": ("phone", "telefon", "tel", "phonenumber"),
    "line1": ("line1", "address1", "addressline1", "adresa", "street", "strada", "address"),
    "line2": ("line2", "address2", "addressline2"),
    "city": ("city", "oras", "localitate", "town"),
    "state": ("state", "county", "judet", "judetul", "province", "region"),
    "postal_code": ("postalcode", "zip", "zipcode", "codpostal", "postcode"),
    "country": ("country", "tara", "countrycode"),
    "cif": ("cui", "cif", "codfiscal", "vatcode", "vat", "cuicif", "cifcui", "codunicdeinregistrare", "taxid"),
    "reg_com": (
        "regcom", "nrregcom", "registrulcomertului", "nrregistrulcomertului", "nrordreg", "numarregistrucomert",
        "tradereg", "traderegister", "j",
    ),
}
_INDEX = {alias: field for field, aliases in ALIASES.items() for alias in aliases}


def norm_key(key: str) -> str:
    return _NOT_ALNUM.sub("", str(key).casefold())


def field_for(key: str) -> str | None:
    """The billing field a free-form key names ("Reg. Com." -> ``reg_com``), or None."""
    return _INDEX.get(norm_key(key))


def as_object(value: Any) -> Any:
    """A JSON object or list written as text becomes the object; anything else is returned as is."""
    if isinstance(value, str):
        text = value.strip()
        if text[:1] in ("{", "["):
            try:
                return json.loads(text)
            except ValueError:
                return value
    return value


def fields_from_pairs(pairs: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """Billing fields from (key, value) pairs; a nested ``address`` object contributes its own fields."""
    out: dict[str, Any] = {}
    for key, raw in pairs:
        value = as_object(raw)
        if isinstance(value, Mapping):
            if norm_key(key) in ("address", "adresa", "billingaddress", "billing", "billingdetails", "customer"):
                for sub_key, sub_value in fields_from_pairs(value.items()).items():
                    out.setdefault(sub_key, sub_value)
            continue
        target = field_for(key)
        if target is not None and value not in (None, "") and not isinstance(value, (list, bool)):
            out.setdefault(target, value)
    return out


def fields_from_mapping(data: Mapping[str, Any] | None) -> dict[str, Any]:
    return fields_from_pairs((data or {}).items())
