"""Settings: the company's SMTP server and its ANAF (e-Factura) connection. Both tabs are the owner's.

The pages only read and call the services (``services.email``, ``services.anaf_connection``,
``efactura.anaf.submissions``): the same functions ``punte smtp``, ``punte anaf`` and
``punte efactura enable|disable`` use, so the dashboard and the CLI cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from punte.config import Settings
from punte.domain.errors import DomainError
from punte.efactura.anaf import submissions
from punte.efactura.anaf.environments import ENVIRONMENTS, environment, realm_of, redirect_uri
from punte.services import anaf_connection, email
from punte.services.anaf_connection import Connected
from punte.services.companies import require_company
from punte.services.smtp import DEFAULT_PORTS, SECURITY_MODES
from punte.store.db import Database
from punte.store.models import Company, Document
from punte.store.models_anaf import AnafToken

from .. import accounts, i18n
from ..actions import run_action
from ..pages import BUCHAREST, CSP, redirect, render, secure_headers
from ..security import LoginRequired, WebContext, current, posted

router = APIRouter()

#: How many of the newest outgoing messages the e-mail tab lists.
MESSAGES_SHOWN = 20

# Romanian labels of the codes the services store (translated like any other text).
EMAIL_STATES = {"queued": "În coadă", "sent": "Trimis", "failed": "Eșuat"}
EMAIL_PURPOSES = {"document": "Document", "notice": "Notificare", "test": "Test"}
ANAF_STATES = {
    anaf_connection.NOT_CONNECTED: "Neconectată",
    anaf_connection.CONNECTED: "Conectată",
    anaf_connection.EXPIRING: "Reautorizare necesară în curând",
    anaf_connection.REAUTHORIZE: "Reautorizare necesară",
}
ENVIRONMENT_NAMES = {"sandbox": "Sandbox punte (offline)", "test": "ANAF test", "prod": "ANAF producție"}


def _db(request: Request) -> Database:
    return request.app.state.db  # type: ignore[no-any-return]


def _settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def _text(form: FormData, name: str) -> str:
    return str(form.get(name) or "").strip()


def _number(form: FormData, name: str) -> int | None:
    """Empty is ``None``; anything but digits is 0, so the service refuses it with its own words."""
    raw = _text(form, name)
    if not raw:
        return None
    return int(raw) if raw.isdigit() and len(raw) < 10 else 0


# ---- e-mail (SMTP) --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MessageRow:
    """One line of the outgoing-message log as the tab shows it."""

    created_at: datetime
    status: str
    attempts: int
    what: str  # the document's number, else the purpose's label (translated by the template)
    is_document: bool
    recipients: str
    subject: str
    result: str


def _message_rows(session: Session, company: Company) -> list[MessageRow]:
    rows = []
    for m in email.list_messages(session, company, limit=MESSAGES_SHOWN):
        doc = session.get(Document, m.document_id) if m.document_id else None
        rows.append(MessageRow(
            created_at=m.created_at, status=m.status, attempts=m.attempts,
            what=f"{doc.series_name}{doc.number_text or ''}" if doc else EMAIL_PURPOSES.get(m.purpose, m.purpose),
            is_document=doc is not None,
            recipients=", ".join(x for x in (m.to_addrs, m.cc_addrs, m.bcc_addrs) if x),
            subject=m.subject or m.subject_template, result=m.last_error or m.smtp_response or "",
        ))
    return rows


@router.get("/settings/email", response_class=HTMLResponse)
def email_settings(request: Request, ctx: WebContext = Depends(current)) -> Response:
    membership = ctx.require("owner")
    with _db(request).session() as s:
        company = require_company(s, membership.company_id)
        smtp = email.get_smtp(s, company)
        messages = _message_rows(s, company)
    return render(request, ctx, "settings_email.html", smtp=smtp, messages=messages, modes=SECURITY_MODES,
                  default_ports=DEFAULT_PORTS, email_states=EMAIL_STATES)


def _smtp_config(form: FormData) -> email.SmtpConfig:
    """The form as changes: every shown field is sent back; an empty password keeps the stored one."""
    security = _text(form, "security")
    port = _number(form, "port")
    if port is None and security in DEFAULT_PORTS:
        port = DEFAULT_PORTS[security]
    password = str(form.get("password") or "")
    return email.SmtpConfig(
        host=_text(form, "host"), port=port, security=security, username=_text(form, "username"),
        password="" if form.get("clear_password") else (password or None),
        from_address=_text(form, "from_address"), from_name=_text(form, "from_name"),
        reply_to=_text(form, "reply_to"), default_cc=_text(form, "default_cc"), default_bcc=_text(form, "default_bcc"),
        timeout_seconds=_number(form, "timeout_seconds"),
    )


@router.post("/settings/email")
def save_email_settings(request: Request, ctx: WebContext = Depends(posted)) -> Response:
    membership = ctx.require("owner")
    assert ctx.form is not None
    config = _smtp_config(ctx.form)
    secret = _settings(request).resolved_secret_key()
    _ = i18n.translator(ctx.language)

    def op(s: Session, company: Company) -> str:
        row = email.configure_smtp(s, company, config, secret_key=secret, actor=ctx.email)
        return _("Serverul de e-mail a fost salvat: {host}:{port}.", host=row.host, port=row.port)

    return run_action(request, ctx, membership.company_id, "owner", op, back="/settings/email")


@router.post("/settings/email/test")
def send_test_email(request: Request, ctx: WebContext = Depends(posted)) -> Response:
    """Send at once (not through the queue) so the owner sees the server's own answer or refusal."""
    membership = ctx.require("owner")
    assert ctx.form is not None
    to = _text(ctx.form, "to")
    _ = i18n.translator(ctx.language)
    db = _db(request)
    try:
        with db.session() as s:
            company = require_company(s, membership.company_id)
        message = email.send_test(db, _settings(request), company, to, actor=ctx.email)
    except DomainError as exc:
        return redirect(request, "/settings/email", flash=("error", exc.text))
    if message.status == "sent":
        text = _("Mesajul de test a fost trimis la {to}. Serverul a răspuns: {answer}", to=message.to_addrs,
                 answer=message.smtp_response or "")
        return redirect(request, "/settings/email", flash=("ok", text))
    text = _("Mesajul de test nu a fost trimis: {error}", error=message.last_error or "")
    return redirect(request, "/settings/email", flash=("error", text))


# ---- ANAF connection ------------------------------------------------------------------------------------


def _form_action_origin(settings: Settings, env: str) -> str | None:
    """The OAuth server's origin when it is another site (ANAF's), else ``None``."""
    parts = urlsplit(environment(settings, env).authorize_url)
    public = urlsplit(settings.public_url)
    if (parts.scheme, parts.netloc) == (public.scheme, public.netloc):
        return None
    return f"{parts.scheme}://{parts.netloc}"


@router.get("/settings/anaf", response_class=HTMLResponse)
def anaf_settings(request: Request, ctx: WebContext = Depends(current)) -> Response:
    membership = ctx.require("owner")
    settings = _settings(request)
    with _db(request).session() as s:
        company = require_company(s, membership.company_id)
        status = anaf_connection.connection_status(s, company)
        warnings = [t for t in anaf_connection.tokens_needing_attention(s) if company.cif in t.companies]
        token = s.get(AnafToken, status.token_id) if status.token_id is not None else None
    env = status.environment or "sandbox"
    other_realm = token is not None and token.realm != realm_of(env)
    response = render(request, ctx, "settings_anaf.html", connection=status, warnings=warnings, env=env,
                      environments=ENVIRONMENTS, environment_names=ENVIRONMENT_NAMES, anaf_states=ANAF_STATES,
                      callback_url=redirect_uri(settings), other_realm=other_realm)
    origin = _form_action_origin(settings, env)
    if origin is not None:  # the "connect" form's answer is a redirect to ANAF: the browser must allow it
        response.headers["Content-Security-Policy"] = CSP.replace("form-action 'self'", f"form-action 'self' {origin}")
    return response


@router.post("/settings/anaf")
def save_anaf_settings(request: Request, ctx: WebContext = Depends(posted)) -> Response:
    """Environment and automatic sending; saving turns e-Factura on, as ``punte efactura enable`` does."""
    membership = ctx.require("owner")
    assert ctx.form is not None
    env, auto = _text(ctx.form, "environment"), bool(ctx.form.get("auto_submit"))
    _ = i18n.translator(ctx.language)

    def op(s: Session, company: Company) -> str:
        try:
            row = submissions.enable(s, company, env=env, auto=auto, actor=ctx.email)
        except ValueError as exc:  # the environment's check speaks Romanian already
            raise DomainError(str(exc)) from exc
        sending = _("automat") if row.auto_submit else _("doar la cerere")
        env_name = _(ENVIRONMENT_NAMES[row.environment])
        return _("e-Factura este activat: mediul {env}, trimitere {sending}.", env=env_name, sending=sending)

    return run_action(request, ctx, membership.company_id, "owner", op, back="/settings/anaf")


@router.post("/settings/anaf/disable")
def disable_anaf(request: Request, ctx: WebContext = Depends(posted)) -> Response:
    membership = ctx.require("owner")
    _ = i18n.translator(ctx.language)

    def op(s: Session, company: Company) -> str:
        submissions.disable(s, company, actor=ctx.email)
        return _("e-Factura este dezactivat; trimiterile începute se încheie.")

    return run_action(request, ctx, membership.company_id, "owner", op, back="/settings/anaf")


@router.post("/settings/anaf/connect")
def connect_anaf(request: Request, ctx: WebContext = Depends(posted)) -> Response:
    """Store the one-time state, then send the browser to the authorize page (ANAF's, or the sandbox's)."""
    membership = ctx.require("owner")
    try:
        with _db(request).session(write=True) as s:
            company = require_company(s, membership.company_id)
            auth = anaf_connection.start_authorization(s, _settings(request), company, actor=ctx.email)
    except DomainError as exc:
        return redirect(request, "/settings/anaf", flash=("error", exc.text))
    return secure_headers(RedirectResponse(auth.url, status_code=303))


def callback_redirect(
    request: Request, *, connected: Connected | None = None, error: str | None = None
) -> Response | None:
    """After ``/anaf/callback``: back to the ANAF tab with the outcome when the browser is logged in to the
    dashboard (as a member of the company connected); ``None`` (the callback's own page) otherwise."""
    try:
        ctx = current(request)
    except LoginRequired:
        return None
    _ = i18n.translator(ctx.language)
    if connected is None:
        back = "/settings/anaf" if ctx.can("owner") else "/"
        return redirect(request, back, flash=("error", _("Conectarea la ANAF a eșuat: {error}", error=error or "")))
    membership = next((m for m in ctx.memberships if m.cif == connected.company_cif), None)
    if membership is None:
        return None
    if ctx.company is None or ctx.company.company_id != membership.company_id:
        with _db(request).session(write=True) as s:  # the tab must show the company just connected
            accounts.select_company(s, ctx.session.id, ctx.session.user_id, membership.company_id)
    text = _("Firma {name} (CIF {cif}) este conectată la ANAF; autorizarea este valabilă până la {until}.",
             name=connected.company_name, cif=connected.company_cif,
             until=f"{connected.refresh_expires_at.astimezone(BUCHAREST):%d.%m.%Y}")
    return redirect(request, "/settings/anaf" if membership.role == "owner" else "/", flash=("ok", text))
