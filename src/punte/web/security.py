"""Who is asking: the session cookie, the user's roles, CSRF tokens and the role checks of every page.

- The session cookie (``punte_session``) is HttpOnly, SameSite=Lax, ``Secure`` when the public URL is
  HTTPS; it carries a random token whose keyed hash is looked up in ``web_sessions``.
- Every form posts a CSRF token derived from the session token with the installation secret (HMAC),
  so it needs no storage and dies with the session; the log-in form's token is derived the same way
  from a pre-session cookie. JSON calls send it in ``X-CSRF-Token``.
- Roles: ``viewer`` < ``accountant`` < ``owner``; :meth:`WebContext.require` refuses with 403.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from fastapi import Depends, Request
from starlette.datastructures import FormData
from starlette.responses import Response

from punte.config import Settings
from punte.store.db import Database

from . import accounts, i18n
from .accounts import ROLE_LEVEL, ActiveSession, Membership

SESSION_COOKIE = "punte_session"
LOGIN_COOKIE = "punte_login"
LANG_COOKIE = "punte_lang"
FLASH_COOKIE = "punte_flash"


class LoginRequired(Exception):
    """No live session: the handler sends the browser to the log-in page."""


class WebError(Exception):
    """An error page (403, 404, 400) in the user's language."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.text = text


def _hmac(secret: str, purpose: str, value: str) -> str:
    key = hmac.new(secret.encode(), f"punte-web-{purpose}-v1".encode(), hashlib.sha256).digest()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def csrf_for(secret: str, seed: str) -> str:
    return _hmac(secret, "csrf", seed)


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "-"


@dataclass
class WebContext:
    """The logged-in user as the pages see him: his session, companies and roles, the current company."""

    session: ActiveSession
    memberships: list[Membership]
    company: Membership | None
    csrf: str
    language: str
    form: FormData | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def email(self) -> str:
        return self.session.email

    def role_on(self, company_id: int) -> str | None:
        found = next((m for m in self.memberships if m.company_id == company_id), None)
        return found.role if found else None

    def can(self, level: str, company_id: int | None = None) -> bool:
        cid = company_id if company_id is not None else (self.company.company_id if self.company else None)
        role = self.role_on(cid) if cid is not None else None
        return role is not None and ROLE_LEVEL[role] >= ROLE_LEVEL[level]

    def require(self, level: str, company_id: int | None = None) -> Membership:
        """The membership on ``company_id`` (default: the current company) if it grants ``level``."""
        cid = company_id if company_id is not None else (self.company.company_id if self.company else None)
        membership = next((m for m in self.memberships if m.company_id == cid), None)
        if membership is None:
            if company_id is None:
                raise WebError(403, "Nu aveți acces la nicio firmă. Cereți unui proprietar să vă adauge.")
            raise WebError(404, "Pagina nu există.")
        if ROLE_LEVEL[membership.role] < ROLE_LEVEL[level]:
            raise WebError(403, "Rolul dumneavoastră nu permite această acțiune.")
        return membership


def _settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def _db(request: Request) -> Database:
    return request.app.state.db  # type: ignore[no-any-return]


def session_token(request: Request) -> str:
    return request.cookies.get(SESSION_COOKIE, "")


def current(request: Request) -> WebContext:
    """Dependency of every logged-in page: resolves the cookie or raises :class:`LoginRequired`."""
    token = session_token(request)
    if not token:
        raise LoginRequired()
    db, settings, secret = _db(request), _settings(request), request.app.state.secret_key
    with db.session() as s:
        active = accounts.resolve_session(s, token, settings=settings, secret_key=secret)
        memberships = accounts.memberships_of(s, active.user_id) if active else []
    if active is None:
        raise LoginRequired()
    if active.needs_touch:
        with db.session(write=True) as s:
            accounts.touch_session(s, active.id)
    company = next((m for m in memberships if m.company_id == active.company_id), None)
    if company is None and memberships:
        company = memberships[0]
    return WebContext(
        session=active, memberships=memberships, company=company, csrf=csrf_for(secret, token),
        language=i18n.normalize(active.language),
    )


async def posted_form(request: Request) -> FormData:
    return await request.form()


def posted(
    request: Request, ctx: WebContext = Depends(current), form: FormData = Depends(posted_form)
) -> WebContext:
    """Dependency of every logged-in POST: the CSRF token must match the session's."""
    sent = str(form.get("csrf_token") or request.headers.get("x-csrf-token") or "")
    if not sent or not hmac.compare_digest(sent, ctx.csrf):
        raise WebError(403, "Formularul a expirat sau nu provine din punte. Reîncărcați pagina și încercați din nou.")
    ctx.form = form
    return ctx


def set_session_cookie(response: Response, settings: Settings, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE, token, max_age=settings.session_max_hours * 3600, httponly=True, samesite="lax",
        secure=settings.secure_cookies, path="/",
    )


def clear_session_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=settings.secure_cookies)


def login_seed(request: Request) -> tuple[str, bool]:
    """The pre-session cookie the log-in form's CSRF token is derived from (new when missing)."""
    seed = request.cookies.get(LOGIN_COOKIE, "")
    if 20 <= len(seed) <= 100:
        return seed, False
    return secrets.token_urlsafe(24), True


def set_login_cookie(response: Response, settings: Settings, seed: str) -> None:
    response.set_cookie(LOGIN_COOKIE, seed, max_age=3600, httponly=True, samesite="lax",
                        secure=settings.secure_cookies, path="/")


# --- one-time messages after a redirect (signed, so nobody else can put text on our pages) ------------


def set_flash(response: Response, request: Request, kind: str, text: str) -> None:
    payload = base64.urlsafe_b64encode(json.dumps([kind, text]).encode()).decode()
    sig = _hmac(request.app.state.secret_key, "flash", payload)[:32]
    response.set_cookie(FLASH_COOKIE, f"{payload}.{sig}", max_age=120, httponly=True, samesite="lax",
                        secure=_settings(request).secure_cookies, path="/")


def read_flash(request: Request) -> tuple[str, str] | None:
    raw = request.cookies.get(FLASH_COOKIE, "")
    payload, _, sig = raw.rpartition(".")
    if not payload or not hmac.compare_digest(sig, _hmac(request.app.state.secret_key, "flash", payload)[:32]):
        return None
    try:
        kind, text = json.loads(base64.urlsafe_b64decode(payload.encode()))
    except (ValueError, TypeError):
        return None
    return str(kind), str(text)


def safe_next(target: str | None) -> str:
    """Only local paths are followed after log-in (no open redirect to another site)."""
    value = (target or "").strip()
    if not value.startswith("/") or value.startswith("//") or "\\" in value or "\n" in value or "\r" in value:
        return "/"
    return value
