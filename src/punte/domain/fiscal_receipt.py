"""Fiscal receipts (bon fiscal): the cash register's arithmetic and the command file it prints from.

A cash register works on VAT-included prices: each item's amount is quantity x price rounded to the
ban, a percentage discount is taken off the item it applies to, and the receipt's total is the sum. The
register computes the VAT itself from the VAT group of each item.

The text handed to the register's driver (``bon.txt``) has one command per line, fields separated by
``;`` after a fixed ``<command>,1,______,_,__`` prefix (operator 1, default password and till)::

    S,1,______,_,__;<name>;<price>;<quantity>;1;1;<VAT group>;<discount kind>;<discount %>;
    T,1,______,_,__;<tender code>;<amount>;;;;

``S`` sells an item (department 1, item group 1); discount kind 0 is none, 2 a percentage discount.
``T`` is a payment (tender codes in :data:`TENDERS`). Names are folded to ASCII (registers print no
diacritics), stripped of the separators and cut to 36 characters.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from decimal import Decimal

from .errors import DomainError
from .money import ZERO, round_to
from .vat import NOT_SUBJECT

PREFIX = ",1,______,_,__;"
NAME_LENGTH = 36
MAX_ENTRIES = 70

# wire field of POST /payment -> (tender code on the register, label); cash first
TENDERS: dict[str, tuple[int, str]] = {
    "receivedCash": (0, "Numerar"),
    "receivedCard": (1, "Card"),
    "receivedCredit": (2, "Credit"),
    "receivedTicheteMasa": (3, "Tichete de masa"),
    "receivedTicheteCadou": (4, "Tichete cadou"),
    "receivedBonuriValoareFixa": (5, "Bonuri valoare fixa"),
    "receivedCupon": (6, "Cupon"),
    "receivedPuncteDeFidelitate": (7, "Puncte de fidelitate"),
    "receivedOrdinDePlata": (8, "Ordin de plata"),
    "receivedCec": (9, "CEC"),
    "receivedMonedaAlternativa": (10, "Moneda alternativa"),
}
CASH_CODE = 0


def vat_group(category: str, percentage: Decimal | None) -> int:
    """The register's VAT group: 1 standard (21%, 19% before Aug 2025), 2 reduced (11%, 9%), 3 reduced 5%,
    4 zero / exempt / reverse charge, 5 a seller that is not a VAT payer."""
    if category == NOT_SUBJECT:
        return 5
    pct = percentage or ZERO
    if pct == 0:
        return 4
    if pct >= 19:
        return 1
    if pct >= 9:
        return 2
    return 3


def printable(text: str, length: int = NAME_LENGTH) -> str:
    """ASCII without diacritics and without the file's separators, at most ``length`` characters."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    cleaned = " ".join(folded.replace(";", " ").replace(",", " ").replace("\r", " ").replace("\n", " ").split())
    return cleaned[:length] or "-"


@dataclass(frozen=True)
class ReceiptItem:
    """One sold item: ``unit_price`` is VAT included, in lei, at most 2 decimals."""

    name: str
    quantity: Decimal
    unit_price: Decimal
    vat_group: int
    discount_percentage: Decimal | None = None

    @property
    def gross(self) -> Decimal:
        return round_to(self.quantity * self.unit_price, 2)

    @property
    def discount(self) -> Decimal:
        if not self.discount_percentage:
            return ZERO
        return round_to(self.gross * self.discount_percentage / 100, 2)

    @property
    def amount(self) -> Decimal:
        return self.gross - self.discount


@dataclass(frozen=True)
class Tender:
    code: int
    label: str
    amount: Decimal


@dataclass(frozen=True)
class Settlement:
    """How a receipt was paid: the tenders printed, the cash kept in the register and the change given."""

    tenders: tuple[Tender, ...]
    cash: Decimal
    change: Decimal


def total(items: list[ReceiptItem]) -> Decimal:
    return sum((i.amount for i in items), ZERO)


def settle(amount: Decimal, received: dict[str, Decimal]) -> Settlement:
    """Check the amounts received against the receipt's total. Nothing received means all in cash;
    only cash may exceed what is due (the change is given back from it)."""
    tenders = tuple(
        Tender(TENDERS[field][0], TENDERS[field][1], value)
        for field, value in received.items()
        if value is not None and value != 0
    )
    if any(t.amount < 0 for t in tenders):
        raise DomainError("Sumele incasate pe bon nu pot fi negative.")
    if not tenders:
        return Settlement((Tender(CASH_CODE, TENDERS["receivedCash"][1], amount),), amount, ZERO)
    non_cash = sum((t.amount for t in tenders if t.code != CASH_CODE), ZERO)
    cash = sum((t.amount for t in tenders if t.code == CASH_CODE), ZERO)
    if non_cash > amount:
        raise DomainError(
            f"Sumele incasate fara numerar ({_money(non_cash)}) depasesc totalul bonului ({_money(amount)})."
        )
    if cash + non_cash < amount:
        raise DomainError(
            f"Sumele incasate ({_money(cash + non_cash)}) nu acopera totalul bonului ({_money(amount)})."
        )
    return Settlement(tenders, amount - non_cash, cash + non_cash - amount)


def render(items: list[ReceiptItem], settlement: Settlement) -> str:
    """The command file for the register's driver (CRLF line ends, as the Windows drivers expect)."""
    out = []
    for item in items:
        kind, pct = ("2", _number(item.discount_percentage, 2)) if item.discount_percentage else ("0", "0")
        out.append(
            f"S{PREFIX}{printable(item.name)};{_money(item.unit_price)};{_number(item.quantity, 3)};1;1;"
            f"{item.vat_group};{kind};{pct};"
        )
    for tender in settlement.tenders:
        out.append(f"T{PREFIX}{tender.code};{_money(tender.amount)};;;;")
    return "\r\n".join(out) + "\r\n"


def _money(value: Decimal) -> str:
    return format(round_to(value, 2), "f")


def _number(value: Decimal | None, n: int) -> str:
    return format(round_to(value or ZERO, n), "f")
