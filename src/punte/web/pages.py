"""Rendering: the Jinja2 environment, the navigation, security headers and redirects.

A new dashboard page is one route (in ``punte.web.routes``) and one template; pages that belong in
the main menu or in the settings tabs add one :class:`NavItem` to :data:`NAV` or :data:`SETTINGS_TABS`.
Cards of the overview and sections of a document's page are listed in ``punte.web.panels``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, PackageLoader, pass_context, select_autoescape
from jinja2.runtime import Context
from starlette.responses import Response

from punte.domain.money import places
from punte.render.i18n import NumberFormat

from . import i18n
from .security import FLASH_COOKIE, WebContext, read_flash, set_flash

BUCHAREST = ZoneInfo("Europe/Bucharest")


@dataclass(frozen=True)
class NavItem:
    path: str
    label: str  # Romanian, translated by the templates
    level: str = "viewer"  # the role needed to see it


NAV: list[NavItem] = [
    NavItem("/", "Sumar"),
    NavItem("/documents", "Documente"),
    NavItem("/documents/new/invoice", "Factură nouă", "accountant"),
    NavItem("/documents/new/proforma", "Proformă nouă", "accountant"),
    NavItem("/bridge/events", "Webhook-uri"),
    NavItem("/efactura/received", "e-Factura primite"),
    NavItem("/settings", "Setări"),
]

SETTINGS_TABS: list[NavItem] = [
    NavItem("/settings", "Firma"),
    NavItem("/settings/series", "Serii"),
    NavItem("/settings/vat", "TVA"),
    NavItem("/settings/users", "Utilizatori", "owner"),
    NavItem("/settings/plan", "Plan", "owner"),
    NavItem("/settings/email", "E-mail (SMTP)", "owner"),
    NavItem("/settings/anaf", "Conexiune ANAF", "owner"),
    NavItem("/settings/providers", "Plăți online", "owner"),
    NavItem("/settings/recurring", "Facturi recurente", "accountant"),
]

# Romanian labels of stored codes (translated like any other text).
LABELS: dict[str, str] = {
    "owner": "Proprietar", "accountant": "Contabil", "viewer": "Vizualizare",
    "invoice": "Factură", "proforma": "Proformă", "receipt": "Chitanță",
    "draft": "Ciornă", "issued": "Emis", "cancelled": "Anulat",
    "draft_created": "Ciornă creată", "issued_storno": "Storno emis", "reversed": "Stornat",
    "restored": "Restaurat", "deleted": "Șters", "collected": "Încasare înregistrată", "payment": "Încasare",
    # e-Factura submission states and the steps of its timeline
    "not submitted": "Netransmisă", "queued": "În coadă", "validated": "Validată", "uploading": "Se încarcă",
    "uploaded": "Încărcată", "ok": "Acceptată (ok)", "nok": "Respinsă (nok)", "unknown": "Necunoscută",
    "invalid": "Invalidă", "resubmitted": "Retrimisă", "reconciled": "Regăsită în lista ANAF",
    "duplicate_reconciled": "Duplicat: indexul primei încărcări", "upload_retry": "Încărcare reîncercată",
    "upload_refused": "Încărcare refuzată", "not_found": "Negăsită la ANAF, se retrimite",
    # webhook inbox states (services.bridge)
    "bridge_received": "Primit", "bridge_done": "Procesat", "bridge_waiting": "În așteptare",
    "bridge_ignored": "Ignorat", "bridge_failed": "Eșuat",
    # received e-Factura invoices (services.received)
    "received_downloaded": "Descărcată", "received_parse_error": "Necitibilă",
}

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'self'; "
    "frame-src 'self'; frame-ancestors 'self'; form-action 'self'; base-uri 'none'"
)


def secure_headers(response: Response, *, private: bool = True) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    if private:
        response.headers["Cache-Control"] = "no-store"
    return response


_FORMATS = {"ro": NumberFormat("RO"), "en": NumberFormat("EN")}


def _fmt(context: Context) -> NumberFormat:
    return _FORMATS.get(context.get("lang", "ro"), _FORMATS["ro"])


@pass_context
def _money(context: Context, value: Decimal | str | None, currency: str = "RON") -> str:
    """An amount with the currency's places, written the user's way (``1.234,56`` / ``1,234.56``)."""
    if value is None:
        return ""
    return _fmt(context).number(Decimal(value), places(currency))  # stored breakdowns keep amounts as text


@pass_context
def _quantity(context: Context, value: Decimal | None) -> str:
    return "" if value is None else _fmt(context).quantity(value)


@pass_context
def _percent(context: Context, value: Decimal | str | None) -> str:
    return "" if value is None else _fmt(context).percent(Decimal(value))


def _day(value: date | None) -> str:
    return "" if value is None else value.strftime("%d.%m.%Y")


def _moment(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(BUCHAREST).strftime("%d.%m.%Y %H:%M")


def _plain(value: Decimal) -> str:
    """A decimal without exponent or trailing zeros (``21``, ``9.5``), as the forms send it."""
    return format(Decimal(value).normalize(), "f")


env = Environment(
    loader=PackageLoader("punte.web", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
env.filters.update(money=_money, quantity=_quantity, percent=_percent, day=_day, moment=_moment, plain=_plain)


def render(
    request: Request, ctx: WebContext | None, template: str, *, status: int = 200, language: str | None = None,
    **values: Any,
) -> HTMLResponse:
    """A full page; ``ctx`` None for the pages seen before log-in (the language then comes from a cookie)."""
    lang = ctx.language if ctx is not None else i18n.normalize(language)
    flash = read_flash(request)
    html = env.get_template(template).render(
        request=request, ctx=ctx, _=i18n.translator(lang), lang=lang, languages=i18n.LANGUAGES, nav=NAV,
        settings_tabs=SETTINGS_TABS, labels=LABELS, flash=flash, path=request.url.path, **values,
    )
    response = HTMLResponse(html, status_code=status)
    if flash is not None:
        response.delete_cookie(FLASH_COOKIE, path="/")
    return secure_headers(response)


def redirect(request: Request, url: str, *, flash: tuple[str, str] | None = None) -> RedirectResponse:
    """303 after a POST (the browser follows with GET); ``flash`` = (kind, text) shown once there."""
    response = RedirectResponse(url, status_code=303)
    if flash is not None:
        set_flash(response, request, *flash)
    secure_headers(response)
    return response
