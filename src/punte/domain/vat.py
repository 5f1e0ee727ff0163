"""VAT rates with validity dates and the VAT categories of EN 16931 used in Romania."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from .errors import DomainError

# EN 16931 VAT category codes (UNTDID 5305) used in RO.
STANDARD = "S"
ZERO_RATED = "Z"
EXEMPT = "E"
REVERSE_CHARGE = "AE"
INTRA_COMMUNITY = "K"
EXPORT = "G"
NOT_SUBJECT = "O"

CATEGORIES = (STANDARD, ZERO_RATED, EXEMPT, REVERSE_CHARGE, INTRA_COMMUNITY, EXPORT, NOT_SUBJECT)

# Romania's VAT change (Law 141/2025): 21% and 11% from 1 Aug 2025.
RATE_CHANGE_2025 = date(2025, 8, 1)


@dataclass(frozen=True)
class VatRate:
    """A company's VAT rate as SmartBill names it (``Normala``, ``Redusa``...), valid on a date range."""

    name: str
    percentage: Decimal
    category: str = STANDARD
    valid_from: date | None = None
    valid_to: date | None = None  # inclusive
    exemption_reason: str | None = None  # text for category E documents
    is_default: bool = False

    def valid_on(self, day: date) -> bool:
        if self.valid_from is not None and day < self.valid_from:
            return False
        if self.valid_to is not None and day > self.valid_to:
            return False
        return True

    @property
    def fraction(self) -> Decimal:
        return self.percentage / Decimal(100)

    @property
    def label(self) -> str:
        return f"{self.name} ({_pct(self.percentage)}%)"


def _pct(p: Decimal) -> str:
    text = format(p.normalize(), "f")
    return text


def default_rates() -> list[VatRate]:
    """The VAT rates a new company starts with: today's rates plus the historical ones."""
    before = RATE_CHANGE_2025
    last_day_before = date(2025, 7, 31)
    return [
        VatRate("Normala", Decimal("21"), STANDARD, valid_from=before, is_default=True),
        VatRate("Redusa", Decimal("11"), STANDARD, valid_from=before),
        VatRate("Normala", Decimal("19"), STANDARD, valid_to=last_day_before, is_default=True),
        VatRate("Redusa", Decimal("9"), STANDARD, valid_to=last_day_before),
        VatRate("Redusa", Decimal("5"), STANDARD, valid_to=last_day_before),
        # 9% survives for some housing deliveries until 31 Jul 2026.
        VatRate("Locuinte", Decimal("9"), STANDARD, valid_from=before, valid_to=date(2026, 7, 31)),
        VatRate("SDD", Decimal("0"), EXEMPT, exemption_reason="Scutit cu drept de deducere"),
        VatRate("SFDD", Decimal("0"), EXEMPT, exemption_reason="Scutit fara drept de deducere"),
        VatRate("Scutita", Decimal("0"), EXEMPT, exemption_reason="Scutit de TVA"),
        VatRate("Inversa", Decimal("0"), REVERSE_CHARGE, exemption_reason="Taxare inversa"),
    ]


def find_rate(
    rates: list[VatRate],
    day: date,
    *,
    name: str | None,
    percentage: Decimal | None,
    product: str,
) -> VatRate:
    """Pick the rate a line asks for, valid on the document's date.

    Name and percentage must both match when both are given; a rate that exists only outside its
    validity (``Normala`` 19% after 31 Jul 2025) is refused like an unknown one, as SmartBill does.
    """
    if name is None and percentage is None:
        defaults = [r for r in rates if r.is_default and r.valid_on(day)]
        if not defaults:
            raise DomainError("Cota default nu a fost gasita pe server!")
        return defaults[0]
    candidates = [
        r
        for r in rates
        if r.valid_on(day)
        and (name is None or r.name.casefold() == name.strip().casefold())
        and (percentage is None or r.percentage == percentage)
    ]
    if candidates:
        return candidates[0]
    described = " ".join(p for p in (name, f"{_pct(percentage)}%" if percentage is not None else None) if p)
    raise DomainError(f"Cota {described} nu a fost gasita pe server!")
