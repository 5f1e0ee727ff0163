"""The dashboard: server-rendered pages (Jinja2) over the same services as the API.

:func:`install` adds it to the FastAPI app: the routes at ``/`` (overview), ``/login``,
``/documents``..., the static files at ``/static`` and the handlers that turn "not logged in" into a
redirect to the log-in page and refusals into error pages.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response

STATIC = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    from .pages import render, secure_headers
    from .routes import router
    from .security import LANG_COOKIE, LoginRequired, WebError, current

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, _exc: LoginRequired) -> Response:
        if request.headers.get("x-csrf-token"):  # the form's script: it tells the user to log in again
            return JSONResponse({"ok": False, "error": "login"}, status_code=401)
        if request.method != "GET":
            return secure_headers(RedirectResponse("/login", status_code=303))
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        suffix = "" if target == "/" else f"?next={quote(target, safe='/')}"
        return secure_headers(RedirectResponse(f"/login{suffix}", status_code=303))

    @app.exception_handler(WebError)
    def web_error(request: Request, exc: WebError) -> Response:
        try:
            ctx = current(request)
        except LoginRequired:
            ctx = None
        return render(request, ctx, "error.html", status=exc.status, language=request.cookies.get(LANG_COOKIE),
                      status_code=exc.status, text=exc.text)

    from .routes.settings_integrations import callback_redirect

    app.state.anaf_callback_redirect = callback_redirect  # /anaf/callback sends dashboard users back here
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
