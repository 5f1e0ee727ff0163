"""Special price lists: a line naming a nomenclature product without a price, through the API."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from punte.cli import app as cli_app
from punte.config import get_settings
from punte.domain.errors import DomainError
from punte.services import price_lists
from punte.services.companies import get_company
from punte.store.models import Document, Event
from tests.integration.test_invoice_api import body, issue

CLIENTS = {
    "Alfa": {"name": "Alfa SRL", "vatCode": "RO14399840", "isTaxPayer": True, "address": "Str. Lunga 1",
             "city": "Brasov", "county": "Brasov", "country": "Romania", "saveToDb": True},
    "Beta": {"name": "Beta SRL", "vatCode": "RO1590082", "isTaxPayer": True, "address": "Str. Scurta 2",
             "city": "Cluj-Napoca", "county": "Cluj", "country": "Romania", "saveToDb": True},
    "Gama": {"name": "Gama SRL", "vatCode": "RO6859662", "isTaxPayer": True, "address": "Str. Lata 3",
             "city": "Iasi", "county": "Iasi", "country": "Romania", "saveToDb": True},
}


def product(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "measuringUnitName": "luna", "currency": "RON", "quantity": 1, "isTaxIncluded": False,
            "taxName": "Normala", "taxPercentage": 21, "isService": True, **extra}


@pytest.fixture
def nomenclature(client, account) -> None:  # type: ignore[no-untyped-def]
    """Clients and products saved through invoices (saveToDb), as SmartBill users do."""
    for who in CLIENTS.values():
        r = issue(client, account, body(client=who, products=[
            product("Abonament", price=100, saveToDb=True), product("Suport", price=50, saveToDb=True),
        ]))
        assert r.status_code == 200, r.text


def priced(client, account, db, who: str, *lines: dict[str, Any]) -> list[Decimal]:  # type: ignore[no-untyped-def]
    """Issue an invoice to ``who`` and give back its line prices."""
    r = issue(client, account, body(client=CLIENTS[who] | {"saveToDb": False}, products=list(lines)), path="/invoice/v2")
    assert r.status_code == 200, r.text
    with db.session() as s:
        doc = s.get(Document, r.json()["documentId"])
        return [ln.unit_price for ln in doc.lines]  # type: ignore[union-attr]


def unpriced(name: str) -> dict[str, Any]:
    return {"name": name, "quantity": 2}


def setup_list(db, cif: str, name: str, prices: dict[str, str], *, client: str | None = None,  # type: ignore[no-untyped-def]
               group: str | None = None, active: bool = True) -> None:
    with db.session(write=True) as s:
        company = get_company(s, cif)
        price_lists.add_list(s, company, name, actor="test")
        for prod, value in prices.items():
            price_lists.set_price(s, company, name, product=prod, price=Decimal(value), actor="test")
        if client or group:
            price_lists.assign(s, company, name, client=client, group=group, actor="test")
        if active:
            price_lists.set_active(s, company, name, True, actor="test")


def test_line_without_price_takes_the_clients_special_price(client, account, db, nomenclature) -> None:  # type: ignore[no-untyped-def]
    setup_list(db, account.cif, "VIP", {"Abonament": "80"}, client="Alfa SRL")
    r = issue(client, account, body(client=CLIENTS["Alfa"], products=[unpriced("Abonament")]), path="/invoice/v2")
    assert r.status_code == 200, r.text
    with db.session() as s:
        doc = s.get(Document, r.json()["documentId"])
        line = doc.lines[0]
        assert (line.unit_price, line.unit, line.vat_percentage, line.is_service) == (Decimal("80"), "luna", Decimal("21"), True)
        assert doc.gross_total == Decimal("193.60")


def test_other_clients_products_outside_the_list_and_priced_lines_are_unaffected(client, account, db, nomenclature) -> None:  # type: ignore[no-untyped-def]
    setup_list(db, account.cif, "VIP", {"Abonament": "80"}, client="Alfa SRL")
    assert priced(client, account, db, "Beta", unpriced("Abonament")) == [Decimal("100")]  # nomenclature price
    assert priced(client, account, db, "Alfa", unpriced("Suport")) == [Decimal("50")]
    assert priced(client, account, db, "Alfa", product("Abonament", price=120)) == [Decimal("120")]


def test_group_list_applies_and_the_clients_own_list_comes_first(client, account, db, nomenclature) -> None:  # type: ignore[no-untyped-def]
    with db.session(write=True) as s:
        price_lists.set_group(s, get_company(s, account.cif), "Parteneri", ["Alfa SRL", "Beta SRL"], actor="test")
    setup_list(db, account.cif, "Parteneri 10%", {"Abonament": "90", "Suport": "45"}, group="Parteneri")
    setup_list(db, account.cif, "Alfa", {"Abonament": "70"}, client="Alfa SRL")

    assert priced(client, account, db, "Alfa", unpriced("Abonament"), unpriced("Suport")) == [Decimal("70"), Decimal("45")]
    assert priced(client, account, db, "Beta", unpriced("Abonament")) == [Decimal("90")]
    assert priced(client, account, db, "Gama", unpriced("Abonament")) == [Decimal("100")]


def test_an_inactive_list_does_not_apply_until_activated(client, account, db, nomenclature) -> None:  # type: ignore[no-untyped-def]
    setup_list(db, account.cif, "VIP", {"Abonament": "80"}, client="Alfa SRL", active=False)
    assert priced(client, account, db, "Alfa", unpriced("Abonament")) == [Decimal("100")]
    with db.session(write=True) as s:
        price_lists.set_active(s, get_company(s, account.cif), "VIP", True, actor="test")
    assert priced(client, account, db, "Alfa", unpriced("Abonament")) == [Decimal("80")]
    with db.session(write=True) as s:
        price_lists.set_active(s, get_company(s, account.cif), "VIP", False, actor="test")
    assert priced(client, account, db, "Alfa", unpriced("Abonament")) == [Decimal("100")]


def test_special_price_with_vat_included_is_taken_as_such(client, account, db, nomenclature) -> None:  # type: ignore[no-untyped-def]
    with db.session(write=True) as s:
        company = get_company(s, account.cif)
        price_lists.add_list(s, company, "Brut", actor="test")
        price_lists.set_price(s, company, "Brut", product="Abonament", price=Decimal("121"), tax_included=True,
                              actor="test")
        price_lists.assign(s, company, "Brut", client="Alfa SRL", actor="test")
        price_lists.set_active(s, company, "Brut", True, actor="test")
    r = issue(client, account, body(client=CLIENTS["Alfa"], products=[{"name": "Abonament", "quantity": 1}]),
              path="/invoice/v2")
    with db.session() as s:
        doc = s.get(Document, r.json()["documentId"])
        assert (doc.net_total, doc.vat_total, doc.gross_total) == (Decimal("100.00"), Decimal("21.00"), Decimal("121.00"))


def test_unknown_products_and_currency_mismatches_are_refused(client, account, db, nomenclature) -> None:  # type: ignore[no-untyped-def]
    r = issue(client, account, body(products=[product("Necunoscut")]))
    assert (r.status_code, r.json()["errorText"]) == (400, "price trebuie specificat pentru fiecare produs")
    setup_list(db, account.cif, "VIP", {"Abonament": "80"}, client="Alfa SRL")
    r = issue(client, account, body(client=CLIENTS["Alfa"], products=[{**unpriced("Abonament"), "currency": "EUR"}]))
    assert r.status_code == 400 and "(VIP) este in RON" in r.json()["errorText"]


def test_prices_only_for_nomenclature_products_and_lists_by_unique_name(account, db, nomenclature) -> None:  # type: ignore[no-untyped-def]
    with db.session(write=True) as s:
        price_lists.add_list(s, get_company(s, account.cif), "VIP", actor="test")
    with pytest.raises(DomainError, match="nu exista in nomenclator"), db.session(write=True) as s:
        price_lists.set_price(s, get_company(s, account.cif), "VIP", product="Nimic", price=Decimal(1), actor="test")
    with pytest.raises(DomainError, match="exista deja"), db.session(write=True) as s:
        price_lists.add_list(s, get_company(s, account.cif), "VIP", actor="test")
    with pytest.raises(DomainError, match="fie un client, fie un grup"), db.session(write=True) as s:
        price_lists.assign(s, get_company(s, account.cif), "VIP", actor="test")
    with pytest.raises(DomainError, match="pozitiv"), db.session(write=True) as s:
        price_lists.set_price(s, get_company(s, account.cif), "VIP", product="Abonament", price=Decimal(-1), actor="test")


def test_cli_manages_a_group_list(client, account, db, nomenclature, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PUNTE_DATABASE_URL", db.url)
    monkeypatch.setenv("PUNTE_DATA_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    cif = ["--cif", account.cif]
    try:
        runner = CliRunner()
        for args in (
            ["pricelist", "add", *cif, "--name", "Parteneri"],
            ["pricelist", "set-price", *cif, "--list", "Parteneri", "--product", "Abonament", "--price", "85,50"],
            ["pricelist", "group", *cif, "--group", "P", "--client", "Alfa SRL", "--client", "Gama SRL"],
            ["pricelist", "assign", *cif, "--list", "Parteneri", "--group", "P"],
            ["pricelist", "activate", *cif, "--list", "Parteneri"],
        ):
            r = runner.invoke(cli_app, args)
            assert r.exit_code == 0, (args, r.output)
        listing = " ".join(runner.invoke(cli_app, ["pricelist", "list", *cif]).output.split())
        assert "Parteneri (active); clients: -; groups: P" in listing and "85.50" in listing
        assert priced(client, account, db, "Gama", unpriced("Abonament")) == [Decimal("85.50")]
        r = runner.invoke(cli_app, ["pricelist", "activate", *cif, "--list", "Parteneri"])
        assert r.exit_code == 1 and "deja activa" in r.output
        assert runner.invoke(cli_app, ["pricelist", "deactivate", *cif, "--list", "Parteneri"]).exit_code == 0
    finally:
        get_settings.cache_clear()
    assert priced(client, account, db, "Gama", unpriced("Abonament")) == [Decimal("100")]
    with db.session() as s:
        actions = [e.action for e in s.scalars(select(Event).where(Event.entity == "price_list"))]
        assert actions == ["created", "price_set", "assigned", "activated", "deactivated"]
