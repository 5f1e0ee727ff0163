"""Documents: the list (search, filters, keyset pages), a document's page, its PDF and UBL, and actions
(issue, reverse, cancel, restore, delete; collect a payment, delete one, print its receipt; e-mail it;
make a Stripe payment link).

Every action calls the same service function as the SmartBill-compatible API, in one transaction;
the role is checked first (accountant or owner), the business rules are the services'.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from punte.domain.errors import DomainError
from punte.efactura.anaf import archive, submissions
from punte.efactura.ubl import build_ubl
from punte.efactura.ubl_parties import UblError
from punte.render.pdf import render_pdf
from punte.services import email, operations, payment_deletes, payments
from punte.services.bridge_checkout import renew_checkout
from punte.services.companies import list_series, require_company
from punte.services.issuing import issue_draft, today_in_romania
from punte.services.receipt_view import receipt_document
from punte.smartbill.wire import PaymentRequest
from punte.store.db import Database
from punte.store.models import Company, Document, Payment, Series

from .. import efactura_queries, i18n, queries
from ..actions import run_action
from ..forms import number_text
from ..pages import redirect, render
from ..panels import load_panels
from ..security import WebContext, WebError, current, posted

router = APIRouter()

ACTIONS = ("issue", "reverse", "cancel", "restore", "delete")
# The payment types the page collects (services.payments.PAYMENT_TYPES without "Bon": a fiscal receipt is
# printed by the cash register, which the dashboard does not drive).
COLLECT_TYPES = ("Chitanta", "Ordin plata", "Card", "Card online", "CEC", "Bilet ordin", "Mandat postal",
                 "Extras de cont", "Ramburs", "Alta incasare")


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


def _target(request: Request, ctx: WebContext, doc_id: int) -> tuple[int, str, str, str | None]:
    """(company id, kind, series, number) of a document the user may act on (accountant or owner)."""
    db: Database = request.app.state.db
    with db.session() as s:
        doc = _load(s, ctx, doc_id, "accountant")
        return doc.company_id, doc.kind, doc.series_name, doc.number_text


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
        receipt_series = list_series(s, require_company(s, doc.company_id), "c")
    return render(request, ctx, "document.html", doc=doc, model=model, panels=panels, log=log, links=links,
                  is_last=is_last, can_act=ctx.can("accountant", doc.company_id), view_url=_view_url(request, doc),
                  receipt_series=receipt_series, collect_types=COLLECT_TYPES, today=today_in_romania())


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


def _amount(raw: str, _: Callable[..., str]) -> Decimal:
    """The amount typed in the form (``1.234,56`` or ``1234.56``), or a refusal in the user's language."""
    text = number_text(raw)
    if text is None:
        raise DomainError(_("Suma încasării trebuie completată."))
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise DomainError(_("Suma încasării nu este un număr.")) from exc
    if not value.is_finite():
        raise DomainError(_("Suma încasării nu este un număr."))
    return value


@router.post("/documents/{doc_id:int}/payments")
def collect_payment(request: Request, doc_id: int, ctx: WebContext = Depends(posted)) -> Response:
    """Collect (part of) an issued invoice: the same ``payments.create_payment`` as ``POST /payment``."""
    assert ctx.form is not None
    form = ctx.form
    _ = i18n.translator(ctx.language)
    company_id, kind, series, number = _target(request, ctx, doc_id)
    if kind != "invoice" or number is None:
        raise WebError(404, "Doar facturile emise pot fi încasate.")

    def op(s: Session, company: Company) -> str:
        ptype = str(form.get("type") or "")
        if ptype not in COLLECT_TYPES:
            raise DomainError(_("Alegeți tipul încasării."))
        value = _amount(str(form.get("amount") or ""), _)
        req = PaymentRequest.model_validate({
            "companyVatCode": company.cif, "type": ptype, "value": format(value, "f"),
            "issueDate": str(form.get("payment_date") or "").strip() or None,
            "seriesName": (str(form.get("receipt_series") or "").strip() or None) if ptype == "Chitanta" else None,
            "invoicesList": [{"seriesName": series, "number": number}],
        })
        recorded = payments.create_payment(s, company, req, actor=ctx.email)
        return _("Încasarea {label} a fost înregistrată.", label=payments.payment_label(recorded.payment))

    return run_action(request, ctx, company_id, "accountant", op, back=f"/documents/{doc_id}")


@router.post("/documents/{doc_id:int}/payments/{payment_id:int}/delete")
def delete_payment(request: Request, doc_id: int, payment_id: int, ctx: WebContext = Depends(posted)) -> Response:
    """Delete a payment of the invoice with the API's rules (``services.payment_deletes``): a receipt only
    when it is the last of its series, a fiscal receipt never."""
    _ = i18n.translator(ctx.language)
    db: Database = request.app.state.db
    with db.session() as s:
        doc = _load(s, ctx, doc_id, "accountant")
        company_id = doc.company_id
        if payment_id not in {p.id for p in queries.payments_of(s, doc.id)}:
            raise WebError(404, "Încasarea nu a fost găsită.")

    def op(s: Session, company: Company) -> str:
        payment = payment_deletes.delete_by_id(s, company, payment_id, actor=ctx.email)
        return _("Încasarea {label} a fost ștearsă.", label=payments.payment_label(payment))

    return run_action(request, ctx, company_id, "accountant", op, back=f"/documents/{doc_id}")


@router.get("/documents/{doc_id:int}/payments/{payment_id:int}/pdf")
def receipt_pdf(request: Request, doc_id: int, payment_id: int, ctx: WebContext = Depends(current)) -> Response:
    """A receipt (Chitanta) of the invoice, printed as ``GET /payment/pdf`` prints it (``services.receipt_view``)."""
    db: Database = request.app.state.db
    with db.session() as s:
        doc = _load(s, ctx, doc_id)
        payment = s.get(Payment, payment_id)
        if (payment is None or payment.type != "Chitanta" or payment.number is None
                or payment_id not in {p.id for p in queries.payments_of(s, doc.id)}):
            raise WebError(404, "Chitanța nu a fost găsită.")
        data = render_pdf(receipt_document(s, require_company(s, doc.company_id), payment))
        label = payments.payment_label(payment)
    return Response(data, media_type="application/pdf", headers={
        "Content-Disposition": f'inline; filename="{label}.pdf"', "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    })


@router.post("/documents/{doc_id:int}/email")
def email_document(request: Request, doc_id: int, ctx: WebContext = Depends(posted)) -> Response:
    """Queue the document for e-mail (``email.queue_document_email``, as ``POST /document/send``); the worker sends it."""
    assert ctx.form is not None
    form = ctx.form
    _ = i18n.translator(ctx.language)
    company_id, kind, series, number = _target(request, ctx, doc_id)
    if kind not in email.TYPE_OF_KIND:
        raise WebError(404, "Doar facturile și proformele se trimit pe e-mail.")

    def field(name: str) -> str | None:
        return str(form.get(name) or "").replace("\r\n", "\n").strip() or None

    def op(s: Session, company: Company) -> str:
        message = email.queue_document_email(
            s, company, doc_type=email.TYPE_OF_KIND[kind], series=series, number=number, to=field("to"),
            cc=field("cc"), bcc=field("bcc"), subject=field("subject"), body=field("body"), actor=ctx.email,
        )
        return _("E-mailul către {to} a fost pus în coada de trimitere.", to=message.to_addrs)

    return run_action(request, ctx, company_id, "accountant", op, back=f"/documents/{doc_id}")


@router.post("/documents/{doc_id:int}/checkout")
def checkout_link(request: Request, doc_id: int, ctx: WebContext = Depends(posted)) -> Response:
    """A Stripe payment link for the document now (``bridge_checkout.renew_checkout``: Stripe is called with
    no transaction open, as when the link is asked for at issue)."""
    _ = i18n.translator(ctx.language)
    company_id, _kind, _series, _number = _target(request, ctx, doc_id)
    ctx.require("accountant", company_id)
    back = f"/documents/{doc_id}"
    try:
        outcome = renew_checkout(request.app.state.db, company_id, doc_id, actor=ctx.email)
    except DomainError as exc:
        return redirect(request, back, flash=("error", exc.text))
    if outcome.error:
        return redirect(request, back, flash=("error", outcome.error))
    return redirect(request, back, flash=("ok", _("Linkul de plată: {url}", url=outcome.url)))


@router.post("/documents/{doc_id:int}/{action}")
def document_action(request: Request, doc_id: int, action: str, ctx: WebContext = Depends(posted)) -> Response:
    if action not in ACTIONS:
        raise WebError(404, "Pagina nu există.")
    assert ctx.form is not None
    _ = i18n.translator(ctx.language)
    company_id, kind, series, number = _target(request, ctx, doc_id)
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
