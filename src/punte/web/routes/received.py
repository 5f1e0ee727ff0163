"""The e-Factura inbox: the invoices suppliers sent the company, their PDF and XML, and "Sincronizează".

Reading is everyone's (``services.received_read``, as ``api/received_routes.py`` reads); queueing a
sync (``services.received.queue_sync``, as the API's ``POST .../received/sync``) is the accountant's
and the owner's.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from punte.domain.errors import DomainError, NotFound
from punte.services import received, received_read
from punte.services.companies import require_company
from punte.store.db import Database

from .. import i18n
from ..pages import redirect, render, secure_headers
from ..security import WebContext, WebError, current, posted

router = APIRouter()

BACK = "/efactura/received"


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name) or "factura"


@router.get("/efactura/received", response_class=HTMLResponse)
def inbox(request: Request, ctx: WebContext = Depends(current)) -> Response:
    membership = ctx.require("viewer")
    db: Database = request.app.state.db
    with db.session() as s:
        company = require_company(s, membership.company_id)
        rows = received_read.list_received(s, company)
        sync = received_read.sync_status(s, company)
        pending = received_read.pending_downloads(s, company)
    return render(request, ctx, "received.html", rows=rows, sync=sync, pending=pending,
                  can_sync=ctx.can("accountant"))


def _file(request: Request, ctx: WebContext, download_id: str, kind: str) -> Response:
    membership = ctx.require("viewer")
    settings = request.app.state.settings
    db: Database = request.app.state.db
    try:
        with db.session() as s:
            row = received_read.get_received(s, require_company(s, membership.company_id), download_id)
        if kind == "pdf":
            data = received_read.received_pdf(settings, row)
            name, media, disposition = f"{row.supplier_cif or 'furnizor'}_{row.number or download_id}.pdf", \
                "application/pdf", "inline"
        else:
            data, name = received_read.received_xml(settings, row)
            media, disposition = "application/xml", "attachment"
    except NotFound as exc:
        raise WebError(404, "Factura primită nu a fost găsită.") from exc
    except DomainError as exc:
        raise WebError(409, exc.text) from exc
    response = Response(data, media_type=media,
                        headers={"Content-Disposition": f'{disposition}; filename="{_safe(name)}"'})
    return secure_headers(response)


@router.get("/efactura/received/{download_id}/pdf")
def received_pdf(request: Request, download_id: str, ctx: WebContext = Depends(current)) -> Response:
    return _file(request, ctx, download_id, "pdf")


@router.get("/efactura/received/{download_id}/xml")
def received_xml(request: Request, download_id: str, ctx: WebContext = Depends(current)) -> Response:
    return _file(request, ctx, download_id, "xml")


@router.post("/efactura/received/sync")
def sync(request: Request, ctx: WebContext = Depends(posted)) -> Response:
    membership = ctx.require("accountant")
    _ = i18n.translator(ctx.language)
    db: Database = request.app.state.db
    try:
        with db.session(write=True) as s:
            job = received.queue_sync(s, require_company(s, membership.company_id), actor=ctx.email)
            waiting = job.status in ("queued", "running")
    except DomainError as exc:
        return redirect(request, BACK, flash=("error", exc.text))
    text = (_("Sincronizarea facturilor primite a fost pusă în coadă.") if waiting else
            _("O sincronizare a rulat în ultimul minut; încercați din nou peste un minut."))
    return redirect(request, BACK, flash=("ok", text))
