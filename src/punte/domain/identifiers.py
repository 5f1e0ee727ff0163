"""Romanian identifiers: CIF/CUI and CNP, validated with python-stdnum."""

from __future__ import annotations

import re

from stdnum.ro import cnp as _cnp
from stdnum.ro import cui as _cui

from .errors import DomainError

_RO_PREFIX = re.compile(r"^\s*RO\s*", re.IGNORECASE)


def cif_digits(value: str) -> str:
    """'RO 12345674' -> '12345674' (no validation)."""
    return re.sub(r"\s+", "", _RO_PREFIX.sub("", value or ""))


def is_valid_cif(value: str) -> bool:
    digits = cif_digits(value)
    return digits.isdigit() and _cui.is_valid(digits)


def validate_cif(value: str) -> str:
    """Return the CIF's digits or raise with a clear message."""
    digits = cif_digits(value)
    if not digits.isdigit() or not _cui.is_valid(digits):
        raise DomainError(f"CIF invalid: {value!r} (cifra de control nu se potriveste).")
    return digits


def has_ro_prefix(value: str) -> bool:
    return bool(_RO_PREFIX.match(value or ""))


def is_valid_cnp(value: str) -> bool:
    return bool(value) and _cnp.is_valid(value.strip())


def is_anonymous_cnp(value: str | None) -> bool:
    """SmartBill accepts '-', '0' or up to 13 zeros for an individual without CNP."""
    v = (value or "").strip()
    return v in ("", "-") or (v.isdigit() and set(v) == {"0"} and len(v) <= 13)
