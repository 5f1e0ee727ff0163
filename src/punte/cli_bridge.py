"""``punte bridge ...``: payment providers (Stripe, Shopify, PayPal) turned into invoices.

::

    punte bridge stripe --cif RO18547290 --webhook-secret whsec_... [--api-key sk_...] [--series FCT]
    punte bridge events --cif RO18547290 [--status failed]
    punte bridge retry 42 [--set buyer.county=Cluj]
    punte bridge checkout --cif RO18547290 --series FCT --number 12 [--proforma]
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from punte.config import Settings, get_settings
from punte.domain.errors import DomainError
from punte.store.db import Database

bridge_app = typer.Typer(help="Payment bridge: provider webhooks -> invoices (Stripe, Shopify, PayPal).",
                         no_args_is_help=True)

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


Cif = Annotated[str, typer.Option(help="The company's CIF.")]
Secret = Annotated[str | None, typer.Option(
    "--webhook-secret",
    help="Stripe: the endpoint's signing secret (whsec_...); Shopify: the app's secret; PayPal: the webhook id. "
         "A new value keeps the previous one valid for --rotation-hours.",
)]
ApiKey = Annotated[str | None, typer.Option(
    help="Stripe secret key (line items, Checkout links); PayPal client_id:secret (orders). '' removes it.")]
ApiBase = Annotated[str | None, typer.Option(help="The provider's API base URL (default the provider's own).")]
SeriesOpt = Annotated[str | None, typer.Option("--series", help="Invoice series (default: the company's default).")]
EmailPayer = Annotated[bool | None, typer.Option("--email-payer/--no-email-payer",
                                                 help="E-mail the invoice to the payer (needs SMTP).")]
VatRate = Annotated[str | None, typer.Option(help="Default VAT rate for prices without tax data, e.g. 21.")]
Reverse = Annotated[bool | None, typer.Option("--reverse-charge/--no-reverse-charge",
                                              help="Reverse charge for EU business buyers with a valid VAT id.")]
Target = Annotated[str | None, typer.Option(help="engine (punte issues) or smartbill (a SmartBill account issues).")]
Issuer = Annotated[str | None, typer.Option(help="The user the documents are issued under.")]
SbUrl = Annotated[str | None, typer.Option(help="SmartBill API base URL (https://ws.smartbill.ro/SBORO/api).")]
SbUser = Annotated[str | None, typer.Option(help="SmartBill user (e-mail).")]
SbToken = Annotated[str | None, typer.Option(help="SmartBill API token.")]
SbCif = Annotated[str | None, typer.Option(help="CIF of the company in the SmartBill account.")]
Settle = Annotated[int | None, typer.Option(
    help="Seconds a payment known only from a PaymentIntent/charge/capture waits for its richer event.")]
Rotation = Annotated[float, typer.Option(help="Hours the previous webhook secret stays valid.")]
Enabled = Annotated[bool | None, typer.Option("--enable/--disable", help="Accept deliveries or refuse them (404).")]


def _configure(provider: str, cif: str, options: dict[str, object] | None, **values: object) -> None:
    from punte.services.bridge_config import BridgeSettings, configure, describe
    from punte.services.companies import get_company

    rate = values.pop("vat_rate")
    try:
        vat_rate = Decimal(str(rate)) if rate is not None else None
    except InvalidOperation:
        _fail(f"Cota TVA invalida: {rate}")
        return
    settings = get_settings()
    db = _database(settings)
    data = BridgeSettings(vat_rate=vat_rate, options=options or None, **values)  # type: ignore[arg-type]
    try:
        with db.session(write=True) as session:
            company = get_company(session, cif)
            config = configure(session, company, provider, data, secret_key=settings.resolved_secret_key(),
                               actor=ACTOR)
            shown = describe(config)
    except DomainError as exc:
        _fail(exc.text)
        return
    console.print(f"Puntea {provider} pentru {company.name} (CIF {company.cif}) este configurata.")
    for key, value in shown.items():
        if value not in (None, {}, ""):
            console.print(f"  {key}: {value}")
    console.print(f"  webhook: {settings.public_url.rstrip('/')}/webhooks/{provider}/{company.cif}")


@bridge_app.command("stripe")
def stripe(
    cif: Cif, webhook_secret: Secret = None, api_key: ApiKey = None, api_base_url: ApiBase = None,
    series: SeriesOpt = None, email_payer: EmailPayer = None, vat_rate: VatRate = None, reverse_charge: Reverse = None,
    target: Target = None, issuer: Issuer = None, smartbill_url: SbUrl = None, smartbill_username: SbUser = None,
    smartbill_token: SbToken = None, smartbill_cif: SbCif = None, settle_seconds: Settle = None,
    rotation_hours: Rotation = 24.0, enabled: Enabled = None,
) -> None:
    """Take Stripe payments in: events of confirmed payments become invoices, refunds become stornos."""
    _configure("stripe", cif, None, webhook_secret=webhook_secret, api_key=api_key, api_base_url=api_base_url,
               series=series, email_payer=email_payer, vat_rate=vat_rate, reverse_charge=reverse_charge, target=target,
               issuer=issuer, smartbill_url=smartbill_url, smartbill_username=smartbill_username,
               smartbill_token=smartbill_token, smartbill_cif=smartbill_cif, settle_seconds=settle_seconds,
               rotation_hours=rotation_hours, enabled=enabled)


@bridge_app.command("shopify")
def shopify(
    cif: Cif, webhook_secret: Secret = None,
    shop_domain: Annotated[str | None, typer.Option(help="Accept only this shop (x.myshopify.com).")] = None,
    series: SeriesOpt = None, email_payer: EmailPayer = None, vat_rate: VatRate = None, reverse_charge: Reverse = None,
    target: Target = None, issuer: Issuer = None, smartbill_url: SbUrl = None, smartbill_username: SbUser = None,
    smartbill_token: SbToken = None, smartbill_cif: SbCif = None, rotation_hours: Rotation = 24.0,
    enabled: Enabled = None,
) -> None:
    """Take Shopify orders in: orders/paid becomes an invoice, refunds/create a storno."""
    _configure("shopify", cif, {"shop_domain": shop_domain} if shop_domain else None, webhook_secret=webhook_secret,
               series=series, email_payer=email_payer, vat_rate=vat_rate, reverse_charge=reverse_charge, target=target,
               issuer=issuer, smartbill_url=smartbill_url, smartbill_username=smartbill_username,
               smartbill_token=smartbill_token, smartbill_cif=smartbill_cif, rotation_hours=rotation_hours,
               enabled=enabled)


@bridge_app.command("paypal")
def paypal(
    cif: Cif, webhook_secret: Secret = None, api_key: ApiKey = None, api_base_url: ApiBase = None,
    cert_host: Annotated[list[str] | None, typer.Option(
        help="Hosts PAYPAL-CERT-URL may point at (default PayPal's API hosts); repeat for several.")] = None,
    series: SeriesOpt = None, email_payer: EmailPayer = None, vat_rate: VatRate = None, reverse_charge: Reverse = None,
    target: Target = None, issuer: Issuer = None, smartbill_url: SbUrl = None, smartbill_username: SbUser = None,
    smartbill_token: SbToken = None, smartbill_cif: SbCif = None, settle_seconds: Settle = None,
    rotation_hours: Rotation = 24.0, enabled: Enabled = None,
) -> None:
    """Take PayPal payments in: PAYMENT.CAPTURE.COMPLETED becomes an invoice, PAYMENT.CAPTURE.REFUNDED a storno."""
    _configure("paypal", cif, {"cert_hosts": cert_host} if cert_host else None, webhook_secret=webhook_secret,
               api_key=api_key, api_base_url=api_base_url, series=series, email_payer=email_payer, vat_rate=vat_rate,
               reverse_charge=reverse_charge, target=target, issuer=issuer, smartbill_url=smartbill_url,
               smartbill_username=smartbill_username, smartbill_token=smartbill_token, smartbill_cif=smartbill_cif,
               settle_seconds=settle_seconds, rotation_hours=rotation_hours, enabled=enabled)


@bridge_app.command("show")
def show(cif: Cif) -> None:
    """The company's bridges and their settings (no secrets)."""
    from sqlalchemy import select

    from punte.services.bridge_config import describe
    from punte.services.companies import get_company
    from punte.store.models_bridge import BridgeConfig

    db = _database(get_settings())
    try:
        with db.session() as session:
            company = get_company(session, cif)
            configs = session.scalars(select(BridgeConfig).where(BridgeConfig.company_id == company.id))
            rows = [describe(c) for c in configs]
    except DomainError as exc:
        _fail(exc.text)
        return
    if not rows:
        console.print("Nicio punte de plati configurata.")
    for row in rows:
        console.print(json.dumps(row, ensure_ascii=False, indent=2))


@bridge_app.command("events")
def events_list(
    cif: Cif,
    provider: Annotated[str | None, typer.Option(help="stripe, shopify or paypal.")] = None,
    status: Annotated[str | None, typer.Option(help="received, done, waiting, ignored or failed.")] = None,
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Inbox events with their outcome (the document made, or the missing and invalid fields)."""
    from punte.services.bridge_ops import list_events, waiting_deliveries
    from punte.services.companies import get_company

    db = _database(get_settings())
    try:
        with db.session() as session:
            company = get_company(session, cif)
            rows = list_events(session, company, provider=provider, status=status, limit=limit)
    except DomainError as exc:
        _fail(exc.text)
        return
    waiting = waiting_deliveries(db, company.id, provider)
    if waiting:  # on stderr: --json's standard output stays one event per line
        err.print(f"{waiting} livrari confirmate asteapta worker-ul (punte serve sau punte worker), "
                  "care le trece in lista.", soft_wrap=True)
    if as_json:
        for r in rows:
            typer.echo(json.dumps({
                "id": r.id, "provider": r.provider, "event_id": r.event_id, "type": r.event_type,
                "received_at": r.received_at.isoformat(), "status": r.status, "outcome": r.outcome,
                "payment": r.payment_status, "document": r.document, "problems": r.problems,
            }, ensure_ascii=False))
        return
    table = Table("id", "received", "provider", "event", "type", "status", "document", "outcome")
    for r in rows:
        table.add_row(str(r.id), r.received_at.strftime("%Y-%m-%d %H:%M:%S"), r.provider, r.event_id, r.event_type,
                      r.status, r.document or "", r.outcome or "")
    console.print(table)


@bridge_app.command("retry")
def retry(
    event: Annotated[str, typer.Argument(help="The event: punte's id (bridge events) or the provider's event id.")],
    cif: Annotated[str | None, typer.Option(help="The company's CIF (needed when the event id is ambiguous).")] = None,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="Correct a buyer field first, e.g. --set buyer.county=Cluj (repeatable).")] = None,
) -> None:
    """Process an event again now (after the data it lacked was fixed); prints the outcome."""
    from punte.services.bridge import process_inbox
    from punte.services.bridge_ops import find_event_any, prepare_retry
    from punte.services.companies import get_company
    from punte.store.models import Company

    overrides: dict[str, str] = {}
    for item in set_ or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            _fail(f"--set asteapta camp=valoare, nu {item!r}")
        overrides[key.strip().removeprefix("buyer.")] = value.strip()
    settings = get_settings()
    db = _database(settings)
    try:
        with db.session(write=True) as session:
            if cif:
                company = get_company(session, cif)
            else:
                row = find_event_any(session, event)
                company = session.get(Company, row.company_id)
                assert company is not None
            inbox_id = prepare_retry(session, company, event, overrides, actor=ACTOR)
    except DomainError as exc:
        _fail(exc.text)
        return
    outcome = process_inbox(db, settings, inbox_id)
    colour = {"done": "green", "failed": "red"}.get(outcome.status, "yellow")
    console.print(f"[{colour}]{outcome.status}[/{colour}]: {outcome.text}", soft_wrap=True)
    for problem in outcome.detail.get("problems") or []:
        console.print(f"  - {problem['field']} ({problem['kind']}): {problem['text']}", soft_wrap=True)
    if outcome.status == "failed":
        raise typer.Exit(code=1)


@bridge_app.command("checkout")
def checkout(
    cif: Cif,
    series: Annotated[str, typer.Option(help="The document's series.")],
    number: Annotated[str, typer.Option(help="The document's number.")],
    proforma: Annotated[bool, typer.Option("--proforma", help="The document is a proforma, not an invoice.")] = False,
) -> None:
    """A Stripe payment link for an issued invoice or proforma still to be paid (when the one asked for at
    issue could not be made, or expired); a link made in the last 23 hours is printed again."""
    from punte.services.bridge_checkout import configure_runtime, renew_checkout
    from punte.services.companies import get_company
    from punte.services.operations import require_document

    settings = get_settings()
    db = _database(settings)
    configure_runtime(settings.resolved_secret_key(), settings.public_url)
    try:
        with db.session() as session:
            company = get_company(session, cif)
            document = require_document(session, company, "proforma" if proforma else "invoice", series, number)
            company_id, document_id = company.id, document.id
        outcome = renew_checkout(db, company_id, document_id, actor=ACTOR)
    except DomainError as exc:
        _fail(exc.text)
        return
    if outcome.error:
        _fail(outcome.error)
    console.print(outcome.url, soft_wrap=True)
