"""The forms to issue an invoice or a proforma, with live totals computed by the issuing service."""

from __future__ import annotations

from decimal import Decimal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from punte.domain.errors import DomainError
from punte.domain.money import CURRENCIES, places
from punte.render.i18n import NumberFormat
from punte.services import companies
from punte.services.companies import require_company
from punte.services.issuing import LANGUAGES as DOC_LANGUAGES
from punte.services.issuing import create_document, today_in_romania
from punte.services.payments import PAYMENT_TYPES
from punte.store.db import Database

from .. import i18n
from ..forms import InvoiceForm, preview
from ..pages import redirect, render
from ..security import WebContext, WebError, current, posted

router = APIRouter()

KINDS = {"invoice": "f", "proforma": "p"}
BLANK_ROWS = 3


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise WebError(404, "Pagina nu există.")
    return kind


def _company_id(ctx: WebContext) -> int:
    assert ctx.form is not None
    raw = str(ctx.form.get("company_id") or "")
    if not raw.isdigit():
        raise WebError(400, "Firma lipsește din formular. Reîncărcați pagina.")
    return int(raw)


def _options(request: Request, company_id: int, kind: str) -> dict[str, object]:
    db: Database = request.app.state.db
    today = today_in_romania()
    with db.session() as s:
        company = require_company(s, company_id)
        vat_payer = companies.vat_status_on(company, today).vat_payer
        rates = companies.rates_in_force(s, company, today) if vat_payer else []
        series = companies.list_series(s, company, KINDS[kind])
        units = companies.measuring_units(s, company)
    default_rate = next((r for r in rates if r.is_default), rates[0] if rates else None)
    return {
        "vat_payer": vat_payer,
        "rates": rates,
        "default_vat": f"{default_rate.name}|{format(default_rate.percentage.normalize(), 'f')}" if default_rate else "",
        "series": series,
        "units": units,
        "currencies": sorted(CURRENCIES - {"RON"}),
        "doc_languages": sorted(DOC_LANGUAGES),
        "payment_types": sorted(PAYMENT_TYPES.values()),
        "today": today,
    }


def _page(request: Request, ctx: WebContext, kind: str, company_id: int, form: InvoiceForm, *,
          error: str | None = None, status: int = 200) -> Response:
    options = _options(request, company_id, kind)
    if not form.lines:
        form.lines = [
            {"name": "", "unit": "buc", "quantity": "", "price": "", "vat": str(options["default_vat"]),
             "tax_included": "", "service": ""}
            for _ in range(BLANK_ROWS)
        ]
    return render(request, ctx, "issue.html", status=status, kind=kind, form=form, error=error,
                  company_id=company_id, **options)


@router.get("/documents/new/{kind}", response_class=HTMLResponse)
def new_document(request: Request, kind: str, ctx: WebContext = Depends(current)) -> Response:
    kind = _kind(kind)
    membership = ctx.require("accountant")
    form = InvoiceForm(values={"issue_date": today_in_romania().isoformat(), "currency": "RON", "language": "RO",
                               "client_country": "Romania", "pay_type": "Ordin plata"})
    return _page(request, ctx, kind, membership.company_id, form)


@router.post("/documents/new/{kind}")
def issue_document(request: Request, kind: str, ctx: WebContext = Depends(posted)) -> Response:
    kind = _kind(kind)
    company_id = _company_id(ctx)
    ctx.require("accountant", company_id)
    assert ctx.form is not None
    _ = i18n.translator(ctx.language)
    draft = str(ctx.form.get("action") or "") == "draft"
    try:
        form = InvoiceForm.from_posted(ctx.form)
    except DomainError as exc:
        return _page(request, ctx, kind, company_id, InvoiceForm(), error=exc.text, status=400)
    db: Database = request.app.state.db
    try:
        req = form.to_request(kind, draft=draft)
        with db.session(write=True) as s:
            company = require_company(s, company_id)
            doc = create_document(s, company, req, kind=kind, actor=ctx.email).document
            doc_id, label = doc.id, f"{doc.series_name}{doc.number_text or ''}"
    except DomainError as exc:
        return _page(request, ctx, kind, company_id, form, error=exc.text, status=400)
    text = _("Ciorna a fost salvată.") if draft else _("Documentul a fost emis: {label}.", label=label)
    return redirect(request, f"/documents/{doc_id}", flash=("ok", text))


@router.post("/documents/new/{kind}/preview")
def preview_totals(request: Request, kind: str, ctx: WebContext = Depends(posted)) -> JSONResponse:
    """The totals the issuing service gives this form (JSON for the form's script)."""
    kind = _kind(kind)
    company_id = _company_id(ctx)
    ctx.require("accountant", company_id)
    assert ctx.form is not None
    fmt = NumberFormat("EN" if ctx.language == "en" else "RO")
    try:
        form = InvoiceForm.from_posted(ctx.form)
        result = preview(request.app.state.db, company_id, form, kind, actor=ctx.email)
    except DomainError as exc:
        return JSONResponse({"ok": False, "error": exc.text})
    n = places(result.currency)

    def money(value: object) -> str:
        return fmt.number(value, n)  # type: ignore[arg-type]

    return JSONResponse({
        "ok": True,
        "currency": result.currency,
        "lines": [{"row": ln.row, "net": money(ln.net_amount), "vat": money(ln.vat_amount),
                   "net_value": format(ln.net_amount, "f")} for ln in result.lines],
        "net_total": money(result.net_total),
        "vat_total": money(result.vat_total),
        "gross_total": money(result.gross_total),
        "gross_value": format(result.gross_total, "f"),
        "gross_total_ron": money(result.gross_total_ron) if result.gross_total_ron is not None else None,
        "breakdown": [
            {"label": f"{b.get('name') or b['category']} {fmt.percent(Decimal(b['percentage']))}",
             "taxable": money(Decimal(b["taxable_amount"])),
             "tax": money(Decimal(b["tax_amount"]))}
            for b in result.breakdown
        ],
    })
