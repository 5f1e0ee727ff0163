"""``punte cash ...``: the cash register (registrul de casa): manual operations, balance, movements."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from punte.config import get_settings
from punte.domain.errors import DomainError
from punte.domain.money import round_money

cash_app = typer.Typer(help="The cash register (registrul de casa).", no_args_is_help=True)

console = Console()
err = Console(stderr=True)
ACTOR = "cli"


def _fail(text: str) -> None:
    err.print(f"[red]Eroare:[/red] {text}")
    raise typer.Exit(code=1)


def _day(text: str | None, default: date) -> date:
    from punte.services.issuing import parse_date

    day = parse_date(text, default=default)
    assert day is not None
    return day


def _db():  # type: ignore[no-untyped-def]
    from punte.cli import _database

    return _database(get_settings())


@cash_app.command("add")
def cash_add(
    cif: Annotated[str, typer.Option()],
    type: Annotated[str, typer.Option(help="incasare (money in) or plata (money out).")],
    value: Annotated[str, typer.Option(help="Amount, e.g. 150.50.")],
    currency: Annotated[str, typer.Option()] = "RON",
    date_: Annotated[str | None, typer.Option("--date", help="yyyy-MM-dd; today by default.")] = None,
    text: Annotated[str | None, typer.Option(help="What the operation is, e.g. 'Corectie sold'.")] = None,
) -> None:
    """Add a manual cash operation to correct the register's balance."""
    from punte.services import cash
    from punte.services.companies import get_company
    from punte.services.issuing import today_in_romania

    try:
        amount = Decimal(value)
    except InvalidOperation:
        _fail(f"Valoare invalida: {value!r}.")
        return
    db = _db()
    try:
        with db.session(write=True) as session:
            company = get_company(session, cif)
            movement = cash.manual_operation(
                session, company, type=type, value=amount, currency=currency, day=_day(date_, today_in_romania()),
                text=text, actor=ACTOR,
            )
            cur = currency.upper()
            console.print(
                f"{cash.KIND_LABEL[movement.kind]} {format(round_money(movement.amount, cur), 'f')} {cur} on "
                f"{movement.day.isoformat()}; balance {format(round_money(movement.balance_after, cur), 'f')} {cur}."
            )
    except DomainError as exc:
        _fail(exc.text)


@cash_app.command("balance")
def cash_balance(
    cif: Annotated[str, typer.Option()],
    currency: Annotated[str, typer.Option()] = "RON",
    date_: Annotated[str | None, typer.Option("--date", help="Balance at the end of this day (yyyy-MM-dd).")] = None,
) -> None:
    """Print the register's balance (now, or at the end of a day)."""
    from punte.services import cash
    from punte.services.companies import get_company

    db = _db()
    try:
        with db.session() as session:
            company = get_company(session, cif)
            day = _day(date_, date.max) if date_ else None
            value = cash.balance(session, company, currency, on=day)
    except DomainError as exc:
        _fail(exc.text)
        return
    console.print(f"{format(round_money(value, currency.upper()), 'f')} {currency.upper()}")


@cash_app.command("list")
def cash_list(
    cif: Annotated[str, typer.Option()],
    currency: Annotated[str, typer.Option()] = "RON",
    from_: Annotated[str | None, typer.Option("--from", help="First day (yyyy-MM-dd); this month's 1st by default.")] = None,
    to: Annotated[str | None, typer.Option(help="Last day (yyyy-MM-dd); today by default.")] = None,
) -> None:
    """Print the cash register between two dates: opening balance, movements, closing balance."""
    from punte.services import cash
    from punte.services.companies import get_company
    from punte.services.issuing import today_in_romania

    db = _db()
    try:
        end = _day(to, today_in_romania())
        start = _day(from_, end.replace(day=1))
        with db.session() as session:
            company = get_company(session, cif)
            rep = cash.report(session, company, start=start, end=end, currency=currency)
    except DomainError as exc:
        _fail(exc.text)
        return
    table = Table("date", "kind", "document", "text", "amount", "balance", title=f"Registru de casa {rep.currency}")
    def money(value: Decimal) -> str:
        return format(round_money(value, rep.currency), "f")

    table.add_row(rep.start.isoformat(), "Sold initial", "", "", "", money(rep.opening))
    for m, running in rep.movements:
        table.add_row(m.day.isoformat(), cash.KIND_LABEL.get(m.kind, m.kind), m.document or "", m.text or "",
                      money(m.amount), money(running))
    table.add_row(rep.end.isoformat(), "Sold final", "", "", "", money(rep.closing))
    console.print(table)
