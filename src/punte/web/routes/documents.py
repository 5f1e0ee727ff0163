"""Documents: the list (search, filters, keyset pages), a document's page, its PDF and UBL, and actions.

Every action calls the same service function as the SmartBill-compatible API, in one transaction;
the role is checked first (accountant or owner), the business rules are the services'.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from punte.domain.errors import DomainError
from punte.efactura.anaf import archive, submissions
from punte.efactura.ubl import build_ubl
from punte.efactura.ubl_parties import UblError
from punte.render.pdf import render_pdf
from punte.services import operations
from punte.services.issuing import issue_draft
from punte.store.db import Database
from punte.store.models import Company, Document, Series

from .. import efactura_queries, i18n, queries
from ..actions import run_action
from ..pages import render
from ..panels import load_panels
from ..security import WebContext, WebError, current, posted

router = APIRouter()

ACTIONS = ("issue", "reverse", "cancel", "restore", "delete")


@router.get("/documents", response_class=HTMLResponse)
def documents(request: Request, ctx: WebContext = Depends(current)) -> Response:
    membership = ctx.require("viewer")
    params = dict(request.query_params)
    error = None
    page = queries.DocumentPage(rows=[], next_cursor=None, prev_cursor=None)
    try:
        f = queries.parse_filter(params)
    except DomainError as exc:
        f, error = queries.DocumentFilter(), exc.text
    if error is None:
        db: Database = request.app.state.db
        try:
            with db.session() as s:
                page = queries.list_documents(
                    s, membership.company_id, f, after=params.get("after"), before=params.get("before")
                )
        except DomainError as exc:
            error = exc.text
    return render(request, ctx, "documents.html", status=400 if error else 200, page=page, f=f, error=error,
                  params=params, kinds=queries.KINDS, statuses=queries.STATUSES,
                  efactura_states=queries.EFACTURA_STATES)


def _load(s: Session, ctx: WebContext, doc_id: int, level: str = "viewer") -> Document:
    doc = s.get(Document, doc_id)
    if doc is None or ctx.role_on(doc.company_id) is None:
        raise WebError(404, "Documentul nu a fost găsit.")
    ctx.require(level, doc.company_id)
    return doc


def _view_url(request: Request, doc: Document) -> str:
    return f"{request.app.state.settings.public_url.rstrip('/')}/view/{doc.view_token}"


@router.get("/documents/{doc_id:int}", response_class=HTMLResponse)
def document_page(request: Request, doc_id: int, ctx: WebContext = Depends(current)) -> Response:
    db: Database = request.app.state.db
    with db.session() as s:
        doc = _load(s, ctx, doc_id)
        model = operations.read_model(s, doc)
        panels = load_panels(s, doc, lambda level: ctx.can(level, doc.company_id))
        log = queries.event_log(s, doc.id, [p.id for p in queries.payments_of(s, doc.id)])
        links = queries.related(s, doc)
        series = s.get(Series, doc.series_id)
        is_last = series is not None and doc.number is not None and doc.number == series.next_number - 1
    return render(request, ctx, "document.html", doc=doc, model=model, panels=panels, log=log, links=links,
                  is_last=is_last, can_act=ctx.can("accountant", doc.company_id), view_url=_view_url(request, doc))


@router.get("/documents/{doc_id:int}/pdf")
def document_pdf(request: Request, doc_id: int, ctx: WebContext = Depends(current)) -> Response:
    db: Database = request.app.state.db
    with db.session() as s:
        doc = _load(s, ctx, doc_id)
        data = render_pdf(operations.read_model(s, doc), view_url=_view_url(request, doc))
        label = f"{doc.series_name}{doc.number_text or '-ciorna'}"
    return Response(data, media_type="application/pdf", headers={
        "Content-Disposition": f'inline; filename="{label}.pdf"', "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    })


@router.get("/documents/{doc_id:int}/ubl")
def document_ubl(request: Request, doc_id: int, ctx: WebContext = Depends(current)) -> Response:
    db: Database = request.app.state.db
    with db.session() as s:
        doc = _load(s, ctx, doc_id)
        if doc.kind != "invoice" or doc.number is None:
            raise WebError(404, "Doar facturile emise au UBL (e-Factura).")
        try:
            data = build_ubl(operations.read_model(s, doc))
        except UblError as exc:
            raise WebError(400, f"UBL-ul nu poate fi construit: {exc}") from exc
        label = f"{doc.series_name}{doc.number_text}"
    return Response(data, media_type="application/xml", headers={
        "Content-Disposition": f'attachment; filename="{label}.xml"', "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    })


@router.get("/documents/{doc_id:int}/efactura/archive/{attempt:int}")
def efactura_archive(request: Request, doc_id: int, attempt: int, ctx: WebContext = Depends(current)) -> Response:
    """The ZIP ANAF gave for one attempt (the signed invoice, or the error list), as archived."""
    db: Database = request.app.state.db
    with db.session() as s:
        _load(s, ctx, doc_id)
        found = efactura_queries.archive_of(s, doc_id, attempt)
    if found is None:
        raise WebError(404, "Arhiva ANAF nu există pentru această factură.")
    try:
        data = archive.read(request.app.state.settings.data_dir, found.path, found.sha256)
    except (OSError, ValueError) as exc:
        raise WebError(409, "Arhiva ANAF nu mai poate fi citită sau nu mai corespunde amprentei înregistrate.") from exc
    return Response(data, media_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="{found.name}"', "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    })


@router.post("/documents/{doc_id:int}/efactura/submit")
def efactura_submit(request: Request, doc_id: int, ctx: WebContext = Depends(posted)) -> Response:
    """Send the invoice to e-Factura: the first time, or again after ``nok``/``invalid`` (``submissions.submit``)."""
    _ = i18n.translator(ctx.language)
    db: Database = request.app.state.db
    with db.session() as s:
        company_id = _load(s, ctx, doc_id, "accountant").company_id

    def op(s: Session, company: Company) -> str:
        doc = s.get(Document, doc_id, with_for_update=True)
        assert doc is not None
        try:
            current_xml = build_ubl(operations.read_model(s, doc))
        except UblError:
            current_xml = None  # the pipeline's own validation reports it as invalid
        submission = submissions.submit(s, company, doc, actor=ctx.email, current_xml=current_xml)
        return _("Factura a fost pusă în coada e-Factura (încercarea {n}).", n=submission.attempt)

    back = f"/documents/{doc_id}"
    return run_action(request, ctx, company_id, "accountant", op, back=back)


@router.post("/documents/{doc_id:int}/{action}")
def document_action(request: Request, doc_id: int, action: str, ctx: WebContext = Depends(posted)) -> Response:
    if action not in ACTIONS:
        raise WebError(404, "Pagina nu există.")
    assert ctx.form is not None
    _ = i18n.translator(ctx.language)
    db: Database = request.app.state.db
    with db.session() as s:
        doc = _load(s, ctx, doc_id, "accountant")
        company_id, kind, series, number = doc.company_id, doc.kind, doc.series_name, doc.number_text
    back = f"/documents/{doc_id}"
    form = ctx.form
    target: dict[str, str] = {}

    def op(s: Session, company: Company) -> str:
        if action == "issue":
            draft = s.get(Document, doc_id)
            assert draft is not None
            issue_draft(s, company, draft, actor=ctx.email)
            return _("Documentul a fost emis: {label}.", label=f"{draft.series_name}{draft.number_text}")
        if action == "reverse":
            storno = operations.reverse_invoice(
                s, company, series, number, str(form.get("issue_date") or "") or None, actor=ctx.email
            )
            target["url"] = f"/documents/{storno.id}"
            return _("Factura storno {label} a fost emisă.", label=f"{storno.series_name}{storno.number_text}")
        if action == "cancel":
            operations.cancel_document(s, company, kind, series, number, actor=ctx.email)
            return _("Documentul a fost anulat.")
        if action == "restore":
            operations.restore_document(s, company, kind, series, number, actor=ctx.email)
            return _("Documentul a fost restaurat.")
        operations.delete_document(s, company, kind, series, number, actor=ctx.email)
        target["url"] = "/documents"
        return _("Documentul {label} a fost șters.", label=f"{series}{number or ''}")

    return run_action(request, ctx, company_id, "accountant", op, back=back, done=lambda: target.get("url", back))
