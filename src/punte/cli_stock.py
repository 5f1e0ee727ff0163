"""``punte warehouse ...`` and ``punte stock ...``: warehouses, goods received, adjustments, stock lists.

SmartBill's API has no operation for receiving goods (its web interface does it); these commands and
the ``POST /SBORO/api/stocks/receive`` extension are punte's way in.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from punte.config import get_settings
from punte.domain.errors import DomainError

warehouse_app = typer.Typer(help="Warehouses (gestiuni).", no_args_is_help=True)
stock_app = typer.Typer(help="Stock: goods received, adjustments, stock on a date.", no_args_is_help=True)

console = Console()
err = Console(stderr=True)
ACTOR = "cli"

CifOpt = Annotated[str, typer.Option(help="The company's CIF.")]
WarehouseOpt = Annotated[str, typer.Option(help="Warehouse name (exact, case included).")]
ProductOpt = Annotated[str, typer.Option(help="Product name.")]
CodeOpt = Annotated[str | None, typer.Option(help="Product code (required when the company uses codes).")]
UnitOpt = Annotated[str, typer.Option(help="Measuring unit, as invoices will use it (e.g. buc).")]
DateOpt = Annotated[str | None, typer.Option("--date", help="Day the movement counts for, yyyy-mm-dd; default today.")]
NoteOpt = Annotated[str | None, typer.Option(help="Free text kept with the movement (e.g. the supplier's invoice).")]


def _fail(text: str) -> NoReturn:
    err.print(f"[red]Eroare:[/red] {text}")
    raise typer.Exit(code=1)


def _decimal(text: str, what: str) -> Decimal:
    try:
        value = Decimal(text.strip().replace(",", "."))
    except InvalidOperation:
        _fail(f"{what} trebuie sa fie un numar: {text!r}.")
    if not value.is_finite():
        _fail(f"{what} trebuie sa fie un numar finit.")
    return value


def _day(text: str | None) -> date:
    from punte.services.issuing import today_in_romania

    if not text:
        return today_in_romania()
    try:
        return date.fromisoformat(text)
    except ValueError:
        _fail(f"Data trebuie sa fie de forma yyyy-mm-dd: {text!r}.")


def _quantity(value: Decimal) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


@warehouse_app.command("add")
def warehouse_add(
    cif: CifOpt,
    name: Annotated[str, typer.Option(help="Warehouse name, as invoices name it in warehouseName.")],
    type: Annotated[str, typer.Option(help='"en gros" (at purchase cost) or "en detail" (at sale price).')] = "en gros",
) -> None:
    """Add a warehouse (gestiune)."""
    from punte.cli import _database
    from punte.services.companies import get_company
    from punte.services.stock import add_warehouse

    db = _database(get_settings())
    try:
        with db.session(write=True) as session:
            company = get_company(session, cif)
            w = add_warehouse(session, company, name, type=type, actor=ACTOR)
            console.print(f"Warehouse {w.name} ({w.type}) added.")
    except DomainError as exc:
        _fail(exc.text)


@warehouse_app.command("list")
def warehouse_list(cif: CifOpt) -> None:
    """List the company's warehouses."""
    from punte.cli import _database
    from punte.services.companies import get_company
    from punte.services.stock import list_warehouses

    db = _database(get_settings())
    try:
        with db.session() as session:
            rows = [(w.name, w.type) for w in list_warehouses(session, get_company(session, cif))]
    except DomainError as exc:
        _fail(exc.text)
    table = Table("name", "type")
    for name, kind in rows:
        table.add_row(name, kind)
    console.print(table)


def _move(cif: str, warehouse: str, product: str, code: str | None, unit: str, quantity: Decimal,
          price: Decimal | None, day: date, note: str | None, *, adjust: bool) -> None:
    from punte.cli import _database
    from punte.services import stock
    from punte.services.companies import get_company

    item = stock.StockItem(name=product, code=code, unit=unit, quantity=quantity, unit_cost=price)
    db = _database(get_settings())
    try:
        with db.session(write=True) as session:
            company = get_company(session, cif)
            if adjust:
                stock.adjust(session, company, warehouse, item, day=day, actor=ACTOR, note=note)
            else:
                stock.receive(session, company, warehouse, [item], day=day, actor=ACTOR, note=note)
            left = stock.quantity_now(session, company, warehouse, product.strip(), (code or "").strip() or None)
    except DomainError as exc:
        _fail(exc.text)
    verb = "Adjusted" if adjust else "Received"
    console.print(f"{verb} {_quantity(quantity)} {unit} {product} in {warehouse} on {day.isoformat()}; "
                  f"in stock now: {_quantity(left)} {unit}.", soft_wrap=True)


@stock_app.command("receive")
def stock_receive(
    cif: CifOpt, warehouse: WarehouseOpt, product: ProductOpt, unit: UnitOpt,
    quantity: Annotated[str, typer.Option(help="Quantity received (> 0).")],
    code: CodeOpt = None,
    price: Annotated[str | None, typer.Option(help="Unit purchase cost, without VAT.")] = None,
    date_: DateOpt = None,
    note: NoteOpt = None,
) -> None:
    """Receive goods into a warehouse (a reception, or the initial stock)."""
    _move(cif, warehouse, product, code, unit, _decimal(quantity, "Cantitatea"),
          _decimal(price, "Pretul") if price is not None else None, _day(date_), note, adjust=False)


@stock_app.command("adjust")
def stock_adjust(
    cif: CifOpt, warehouse: WarehouseOpt, product: ProductOpt, unit: UnitOpt,
    quantity: Annotated[str, typer.Option(help="Signed change: 5 adds, -2 takes out (never below zero).")],
    code: CodeOpt = None,
    date_: DateOpt = None,
    note: NoteOpt = None,
) -> None:
    """Correct a product's stock (inventory count, breakage) by a signed quantity."""
    _move(cif, warehouse, product, code, unit, _decimal(quantity, "Cantitatea"), None, _day(date_), note, adjust=True)


@stock_app.command("list")
def stock_list(
    cif: CifOpt,
    warehouse: Annotated[str | None, typer.Option(help="Only this warehouse.")] = None,
    date_: Annotated[str | None, typer.Option("--date", help="Stock at the end of this day; default today.")] = None,
) -> None:
    """Products in stock per warehouse at the end of a day (as GET /stocks answers)."""
    from punte.cli import _database
    from punte.services.companies import get_company
    from punte.services.stock import stock_on

    day = _day(date_)
    db = _database(get_settings())
    try:
        with db.session() as session:
            entries = stock_on(session, get_company(session, cif), day, warehouse_name=warehouse)
    except DomainError as exc:
        _fail(exc.text)
    table = Table("warehouse", "type", "product", "code", "unit", "quantity", title=f"Stock on {day.isoformat()}")
    for e in entries:
        for p in e.products:
            table.add_row(e.name, e.type, p.name, p.code or "", p.unit, _quantity(p.quantity))
    console.print(table)
