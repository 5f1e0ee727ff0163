"""The OAuth callback ANAF redirects the certificate holder's browser to: ``GET /anaf/callback``.

A browser logged in to the dashboard (the owner pressed "Conectează la ANAF" on the ANAF settings tab)
goes back to that tab with the outcome as a message; any other browser gets a small page of its own.
"""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from punte.domain.errors import DomainError
from punte.services.anaf_connection import Connected, complete_authorization

router = APIRouter(include_in_schema=False)


def _page(title: str, body: str, status: int) -> HTMLResponse:
    html = (
        "<!doctype html><html lang='ro'><head><meta charset='utf-8'>"
        f"<title>{escape(title)}</title></head><body><h1>{escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(html, status_code=status)


def _to_dashboard(request: Request, *, connected: Connected | None = None, error: str | None = None) -> Response | None:
    """The dashboard's redirect to its ANAF tab (``app.state.anaf_callback_redirect``, set by the dashboard when
    it is installed), or ``None`` when the browser has no dashboard session or there is no dashboard."""
    redirect = getattr(request.app.state, "anaf_callback_redirect", None)
    return redirect(request, connected=connected, error=error) if redirect is not None else None


@router.get("/anaf/callback", response_class=HTMLResponse)
def anaf_callback(request: Request, code: str = "", state: str = "", error: str = "",
                  error_description: str = "") -> Response:
    """Exchange the authorization code at once (ANAF allows 60 seconds) and store the tokens."""
    if error:
        text = f"ANAF a refuzat autorizarea: {error}" + (f" ({error_description})" if error_description else "")
        return _to_dashboard(request, error=text) or _page("Conectare ANAF esuata", f"<p>{escape(text)}</p>", 400)
    transport = getattr(request.app.state, "anaf_oauth_transport", None)
    try:
        result = complete_authorization(request.app.state.db, request.app.state.settings, code=code, state=state,
                                        transport=transport)
    except DomainError as exc:
        return (_to_dashboard(request, error=exc.text)
                or _page("Conectare ANAF esuata", f"<p>{escape(exc.text)}</p>", 400))
    dashboard = _to_dashboard(request, connected=result)
    if dashboard is not None:
        return dashboard
    others = (f"<p>Acelasi token serveste si firmele: {escape(', '.join(result.other_companies))}.</p>"
              if result.other_companies else "")
    body = (
        f"<p>Firma {escape(result.company_name)} (CIF {escape(result.company_cif)}) este conectata la "
        f"e-Factura ({escape(result.environment)}).</p>"
        f"<p>Tokenul de acces este valabil pana la {result.access_expires_at:%Y-%m-%d}; autorizarea (tokenul de "
        f"reimprospatare) pana la {result.refresh_expires_at:%Y-%m-%d}. punte il reimprospateaza singur.</p>"
        f"{others}<p>Puteti inchide aceasta fereastra.</p>"
    )
    return _page("Conectat la ANAF", body, 200)
