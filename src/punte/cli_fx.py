"""``punte rates``: BNR exchange rates in the store (load from disk for offline installs, or fetch)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

rates_app = typer.Typer(help="BNR exchange rates.", no_args_is_help=True)
console = Console()
err = Console(stderr=True)


def _db():  # type: ignore[no-untyped-def]
    from punte.cli import _database
    from punte.config import get_settings

    settings = get_settings()
    return _database(settings), settings


@rates_app.command("load")
def rates_load(
    files: Annotated[list[Path], typer.Argument(help="BNR XML files (nbrfxratesYYYY.xml or nbrfxrates.xml).")],
) -> None:
    """Load BNR rate files from disk; rates already stored are kept."""
    from punte.fx.bnr import BnrFeedError
    from punte.services.fx import load_file

    db, _ = _db()
    for path in files:
        if not path.is_file():
            err.print(f"[red]Eroare:[/red] fisierul {path} nu exista")
            raise typer.Exit(1)
        try:
            result = load_file(db, path)
        except BnrFeedError as exc:
            err.print(f"[red]Eroare:[/red] {exc}")
            raise typer.Exit(1) from exc
        console.print(f"{path.name}: {result.days} publications {result.first} .. {result.last}, {result.added} rates added")


@rates_app.command("fetch")
def rates_fetch(
    year: Annotated[int | None, typer.Option(help="Fetch the whole year's file instead of today's.")] = None,
    url: Annotated[str | None, typer.Option(help="BNR base URL (default: the bnr_base_url setting).")] = None,
) -> None:
    """Fetch BNR rates over the network and store the new ones."""
    from punte.fx.bnr import BnrFeedError
    from punte.services.fx import fetch

    db, settings = _db()
    try:
        result = fetch(db, base_url=url or settings.bnr_base_url, year=year)
    except BnrFeedError as exc:
        err.print(f"[red]Eroare:[/red] {exc}")
        raise typer.Exit(1) from exc
    console.print(f"{result.days} publications {result.first} .. {result.last}, {result.added} rates added")


@rates_app.command("show")
def rates_show(
    currency: Annotated[str, typer.Option(help="ISO code, e.g. EUR.")],
    on: Annotated[str | None, typer.Option("--date", help="YYYY-MM-DD (default today).")] = None,
) -> None:
    """The rate a document dated DATE uses: BNR's last publication on or before it."""
    from punte.services.fx import rate_for

    db, _ = _db()
    day = date.fromisoformat(on) if on else date.today()
    found = rate_for(db, currency, day)
    if found is None:
        err.print(f"[red]Eroare:[/red] niciun curs BNR pentru {currency.upper()} pana la {day.isoformat()}")
        raise typer.Exit(1)
    published, value = found
    console.print(f"{currency.upper()} {value} RON (BNR, publicat {published.isoformat()})")
