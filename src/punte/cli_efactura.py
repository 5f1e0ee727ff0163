"""``punte rules ...`` and ``punte efactura ...``: ANAF's validation rules and UBL files."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from punte.config import get_settings
from punte.domain.errors import DomainError

rules_app = typer.Typer(help="ANAF's e-Factura validation rules.", no_args_is_help=True)
efactura_app = typer.Typer(
    help="RO e-Factura: sending invoices to ANAF, UBL files and their validation.", no_args_is_help=True
)

console = Console()
err = Console(stderr=True)


@rules_app.command("install")
def rules_install(
    from_: Annotated[Path | None, typer.Option("--from", help="Local copy of ANAF's ro16931-ubl-1.0.9.zip.")] = None,
    xsd_from: Annotated[Path | None, typer.Option(help="Directory with the OASIS UBL 2.1 XSDs (maindoc/, common/).")] = None,
) -> None:
    """Install ANAF's Schematron bundle (downloaded from ANAF, sha256 pinned, or --from a file)."""
    from punte.efactura.rules import RulesInstallError, install_bundle

    settings = get_settings()
    try:
        path = install_bundle(settings.data_dir, from_, xsd_source=xsd_from)
    except (RulesInstallError, OSError) as exc:
        err.print(f"[red]Eroare:[/red] {exc}")
        raise typer.Exit(1) from exc
    console.print(f"ANAF rules installed: {path}")


def _validator():  # type: ignore[no-untyped-def]
    from punte.efactura.rules import RulesNotInstalled, default_validator

    try:
        return default_validator(get_settings().data_dir)
    except RulesNotInstalled as exc:
        err.print(f"[red]Eroare:[/red] {exc}")
        raise typer.Exit(2) from exc


@efactura_app.command("validate")
def validate(files: Annotated[list[Path], typer.Argument(help="UBL invoices or credit notes.")]) -> None:
    """Validate UBL files with the UBL 2.1 XSD and ANAF's rules; exit 1 when any has a fatal finding."""
    validator = _validator()
    failed = 0
    for path in files:
        report = validator.validate_file(path)
        status = "[green]OK[/green]" if report.ok else "[red]RESPINS[/red]"
        console.print(f"{path}: {status} ({len(report.fatal)} erori, {len(report.warnings)} avertismente)")
        if report.findings:
            console.print(report.as_text(), markup=False)
        failed += 0 if report.ok else 1
    raise typer.Exit(1 if failed else 0)


@efactura_app.command("xml")
def xml(
    cif: Annotated[str, typer.Option()],
    series: Annotated[str, typer.Option()],
    number: Annotated[str, typer.Option()],
    output: Annotated[Path | None, typer.Option(help="Write here instead of standard output.")] = None,
) -> None:
    """Write an issued invoice's CIUS-RO UBL."""
    from punte.cli import _database
    from punte.efactura.ubl import UblError, build_ubl
    from punte.services.companies import get_company
    from punte.services.operations import read_model, require_document

    db = _database(get_settings())
    try:
        with db.session() as session:
            company = get_company(session, cif)
            doc = require_document(session, company, "invoice", series, number)
            data = build_ubl(read_model(session, doc))
    except (DomainError, UblError) as exc:
        err.print(f"[red]Eroare:[/red] {getattr(exc, 'text', exc)}")
        raise typer.Exit(1) from exc
    if output is None:
        sys.stdout.buffer.write(data)
    else:
        output.write_bytes(data)
        console.print(f"Written {output}")


# -- e-Factura submissions -------------------------------------------------------------------------
ACTOR = "cli"


def _db():  # type: ignore[no-untyped-def]
    from punte.cli import _database

    return _database(get_settings())


def _fail(text: str) -> None:
    err.print(f"[red]Eroare:[/red] {text}")
    raise typer.Exit(1)


@efactura_app.command("enable")
def enable(
    cif: Annotated[str, typer.Option()],
    env: Annotated[str | None, typer.Option(help="sandbox (default), test or prod.")] = None,
    auto: Annotated[bool | None, typer.Option("--auto/--no-auto",
                                              help="Queue every issued invoice (storno included) at once.")] = None,
) -> None:
    """Turn e-Factura on for a company (environment, automatic sending)."""
    from punte.efactura.anaf import submissions
    from punte.services.anaf_connection import connection_status
    from punte.services.companies import get_company

    try:
        with _db().session(write=True) as session:
            company = get_company(session, cif)
            row = submissions.enable(session, company, env=env, auto=auto, actor=ACTOR)
            state = connection_status(session, company)
    except (DomainError, ValueError) as exc:
        _fail(getattr(exc, "text", str(exc)))
        return
    console.print(f"e-Factura on for {company.name} (CIF {company.cif}): environment {row.environment}, "
                  f"automatic sending {'on' if row.auto_submit else 'off'}; ANAF connection: {state.state}.")
    if state.state == "not connected":
        console.print(f"Next: punte anaf connect --cif {company.cif}")


@efactura_app.command("disable")
def disable(cif: Annotated[str, typer.Option()]) -> None:
    """Turn e-Factura off for a company (submissions under way still finish)."""
    from punte.efactura.anaf import submissions
    from punte.services.companies import get_company

    try:
        with _db().session(write=True) as session:
            company = get_company(session, cif)
            submissions.disable(session, company, actor=ACTOR)
    except DomainError as exc:
        _fail(exc.text)
        return
    console.print(f"e-Factura off for {company.name} (CIF {company.cif}).")


def _line(view) -> str:  # type: ignore[no-untyped-def]
    flag = {"overdue": "OVERDUE", "due soon": "due soon"}.get(view.flag, "")
    kind = " storno" if view.storno else ""
    return (f"{view.document:<14} {view.issue_date} {view.state:<13} index {view.upload_index or '-':<12} "
            f"deadline {view.deadline} {flag}{kind}").rstrip()


@efactura_app.command("status")
def status(
    cif: Annotated[str, typer.Option()],
    series: Annotated[str | None, typer.Option()] = None,
    number: Annotated[str | None, typer.Option()] = None,
    days: Annotated[int, typer.Option(help="Invoices issued in the last N days.")] = 60,
) -> None:
    """One line per invoice: e-Factura state, upload index, deadline (flagged when close or past)."""
    from punte.efactura.anaf import submissions
    from punte.services.anaf_connection import connection_status
    from punte.services.companies import get_company
    from punte.services.events import history
    from punte.services.issuing import today_in_romania
    from punte.services.operations import require_document

    today = today_in_romania()
    try:
        with _db().session() as session:
            company = get_company(session, cif)
            connection = connection_status(session, company)
            if series or number:
                doc = require_document(session, company, "invoice", series, number)
                view = submissions.document_status(session, company, doc, today=today)
                sub_events = []
                if view.state != "not submitted":
                    from sqlalchemy import select

                    from punte.store.models_anaf import EfacturaSubmission

                    sid = session.scalar(select(EfacturaSubmission.id).where(EfacturaSubmission.document_id == doc.id))
                    sub_events = history(session, submissions.ENTITY, sid) if sid else []
                views = [view]
            else:
                views = submissions.company_status(session, company, today=today, days=days)
                sub_events = []
    except DomainError as exc:
        _fail(exc.text)
        return
    console.print(f"{company.name} (CIF {company.cif}): e-Factura {'on' if connection.enabled else 'off'}, "
                  f"{connection.environment or '-'}, ANAF connection: {connection.state}"
                  + (f" ({connection.reason})" if connection.reason else ""), markup=False)
    for view in views:
        console.print(_line(view), markup=False, soft_wrap=True)
    if len(views) == 1 and (series or number):
        view = views[0]
        if view.validation:
            console.print(f"  local validation: {view.validation}", markup=False)
        if view.xml_sha256:
            console.print(f"  uploaded XML sha256: {view.xml_sha256}", markup=False)
        if view.archive_path:
            console.print(f"  archive: {view.archive_path} (sha256 {view.archive_sha256})", markup=False)
        for message in view.messages:
            rule = f"[{message.get('rule')}] " if message.get("rule") else ""
            console.print(f"  {message.get('severity', 'E')}: {rule}{message.get('text')}", markup=False,
                          soft_wrap=True)
        if view.last_error:
            console.print(f"  waiting: {view.last_error}", markup=False, soft_wrap=True)
        for event in sub_events:
            console.print(f"  {event.at:%Y-%m-%d %H:%M:%S} {event.action}", markup=False)
    flagged = [v for v in views if v.flag]
    if flagged:
        err.print(f"[yellow]{len(flagged)} invoice(s) not transmitted close to or past the 5-working-day "
                  f"deadline[/yellow]")


@efactura_app.command("submit")
def submit(
    cif: Annotated[str, typer.Option()],
    series: Annotated[str, typer.Option()],
    number: Annotated[str, typer.Option()],
) -> None:
    """Send an invoice to e-Factura (the first time, or again after ANAF rejected it and the cause was fixed)."""
    from punte.efactura.anaf import submissions
    from punte.efactura.ubl import UblError, build_ubl
    from punte.services.companies import get_company
    from punte.services.operations import read_model, require_document

    try:
        with _db().session(write=True) as session:
            company = get_company(session, cif)
            doc = require_document(session, company, "invoice", series, number, lock=True)
            try:
                current = build_ubl(read_model(session, doc))
            except UblError:
                current = None
            submission = submissions.submit(session, company, doc, actor=ACTOR, current_xml=current)
            attempt = submission.attempt
    except DomainError as exc:
        _fail(exc.text)
        return
    console.print(f"{series}{number}: queued for e-Factura (attempt {attempt}); the worker sends it "
                  f"(or run 'punte efactura sync --cif {cif}').")


@efactura_app.command("sync")
def sync(
    cif: Annotated[str, typer.Option()],
    timeout: Annotated[float, typer.Option(help="Give up waiting after this many seconds.")] = 120.0,
) -> None:
    """Do the company's pending e-Factura work now (build, validate, upload, poll, download), with progress."""
    import time
    from datetime import UTC, datetime

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from sqlalchemy import func, select

    from punte.efactura.anaf import submissions
    from punte.services.companies import get_company
    from punte.store.models import Job
    from punte.store.models_anaf import EfacturaSubmission
    from punte.worker.runner import Worker

    settings = get_settings()
    db = _db()
    try:
        with db.session(write=True) as session:
            company = get_company(session, cif)
            company_id = company.id
            submissions.run_now(session, company)
            targets = list(session.scalars(select(EfacturaSubmission.id).where(
                EfacturaSubmission.company_id == company_id,
                EfacturaSubmission.state.not_in(tuple(submissions.TERMINAL)))))
    except DomainError as exc:
        _fail(exc.text)
        return
    if not targets:
        console.print("Nothing pending.")
        return
    worker = Worker(db, settings, kinds=[submissions.SUBMIT_JOB], run_periodic=False, worker_id="cli-sync")
    deadline = time.monotonic() + timeout

    def finished() -> int:
        with db.session() as session:
            return int(session.scalar(select(func.count()).select_from(EfacturaSubmission).where(
                EfacturaSubmission.id.in_(targets), EfacturaSubmission.state.in_(tuple(submissions.TERMINAL)))) or 0)

    def next_due() -> float | None:
        with db.session() as session:
            when = session.scalar(select(func.min(Job.run_at)).where(
                Job.kind == submissions.SUBMIT_JOB, Job.company_id == company_id,
                Job.status.in_(("queued", "running"))))
        return None if when is None else (when - datetime.now(UTC)).total_seconds()

    with Progress(TextColumn("e-Factura"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console) as progress:
        task = progress.add_task("sync", total=len(targets))
        while time.monotonic() < deadline:
            worker.run_once()
            done = finished()
            progress.update(task, completed=done)
            if done >= len(targets):
                break
            wait = next_due()
            if wait is None:
                break
            time.sleep(min(max(wait, 0.05), 1.0, max(deadline - time.monotonic(), 0)))
    with db.session() as session:
        counts = dict(session.execute(select(EfacturaSubmission.state, func.count()).where(
            EfacturaSubmission.id.in_(targets)).group_by(EfacturaSubmission.state)).all())
    console.print(", ".join(f"{state}: {n}" for state, n in sorted(counts.items())))
    if any(state not in submissions.TERMINAL for state in counts):
        console.print(f"Still under way; 'punte efactura status --cif {cif}' shows why.")
