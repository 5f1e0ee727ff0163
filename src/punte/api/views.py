"""Public document view behind an unguessable token (``documentViewUrl``)."""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from punte.render.pdf import render_pdf
from punte.services.operations import read_model
from punte.store.db import Database
from punte.store.models import Document

router = APIRouter(include_in_schema=False)


def _money(value: object) -> str:
    return f"{value:,.2f}".replace(",", " ").replace(".", ",")


@router.get("/view/{token}/pdf")
def view_document_pdf(request: Request, token: str) -> Response:
    db: Database = request.app.state.db
    with db.session() as session:
        doc = session.scalar(select(Document).where(Document.view_token == token))
        if doc is None or len(token) < 20:
            raise HTTPException(status_code=404)
        data = render_pdf(read_model(session, doc))
    return Response(data, media_type="application/pdf")


@router.get("/view/{token}", response_class=HTMLResponse)
def view_document(request: Request, token: str) -> HTMLResponse:
    db: Database = request.app.state.db
    with db.session() as session:
        doc = session.scalar(select(Document).where(Document.view_token == token))
        if doc is None or len(token) < 20:
            raise HTTPException(status_code=404)
        model = read_model(session, doc)
    title = {"invoice": "Factura", "proforma": "Proforma"}.get(model.kind, "Document")
    rows = "".join(
        f"<tr><td>{ln.position}</td><td>{escape(ln.name)}</td><td>{escape(ln.unit)}</td>"
        f"<td class=n>{ln.quantity}</td><td class=n>{ln.unit_price}</td><td class=n>{_money(ln.net_amount)}</td>"
        f"<td class=n>{ln.vat_percentage if ln.vat_percentage is not None else '-'}</td></tr>"
        for ln in model.lines
    )
    status = " (ANULATA)" if model.status == "cancelled" else ""
    html = f"""<!doctype html><html lang="ro"><head><meta charset="utf-8">
<title>{title} {escape(model.full_number)}</title>
<style>body{{font-family:sans-serif;max-width:900px;margin:2em auto}}td,th{{padding:4px 8px;border-bottom:1px solid #ddd}}
.n{{text-align:right}}table{{border-collapse:collapse;width:100%}}</style></head><body>
<h1>{title} {escape(model.full_number)}{status}</h1>
<p>Data emiterii: {model.issue_date.strftime('%d.%m.%Y')}</p>
<p><b>Furnizor:</b> {escape(model.seller.name)} ({escape(model.seller.cif or '')})<br>
<b>Client:</b> {escape(model.buyer.name)} {escape(model.buyer.cif or '')}</p>
<table><tr><th>Nr.</th><th>Denumire</th><th>U.M.</th><th>Cant.</th><th>Pret</th><th>Valoare</th><th>TVA %</th></tr>
{rows}</table>
<p class=n>Total fara TVA: {_money(model.totals.net_total)} {model.currency}<br>
TVA: {_money(model.totals.vat_total)} {model.currency}<br>
<b>Total: {_money(model.totals.gross_total)} {model.currency}</b></p>
<p><a href="/view/{escape(token)}/pdf">Descarca PDF</a></p></body></html>"""
    return HTMLResponse(html)
