"""``punte plan``, ``punte company vat-status``, ``punte pricelist`` and ``punte recurring``."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from punte.config import get_settings
from punte.domain.errors import DomainError
from punte.store.models import Company

plan_app = typer.Typer(help="Subscription plans: documents allowed per anniversary month.", no_args_is_help=True)
pricelist_app = typer.Typer(help="Special price lists per client or client group.", no_args_is_help=True)
recurring_app = typer.Typer(help="Recurring invoices (issued by the worker).", no_args_is_help=True)

console = Console()
err = Console(stderr=True)
ACTOR = "cli"


def register(app: typer.Typer, company_app: typer.Typer) -> None:
    app.add_typer(plan_app, name="plan")
    app.add_typer(pricelist_app, name="pricelist")
    app.add_typer(recurring_app, name="recurring")
    company_app.command("vat-status")(company_vat_status)


def _fail(text: str) -> None:
    err.print(f"[red]Eroare:[/red] {text}")
    raise typer.Exit(code=1)


@contextmanager
def _company(cif: str, *, write: bool) -> Iterator[tuple[Session, Company]]:
    """One unit of work on the company; a domain error ends the command with its text."""
    from punte.cli import _database
    from punte.services.companies import get_company

    db = _database(get_settings())
    try:
        with db.session(write=write) as session:
            yield session, get_company(session, cif)
    except DomainError as exc:
        _fail(exc.text)
    finally:
        db.dispose()


def _day(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        _fail(f"{option} trebuie sa fie o data de forma YYYY-MM-DD.")
    return None


def _today() -> date:
    from punte.services.issuing import today_in_romania

    return today_in_romania()


# -- plans ------------------------------------------------------------------------------------------
@plan_app.command("set")
def plan_set(
    cif: Annotated[str, typer.Option()],
    activated: Annotated[str, typer.Option(help="Activation date YYYY-MM-DD: periods are its monthly anniversaries.")],
    limit: Annotated[int | None, typer.Option(help="Documents allowed per period.")] = None,
    unlimited: Annotated[bool, typer.Option("--unlimited", help="Lift the limit (usage is still counted).")] = False,
    name: Annotated[str | None, typer.Option(help="Plan name shown to users (Basic, Silver, Gold...).")] = None,
) -> None:
    """Assign or change the company's plan."""
    from punte.services.quotas import set_plan

    if (limit is None) == (not unlimited):
        _fail("Specificati fie --limit N, fie --unlimited.")
    day = _day(activated, "--activated")
    assert day is not None
    with _company(cif, write=True) as (session, company):
        set_plan(session, company, limit=None if unlimited else limit, activated_on=day, name=name, actor=ACTOR)
    shown = "unlimited" if unlimited else f"{limit} documents per period"
    console.print(f"Plan for {company.name}: {shown}, periods anchored on {day.isoformat()}.")


@plan_app.command("show")
def plan_show(cif: Annotated[str, typer.Option()]) -> None:
    """The plan and the use of the current period."""
    from punte.services.quotas import status

    with _company(cif, write=False) as (session, company):
        st = status(session, company)
    if st.period is None:
        console.print(f"{company.name}: no plan (unlimited).")
        return
    limit = "unlimited" if st.limit is None else str(st.limit)
    console.print(
        f"{company.name}: plan {st.plan or '-'}, limit {limit}, used {st.used} "
        f"in {st.period.start.isoformat()} .. {st.period.end.isoformat()}; "
        f"resets on {st.period.next_start.isoformat()}."
    )
    for kind, used in sorted(st.by_kind.items()):
        console.print(f"  {kind}: {used}")


# -- VAT status -------------------------------------------------------------------------------------
def company_vat_status(
    cif: Annotated[str, typer.Option()],
    from_: Annotated[str, typer.Option("--from", help="Effective date YYYY-MM-DD.")],
    payer: Annotated[bool, typer.Option("--payer/--non-payer", help="VAT payer or not from that date.")],
    on_collection: Annotated[bool, typer.Option("--on-collection", help="VAT on collection (payers only).")] = False,
) -> None:
    """Change the company's VAT-payer status from a date on (stops recurring invoices, deactivates price lists)."""
    from punte.services.companies import change_vat_status

    day = _day(from_, "--from")
    assert day is not None
    with _company(cif, write=True) as (session, company):
        change = change_vat_status(
            session, company, vat_payer=payer, effective_from=day, vat_on_collection=on_collection, actor=ACTOR
        )
    word = "VAT payer" + (" (VAT on collection)" if on_collection else "") if payer else "not a VAT payer"
    console.print(f"{company.name} is {word} from {day.isoformat()}.")
    if change.stopped_recurring:
        stopped = ", ".join(map(str, change.stopped_recurring))
        console.print(f"Stopped recurring invoices: {stopped} (set them up again).")
    if change.deactivated_price_lists:
        console.print(f"Deactivated price lists: {', '.join(change.deactivated_price_lists)}.")


# -- price lists ------------------------------------------------------------------------------------
@pricelist_app.command("add")
def pricelist_add(cif: Annotated[str, typer.Option()], name: Annotated[str, typer.Option("--name", "--list")]) -> None:
    """Create a (still inactive) price list."""
    from punte.services.price_lists import add_list

    with _company(cif, write=True) as (session, company):
        add_list(session, company, name, actor=ACTOR)
    console.print(f"Price list {name} created (inactive; 'punte pricelist activate' turns it on).")


@pricelist_app.command("set-price")
def pricelist_set_price(
    cif: Annotated[str, typer.Option()],
    list_: Annotated[str, typer.Option("--list", help="Price list name.")],
    product: Annotated[str, typer.Option(help="Product name, as in the nomenclature.")],
    price: Annotated[str, typer.Option(help="Special price, e.g. 99.50.")],
    code: Annotated[str | None, typer.Option(help="Product code, when several products share the name.")] = None,
    currency: Annotated[str, typer.Option()] = "RON",
    tax_included: Annotated[bool, typer.Option("--tax-included", help="The price includes VAT.")] = False,
) -> None:
    """Set a product's special price in a list."""
    from punte.services.price_lists import set_price

    try:
        value = Decimal(price.strip().replace(",", "."))
    except InvalidOperation:
        _fail("--price trebuie sa fie un numar.")
        return
    with _company(cif, write=True) as (session, company):
        set_price(session, company, list_, product=product, code=code, price=value, currency=currency,
                  tax_included=tax_included, actor=ACTOR)
    console.print(f"{product}: {value} {currency.upper()} in {list_}.")


@pricelist_app.command("group")
def pricelist_group(
    cif: Annotated[str, typer.Option()],
    group: Annotated[str, typer.Option(help="Group name.")],
    client: Annotated[list[str], typer.Option(help="Client name (repeat for several).")],
) -> None:
    """Put clients in a group (a client belongs to at most one group)."""
    from punte.services.price_lists import set_group

    with _company(cif, write=True) as (session, company):
        set_group(session, company, group, client, actor=ACTOR)
    console.print(f"{len(client)} client(s) in group {group}.")


@pricelist_app.command("assign")
def pricelist_assign(
    cif: Annotated[str, typer.Option()],
    list_: Annotated[str, typer.Option("--list", help="Price list name.")],
    client: Annotated[str | None, typer.Option(help="A client name.")] = None,
    group: Annotated[str | None, typer.Option(help="A client group name.")] = None,
) -> None:
    """Apply a list to a client or a group (replacing the list they had)."""
    from punte.services.price_lists import assign

    with _company(cif, write=True) as (session, company):
        assign(session, company, list_, client=client, group=group, actor=ACTOR)
    console.print(f"Price list {list_} applies to {'client ' + client if client else 'group ' + str(group)}.")


def _activation(active: bool) -> Callable[..., None]:
    def command(cif: Annotated[str, typer.Option()], list_: Annotated[str, typer.Option("--list")]) -> None:
        from punte.services.price_lists import set_active

        with _company(cif, write=True) as (session, company):
            set_active(session, company, list_, active, actor=ACTOR)
        console.print(f"Price list {list_} {'activated' if active else 'deactivated'}.")

    command.__doc__ = "Activate a price list." if active else "Deactivate a price list."
    return command


pricelist_app.command("activate")(_activation(True))
pricelist_app.command("deactivate")(_activation(False))


@pricelist_app.command("list")
def pricelist_list(cif: Annotated[str, typer.Option()]) -> None:
    """Price lists with their prices and who they apply to."""
    from punte.services.price_lists import list_lists

    with _company(cif, write=False) as (session, company):
        views = list_lists(session, company)
    if not views:
        console.print("No price lists.")
    for v in views:
        console.print(f"[bold]{v.name}[/bold] ({'active' if v.active else 'inactive'}); clients: "
                      f"{', '.join(v.clients) or '-'}; groups: {', '.join(v.groups) or '-'}")
        table = Table("product", "code", "price", "currency", "VAT included")
        for name, code, price, cur, incl in v.prices:
            table.add_row(name, code or "", format(price, "f"), cur, "yes" if incl else "")
        console.print(table)


# -- recurring invoices -----------------------------------------------------------------------------
@recurring_app.command("add")
def recurring_add(
    cif: Annotated[str, typer.Option()],
    template: Annotated[Path, typer.Option(help="JSON file: a SmartBill POST /invoice body.")],
    every: Annotated[int, typer.Option(help="Repeat every N units.")] = 1,
    unit: Annotated[str, typer.Option(help="day | week | month | year")] = "month",
    day_of_month: Annotated[int | None, typer.Option(help="Monthly/yearly: day of month (31 = month end).")] = None,
    start: Annotated[str | None, typer.Option(help="First possible occurrence YYYY-MM-DD (default today).")] = None,
    end: Annotated[str | None, typer.Option(help="Last possible occurrence YYYY-MM-DD.")] = None,
    due_days: Annotated[int | None, typer.Option(help="Due date = issue date + N days.")] = None,
    name: Annotated[str | None, typer.Option(help="A label for the schedule.")] = None,
) -> None:
    """Add a recurring invoice; the worker issues each occurrence."""
    from punte.services.recurring import ScheduleData, create_schedule

    try:
        body: Any = json.loads(template.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        _fail(f"Sablonul {template} nu poate fi citit ca JSON: {exc}")
        return
    data = ScheduleData(
        template=body, every=every, unit=unit, day_of_month=day_of_month, start=_day(start, "--start"),
        end=_day(end, "--end"), due_days=due_days, name=name,
    )
    with _company(cif, write=True) as (session, company):
        schedule = create_schedule(session, company, data, actor=ACTOR, today=_today())
        schedule_id = schedule.id
    console.print(f"Recurring invoice {schedule_id} added.")


@recurring_app.command("list")
def recurring_list(cif: Annotated[str, typer.Option()]) -> None:
    """Recurring invoices and their next occurrence."""
    from punte.services.recurring import list_schedules

    with _company(cif, write=False) as (session, company):
        views = list_schedules(session, company)
    table = Table("id", "name", "client", "every", "status", "start", "end", "next")
    for v in views:
        every = f"{v.every} {v.unit}" + (f" (day {v.day_of_month})" if v.day_of_month else "")
        table.add_row(
            str(v.id), v.name or "", v.client, every, v.status, v.start.isoformat(),
            v.end.isoformat() if v.end else "", v.next_occurrence.isoformat() if v.next_occurrence else "",
        )
    console.print(table)


@recurring_app.command("history")
def recurring_history(cif: Annotated[str, typer.Option()], id: Annotated[int, typer.Option("--id")]) -> None:
    """Each occurrence of a recurring invoice: date, resulting invoice or the error."""
    from punte.services.recurring import schedule_view

    with _company(cif, write=False) as (session, company):
        view = schedule_view(session, company, id)
    reason = f": {view.stopped_reason}" if view.stopped_reason else ""
    console.print(f"Recurring invoice {view.id} ({view.status}){reason}")
    table = Table("date", "status", "invoice", "error")
    for o in view.history:
        table.add_row(o.date.isoformat(), o.status, f"{o.series}{o.number}" if o.number else "", o.error or "")
    console.print(table)


def _change(action: str) -> Callable[..., None]:
    def command(cif: Annotated[str, typer.Option()], id: Annotated[int, typer.Option("--id")]) -> None:
        from punte.services import recurring

        with _company(cif, write=True) as (session, company):
            if action == "pause":
                recurring.pause(session, company, id, actor=ACTOR)
            elif action == "resume":
                recurring.resume(session, company, id, actor=ACTOR, today=_today())
            else:
                recurring.stop(session, company, id, actor=ACTOR)
        console.print(f"Recurring invoice {id}: {action} done.")

    command.__doc__ = {
        "pause": "Pause a recurring invoice (occurrences while paused are not issued).",
        "resume": "Resume a paused recurring invoice.",
        "stop": "Stop a recurring invoice for good.",
    }[action]
    return command


for _action in ("pause", "resume", "stop"):
    recurring_app.command(_action)(_change(_action))
