"""The fiscal receipt's arithmetic and command file (pure domain)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from punte.domain.errors import DomainError
from punte.domain.fiscal_receipt import ReceiptItem, printable, render, settle, total, vat_group


@pytest.mark.parametrize(
    ("category", "pct", "group"),
    [("S", D(21), 1), ("S", D(19), 1), ("S", D(11), 2), ("S", D(9), 2), ("S", D(5), 3), ("E", D(0), 4),
     ("AE", D(0), 4), ("O", None, 5)],
)
def test_vat_groups_of_the_register(category: str, pct: D | None, group: int) -> None:
    assert vat_group(category, pct) == group


def test_names_are_folded_to_ascii_without_separators_and_cut() -> None:
    assert printable("Șosete bărbați; mărimea 42, negre") == "Sosete barbati marimea 42 negre"
    assert printable("x" * 50) == "x" * 36
    assert printable(";;") == "-"


def test_item_amounts_round_per_item_and_discounts_come_off_the_item() -> None:
    items = [ReceiptItem("A", D("3"), D("3.33"), 1, D("10")), ReceiptItem("B", D("0.5"), D("1.99"), 2)]
    assert [i.gross for i in items] == [D("9.99"), D("1.00")]  # 0.995 rounds half up
    assert items[0].discount == D("1.00") and total(items) == D("9.99")


def test_nothing_received_means_cash_and_only_cash_gives_change() -> None:
    assert settle(D("10"), {}).cash == D("10")
    paid = settle(D("10"), {"receivedCash": D("20"), "receivedCard": D("4")})
    assert (paid.cash, paid.change) == (D("6"), D("14"))
    with pytest.raises(DomainError, match="depasesc totalul bonului"):
        settle(D("10"), {"receivedCard": D("11")})
    with pytest.raises(DomainError, match="nu acopera totalul bonului"):
        settle(D("10"), {"receivedCash": D("2"), "receivedTicheteMasa": D("7")})


def test_the_command_file_lists_sales_then_payments() -> None:
    text = render([ReceiptItem("Cafea", D(2), D("7.50"), 1, D(10))], settle(D("13.50"), {"receivedTicheteMasa": D("13.50")}))
    assert text == "S,1,______,_,__;Cafea;7.50;2.000;1;1;1;2;10.00;\r\nT,1,______,_,__;3;13.50;;;;\r\n"
