"""``punte smtp ...`` and ``punte email ...``: a company's mail server and its outgoing-message log."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from punte.config import Settings, get_settings
from punte.domain.errors import DomainError
from punte.store.db import Database

smtp_app = typer.Typer(help="The company's own SMTP server for sending documents by e-mail.", no_args_is_help=True)
email_app = typer.Typer(help="Outgoing e-mail messages.", no_args_is_help=True)

console = Console()
err = Console(stderr=True)
ACTOR = "cli"


def _database(settings: Settings) -> Database:
    """The migrated database, opened as every ``punte`` command opens it (imported late: ``punte.cli`` imports
    this module)."""
    from punte.cli import _database as migrated_database

    return migrated_database(settings)


def _fail(text: str) -> None:
    err.print(f"[red]Eroare:[/red] {text}", soft_wrap=True)
    raise typer.Exit(code=1)


@smtp_app.command("set")
def smtp_set(
    cif: Annotated[str, typer.Option(help="The company's CIF.")],
    host: Annotated[str | None, typer.Option(help="SMTP server, e.g. smtp.firma.ro.")] = None,
    port: Annotated[int | None, typer.Option(help="Port; default 587 starttls, 465 ssl, 25 none.")] = None,
    security: Annotated[str | None, typer.Option(help="none, starttls or ssl (default starttls).")] = None,
    user: Annotated[str | None, typer.Option(help="SMTP login user ('' for none).")] = None,
    password: Annotated[str | None, typer.Option(help="SMTP password (prefer --password-stdin).")] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin.")] = False,
    from_: Annotated[str | None, typer.Option("--from", help="Sender address, e-mail only.")] = None,
    from_name: Annotated[str | None, typer.Option(help="Sender name (default the company's name).")] = None,
    reply_to: Annotated[str | None, typer.Option(help="Reply-To address ('' to clear).")] = None,
    cc: Annotated[str | None, typer.Option(help="Default Cc when a request gives none ('' to clear).")] = None,
    bcc: Annotated[str | None, typer.Option(help="Default Bcc when a request gives none ('' to clear).")] = None,
    invoice_subject: Annotated[str | None, typer.Option(help="Default subject for invoices (#placeholders#).")] = None,
    invoice_body: Annotated[str | None, typer.Option(help="Default body for invoices (text or HTML).")] = None,
    proforma_subject: Annotated[str | None, typer.Option(help="Default subject for proformas.")] = None,
    proforma_body: Annotated[str | None, typer.Option(help="Default body for proformas.")] = None,
    timeout: Annotated[int | None, typer.Option(help="Seconds to wait on the server (1-300, default 30).")] = None,
) -> None:
    """Set (or change) the company's SMTP server; options left out keep their current value."""
    from punte.services.companies import get_company
    from punte.services.email import SmtpConfig, configure_smtp

    if password is not None and password_stdin:
        _fail("Folositi fie --password, fie --password-stdin, nu amandoua.")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    settings = get_settings()
    db = _database(settings)
    config = SmtpConfig(
        host=host, port=port, security=security, username=user, password=password, from_address=from_,
        from_name=from_name, reply_to=reply_to, default_cc=cc, default_bcc=bcc, invoice_subject=invoice_subject,
        invoice_body=invoice_body, proforma_subject=proforma_subject, proforma_body=proforma_body,
        timeout_seconds=timeout,
    )
    try:
        with db.session(write=True) as session:
            company = get_company(session, cif)
            row = configure_smtp(session, company, config, secret_key=settings.resolved_secret_key(), actor=ACTOR)
            line = (f"SMTP for {company.name}: {row.host}:{row.port} ({row.security}), from {row.from_address}"
                    f"{', user ' + row.username if row.username else ''}"
                    f"{', password set' if row.password_encrypted else ''}.")
    except DomainError as exc:
        _fail(exc.text)
        return
    console.print(line, soft_wrap=True)


@smtp_app.command("show")
def smtp_show(cif: Annotated[str, typer.Option(help="The company's CIF.")]) -> None:
    """Show the company's SMTP settings (never the password)."""
    from punte.services.companies import get_company
    from punte.services.email import get_smtp

    db = _database(get_settings())
    try:
        with db.session() as session:
            row = get_smtp(session, get_company(session, cif))
    except DomainError as exc:
        _fail(exc.text)
        return
    if row is None:
        _fail("Serverul de e-mail (SMTP) nu este configurat pentru aceasta firma.")
        return
    table = Table("setting", "value")
    for label, value in (
        ("host", f"{row.host}:{row.port}"), ("security", row.security), ("user", row.username or "-"),
        ("password", "set (encrypted)" if row.password_encrypted else "-"), ("from", row.from_address),
        ("from name", row.from_name or "-"), ("reply-to", row.reply_to or "-"), ("cc", row.default_cc or "-"),
        ("bcc", row.default_bcc or "-"), ("timeout", f"{row.timeout_seconds} s"),
        ("invoice subject", row.invoice_subject or "(punte default)"),
        ("proforma subject", row.proforma_subject or "(punte default)"),
    ):
        table.add_row(label, value)
    console.print(table)


@smtp_app.command("test")
def smtp_test(
    cif: Annotated[str, typer.Option(help="The company's CIF.")],
    to: Annotated[str, typer.Option(help="Where to send the test message.")],
) -> None:
    """Send a test message now (not queued) and print the server's answer."""
    from punte.services.companies import get_company
    from punte.services.email import send_test

    settings = get_settings()
    db = _database(settings)
    try:
        with db.session() as session:
            company = get_company(session, cif)
        message = send_test(db, settings, company, to, actor=ACTOR)
    except DomainError as exc:
        _fail(exc.text)
        return
    if message.status == "sent":
        console.print(f"Test message sent to {message.to_addrs}: {message.smtp_response}", soft_wrap=True)
    else:
        _fail(f"Mesajul de test nu a fost trimis: {message.last_error}")


@email_app.command("list")
def email_list(
    cif: Annotated[str, typer.Option(help="The company's CIF.")],
    status: Annotated[str | None, typer.Option(help="Only queued, sent or failed messages.")] = None,
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 50,
) -> None:
    """The company's outgoing messages, newest first, with what the server answered."""
    from punte.services.companies import get_company
    from punte.services.email import list_messages
    from punte.store.models import Document

    db = _database(get_settings())
    try:
        with db.session() as session:
            company = get_company(session, cif)
            rows = []
            for m in list_messages(session, company, status=status, limit=limit):
                doc = session.get(Document, m.document_id) if m.document_id else None
                rows.append((
                    str(m.id), m.created_at.strftime("%Y-%m-%d %H:%M"), m.status, str(m.attempts),
                    f"{doc.series_name}{doc.number_text or ''}" if doc else m.purpose,
                    ", ".join(x for x in (m.to_addrs, m.cc_addrs, m.bcc_addrs) if x),
                    m.subject or m.subject_template,
                    (m.sent_at.strftime("%Y-%m-%d %H:%M") + " " if m.sent_at else "") + (m.last_error or m.smtp_response or ""),
                ))
    except DomainError as exc:
        _fail(exc.text)
        return
    table = Table("id", "created (UTC)", "status", "attempts", "document", "recipients", "subject", "result")
    for row in rows:
        table.add_row(*row)
    Console().print(table)  # measured now, so COLUMNS set by the caller applies
