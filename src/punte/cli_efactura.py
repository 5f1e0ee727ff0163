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
efactura_app = typer.Typer(help="RO e-Factura: UBL files and their validation.", no_args_is_help=True)

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
