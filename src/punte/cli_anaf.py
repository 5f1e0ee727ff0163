"""``punte anaf ...``: connecting companies to ANAF (OAuth) and seeing the state of the connections."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qs, urlsplit

import httpx
import typer
from rich.console import Console

from punte.config import Settings, get_settings
from punte.domain.errors import DomainError

anaf_app = typer.Typer(help="Connection to ANAF (SPV): OAuth authorization and tokens.", no_args_is_help=True)

console = Console()
err = Console(stderr=True)
ACTOR = "cli"


def _fail(text: str) -> None:
    err.print(f"[red]Eroare:[/red] {text}")
    raise typer.Exit(code=1)


def sandbox_transport(settings: Settings) -> httpx.BaseTransport | None:
    """How to reach the sandbox: over HTTP when punte is serving ``public_url``, else in this process."""
    try:
        answer = httpx.get(f"{settings.public_url.rstrip('/')}/healthz", timeout=2.0)
        if answer.status_code == 200:
            return None
    except httpx.HTTPError:
        pass
    import warnings

    from punte.api.app import create_app

    with warnings.catch_warnings():  # starlette's TestClient is the in-process transport we want here
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

    app = create_app(settings, migrate=False)
    transport: httpx.BaseTransport = TestClient(app)._transport  # type: ignore[attr-defined]
    app.state.anaf_oauth_transport = transport  # the callback's code exchange stays in this process too
    return transport


def follow_sandbox_authorization(url: str, transport: httpx.BaseTransport | None) -> tuple[str, str, str]:
    """Do the browser's part against the sandbox: open ``url`` and read the redirect's code and state."""
    with httpx.Client(transport=transport, timeout=30.0, follow_redirects=False) as client:
        answer = client.get(url)
    location = answer.headers.get("location")
    if answer.status_code not in (302, 303, 307) or not location:
        raise DomainError(f"sandboxul ANAF nu a redirectionat (HTTP {answer.status_code}): {answer.text[:200]}")
    query = parse_qs(urlsplit(location).query)
    if "error" in query:
        raise DomainError(f"sandboxul ANAF a refuzat autorizarea: {query['error'][0]}")
    return location, query.get("code", [""])[0], query.get("state", [""])[0]


@anaf_app.command("connect")
def connect(
    cif: Annotated[str, typer.Option(help="The company to connect.")],
    env: Annotated[str | None, typer.Option(help="sandbox, test or prod (default: the company's e-Factura setting).")]
    = None,
    same_as: Annotated[str | None, typer.Option(
        "--same-as", help="Use the token of this already connected company (same certificate holder).")] = None,
    follow: Annotated[bool, typer.Option(
        "--follow/--no-follow", help="In the sandbox, complete the authorization without a browser.")] = True,
) -> None:
    """Authorize punte at ANAF for a company: prints the URL to open with the qualified certificate."""
    from punte.cli import _database
    from punte.services import anaf_connection
    from punte.services.companies import get_company

    settings = get_settings()
    db = _database(settings)
    try:
        with db.session(write=True) as session:
            company = get_company(session, cif)
            if same_as:
                source = get_company(session, same_as)
                token = anaf_connection.link_company(session, company, source, actor=ACTOR)
                console.print(f"{company.name} (CIF {company.cif}) foloseste acum tokenul ANAF al firmei "
                              f"{source.cif} (token {token.id}, valabil pana la {token.refresh_expires_at:%Y-%m-%d}).")
                return
            auth = anaf_connection.start_authorization(session, settings, company, env=env, actor=ACTOR)
    except (DomainError, ValueError) as exc:
        _fail(getattr(exc, "text", str(exc)))
        return
    console.print(f"Deschideti in browser, cu certificatul calificat (token USB) al persoanei cu drept in SPV "
                  f"pentru CIF {company.cif}, in urmatoarele 10 minute:")
    console.print(auth.url, markup=False, soft_wrap=True)
    if auth.environment != "sandbox" or not follow:
        console.print("Dupa autentificare, ANAF va trimite browserul la punte (/anaf/callback) si conectarea se "
                      "incheie singura; verificati cu 'punte anaf status'.")
        return
    transport = sandbox_transport(settings)
    try:
        location, code, state = follow_sandbox_authorization(auth.url, transport)
        with httpx.Client(transport=transport, timeout=30.0) as client:
            answer = client.get(location)
    except (DomainError, httpx.HTTPError) as exc:
        _fail(getattr(exc, "text", str(exc)))
        return
    if answer.status_code != 200:
        _fail(f"conectarea nu s-a incheiat (HTTP {answer.status_code}): {answer.text[:300]}")
    with db.session() as session:
        status = anaf_connection.connection_status(session, get_company(session, cif))
    console.print(f"Conectat la sandbox: {company.name} (CIF {company.cif}); token valabil pana la "
                  f"{status.access_expires_at:%Y-%m-%d %H:%M}, autorizare pana la "
                  f"{status.refresh_expires_at:%Y-%m-%d}.")


@anaf_app.command("status")
def status() -> None:
    """Every company's ANAF connection: environment, state and token expiries; warnings first."""
    from punte.cli import _database
    from punte.services import anaf_connection

    db = _database(get_settings())
    with db.session() as session:
        rows = anaf_connection.all_connections(session)
        attention = anaf_connection.tokens_needing_attention(session)
    for item in attention:
        colour = "red" if item.state == anaf_connection.REAUTHORIZE else "yellow"
        err.print(f"[{colour}]{item.state}[/{colour}]: token {item.token_id} ({', '.join(item.companies) or '-'}): "
                  f"{item.reason}")
    for r in rows:
        access = f"{r.access_expires_at:%Y-%m-%d %H:%M}" if r.access_expires_at else "-"
        authorized = f"{r.refresh_expires_at:%Y-%m-%d}" if r.refresh_expires_at else "-"
        console.print(
            f"{r.cif:<12} {r.name[:30]:<30} env {r.environment or '-':<7} e-Factura {'on' if r.enabled else 'off':<3} "
            f"auto {'yes' if r.auto_submit else 'no':<3} ANAF: {r.state}; access until {access}, "
            f"authorized until {authorized}", markup=False, soft_wrap=True,
        )


@anaf_app.command("refresh")
def refresh(cif: Annotated[str, typer.Option(help="A company using the token.")]) -> None:
    """Refresh the company's ANAF token now (punte also does it on its own before it expires)."""
    from punte.cli import _database
    from punte.efactura.anaf.oauth import OAuthError
    from punte.services import anaf_connection
    from punte.services.companies import get_company

    settings = get_settings()
    db = _database(settings)
    try:
        with db.session() as session:
            _, token = anaf_connection.token_for_company(session, get_company(session, cif).id)
            token_id = token.id
        transport = sandbox_transport(settings) if token.realm == "sandbox" else None
        outcome = anaf_connection.refresh_token(db, settings, token_id, transport=transport, worker_id="cli",
                                                force=True, actor=ACTOR)
    except DomainError as exc:
        _fail(exc.text)
        return
    except OAuthError as exc:
        _fail(exc.text)
        return
    if outcome == "reauthorize":
        _fail("ANAF nu mai accepta autorizarea: rulati 'punte anaf connect' cu certificatul.")
    console.print(f"Token {token_id}: {outcome}.")
