"""Log-in, log-out (here and everywhere), the user's own account, language and company switch."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from punte.domain.errors import DomainError
from punte.store.db import Database

from .. import accounts, i18n
from ..pages import redirect, render, secure_headers
from ..security import (
    LANG_COOKIE,
    LOGIN_COOKIE,
    WebContext,
    clear_session_cookie,
    client_ip,
    csrf_for,
    current,
    login_seed,
    posted,
    safe_next,
    session_token,
    set_login_cookie,
    set_session_cookie,
)

router = APIRouter()


def _login_page(request: Request, *, error: str | None = None, status: int = 200, email: str = "") -> Response:
    settings = request.app.state.settings
    seed, fresh = login_seed(request)
    lang = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE)
    response = render(
        request, None, "login.html", status=status, language=lang, error=error, email=email,
        csrf=csrf_for(request.app.state.secret_key, "login:" + seed),
        next=safe_next(request.query_params.get("next")),
    )
    if fresh:
        set_login_cookie(response, settings, seed)
    if request.query_params.get("lang") in i18n.LANGUAGES:
        response.set_cookie(LANG_COOKIE, request.query_params["lang"], max_age=365 * 86400, samesite="lax",
                            secure=settings.secure_cookies, path="/")
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> Response:
    return _login_page(request)


@router.post("/login")
async def login(request: Request) -> Response:
    form = await request.form()
    seed = request.cookies.get(LOGIN_COOKIE, "")
    sent = str(form.get("csrf_token") or "")
    expected = csrf_for(request.app.state.secret_key, "login:" + seed)
    _ = i18n.translator(i18n.normalize(request.cookies.get(LANG_COOKIE)))
    email = str(form.get("email") or "").strip()
    if not seed or not hmac.compare_digest(sent, expected):
        return _login_page(request, error=_("Formularul a expirat. Încercați din nou."), status=403, email=email)
    result = await run_in_threadpool(_log_in, request, email, str(form.get("password") or ""))
    if result.token is None:
        if result.refusal == "throttled":
            text = _("Prea multe încercări eșuate. Încercați din nou peste câteva minute.")
            return _login_page(request, error=text, status=429, email=email)
        return _login_page(request, error=_("E-mailul sau parola nu sunt corecte."), status=401, email=email)
    response = RedirectResponse(safe_next(str(form.get("next") or "/")), status_code=303)
    set_session_cookie(response, request.app.state.settings, result.token)
    response.delete_cookie(LOGIN_COOKIE, path="/")
    return secure_headers(response)


def _log_in(request: Request, email: str, password: str) -> accounts.LoginResult:
    db: Database = request.app.state.db
    with db.session(write=True) as s:
        return accounts.log_in(
            s, email, password, ip=client_ip(request), user_agent=request.headers.get("user-agent"),
            settings=request.app.state.settings, secret_key=request.app.state.secret_key,
        )


@router.post("/logout")
def logout(request: Request, ctx: WebContext = Depends(posted)) -> Response:
    db: Database = request.app.state.db
    with db.session(write=True) as s:
        accounts.log_out(s, session_token(request), secret_key=request.app.state.secret_key)
    response = redirect(request, "/login")
    clear_session_cookie(response, request.app.state.settings)
    return response


@router.post("/account/logout-all")
def logout_everywhere(request: Request, ctx: WebContext = Depends(posted)) -> Response:
    db: Database = request.app.state.db
    with db.session(write=True) as s:
        accounts.log_out_everywhere(s, ctx.session.user_id, actor=ctx.email)
    response = redirect(request, "/login")
    clear_session_cookie(response, request.app.state.settings)
    return response


@router.get("/account", response_class=HTMLResponse)
def account(request: Request, ctx: WebContext = Depends(current)) -> Response:
    db: Database = request.app.state.db
    with db.session() as s:
        sessions = accounts.sessions_of(s, ctx.session.user_id)
    return render(request, ctx, "account.html", sessions=sessions)


@router.post("/account/language")
def set_language(request: Request, ctx: WebContext = Depends(posted)) -> Response:
    assert ctx.form is not None
    db: Database = request.app.state.db
    try:
        with db.session(write=True) as s:
            accounts.set_language(s, ctx.session.user_id, str(ctx.form.get("language") or ""))
    except DomainError as exc:
        return redirect(request, "/account", flash=("error", exc.text))
    return redirect(request, safe_next(str(ctx.form.get("next") or "/account")))


@router.post("/account/password")
def change_password(request: Request, ctx: WebContext = Depends(posted)) -> Response:
    assert ctx.form is not None
    _ = i18n.translator(ctx.language)
    new, again = str(ctx.form.get("new_password") or ""), str(ctx.form.get("new_password_again") or "")
    if new != again:
        return redirect(request, "/account", flash=("error", _("Parolele noi nu coincid.")))
    db: Database = request.app.state.db
    try:
        with db.session(write=True) as s:
            accounts.change_password(
                s, ctx.session.user_id, str(ctx.form.get("current_password") or ""), new,
                keep_session_id=ctx.session.id, actor=ctx.email,
            )
    except DomainError as exc:
        return redirect(request, "/account", flash=("error", exc.text))
    return redirect(request, "/account", flash=("ok", _("Parola a fost schimbată; celelalte sesiuni au fost închise.")))


@router.post("/company")
def switch_company(request: Request, ctx: WebContext = Depends(posted)) -> Response:
    assert ctx.form is not None
    raw = str(ctx.form.get("company_id") or "")
    if not raw.isdigit():
        return redirect(request, "/")
    db: Database = request.app.state.db
    try:
        with db.session(write=True) as s:
            accounts.select_company(s, ctx.session.id, ctx.session.user_id, int(raw))
    except DomainError as exc:
        return redirect(request, "/", flash=("error", exc.text))
    target = safe_next(str(ctx.form.get("next") or "/"))
    # a document of the previous company would not be found in the new one
    return redirect(request, "/documents" if target.startswith("/documents/") else target)
