"""From a neutral sale to the invoice request: buyer kinds, counties, VAT, reverse charge, exact amounts,
and the exact list of what is missing or invalid."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from punte.config import Settings
from punte.providers.base import BuyerInfo, Sale, SaleLine
from punte.services.bridge_sale import build_request, combined_sale
from punte.services.companies import get_company
from punte.services.issuing import today_in_romania
from punte.store.db import Database
from tests.conftest import Account

from .bridge_support import sqlite_database

BUYER = BuyerInfo(name="Ana Pop", line1="Str. Lunga 1", city="Brasov", state="BV", country="RO", email="a@b.ro")


@pytest.fixture
def db(tmp_path: Path, sqlite_template: Path) -> Iterator[Database]:
    """What this module checks does not depend on the database engine: SQLite only."""
    yield from sqlite_database(tmp_path, sqlite_template)


def build(db: Database, sale: Sale, **kw: Any) -> tuple[Any, list[Any]]:
    options = {"series": None, "default_vat": Decimal(21), "reverse_charge": False, "email_payer": False,
               "mentions": "Incasat prin Stripe (pi_1)", "day": today_in_romania()}
    options.update(kw)
    with db.session() as session:
        return build_request(session, get_company(session, "18547290"), sale, **options)


def sale(**changes: Any) -> Sale:
    data: dict[str, Any] = {"currency": "RON", "total": Decimal("121.00"), "paid": Decimal("121.00"),
                            "lines": (SaleLine("Carte", Decimal(1), Decimal("121.00")),), "buyer": BUYER}
    data.update(changes)
    return Sale(**data)


def test_individual_with_normalised_county(db: Database, account: Account) -> None:
    request, problems = build(db, sale())
    assert problems == []
    client = request.invoice.client
    assert (client.name, client.vatCode, client.county, client.country, client.isTaxPayer) == (
        "Ana Pop", None, "Brașov", "România", False)
    (product,) = request.invoice.products
    assert (product.price, product.isTaxIncluded, product.taxPercentage, product.taxName) == (
        Decimal("121.00"), True, Decimal(21), "Normala")
    assert request.invoice.payment.value == Decimal("121.00") and request.invoice.payment.type == "Card online"


def test_romanian_company_when_a_valid_cif_is_present(db: Database, account: Account) -> None:
    request, _ = build(db, sale(buyer=BuyerInfo(**{**BUYER.__dict__, "business_name": "Client SRL",
                                                 "cif": "14399840"})))
    assert (request.invoice.client.name, request.invoice.client.vatCode, request.invoice.client.isTaxPayer) == (
        "Client SRL", "14399840", False)
    invalid, _ = build(db, sale(buyer=BuyerInfo(**{**BUYER.__dict__, "cif": "18547291"})))
    assert invalid.invoice.client.vatCode is None and invalid.invoice.client.name == "Ana Pop"
    cnp, _ = build(db, sale(buyer=BuyerInfo(**{**BUYER.__dict__, "tin": "1800101221144"})))
    assert cnp.invoice.client.vatCode == "1800101221144"


def test_eu_business_buyer_gets_reverse_charge_when_configured(db: Database, account: Account) -> None:
    german = BuyerInfo(business_name="Kunde GmbH", name="Hans", line1="Hauptstr. 1", city="Berlin", country="DE",
                       vat_id="DE136695976")
    normal, _ = build(db, sale(buyer=german))
    assert normal.invoice.products[0].taxName == "Normala" and normal.invoice.client.vatCode == "DE136695976"
    reverse, problems = build(db, sale(buyer=german), reverse_charge=True)
    assert problems == []
    assert (reverse.invoice.products[0].taxName, reverse.invoice.products[0].taxPercentage) == ("Inversa", Decimal(0))
    consumer, _ = build(db, sale(buyer=BuyerInfo(**{**german.__dict__, "vat_id": None})), reverse_charge=True)
    assert consumer.invoice.products[0].taxName == "Normala"


def test_provider_tax_rate_wins_over_the_default(db: Database, account: Account) -> None:
    lines = (SaleLine("Carte", Decimal(1), Decimal("111.00"), vat_percentage=Decimal(11)),
             SaleLine("Cana", Decimal(1), Decimal("10.00")))
    request, problems = build(db, sale(lines=lines))
    assert problems == []
    assert [(p.taxName, p.taxPercentage) for p in request.invoice.products] == [
        ("Redusa", Decimal(11)), ("Normala", Decimal(21))]
    _, problems = build(db, sale(lines=(SaleLine("X", Decimal(1), Decimal("121.00"), vat_percentage=Decimal(7)),)))
    assert [(p.field, p.kind) for p in problems] == [("lines[0].vat", "invalid")]


def test_quantities_keep_exact_totals(db: Database, account: Account) -> None:
    lines = (SaleLine("A", Decimal(3), Decimal("232.00")), SaleLine("B", Decimal(4), Decimal("10.00")),
             SaleLine("C", Decimal(7), Decimal("0.03")), SaleLine("D", Decimal(30000), Decimal("1.00")))
    request, problems = build(db, sale(total=Decimal("243.03"), paid=Decimal("243.03"), lines=lines))
    assert problems == []
    assert [(p.name, p.quantity, p.price) for p in request.invoice.products] == [
        ("A", Decimal(3), Decimal("77.3333")), ("B", Decimal(4), Decimal("2.5")), ("C", Decimal(7), Decimal("0.0043")),
        ("D (30000 buc)", Decimal(1), Decimal("1.00"))]


def test_discount_lines(db: Database, account: Account) -> None:
    lines = (SaleLine("A", Decimal(1), Decimal("100.00")), SaleLine("Discount", Decimal(1), Decimal("-10.00")))
    request, problems = build(db, sale(total=Decimal("90.00"), paid=Decimal("90.00"), lines=lines))
    assert problems == []
    discount = request.invoice.products[1]
    assert (discount.isDiscount, discount.discountValue, discount.numberOfItems) == (True, Decimal("10.00"), 1)


@pytest.mark.parametrize(("buyer", "fields"), [
    (BuyerInfo(), ["buyer.name", "buyer.address", "buyer.city", "buyer.country"]),
    (BuyerInfo(name="Ana", line1="Str. 1", city="Codlea", country="RO"), ["buyer.county"]),
    (BuyerInfo(name="Ana", line1="Str. 1", city="Codlea", state="Transilvania", country="RO"), ["buyer.county"]),
    (BuyerInfo(name="Ana", line1="Str. 1", city="Nowhere", country="Atlantida"), ["buyer.country"]),
    (BuyerInfo(name="Ana", line1="Str. 1", city="Bucuresti", state="B", country="RO"), ["buyer.city"]),
])
def test_every_missing_or_invalid_buyer_field_is_named(db: Database, account: Account, buyer: BuyerInfo,
                                                       fields: list[str]) -> None:
    request, problems = build(db, sale(buyer=buyer))
    assert request is None and [p.field for p in problems] == fields


def test_amount_problems(db: Database, account: Account) -> None:
    _, problems = build(db, sale(currency="XYZ", lines=None, total=None))
    assert [(p.field, p.kind) for p in problems] == [("currency", "invalid"), ("amount", "missing"),
                                                     ("lines", "missing")]
    _, problems = build(db, sale(lines=(SaleLine("A", Decimal(1), Decimal("121.001")),)))
    assert [p.field for p in problems] == ["lines[0].amount", "lines"]


def test_sources_merge_richest_first_and_corrections_win(db: Database, account: Account) -> None:
    from punte.providers.base import sale_to_json

    weak = Sale(currency="RON", total=Decimal(10), paid=Decimal(10), lines=(SaleLine("Plata", Decimal(1),
                                                                                      Decimal(10)),),
                buyer=BuyerInfo(name="Card Holder", email="card@x.ro"))
    strong = Sale(currency="RON", total=Decimal(10), paid=None, lines=(SaleLine("Carte", Decimal(1), Decimal(10)),),
                  buyer=BuyerInfo(name="Ana Pop", line1="Str. 1", city="Brasov", country="RO"))
    sources = {"payment_intent": {"rank": 4, "confirmed": True, "occurred_at": 2, "sale": sale_to_json(weak)},
               "checkout.session": {"rank": 1, "confirmed": False, "occurred_at": 1, "sale": sale_to_json(strong)}}
    merged = combined_sale(sources, {"state": "Brasov"})
    assert [ln.name for ln in merged.lines] == ["Carte"]
    assert (merged.buyer.name, merged.buyer.email, merged.buyer.state, merged.paid) == (
        "Ana Pop", "card@x.ro", "Brasov", Decimal(10))


def test_non_vat_payer_issues_without_vat(db: Database, settings: Settings) -> None:
    from tests.conftest import make_account

    make_account(db, settings, vat_payer=False)
    request, problems = build(db, sale())
    assert problems == [] and request.invoice.products[0].taxName is None
