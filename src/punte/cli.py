"""The ``punte`` command line: what an operator needs before (and besides) the dashboard."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from punte.config import Settings, get_settings
from punte.domain.errors import DomainError
from punte.store.db import Database
from punte.store.migrate import upgrade

app = typer.Typer(
    help="punte: payments to Romanian invoices and RO e-Factura.", no_args_is_help=True, pretty_exceptions_enable=False
)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
company_app = typer.Typer(help="Companies.", no_args_is_help=True)
series_app = typer.Typer(help="Document series.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens.", no_args_is_help=True)
tax_app = typer.Typer(help="VAT rates.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(company_app, name="company")
app.add_typer(series_app, name="series")
app.add_typer(token_app, name="token")
app.add_typer(tax_app, name="tax")


def _register_efactura() -> None:
    from punte.cli_efactura import efactura_app, rules_app

    app.add_typer(rules_app, name="rules")
    app.add_typer(efactura_app, name="efactura")
    from punte.cli_received import received_app

    efactura_app.add_typer(received_app, name="received")
    from punte.cli_anaf import anaf_app

    app.add_typer(anaf_app, name="anaf")


_register_efactura()


def _register_payments() -> None:
    from punte.cli_payments import cash_app

    app.add_typer(cash_app, name="cash")


_register_payments()


def _register_operations() -> None:
    from punte.cli_operations import register

    register(app, company_app)


_register_operations()


def _register_email() -> None:
    from punte.cli_email import email_app, smtp_app

    app.add_typer(smtp_app, name="smtp")
    app.add_typer(email_app, name="email")


_register_email()


def _register_rates() -> None:
    from punte.cli_fx import rates_app

    app.add_typer(rates_app, name="rates")


_register_rates()


def _register_stock() -> None:
    from punte.cli_stock import stock_app, warehouse_app

    app.add_typer(warehouse_app, name="warehouse")
    app.add_typer(stock_app, name="stock")


_register_stock()


def _register_users() -> None:
    from punte.cli_web import user_app

    app.add_typer(user_app, name="user")


_register_users()


def _register_bridge() -> None:
    from punte.cli_bridge import bridge_app

    app.add_typer(bridge_app, name="bridge")


_register_bridge()

console = Console()
err = Console(stderr=True)
ACTOR = "cli"


def _database(settings: Settings) -> Database:
    url = settings.resolved_database_url()
    upgrade(url)
    return Database(url, busy_timeout_ms=settings.sqlite_busy_timeout_ms)


def _fail(text: str) -> None:
    err.print(f"[red]Eroare:[/red] {text}")
    raise typer.Exit(code=1)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
) -> None:
    """Start the API server (migrating the database first)."""
    import uvicorn

    from punte.api.app import create_app

    settings = get_settings()
    host = host or settings.host
    port = port or settings.port
    application = create_app(settings, worker=settings.embedded_worker, worker_process=settings.worker_process)
    _settle_heap(settings.embedded_worker and not settings.worker_process)
    console.print(f"punte on http://{host}:{port}  (API docs: http://{host}:{port}/docs)")
    console.print(f"Dashboard: http://{host}:{port}/  (dashboard users: 'punte user add', see README)")
    console.print(f"Database: {settings.resolved_database_url()}")
    console.print(f"Data directory: {settings.data_dir.resolve()}")
    console.print(
        "Log in to the API with HTTP Basic 'e-mail:token'; create them with "
        "'punte company add' and 'punte token add' (see README)."
    )
    # loop/http "auto": uvloop and httptools (uvicorn[standard]) where installed, asyncio and h11 otherwise
    uvicorn.run(application, host=host, port=port, log_level="info", loop="auto", http="auto")


def _settle_heap(with_worker: bool) -> None:
    """Move everything start-up made (modules, the app, its routes) out of the garbage collector's sight.

    A full collection walks every object the process has; with punte's imports that is 150 000 and more,
    about 90 ms during which no request is answered, and it came every few seconds under webhook load.
    Frozen objects are never walked again, so later collections only see what the requests made.
    """
    import gc

    if with_worker:
        from punte.worker.runner import load_handlers

        load_handlers()  # the embedded worker would import them later, unfrozen
    gc.collect()
    gc.freeze()


@app.command()
def worker(
    once: Annotated[bool, typer.Option("--once", help="Run the jobs due now, then exit.")] = False,
    poll: Annotated[float | None, typer.Option(
        help="Seconds between polls of the queue when idle (default: PUNTE_WORKER_POLL_SECONDS).")] = None,
    wake_fd: Annotated[int | None, typer.Option(
        "--wake-fd", hidden=True, help="Pipe from `punte serve`: wake on every byte, stop when it closes.")] = None,
) -> None:
    """Run the background worker (e-Factura submissions, e-mail, webhooks, recurring invoices)."""
    import logging
    import signal

    from punte.worker.runner import Worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = get_settings()
    runner = Worker(_database(settings), settings,
                    poll_interval=poll if poll is not None else settings.worker_poll_seconds)
    if wake_fd is not None:  # punte serve's child: it stops when the server closes the pipe
        from punte.worker.child import listen_for_wakes

        # Ctrl+C in the terminal reaches the whole process group: the server shuts down and closes the pipe,
        # and the job under way is finished rather than interrupted.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        listen_for_wakes(wake_fd, lambda: runner.stop(timeout=0))
    if once:
        ran = runner.run_until_idle(timeout=3600)
        console.print(f"{ran} jobs run")
        return
    signal.signal(signal.SIGTERM, lambda *_: runner.stop(timeout=0))
    console.print(f"worker {runner.worker_id} running" + ("" if wake_fd is not None else "; Ctrl+C stops it"))
    try:
        runner.run_forever()
    except KeyboardInterrupt:
        pass


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply all database migrations."""
    settings = get_settings()
    upgrade(settings.resolved_database_url())
    console.print("Database is up to date.")


@company_app.command("add")
def company_add(
    cif: Annotated[str, typer.Option(help="CIF/CUI, with or without RO.")],
    name: Annotated[str, typer.Option(help="Legal name.")],
    vat_payer: Annotated[bool, typer.Option("--vat-payer/--no-vat-payer", help="Registered for VAT.")] = True,
    vat_on_collection: Annotated[bool, typer.Option(help="Uses VAT on collection (TVA la incasare).")] = False,
    address: Annotated[str | None, typer.Option()] = None,
    city: Annotated[str | None, typer.Option()] = None,
    county: Annotated[str | None, typer.Option()] = None,
    country: Annotated[str, typer.Option()] = "Romania",
    iban: Annotated[str | None, typer.Option()] = None,
    bank: Annotated[str | None, typer.Option()] = None,
    reg_com: Annotated[str | None, typer.Option(help="Trade register number (J12/345/2020).")] = None,
    email: Annotated[str | None, typer.Option()] = None,
    intra_cif: Annotated[str | None, typer.Option(help="Intra-community VAT id used with useIntraCif.")] = None,
) -> None:
    """Add a company with today's VAT rates and the usual measuring units."""
    from punte.services.companies import CompanyData, add_company

    db = _database(get_settings())
    try:
        with db.session(write=True) as session:
            company = add_company(
                session,
                CompanyData(
                    cif=cif, name=name, vat_payer=vat_payer, vat_on_collection=vat_on_collection, address=address,
                    city=city, county=county, country=country, iban=iban, bank=bank, reg_com=reg_com, email=email,
                    intra_cif=intra_cif,
                ),
                actor=ACTOR,
            )
            console.print(f"Company {company.name} (CIF {company.cif}) added.")
    except DomainError as exc:
        _fail(exc.text)


@company_app.command("update")
def company_update(
    cif: Annotated[str, typer.Option(help="The company's CIF (it cannot change).")],
    name: Annotated[str | None, typer.Option(help="Legal name.")] = None,
    address: Annotated[str | None, typer.Option()] = None,
    city: Annotated[str | None, typer.Option()] = None,
    county: Annotated[str | None, typer.Option(help="County; in Romania stored under its official name.")] = None,
    country: Annotated[str | None, typer.Option()] = None,
    iban: Annotated[str | None, typer.Option(help="IBAN (checked); '' clears it.")] = None,
    bank: Annotated[str | None, typer.Option()] = None,
    reg_com: Annotated[str | None, typer.Option(help="Trade register number (J12/345/2020).")] = None,
    email: Annotated[str | None, typer.Option()] = None,
    phone: Annotated[str | None, typer.Option()] = None,
    intra_cif: Annotated[str | None, typer.Option(help="Intra-community VAT id used with useIntraCif.")] = None,
    product_codes: Annotated[
        bool | None, typer.Option("--product-codes/--no-product-codes", help="Product codes required on lines.")
    ] = None,
) -> None:
    """Change the company's data; documents already issued keep the data they were issued with."""
    from punte.services.companies import CompanyChanges, get_company, update_company

    changes = CompanyChanges(
        name=name, reg_com=reg_com, address=address, city=city, county=county, country=country, iban=iban, bank=bank,
        email=email, phone=phone, intra_cif=intra_cif, uses_product_codes=product_codes,
    )
    db = _database(get_settings())
    try:
        with db.session(write=True) as session:
            company = get_company(session, cif)
            changed = update_company(session, company, changes, actor=ACTOR)
    except DomainError as exc:
        _fail(exc.text)
    finally:
        db.dispose()
    if not changed:
        console.print("Nothing changed.")
    for field, (old, new) in changed.items():
        console.print(f"{field}: {old if old is not None else '-'} -> {new if new is not None else '-'}")


@series_app.command("add")
def series_add(
    cif: Annotated[str, typer.Option()],
    type: Annotated[str, typer.Option(help="f invoice, p proforma, c receipt.")],
    name: Annotated[str, typer.Option(help="Series name, e.g. FCT.")],
    next: Annotated[int, typer.Option(help="Next number to issue.")] = 1,
    padding: Annotated[int, typer.Option(help="Digits of the printed number (0001).")] = 4,
) -> None:
    """Add a document series."""
    from punte.services.companies import add_series, get_company

    db = _database(get_settings())
    try:
        with db.session(write=True) as session:
            company = get_company(session, cif)
            s = add_series(session, company, type=type, name=name, next_number=next, padding=padding, actor=ACTOR)
            console.print(f"Series {s.name} ({type}) added; next number {s.format(s.next_number)}.")
    except DomainError as exc:
        _fail(exc.text)


@token_app.command("add")
def token_add(
    cif: Annotated[str, typer.Option()],
    email: Annotated[str, typer.Option(help="The API user's e-mail (the HTTP Basic username).")],
) -> None:
    """Create an API token; the token is printed as the last line and never shown again."""
    from punte.services.companies import add_token, get_company

    settings = get_settings()
    db = _database(settings)
    try:
        with db.session(write=True) as session:
            company = get_company(session, cif)
            token = add_token(session, company, email, secret_key=settings.resolved_secret_key(), actor=ACTOR)
    except DomainError as exc:
        _fail(exc.text)
        return
    console.print(f"API token for {email} on {company.name} (store it now, it is kept only hashed):")
    sys.stdout.write(token + "\n")


@tax_app.command("list")
def tax_list(cif: Annotated[str, typer.Option()]) -> None:
    """List the company's VAT rates and their validity."""
    from punte.services.companies import get_company, vat_rates

    db = _database(get_settings())
    try:
        with db.session() as session:
            company = get_company(session, cif)
            rates = vat_rates(session, company.id)
    except DomainError as exc:
        _fail(exc.text)
        return
    table = Table("name", "percentage", "category", "valid from", "valid to", "default")
    for r in rates:
        table.add_row(
            r.name, format(r.percentage, "f"), r.category, str(r.valid_from or "-"), str(r.valid_to or "-"),
            "yes" if r.is_default else "",
        )
    console.print(table)


if __name__ == "__main__":
    app()
