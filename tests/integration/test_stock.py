"""Stock: warehouses, goods received, invoices with ``useStock``, and ``GET /stocks``, on SQLite and PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select, update
from typer.testing import CliRunner

from punte.api.app import create_app
from punte.config import get_settings
from punte.domain.errors import DomainError
from punte.services import stock
from punte.services.companies import add_series, get_company
from punte.services.issuing import today_in_romania
from punte.store.models import Company, Document, Event, Series
from punte.store.models_stock import StockBalance, StockMovement
from tests.conftest import Account, make_account
from tests.integration.test_invoice_api import API, body

TODAY = today_in_romania()
DMY = TODAY.strftime("%d/%m/%Y")


def day(offset: int) -> date:
    return TODAY + timedelta(days=offset)


def line(name: str = "Produs 1", quantity: Any = 1, warehouse: str | None = "Gestiune1", **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": name, "isDiscount": False, "measuringUnitName": "buc", "currency": "RON", "quantity": quantity,
        "price": 10, "isTaxIncluded": True, "taxName": "Normala", "taxPercentage": 21, "saveToDb": False,
        "isService": False,
    }
    if warehouse is not None:
        data["warehouseName"] = warehouse
    data.update(extra)
    return data


def sale(*lines: dict[str, Any], use_stock: bool = True, **changes: Any) -> dict[str, Any]:
    return body(useStock=use_stock, products=list(lines) or [line()], **changes)


def setup_stock(db, account: Account, *items: tuple[str, str, Any], on: date = TODAY,  # type: ignore[no-untyped-def]
                warehouses: tuple[str, ...] = ("Gestiune1",), codes: dict[str, str] | None = None) -> None:
    """Warehouses and goods received through the services (what `punte warehouse add` / `stock receive` do)."""
    with db.session(write=True) as s:
        company = get_company(s, account.cif)
        for name in warehouses:
            stock.add_warehouse(s, company, name, actor="test")
        for warehouse, product, quantity in items:
            code = (codes or {}).get(product)
            stock.receive(s, company, warehouse, [stock.StockItem(product, "buc", Decimal(str(quantity)), code)],
                          day=on, actor="test")


def stocks(client, account: Account, on: date = TODAY, **params: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    r = client.get(f"{API}/stocks", headers=account.headers, params={"cif": account.cif, "date": on.isoformat(), **params})
    assert r.status_code == 200, r.text
    return r.json()


def level(client, account: Account, product: str = "Produs 1", warehouse: str = "Gestiune1",  # type: ignore[no-untyped-def]
          on: date = TODAY) -> Decimal:
    answer = stocks(client, account, on, warehouseName=warehouse)
    found = [p["quantity"] for e in answer["list"] for p in e["products"] if p["productName"] == product]
    return Decimal(found[0]) if found else Decimal(0)


def q(account: Account, number: str = "0001") -> dict[str, str]:
    return {"cif": account.cif, "seriesName": "FCT", "number": number}


def post(client, account: Account, data: dict[str, Any], path: str = "/invoice"):  # type: ignore[no-untyped-def]
    return client.post(f"{API}{path}", headers=account.headers, json=data)


def error(r) -> str:  # type: ignore[no-untyped-def]
    assert r.status_code == 400, r.text
    return r.json()["errorText"]


def test_warehouse_names_are_unique_per_company_case_included(db, account, settings) -> None:  # type: ignore[no-untyped-def]
    other = make_account(db, settings, cif="RO14399840", email="other@firma.ro", name="Alta SRL")
    setup_stock(db, account)
    setup_stock(db, other)  # another company may use the same name
    with pytest.raises(DomainError, match="^Gestiunea Gestiune1 exista deja.$"), db.session(write=True) as s:
        stock.add_warehouse(s, get_company(s, account.cif), "Gestiune1", actor="test")
    with pytest.raises(DomainError, match="^Tipul gestiunii"), db.session(write=True) as s:
        stock.add_warehouse(s, get_company(s, account.cif), "Magazin", type="en detaliu", actor="test")
    with db.session(write=True) as s:
        company = get_company(s, account.cif)
        stock.add_warehouse(s, company, "gestiune1", type="en detail", actor="test")
        assert [(w.name, w.type) for w in stock.list_warehouses(s, company)] == [
            ("Gestiune1", "en gros"), ("gestiune1", "en detail"),
        ]


# ---- discharge at issue --------------------------------------------------------------------------------------


def test_invoice_with_use_stock_takes_each_goods_line_from_its_warehouse(client, account, db) -> None:  # type: ignore[no-untyped-def]
    setup_stock(db, account, ("Gestiune1", "Produs 1", 10), ("Gestiune2", "Produs 2", 5),
                warehouses=("Gestiune1", "Gestiune2"))
    data = sale(
        line("Produs 1", 3),
        line("Montaj", 1, warehouse=None, isService=True),
        line("Produs 2", 2, warehouse="Gestiune2"),
        {"name": "Reducere", "isDiscount": True, "discountType": 2, "discountPercentage": 10, "numberOfItems": 3},
    )
    r = post(client, account, data)
    assert r.status_code == 200, r.text
    assert level(client, account) == 7 and level(client, account, "Produs 2", "Gestiune2") == 3
    with db.session() as s:
        moved = s.scalars(select(StockMovement).where(StockMovement.kind == "issue").order_by(StockMovement.id)).all()
        assert [(m.product_name, m.quantity, m.line_position, m.document_label) for m in moved] == [
            ("Produs 1", Decimal(-3), 1, "FCT0001"), ("Produs 2", Decimal(-2), 3, "FCT0001"),
        ]
        assert s.scalar(select(Event).where(Event.action == "stock_issue")).data["movements"][0]["quantity"] == "-3"


def test_invoice_without_use_stock_moves_nothing(client, account, db) -> None:  # type: ignore[no-untyped-def]
    setup_stock(db, account, ("Gestiune1", "Produs 1", 2))
    assert post(client, account, sale(line("Produs 1", 5), use_stock=False)).status_code == 200
    assert level(client, account) == 2


def test_a_proforma_never_moves_stock(client, account, db) -> None:  # type: ignore[no-untyped-def]
    setup_stock(db, account, ("Gestiune1", "Produs 1", 2))
    data = sale(line("Produs 1", 5), seriesName="PRF")
    assert post(client, account, data, "/estimate").status_code == 200
    assert level(client, account) == 2


def test_invoice_from_a_proforma_with_use_stock_discharges_the_proforma_lines(client, account, db) -> None:  # type: ignore[no-untyped-def]
    setup_stock(db, account, ("Gestiune1", "Produs 1", 4))
    assert post(client, account, sale(line("Produs 1", 3), seriesName="PRF"), "/estimate").status_code == 200
    data = {"companyVatCode": account.cif, "seriesName": "FCT", "useStock": True, "useEstimateDetails": True,
            "estimate": {"seriesName": "PRF", "number": "0001"}}
    assert post(client, account, data).status_code == 200
    assert level(client, account) == 1


def test_a_draft_moves_stock_only_when_it_is_issued(client, account, db) -> None:  # type: ignore[no-untyped-def]
    setup_stock(db, account, ("Gestiune1", "Produs 1", 4))
    draft = post(client, account, sale(line("Produs 1", 3), isDraft=True), "/invoice/v2").json()
    assert level(client, account) == 4
    r = client.put(f"{API}/invoice/issue", headers=account.headers,
                   params={"cif": account.cif, "documentId": draft["documentId"]})
    assert r.status_code == 200 and level(client, account) == 1


# ---- refusals: nothing is written ----------------------------------------------------------------------------


def test_insufficient_stock_is_refused_with_smartbill_text_and_nothing_is_written(client, account, db) -> None:  # type: ignore[no-untyped-def]
    setup_stock(db, account, ("Gestiune1", "Produs 1", 2))
    with db.session() as s:
        ledger_before = s.scalar(select(func.count()).select_from(StockMovement))
    r = post(client, account, sale(line("Montaj", 1, warehouse=None, isService=True), line("Produs 1", 5)))
    assert error(r) == f"Cantitate stoc insuficienta la Factura FCT0001 din data {DMY} pentru produsul Produs 1 de la pozitia 2"
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Document)) == 0
        assert s.scalar(select(func.count()).select_from(StockMovement)) == ledger_before
        assert s.scalar(select(Series.next_number).where(Series.name == "FCT")) == 1
    assert level(client, account) == 2
    assert post(client, account, sale(line("Produs 1", 2))).json()["number"] == "0001"
    assert level(client, account) == 0


def test_two_lines_of_one_product_are_checked_together(client, account, db) -> None:  # type: ignore[no-untyped-def]
    setup_stock(db, account, ("Gestiune1", "Produs 1", 5))
    r = post(client, account, sale(line("Produs 1", 3), line("Produs 1", 3)))
    assert error(r).endswith("pentru produsul Produs 1 de la pozitia 2")
    assert level(client, account) == 5


def test_goods_line_without_warehouse_under_use_stock_is_refused(client, account, db) -> None:  # type: ignore[no-untyped-def]
    setup_stock(db, account, ("Gestiune1", "Produs 1", 5))
    r = post(client, account, sale(line("Produs 1", 1, warehouse=None)))
    assert error(r) == "Gestiunea predatoare nu este setata pentru produsul Produs 1."


def test_unknown_warehouse_is_refused_and_names_are_case_sensitive(client, account, db) -> None:  # type: ignore[no-untyped-def]
    setup_stock(db, account, ("Gestiune1", "Produs 1", 5))
    r = post(client, account, sale(line("Produs 1", 1, warehouse="gestiune1")))
    assert error(r) == "Gestiunea predatoare gestiune1 a produsului Produs 1 nu a fost gasita."


def test_a_product_never_received_is_refused(client, account, db) -> None:  # type: ignore[no-untyped-def]
    setup_stock(db, account, ("Gestiune1", "Produs 1", 5))
    r = post(client, account, sale(line("Produs 9", 1)))
    assert error(r) == (
        "Nu ai facut nicio achizitie pentru produsul Produs 9. "
        "Incarca mai intai stoc pentru produs sau emite documentul fara descarcare de gestiune."
    )


def test_a_product_held_in_another_warehouse_only_is_short_here(client, account, db) -> None:  # type: ignore[no-untyped-def]
    setup_stock(db, account, ("Gestiune2", "Produs 1", 5), warehouses=("Gestiune1", "Gestiune2"))
    r = post(client, account, sale(line("Produs 1", 1)))
    assert error(r).startswith("Cantitate stoc insuficienta la Factura FCT0001")


def test_invoicing_in_another_unit_than_received_is_refused(client, account, db) -> None:  # type: ignore[no-untyped-def]
    setup_stock(db, account, ("Gestiune1", "Produs 1", 5))
    r = post(client, account, sale(line("Produs 1", 1, measuringUnitName="BUC")))
    assert error(r) == "Unitatea de masura BUC a produsului Produs 1 nu are factor de conversie setat."


def test_a_sale_dated_before_the_goods_arrived_is_refused(client, account, db) -> None:  # type: ignore[no-untyped-def]
    setup_stock(db, account, ("Gestiune1", "Produs 1", 5), on=day(-2))
    earlier = day(-5)
    r = post(client, account, sale(line("Produs 1", 1), issueDate=earlier.isoformat(), dueDate=earlier.isoformat()))
    assert error(r) == (
        f"Cantitate stoc insuficienta la Factura FCT0001 din data {earlier.strftime('%d/%m/%Y')} "
        "pentru produsul Produs 1 de la pozitia 1"
    )


def test_a_backdated_sale_may_not_take_what_later_sales_already_took(client, account, db) -> None:  # type: ignore[no-untyped-def]
    setup_stock(db, account, ("Gestiune1", "Produs 1", 5), on=day(-10))
    with db.session(write=True) as s:  # 3 more arrive on day -3
        stock.receive(s, get_company(s, account.cif), "Gestiune1", [stock.StockItem("Produs 1", "buc", Decimal(3))],
                      day=day(-3), actor="test")
    assert post(client, account, sale(line("Produs 1", 5), issueDate=day(-4).isoformat(),
                                      dueDate=day(-4).isoformat())).status_code == 200
    # on day -6 there are 5, but taking 1 then would leave -1 on day -4: refused
    r = post(client, account, sale(line("Produs 1", 1), issueDate=day(-6).isoformat(), dueDate=day(-6).isoformat()))
    assert error(r).startswith("Cantitate stoc insuficienta")
    assert post(client, account, sale(line("Produs 1", 3))).status_code == 200
    assert level(client, account) == 0


def test_product_codes_tell_products_apart_and_are_case_sensitive(client, account, db) -> None:  # type: ignore[no-untyped-def]
    with db.session(write=True) as s:
        s.execute(update(Company).values(uses_product_codes=True))
    setup_stock(db, account, ("Gestiune1", "Tricou", 4), codes={"Tricou": "25XL"})
    r = post(client, account, sale(line("Tricou", 1, code="25xl")))
    assert error(r) == "Exista deja pe stoc un produs cu numele Tricou si codul 25XL."
    assert post(client, account, sale(line("Tricou alb", 1, code="25XL"))).status_code == 200
    answer = stocks(client, account, productCode="25XL")
    assert answer["list"][0]["products"] == [
        {"productName": "Tricou", "productCode": "25XL", "measuringUnit": "buc", "quantity": "3"}
    ]


# ---- storno, cancel, restore, delete -------------------------------------------------------------------------


def test_storno_puts_the_goods_back_and_blocks_cancelling_the_original(client, account, db) -> None:  # type: ignore[no-untyped-def]
    setup_stock(db, account, ("Gestiune1", "Produs 1", 5))
    post(client, account, sale(line("Produs 1", 3)))
    r = client.post(f"{API}/invoice/reverse", headers=account.headers,
                    json={"companyVatCode": account.cif, "seriesName": "FCT", "number": "0001"})
    assert r.json()["number"] == "0002"
    assert level(client, account) == 5
    r = client.put(f"{API}/invoice/cancel", headers=account.headers, params=q(account, "0001"))
    assert error(r) == (
        "Pentru factura FCT0001 exista deja stornari care incarca stocul. "
        "Trebuie sa anulati intai facturile storno (FCT0002)."
    )
    assert level(client, account) == 5
    assert client.put(f"{API}/invoice/cancel", headers=account.headers, params=q(account, "0002")).status_code == 200
    assert level(client, account) == 2
    assert client.put(f"{API}/invoice/cancel", headers=account.headers, params=q(account, "0001")).status_code == 200
    assert level(client, account) == 5
    with db.session() as s:
        kinds = [(m.kind, m.document_label, m.quantity) for m in s.scalars(
            select(StockMovement).where(StockMovement.document_id.is_not(None)).order_by(StockMovement.id))]
    assert kinds == [("issue", "FCT0001", Decimal(-3)), ("issue", "FCT0002", Decimal(3)),
                     ("cancel", "FCT0002", Decimal(-3)), ("cancel", "FCT0001", Decimal(3))]


def test_cancelling_a_storno_whose_goods_were_sold_again_is_refused(client, account, db) -> None:  # type: ignore[no-untyped-def]
    setup_stock(db, account, ("Gestiune1", "Produs 1", 3))
    post(client, account, sale(line("Produs 1", 3)))
    client.post(f"{API}/invoice/reverse", headers=account.headers,
                json={"companyVatCode": account.cif, "seriesName": "FCT", "number": "0001"})
    post(client, account, sale(line("Produs 1", 2)))
    r = client.put(f"{API}/invoice/cancel", headers=account.headers, params=q(account, "0002"))
    assert error(r) == (
        f"Cantitate stoc insuficienta la documentul FCT0002 din data de {DMY} pentru produsul Produs 1 de la pozitia 1."
    )
    with db.session() as s:
        assert s.scalar(select(Document.status).where(Document.number == 2)) == "issued"
    assert level(client, account) == 1


def test_cancel_puts_stock_back_and_restore_takes_it_again(client, account, db) -> None:  # type: ignore[no-untyped-def]
    setup_stock(db, account, ("Gestiune1", "Produs 1", 5))
    post(client, account, sale(line("Produs 1", 3)))
    assert client.put(f"{API}/invoice/cancel", headers=account.headers, params=q(account)).status_code == 200
    assert level(client, account) == 5
    assert client.put(f"{API}/invoice/restore", headers=account.headers, params=q(account)).status_code == 200
    assert level(client, account) == 2


def test_restore_is_refused_when_the_stock_was_sold_meanwhile(client, account, db) -> None:  # type: ignore[no-untyped-def]
    setup_stock(db, account, ("Gestiune1", "Produs 1", 3))
    post(client, account, sale(line("Produs 1", 3)))
    client.put(f"{API}/invoice/cancel", headers=account.headers, params=q(account))
    post(client, account, sale(line("Produs 1", 2)))
    r = client.put(f"{API}/invoice/restore", headers=account.headers, params=q(account))
    assert error(r) == (
        f"Cantitate stoc insuficienta la documentul FCT0001 din data de {DMY} pentru produsul Produs 1 de la pozitia 1."
    )
    with db.session() as s:
        assert s.scalar(select(Document.status).where(Document.number == 1)) == "cancelled"
    assert level(client, account) == 1


def test_deleting_the_last_invoice_puts_its_goods_back(client, account, db) -> None:  # type: ignore[no-untyped-def]
    setup_stock(db, account, ("Gestiune1", "Produs 1", 5))
    post(client, account, sale(line("Produs 1", 1)))
    post(client, account, sale(line("Produs 1", 3)))
    assert client.delete(f"{API}/invoice", headers=account.headers, params=q(account, "0002")).status_code == 200
    assert level(client, account) == 4
    # the number comes back, and the new FCT0002 (maybe with the same row id on SQLite) moves stock on its own
    assert post(client, account, sale(line("Produs 1", 4))).json()["number"] == "0002"
    assert level(client, account) == 0
    assert client.put(f"{API}/invoice/cancel", headers=account.headers, params=q(account, "0002")).status_code == 200
    assert level(client, account) == 4


def test_ledger_and_balances_always_agree(client, account, db) -> None:  # type: ignore[no-untyped-def]
    setup_stock(db, account, ("Gestiune1", "Produs 1", 9), ("Gestiune1", "Produs 2", 4))
    post(client, account, sale(line("Produs 1", 2), line("Produs 2", 1)))
    client.post(f"{API}/invoice/reverse", headers=account.headers,
                json={"companyVatCode": account.cif, "seriesName": "FCT", "number": "0001"})
    post(client, account, sale(line("Produs 1", 4)))
    client.put(f"{API}/invoice/cancel", headers=account.headers, params=q(account, "0003"))
    with db.session() as s:
        for b in s.scalars(select(StockBalance)):
            rows = s.scalars(select(StockMovement.quantity).where(
                StockMovement.warehouse_id == b.warehouse_id, StockMovement.product_key == b.product_key))
            assert sum(rows, Decimal(0)) == b.quantity


# ---- GET /stocks ---------------------------------------------------------------------------------------------


def test_stock_as_of_a_date_follows_the_ledger(client, account, db) -> None:  # type: ignore[no-untyped-def]
    setup_stock(db, account, ("Gestiune1", "Produs 1", 10), on=day(-10))
    with db.session(write=True) as s:
        company = get_company(s, account.cif)
        stock.receive(s, company, "Gestiune1", [stock.StockItem("Produs 1", "buc", Decimal("5.5"))], day=day(-5),
                      actor="test")
    post(client, account, sale(line("Produs 1", 4), issueDate=day(-3).isoformat(), dueDate=day(-3).isoformat()))
    assert stocks(client, account, day(-11))["list"] == []
    assert level(client, account, on=day(-10)) == 10
    assert level(client, account, on=day(-5)) == Decimal("15.5")
    assert level(client, account, on=day(-3)) == Decimal("11.5")
    assert stocks(client, account)["list"] == [{
        "products": [{"productName": "Produs 1", "productCode": "", "measuringUnit": "buc", "quantity": "11.5"}],
        "warehouse": {"warehouseName": "Gestiune1", "warehouseType": "en gros"},
    }]


def test_stocks_by_warehouse_and_by_product(client, account, db) -> None:  # type: ignore[no-untyped-def]
    setup_stock(db, account, ("Gestiune1", "Produs 1", 1), ("Gestiune1", "Produs 2", 2), ("Magazin", "Produs 1", 3),
                warehouses=("Gestiune1", "Magazin", "Gol"))
    everything = stocks(client, account)["list"]
    assert [e["warehouse"]["warehouseName"] for e in everything] == ["Gestiune1", "Magazin"]
    one = stocks(client, account, warehouseName="Magazin")["list"]
    assert [(p["productName"], p["quantity"]) for e in one for p in e["products"]] == [("Produs 1", "3")]
    by_name = stocks(client, account, productName="Produs 1")["list"]
    assert [(e["warehouse"]["warehouseName"], e["products"][0]["quantity"]) for e in by_name] == [
        ("Gestiune1", "1"), ("Magazin", "3"),
    ]
    empty = stocks(client, account, warehouseName="Gol")["list"]
    assert empty == [{"products": [], "warehouse": {"warehouseName": "Gol", "warehouseType": "en gros"}}]


def test_stocks_errors_are_smartbills(client, account, db) -> None:  # type: ignore[no-untyped-def]
    setup_stock(db, account)
    r = client.get(f"{API}/stocks", headers=account.headers, params={"cif": account.cif})
    assert error(r) == "Data la care vreti sa aflati valoarea stocului trebuie specificata!"
    r = client.get(f"{API}/stocks", headers=account.headers, params={"date": TODAY.isoformat()})
    assert error(r) == "Ciful firmei trebuie specificat!"
    r = client.get(f"{API}/stocks", headers=account.headers,
                   params={"cif": account.cif, "date": TODAY.isoformat(), "warehouseName": "Nimic"})
    assert error(r) == "Gestiunea Nimic nu a fost gasita pe server."
    r = client.get(f"{API}/stocks", headers=account.headers, params={"cif": account.cif, "date": "02.03.2026"})
    assert error(r) == "Data trebuie sa fie de forma yyyy-MM-dd."


def test_stocks_of_another_company_are_out_of_reach(client, account, db, settings) -> None:  # type: ignore[no-untyped-def]
    other = make_account(db, settings, cif="RO14399840", email="other@firma.ro", name="Alta SRL")
    setup_stock(db, other, ("Gestiune1", "Produs 1", 1))
    r = client.get(f"{API}/stocks", headers=account.headers, params={"cif": other.cif, "date": TODAY.isoformat()})
    assert r.status_code == 401


def test_the_smartbill_client_reads_punte_stocks(db, settings, account) -> None:  # type: ignore[no-untyped-def]
    from punte.smartbill.client import SmartBill
    from tests.integration.test_smartbill_client import serving

    setup_stock(db, account, ("Gestiune1", "Produs 1", "2.25"))
    app = create_app(settings, db=db, migrate=False)
    with serving(app) as base_url, SmartBill(account.email, account.token, base_url) as sb:
        answer = sb.stocks.list(account.cif, TODAY.isoformat(), warehouse_name="Gestiune1")
    assert answer.list[0].warehouse.warehouseName == "Gestiune1"
    assert answer.list[0].products[0].quantity == Decimal("2.25")


# ---- receiving goods (punte extension) -----------------------------------------------------------------------


def test_goods_received_through_the_api_are_in_stock(client, account, db) -> None:  # type: ignore[no-untyped-def]
    setup_stock(db, account)
    data = {"companyVatCode": account.cif, "warehouseName": "Gestiune1", "date": day(-1).isoformat(),
            "note": "NIR 12", "products": [
                {"name": "Produs 1", "measuringUnitName": "buc", "quantity": 4, "price": "7.50"},
                {"name": "Produs 2", "measuringUnitName": "kg", "quantity": "1.25"},
            ]}
    headers = {**account.headers, "Idempotency-Key": "nir-12"}
    r = client.post(f"{API}/stocks/receive", headers=headers, json=data)
    assert r.status_code == 200, r.text
    assert [(p["productName"], p["quantity"]) for p in r.json()["list"][0]["products"]] == [
        ("Produs 1", "4"), ("Produs 2", "1.25"),
    ]
    again = client.post(f"{API}/stocks/receive", headers=headers, json=data)
    assert again.headers["Idempotency-Replayed"] == "true"
    assert level(client, account) == 4 and level(client, account, on=day(-2)) == 0
    with db.session() as s:
        m = s.scalar(select(StockMovement).where(StockMovement.product_name == "Produs 1"))
        assert (m.kind, m.unit_cost, m.note, m.actor, m.movement_date) == (
            "receipt", Decimal("7.50"), "NIR 12", account.email, day(-1))


BAD_RECEPTIONS = [
    ({"warehouseName": "Nimic"}, "Gestiunea Nimic nu a fost gasita pe server."),
    ({"products": []}, "Receptia nu contine produse!"),
    ({"products": [{"name": "Produs 1", "measuringUnitName": "buc", "quantity": 0}]},
     "Cantitatea receptionata din produsul Produs 1 trebuie sa fie mai mare decat 0."),
    ({"products": [{"name": "Produs 1", "quantity": 1}]}, "Unitatea de masura a produsului Produs 1 trebuie specificata."),
    ({"products": [{"name": "Produs 1", "measuringUnitName": "buc", "quantity": "0.0000001"}]},
     "Cantitatea produsului Produs 1 poate avea cel mult 6 zecimale."),
    ({"products": [{"name": "Produs 1", "measuringUnitName": "buc"}]}, "quantity trebuie specificat pentru fiecare produs"),
    ({"date": "2026-3-1"}, "Data trebuie sa fie de forma yyyy-MM-dd."),
]


def test_bad_receptions_are_refused_and_change_nothing(client, account, db) -> None:  # type: ignore[no-untyped-def]
    setup_stock(db, account)
    for change, text in BAD_RECEPTIONS:
        data = {"companyVatCode": account.cif, "warehouseName": "Gestiune1",
                "products": [{"name": "Produs 1", "measuringUnitName": "buc", "quantity": 1}], **change}
        assert error(client.post(f"{API}/stocks/receive", headers=account.headers, json=data)) == text
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(StockMovement)) == 0


def test_a_unit_other_than_the_stock_unit_cannot_be_received(client, account, db) -> None:  # type: ignore[no-untyped-def]
    setup_stock(db, account, ("Gestiune1", "Produs 1", 1))
    data = {"companyVatCode": account.cif, "warehouseName": "Gestiune1",
            "products": [{"name": "Produs 1", "measuringUnitName": "kg", "quantity": 1}]}
    r = client.post(f"{API}/stocks/receive", headers=account.headers, json=data)
    assert error(r) == "Unitatea de masura kg a produsului Produs 1 nu are factor de conversie setat."


# ---- the operator's CLI --------------------------------------------------------------------------------------


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PUNTE_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("PUNTE_SECRET_KEY", "cli-test")
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_operator_keeps_stock_from_the_command_line(cli_env: Path) -> None:
    from punte.cli import app

    def run(*args: str):  # type: ignore[no-untyped-def]
        return CliRunner().invoke(app, list(args))

    assert run("company", "add", "--cif", "RO18547290", "--name", "Firma SRL").exit_code == 0
    r = run("warehouse", "add", "--cif", "RO18547290", "--name", "Depozit central", "--type", "en detail")
    assert r.exit_code == 0, r.output
    r = run("stock", "receive", "--cif", "RO18547290", "--warehouse", "Depozit central", "--product", "Caiet A4",
            "--unit", "buc", "--quantity", "12", "--price", "3.20", "--date", day(-1).isoformat())
    assert r.exit_code == 0 and "in stock now: 12 buc" in r.output, r.output
    r = run("stock", "adjust", "--cif", "RO18547290", "--warehouse", "Depozit central", "--product", "Caiet A4",
            "--unit", "buc", "--quantity", "-13", "--note", "inventar")
    assert r.exit_code == 1 and "Cantitate stoc insuficienta pentru produsul Caiet A4." in r.output
    r = run("stock", "adjust", "--cif", "RO18547290", "--warehouse", "Depozit central", "--product", "Caiet A4",
            "--unit", "buc", "--quantity", "-2.5", "--note", "inventar")
    assert r.exit_code == 0 and "in stock now: 9.5 buc" in r.output, r.output
    r = run("stock", "list", "--cif", "RO18547290")
    assert r.exit_code == 0 and "Caiet A4" in r.output and "9.5" in r.output and "en detail" in r.output
    r = run("stock", "list", "--cif", "RO18547290", "--date", day(-2).isoformat())
    assert "Caiet A4" not in r.output


# ---- concurrency ---------------------------------------------------------------------------------------------

STOCK = 15
THREADS = 6
EACH = 5


def test_concurrent_sales_never_sell_more_than_the_stock(db, settings) -> None:  # type: ignore[no-untyped-def]
    """6 clients x 5 invoices on two series (so issuers do not queue on one series lock), each taking 1 of two
    products with the lines in either order, from 15 of each: exactly 15 sold, the rest refused."""
    account = make_account(db, settings)
    with db.session(write=True) as s:
        add_series(s, get_company(s, account.cif), type="f", name="FCB", actor="test")
    setup_stock(db, account, ("Gestiune1", "Produs 1", STOCK), ("Gestiune1", "Produs 2", STOCK))
    app = create_app(settings, db=db, migrate=False)

    def worker(i: int) -> list[tuple[str, int, str]]:
        out = []
        series = "FCT" if i % 2 else "FCB"
        with TestClient(app) as c:
            for n in range(EACH):
                lines = (line("Produs 1", 1), line("Produs 2", 1))
                data = sale(*(lines if (i + n) % 2 else lines[::-1]), seriesName=series)
                r = c.post(f"{API}/invoice", headers=account.headers, json=data)
                out.append((series, r.status_code, r.json()["errorText"] or r.json()["number"]))
        return out

    with ThreadPoolExecutor(THREADS) as pool:
        answers = [a for chunk in pool.map(worker, range(THREADS)) for a in chunk]

    sold = {name: sorted(int(text) for series, status, text in answers if status == 200 and series == name)
            for name in ("FCT", "FCB")}
    refused = [text for _, status, text in answers if status != 200]
    assert len(sold["FCT"]) + len(sold["FCB"]) == STOCK
    assert all(numbers == list(range(1, len(numbers) + 1)) for numbers in sold.values())
    assert len(refused) == THREADS * EACH - STOCK
    assert all(t.startswith("Cantitate stoc insuficienta la Factura FC") for t in refused), refused
    with db.session() as s:
        balances = {b.product_key: b.quantity for b in s.scalars(select(StockBalance))}
        assert balances == {"Produs 1": 0, "Produs 2": 0}
        issued = s.scalar(select(func.count()).select_from(StockMovement).where(StockMovement.kind == "issue"))
        assert issued == STOCK * 2


def test_concurrent_takings_through_the_service_keep_the_ledger_exact(db, settings) -> None:  # type: ignore[no-untyped-def]
    """Small transactions (adjustments of -1) from 8 threads at once against 40 units: the tightest race."""
    account = make_account(db, settings)
    setup_stock(db, account, ("Gestiune1", "Produs 1", 40))
    item = stock.StockItem("Produs 1", "buc", Decimal(-1))

    def worker(_: int) -> list[str]:
        out = []
        for _ in range(8):
            try:
                with db.session(write=True) as s:
                    stock.adjust(s, get_company(s, account.cif), "Gestiune1", item, day=TODAY, actor="test")
                out.append("ok")
            except DomainError as exc:
                out.append(exc.text)
        return out

    with ThreadPoolExecutor(8) as pool:
        answers = [a for chunk in pool.map(worker, range(8)) for a in chunk]
    assert answers.count("ok") == 40
    assert set(answers) - {"ok"} == {"Cantitate stoc insuficienta pentru produsul Produs 1."}
    with db.session() as s:
        assert s.scalar(select(StockBalance.quantity)) == 0
        assert sum(s.scalars(select(StockMovement.quantity)), Decimal(0)) == 0


def test_the_stock_ledger_refuses_updates_and_deletes(db, account) -> None:  # type: ignore[no-untyped-def]
    setup_stock(db, account, ("Gestiune1", "Produs 1", 1))
    with pytest.raises(Exception, match="append-only"), db.session(write=True) as s:
        s.execute(update(StockMovement).values(quantity=Decimal(100)))
    with pytest.raises(Exception, match="append-only"), db.session(write=True) as s:
        s.execute(delete(StockMovement))
