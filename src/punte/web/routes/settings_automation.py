"""Settings: the payment bridges (webhook URL, secrets, series, VAT, target) and recurring invoices.

- ``/settings/providers`` is the owner's: one card per provider with the webhook URL to paste into the
  provider's dashboard and the form of ``punte bridge stripe|shopify|paypal``, calling
  ``bridge_config.configure`` with the same ``BridgeSettings``. Secrets are write-only: a blank field keeps
  the stored one, a new webhook secret rotates (the old one stays valid for the rotation window).
  Only what the owner changed is sent, so the event of the change lists exactly that.
- ``/settings/recurring`` is the accountant's (as its tab): the schedules, their history, pause / resume /
  stop, and "repeat this invoice", which builds the template from an issued invoice
  (``recurring.template_from_invoice``) and calls ``recurring.create_schedule`` like the API and the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from punte.domain.errors import DomainError
from punte.domain.identifiers import cif_digits
from punte.domain.periods import UNITS
from punte.providers import PROVIDERS
from punte.services import bridge_config, companies, recurring
from punte.services.bridge_config import BridgeSettings
from punte.services.bridge_ops import waiting_deliveries
from punte.services.companies import require_company
from punte.services.issuing import parse_date, today_in_romania
from punte.services.operations import require_document
from punte.store.db import Database
from punte.store.models import Company, Document
from punte.store.models_bridge import BridgeConfig

from .. import i18n
from ..actions import run_action
from ..forms import number_text
from ..pages import redirect, render
from ..security import WebContext, WebError, current, posted

router = APIRouter()

PROVIDER_NAMES = {"stripe": "Stripe", "shopify": "Shopify", "paypal": "PayPal"}
API_KEY_PROVIDERS = ("stripe", "paypal")  # the CLI takes --api-key for these only
SMARTBILL_FIELDS = ("smartbill_url", "smartbill_username", "smartbill_cif")
# Romanian labels of the recurrence codes (translated by the templates)
FREQUENCY = {
    "day": ("Zilnic", "La fiecare {n} zile"), "week": ("Săptămânal", "La fiecare {n} săptămâni"),
    "month": ("Lunar", "La fiecare {n} luni"), "year": ("Anual", "La fiecare {n} ani"),
}
UNIT_NAMES = {"day": "zile", "week": "săptămâni", "month": "luni", "year": "ani"}
SCHEDULE_STATUS = {"active": "Activă", "paused": "Suspendată", "stopped": "Oprită", "finished": "Încheiată"}
OCCURRENCE_STATUS = {"queued": "În așteptare", "issued": "Emisă", "failed": "Eșuată", "skipped": "Sărită"}
ACTIONS = ("pause", "resume", "stop")
assert set(FREQUENCY) == set(UNIT_NAMES) == set(UNITS)


# -- payment providers ------------------------------------------------------------------------------
@dataclass(frozen=True)
class ProviderCard:
    """One provider as its card shows it: never a secret, only whether one is set."""

    provider: str
    name: str
    webhook_url: str
    configured: bool
    shown: dict[str, Any]  # bridge_config.describe()
    values: dict[str, str]  # the current settings as the form's inputs show them
    previous_valid_until: datetime | None
    api_key_set: bool
    smartbill_token_set: bool
    events: int  # in the inbox, plus the waiting ones
    failed: int
    waiting: int  # acknowledged on SQLite, not yet moved into the inbox by a worker (punte.store.journal)


def webhook_url(public_url: str, provider: str, cif: str) -> str:
    """The address ``api.webhook_routes`` serves for this company and provider."""
    return f"{public_url.rstrip('/')}/webhooks/{provider}/{cif_digits(cif)}"


def _card(provider: str, company: Company, config: BridgeConfig | None, public_url: str,
          counts: tuple[int, int], waiting: int) -> ProviderCard:
    shown = bridge_config.describe(config) if config is not None else {}
    until = shown.get("previous_secret_valid_until")
    values = {"series": "", "vat_rate": "", "target": "engine", "shop_domain": "",
              **{f: "" for f in SMARTBILL_FIELDS}}
    if config is not None:
        values.update(
            series=config.series or "", vat_rate=shown["vat_rate"], target=config.target,
            shop_domain=str((config.options or {}).get("shop_domain") or ""),
            **{f: getattr(config, f) or "" for f in SMARTBILL_FIELDS},
        )
    return ProviderCard(
        provider=provider, name=PROVIDER_NAMES.get(provider, provider),
        webhook_url=webhook_url(public_url, provider, company.cif), configured=config is not None, shown=shown,
        values=values, previous_valid_until=datetime.fromisoformat(until) if until else None,
        api_key_set=bool(config and config.api_key_enc),
        smartbill_token_set=bool(config and config.smartbill_token_enc), events=counts[0] + waiting,
        failed=counts[1], waiting=waiting,
    )


@router.get("/settings/providers", response_class=HTMLResponse)
def providers_settings(request: Request, ctx: WebContext = Depends(current)) -> Response:
    membership = ctx.require("owner")
    db: Database = request.app.state.db
    public_url: str = request.app.state.settings.public_url
    with db.session() as s:
        company = require_company(s, membership.company_id)
        counts = bridge_config.inbox_counts(s, company)
        cards = [
            _card(p, company, bridge_config.get_config(s, company, p), public_url, counts.get(p, (0, 0)),
                  waiting_deliveries(db, company.id, p))
            for p in PROVIDERS
        ]
        series = companies.list_series(s, company, "f")
    return render(request, ctx, "settings_providers.html", cards=cards, series=series,
                  targets=bridge_config.TARGETS, api_key_providers=API_KEY_PROVIDERS)


def _text(form: FormData, name: str) -> str:
    return str(form.get(name) or "").strip()


def _flag(form: FormData, name: str) -> bool:
    return str(form.get(name) or "") in ("1", "on", "true")


def _if_changed(value: Any, current: Any) -> Any:
    """None (leave as it is) when the form sends back what is stored; the posted value otherwise."""
    return None if current is not None and value == current else value


def _vat_rate(raw: str) -> Decimal | None:
    if not raw:
        return None
    try:
        rate = Decimal(number_text(raw) or "")
    except InvalidOperation:
        rate = Decimal("NaN")
    if not rate.is_finite():
        raise DomainError(f"Cota TVA invalida: {raw}")  # the CLI's text
    return rate


def bridge_settings(form: FormData, provider: str, config: BridgeConfig | None) -> BridgeSettings:
    """The ``BridgeSettings`` the posted form stands for, as ``punte bridge <provider>`` would build them."""
    had = config is not None

    def stored(attr: str) -> Any:
        return getattr(config, attr) if config is not None else None

    secret = _text(form, "webhook_secret") or None
    api_key: str | None = None
    if provider in API_KEY_PROVIDERS:
        api_key = "" if _flag(form, "remove_api_key") else (_text(form, "api_key") or None)
    token = "" if _flag(form, "remove_smartbill_token") else (_text(form, "smartbill_token") or None)
    options = None
    if provider == "shopify":
        shop = _text(form, "shop_domain")
        current_shop = str(((config.options or {}) if config else {}).get("shop_domain") or "")
        options = {"shop_domain": shop} if shop != current_shop else None
    rate = _vat_rate(_text(form, "vat_rate"))
    texts = {f: _text(form, f) for f in ("series", *SMARTBILL_FIELDS)}
    changed_texts = {f: (None if had and v == (stored(f) or "") else v) for f, v in texts.items()}
    return BridgeSettings(
        webhook_secret=secret, api_key=api_key, options=options,
        vat_rate=_if_changed(rate, stored("vat_rate")) if rate is not None else None,
        target=_if_changed(_text(form, "target") or "engine", stored("target")),
        email_payer=_if_changed(_flag(form, "email_payer"), stored("email_payer")),
        reverse_charge=_if_changed(_flag(form, "reverse_charge"), stored("reverse_charge")),
        enabled=_if_changed(_flag(form, "enabled"), stored("enabled")),
        smartbill_token=token, **changed_texts,
    )


@router.post("/settings/providers/{provider}")
def configure_provider(request: Request, provider: str, ctx: WebContext = Depends(posted)) -> Response:
    membership = ctx.require("owner")
    if provider not in PROVIDERS:
        raise WebError(404, "Pagina nu există.")
    assert ctx.form is not None
    form = ctx.form
    _ = i18n.translator(ctx.language)

    def op(s: Session, company: Company) -> str:
        data = bridge_settings(form, provider, bridge_config.get_config(s, company, provider))
        bridge_config.configure(s, company, provider, data, secret_key=request.app.state.secret_key,
                                actor=ctx.email)
        return _("Setările {provider} au fost salvate.", provider=PROVIDER_NAMES.get(provider, provider))

    return run_action(request, ctx, membership.company_id, "owner", op, back=f"/settings/providers#{provider}")


# -- recurring invoices -----------------------------------------------------------------------------
@router.get("/settings/recurring", response_class=HTMLResponse)
def recurring_settings(request: Request, ctx: WebContext = Depends(current)) -> Response:
    membership = ctx.require("accountant")
    db: Database = request.app.state.db
    with db.session() as s:
        company = require_company(s, membership.company_id)
        schedules = recurring.list_schedules(s, company)
        recent = recurring.recent_invoices(s, company)
        series = companies.list_series(s, company, "f")
    return render(request, ctx, "settings_recurring.html", schedules=schedules, recent=recent, series=series,
                  frequency=FREQUENCY, statuses=SCHEDULE_STATUS)


@dataclass(frozen=True)
class SourceInvoice:
    """The invoice being repeated, as the form shows it."""

    id: int
    label: str
    issue_date: date
    due_days: int | None
    client: str
    client_cif: str | None
    client_email: str | None
    currency: str
    gross_total: Decimal
    lines: list[dict[str, Any]]


def _source(s: Session, company: Company, document_id: int) -> tuple[SourceInvoice, dict[str, Any]]:
    """The invoice and the template that repeats it (the service refuses what cannot be repeated)."""
    template = recurring.template_from_invoice(s, company, document_id)
    doc = s.get(Document, document_id)
    assert doc is not None
    lines = [{"name": ln.name, "quantity": ln.quantity, "unit": ln.unit, "price": ln.entered_price or ln.unit_price,
              "vat": ln.vat_percentage, "discount": ln.is_discount} for ln in doc.lines]
    source = SourceInvoice(
        id=doc.id, label=f"{doc.series_name}{doc.number_text or ''}", issue_date=doc.issue_date,
        due_days=(doc.due_date - doc.issue_date).days if doc.due_date else None, client=doc.client_name,
        client_cif=doc.buyer.get("cif"), client_email=doc.buyer.get("email"), currency=doc.currency,
        gross_total=doc.gross_total, lines=lines,
    )
    return source, template


def _new_page(request: Request, ctx: WebContext, source: SourceInvoice, values: dict[str, str], *,
              error: str | None = None, status: int = 200) -> Response:
    return render(request, ctx, "settings_recurring_new.html", status=status, source=source, values=values,
                  error=error, units=UNIT_NAMES, today=today_in_romania())


def _document_id(request: Request, s: Session, company: Company) -> int:
    """``?from=<id>``, or the invoice typed as series and number on the list page."""
    raw = request.query_params.get("from", "").strip()
    if raw:
        if not raw.isdigit():
            raise DomainError(f"Factura {raw} nu a fost gasita.")
        return int(raw)
    series = request.query_params.get("series", "").strip()
    number = request.query_params.get("number", "").strip()
    return require_document(s, company, "invoice", series, number).id


@router.get("/settings/recurring/new", response_class=HTMLResponse)
def new_schedule(request: Request, ctx: WebContext = Depends(current)) -> Response:
    membership = ctx.require("accountant")
    db: Database = request.app.state.db
    try:
        with db.session() as s:
            company = require_company(s, membership.company_id)
            source, template = _source(s, company, _document_id(request, s, company))
    except DomainError as exc:
        return redirect(request, "/settings/recurring", flash=("error", exc.text))
    values = {"every": "1", "unit": "month", "start": today_in_romania().isoformat(), "end_mode": "none",
              "due_days": "" if source.due_days is None else str(source.due_days), "name": ""}
    return _new_page(request, ctx, source, values)


def _number(values: dict[str, str], name: str, label: str, _: Any) -> int | None:
    raw = values.get(name, "")
    if not raw:
        return None
    if not raw.lstrip("-").isdigit() or len(raw) > 6:
        raise DomainError(_("„{label}” trebuie să fie un număr întreg.", label=_(label)))
    return int(raw)


def schedule_data(values: dict[str, str], template: dict[str, Any], today: date, _: Any) -> recurring.ScheduleData:
    """The ``ScheduleData`` of the posted form; the end is a date, or the day of the N-th invoice."""
    every = _number(values, "every", "La fiecare", _)
    every = 1 if every is None else every
    unit = values.get("unit") or "month"
    day_of_month = _number(values, "day_of_month", "Ziua din lună", _)
    start = parse_date(values.get("start") or None) or today
    end: date | None = None
    mode = values.get("end_mode") or "none"
    if mode == "date":
        end = parse_date(values.get("end") or None)
        if end is None:
            raise DomainError(_("Alegeți data de sfârșit a recurenței."))
    elif mode == "count":
        count = _number(values, "count", "Număr de facturi", _)
        if count is None:
            raise DomainError(_("Scrieți după câte facturi se oprește recurența."))
        end = recurring.end_after(every, unit, start, day_of_month, count)
    body = {**template, "sendEmail": values.get("send_email") == "1"}
    return recurring.ScheduleData(
        template=body, every=every, unit=unit, start=start, end=end, day_of_month=day_of_month,
        due_days=_number(values, "due_days", "Termen de plată (zile)", _), name=values.get("name") or None,
    )


FORM_FIELDS = ("name", "every", "unit", "day_of_month", "start", "end_mode", "end", "count", "due_days")


@router.post("/settings/recurring/new")
def add_schedule(request: Request, ctx: WebContext = Depends(posted)) -> Response:
    membership = ctx.require("accountant")
    assert ctx.form is not None
    form = ctx.form
    _ = i18n.translator(ctx.language)
    values = {f: _text(form, f) for f in FORM_FIELDS}
    values["send_email"] = "1" if _flag(form, "send_email") else ""
    raw_id = _text(form, "from")
    if not raw_id.isdigit():
        raise WebError(400, "Factura de repetat lipsește din formular.")
    db: Database = request.app.state.db
    try:
        with db.session() as s:
            source, template = _source(s, require_company(s, membership.company_id), int(raw_id))
    except DomainError as exc:
        return redirect(request, "/settings/recurring", flash=("error", exc.text))
    today = today_in_romania()
    try:
        data = schedule_data(values, template, today, _)
        with db.session(write=True) as s:
            schedule = recurring.create_schedule(s, require_company(s, membership.company_id), data,
                                                 actor=ctx.email, today=today)
            schedule_id = schedule.id
    except DomainError as exc:
        return _new_page(request, ctx, source, values, error=exc.text, status=400)
    text = _("Factura {label} se va repeta; recurența {id} a fost creată.", label=source.label, id=schedule_id)
    return redirect(request, f"/settings/recurring/{schedule_id}", flash=("ok", text))


@router.get("/settings/recurring/{schedule_id:int}", response_class=HTMLResponse)
def schedule_page(request: Request, schedule_id: int, ctx: WebContext = Depends(current)) -> Response:
    membership = ctx.require("accountant")
    db: Database = request.app.state.db
    try:
        with db.session() as s:
            view = recurring.schedule_view(s, require_company(s, membership.company_id), schedule_id)
    except DomainError as exc:
        raise WebError(404, "Pagina nu există.") from exc
    return render(request, ctx, "settings_recurring_detail.html", view=view, frequency=FREQUENCY,
                  statuses=SCHEDULE_STATUS, occurrence_statuses=OCCURRENCE_STATUS)


@router.post("/settings/recurring/{schedule_id:int}/{action}")
def change_schedule(request: Request, schedule_id: int, action: str, ctx: WebContext = Depends(posted)) -> Response:
    membership = ctx.require("accountant")
    if action not in ACTIONS:
        raise WebError(404, "Pagina nu există.")
    _ = i18n.translator(ctx.language)

    def op(s: Session, company: Company) -> str:
        if action == "pause":
            recurring.pause(s, company, schedule_id, actor=ctx.email)
            return _("Recurența {id} a fost suspendată.", id=schedule_id)
        if action == "resume":
            recurring.resume(s, company, schedule_id, actor=ctx.email, today=today_in_romania())
            return _("Recurența {id} a fost reluată.", id=schedule_id)
        recurring.stop(s, company, schedule_id, actor=ctx.email)
        return _("Recurența {id} a fost oprită.", id=schedule_id)

    return run_action(request, ctx, membership.company_id, "accountant", op,
                      back=f"/settings/recurring/{schedule_id}")
