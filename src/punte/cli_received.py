"""``punte efactura received ...``: the invoices suppliers sent a company through e-Factura."""

from __future__ import annotations

import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from punte.config import get_settings
from punte.domain.errors import DomainError

received_app = typer.Typer(
    help="Received invoices (FACTURA PRIMITA): download from ANAF, list, PDF and XML.", no_args_is_help=True
)

console = Console()
err = Console(stderr=True)
ACTOR = "cli"


def _db():  # type: ignore[no-untyped-def]
    from punte.cli import _database

    return _database(get_settings())


def _fail(text: str) -> None:
    err.print(f"[red]Eroare:[/red] {text}")
    raise typer.Exit(1)


def _day(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        _fail(f"--{name} trebuie sa fie o data AAAA-LL-ZZ, nu {value!r}.")
    return None


@received_app.command("sync")
def sync(
    cif: Annotated[str, typer.Option(help="The company whose received invoices to download.")],
    timeout: Annotated[float, typer.Option(help="Stop waiting for downloads after this many seconds.")] = 120.0,
) -> None:
    """List the company's FACTURA PRIMITA messages at ANAF now and download the new invoices, with progress."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from sqlalchemy import func, select

    from punte.cli_anaf import sandbox_transport
    from punte.services import received, received_read
    from punte.services.anaf_connection import company_settings
    from punte.services.companies import get_company
    from punte.store.models import Job
    from punte.worker.runner import Worker

    settings = get_settings()
    db = _db()
    try:
        with db.session() as session:
            company = get_company(session, cif)
            efactura = company_settings(session, company)
            env = efactura.environment if efactura is not None else "sandbox"
    except DomainError as exc:
        _fail(exc.text)
        return
    transport = sandbox_transport(settings) if env == "sandbox" else None
    result = received.sync_received(db, settings, company, transport=transport, worker_id="cli-received",
                                    actor=ACTOR)
    if not result.ok:
        _fail(f"{result.status}: {result.text}")
    console.print(f"ANAF ({result.environment}): {result.listed} facturi primite in lista, {result.queued} noi.")

    def pending() -> int:
        with db.session() as session:
            return received_read.pending_downloads(session, company)

    total = pending()
    if not total:
        console.print("Nimic de descarcat.")
        _summary(db, company)
        return
    worker = Worker(db, settings, kinds=[received.DOWNLOAD_JOB], run_periodic=False, worker_id="cli-received",
                    services={"anaf_transport": transport} if transport is not None else {})
    deadline = time.monotonic() + timeout

    def next_due() -> float | None:
        with db.session() as session:
            when = session.scalar(select(func.min(Job.run_at)).where(
                Job.kind == received.DOWNLOAD_JOB, Job.company_id == company.id,
                Job.status.in_(("queued", "running"))))
        return None if when is None else (when - datetime.now(UTC)).total_seconds()

    with Progress(TextColumn("facturi primite"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console) as progress:
        task = progress.add_task("download", total=total)
        while time.monotonic() < deadline:
            worker.run_once()
            left = pending()
            progress.update(task, completed=total - left)
            if not left:
                break
            wait = next_due()
            if wait is None or wait > deadline - time.monotonic():
                break
            time.sleep(min(max(wait, 0.05), 1.0))
    left = pending()
    if left:
        console.print(f"{left} descarcari amanate (limita zilnica ANAF sau ANAF indisponibil); worker-ul le reia.")
    _summary(db, company)


def _summary(db, company) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import func, select

    from punte.store.models_received import ReceivedInvoice

    with db.session() as session:
        counts = dict(session.execute(select(ReceivedInvoice.status, func.count()).where(
            ReceivedInvoice.company_id == company.id).group_by(ReceivedInvoice.status)).all())
    console.print(", ".join(f"{status}: {n}" for status, n in sorted(counts.items())) or "0 facturi primite")


@received_app.command("list")
def list_(
    cif: Annotated[str, typer.Option(help="The company.")],
    from_: Annotated[str | None, typer.Option("--from", help="Issued on or after (YYYY-MM-DD).")] = None,
    to: Annotated[str | None, typer.Option(help="Issued on or before (YYYY-MM-DD).")] = None,
    supplier: Annotated[str | None, typer.Option(help="Supplier CIF or part of its name.")] = None,
) -> None:
    """The received invoices, newest first."""
    from punte.services import received_read
    from punte.services.companies import get_company

    start, end = _day(from_, "from"), _day(to, "to")
    try:
        with _db().session() as session:
            company = get_company(session, cif)
            rows = received_read.list_received(session, company, start=start, end=end, supplier=supplier)
            state = received_read.sync_status(session, company)
    except DomainError as exc:
        _fail(exc.text)
        return
    table = Table(title=f"Facturi primite de {company.name} (CIF {company.cif})")
    for name, justify in (("id", "left"), ("data", "left"), ("furnizor", "left"), ("CIF", "left"),
                          ("numar", "left"), ("tip", "left"), ("net", "right"), ("TVA", "right"),
                          ("total", "right"), ("stare", "left")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for r in rows:
        kind = "nota credit" if r.kind == "credit_note" else ("factura" if r.kind else "-")
        money = (lambda v: "-" if v is None else f"{v:,.2f} {r.currency or ''}".strip())  # noqa: E731
        table.add_row(r.download_id, r.issue_date.isoformat() if r.issue_date else "-", (r.supplier_name or "-")[:40],
                      r.supplier_cif or "-", r.number or "-", kind, money(r.net_total), money(r.vat_total),
                      money(r.gross_total), r.status if r.status != "parse_error" else f"parse_error: {r.error}")
    console.print(table)
    if state is not None:
        last = f"{state.last_sync_at:%Y-%m-%d %H:%M}" if state.last_sync_at else "-"
        why = f": {state.status_text}" if state.status_text else ""
        console.print(f"Ultima sincronizare: {last} ({state.status}{why})")


def _one(cif: str, download_id: str):  # type: ignore[no-untyped-def]
    from punte.services import received_read
    from punte.services.companies import get_company

    with _db().session() as session:
        company = get_company(session, cif)
        return received_read.get_received(session, company, download_id)


def _write(data: bytes, output: Path | None) -> None:
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    output.write_bytes(data)
    err.print(f"{output} ({len(data)} octeti)")


@received_app.command("pdf")
def pdf(
    cif: Annotated[str, typer.Option(help="The company.")],
    id_: Annotated[str, typer.Option("--id", help="ANAF's download id of the received invoice.")],
    output: Annotated[Path, typer.Option(help="Where to write the PDF.")],
) -> None:
    """The received invoice drawn as a PDF (from the archived XML)."""
    from punte.services import received_read

    try:
        data = received_read.received_pdf(get_settings(), _one(cif, id_))
    except DomainError as exc:
        _fail(exc.text)
        return
    _write(data, output)


@received_app.command("xml")
def xml(
    cif: Annotated[str, typer.Option(help="The company.")],
    id_: Annotated[str, typer.Option("--id", help="ANAF's download id of the received invoice.")],
    output: Annotated[Path | None, typer.Option(help="Where to write it (default: standard output).")] = None,
    zip_: Annotated[bool, typer.Option("--zip", help="The whole archived ZIP (with ANAF's signature).")] = False,
) -> None:
    """The received invoice's XML as the supplier sent it (or the ZIP ANAF delivered)."""
    from punte.services import received_read

    settings = get_settings()
    try:
        row = _one(cif, id_)
        data = received_read.archived_zip(settings, row) if zip_ else received_read.received_xml(settings, row)[0]
    except DomainError as exc:
        _fail(exc.text)
        return
    _write(data, output)
