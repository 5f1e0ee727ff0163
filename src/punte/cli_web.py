"""``punte user ...``: the dashboard's users and their roles on companies."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from punte.config import get_settings
from punte.domain.errors import DomainError

user_app = typer.Typer(help="Dashboard users and their roles.", no_args_is_help=True)

console = Console()
err = Console(stderr=True)
ACTOR = "cli"


def _database():  # type: ignore[no-untyped-def]
    from punte.store.db import Database
    from punte.store.migrate import upgrade

    settings = get_settings()
    url = settings.resolved_database_url()
    upgrade(url)
    return Database(url, busy_timeout_ms=settings.sqlite_busy_timeout_ms)


def _fail(text: str) -> None:
    err.print(f"[red]Eroare:[/red] {text}")
    raise typer.Exit(code=1)


def _password(from_stdin: bool, *, prompt: str) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    return str(typer.prompt(prompt, hide_input=True, confirmation_prompt=True))


@user_app.command("add")
def user_add(
    email: Annotated[str, typer.Option(help="The user's e-mail (the log-in name).")],
    role: Annotated[str, typer.Option(help="owner, accountant or viewer.")],
    cif: Annotated[str, typer.Option(help="The company the role is on.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read a new user's password from the first line of stdin.")
    ] = False,
) -> None:
    """Give a user a role on a company; a new user gets a password (asked for, or read from stdin)."""
    from punte.services.companies import get_company
    from punte.web.accounts import find_user, normalize_email

    db = _database()
    try:
        with db.session() as session:
            exists = find_user(session, normalize_email(email)) is not None
        password = None if exists else _password(password_stdin, prompt="Password")
        from punte.web.accounts import add_user

        with db.session(write=True) as session:
            company = get_company(session, cif)
            user = add_user(session, company, email, password, role, actor=ACTOR)
            console.print(f"{user.email} is {role.strip().lower()} on {company.name} (CIF {company.cif}).")
    except DomainError as exc:
        _fail(exc.text)


@user_app.command("list")
def user_list(cif: Annotated[str | None, typer.Option(help="Only the users of this company.")] = None) -> None:
    """List the dashboard's users with their roles."""
    from punte.domain.identifiers import cif_digits
    from punte.web.accounts import all_users

    db = _database()
    digits = cif_digits(cif) if cif else None
    with db.session() as session:
        users = all_users(session)
    table = Table("e-mail", "company", "CIF", "role", "language", "created")
    for user, memberships in users:
        shown = [m for m in memberships if digits is None or m.cif == digits]
        if digits is not None and not shown:
            continue
        for m in shown or [None]:
            table.add_row(
                user.email, m.name if m else "-", m.cif if m else "-", m.role if m else "-", user.language,
                user.created_at.date().isoformat(),
            )
    console.print(table)


@user_app.command("password")
def user_password(
    email: Annotated[str, typer.Option(help="The user's e-mail.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the new password from the first line of stdin.")
    ] = False,
) -> None:
    """Set a user's password (operator's reset); every session of the user ends."""
    from punte.web.accounts import reset_password

    db = _database()
    password = _password(password_stdin, prompt="New password")
    try:
        with db.session(write=True) as session:
            reset_password(session, email, password, actor=ACTOR)
    except DomainError as exc:
        _fail(exc.text)
        return
    console.print(f"Password of {email.strip().lower()} changed; the user's sessions were ended.")
