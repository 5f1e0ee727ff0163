"""SmartBill-compatible routes under ``/SBORO/api``: same paths, bodies, answers and error texts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from punte.render.pdf import render_pdf
from punte.services import companies as companies_svc
from punte.services import operations
from punte.services.bridge_checkout import CheckoutOutcome, complete_checkout
from punte.services.issuing import Issued, create_document, issue_draft, today_in_romania
from punte.smartbill.wire import (
    DocumentAnswer,
    DocumentAnswerV2,
    EstimateRequest,
    InvoiceRequest,
    MeasuringUnitsAnswer,
    PaymentStatusAnswer,
    ReverseRequest,
    SeriesAnswer,
    SeriesItem,
    TaxAnswer,
    TaxItem,
)
from punte.store.db import Database
from punte.store.models import Company, Document

from .context import AfterCommit, ApiError, authenticate, authorize, json_body, off_loop, run_read, run_write

router = APIRouter(prefix="/SBORO/api", tags=["SmartBill-compatible"])

# Routes read the raw body (to answer SmartBill's error texts), so their schemas are declared here.
OPENAPI_MODELS = [
    InvoiceRequest, EstimateRequest, ReverseRequest, DocumentAnswer, DocumentAnswerV2, PaymentStatusAnswer,
    SeriesAnswer, TaxAnswer, MeasuringUnitsAnswer,
]


def _doc(request_model: type | None, answer: type) -> dict[str, Any]:
    ref = "#/components/schemas/{}"
    extra: dict[str, Any] = {
        "responses": {
            "200": {"description": "SmartBill answer", "content": {"application/json": {"schema": {"$ref": ref.format(answer.__name__)}}}},
            "400": {"description": "Bad data or forbidden action; errorText says why (SmartBill's text)."},
            "401": {"description": "Wrong e-mail/token or no right on the company."},
            "403": {"description": "Rate limit exceeded; blocked for a while."},
        }
    }
    if request_model is not None:
        extra["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": ref.format(request_model.__name__)}}},
        }
    return {"openapi_extra": extra}

V1: dict[str, Any] = {"number": "", "series": "", "url": ""}
V2: dict[str, Any] = {**V1, "documentId": -1, "documentUrl": "", "documentViewUrl": ""}
COMPANY_MISSING = "CIF-ul firmei ('companyVatCode') trebuie specificat"
CIF_MISSING = "Ciful firmei trebuie specificat!"


def _series_param(request: Request) -> str | None:
    q = request.query_params
    return q.get("seriesName") or q.get("seriesname")


def _view_url(request: Request, doc: Document) -> str:
    return f"{request.app.state.settings.public_url.rstrip('/')}/view/{doc.view_token}"


def _answer(request: Request, issued: Issued, *, v2: bool) -> dict[str, Any]:
    doc = issued.document
    model: DocumentAnswer
    if v2:
        model = DocumentAnswerV2(
            number=doc.number_text or "",
            series=doc.series_name,
            url=issued.payment_url,
            documentId=doc.id,
            documentUrl="",
            documentViewUrl=_view_url(request, doc),
        )
    else:
        model = DocumentAnswer(number=doc.number_text or "", series=doc.series_name, url=issued.payment_url)
    return model.model_dump(mode="json")


def _create(request: Request, raw: bytes, kind: str, *, v2: bool) -> JSONResponse:
    shape = V2 if v2 else V1
    caller = authenticate(request)
    model = InvoiceRequest if kind == "invoice" else EstimateRequest
    req = json_body(request, raw, model, shape)
    cif = authorize(caller, req.companyVatCode, COMPANY_MISSING, shape)
    db: Database = request.app.state.db

    def op(session: Session, company: Company) -> dict[str, Any] | AfterCommit:
        issued = create_document(session, company, req, kind=kind, actor=caller.email)
        answer = _answer(request, issued, v2=v2)
        pending = issued.checkout
        if pending is None:
            return answer
        # "Generate URL": Stripe is asked once the document is committed, with no lock held
        return AfterCommit(answer, lambda committed: _with_link(committed, complete_checkout(db, pending)))

    return run_write(request, caller, cif, raw, op, shape)


def _with_link(answer: dict[str, Any], outcome: CheckoutOutcome) -> dict[str, Any]:
    """The answer with the link in ``url``, or (Stripe failed; the document stays issued) why in ``message``."""
    if outcome.url:
        return {**answer, "url": outcome.url}
    return {**answer, "message": outcome.error or ""}


@router.post("/invoice", summary="Emitere factura", **_doc(InvoiceRequest, DocumentAnswer))
async def create_invoice(request: Request) -> JSONResponse:
    return await off_loop(request, lambda raw: _create(request, raw, "invoice", v2=False))


@router.post("/invoice/v2", summary="Emitere factura (raspuns cu documentId si documentViewUrl)", **_doc(InvoiceRequest, DocumentAnswerV2))
async def create_invoice_v2(request: Request) -> JSONResponse:
    return await off_loop(request, lambda raw: _create(request, raw, "invoice", v2=True))


@router.post("/estimate", summary="Emitere proforma", **_doc(EstimateRequest, DocumentAnswer))
async def create_estimate(request: Request) -> JSONResponse:
    return await off_loop(request, lambda raw: _create(request, raw, "proforma", v2=False))


@router.post("/estimate/v2", summary="Emitere proforma (raspuns v2)", **_doc(EstimateRequest, DocumentAnswerV2))
async def create_estimate_v2(request: Request) -> JSONResponse:
    return await off_loop(request, lambda raw: _create(request, raw, "proforma", v2=True))


@router.post("/invoice/reverse", summary="Stornare factura", **_doc(ReverseRequest, DocumentAnswerV2))
async def reverse_invoice(request: Request) -> JSONResponse:
    return await off_loop(request, lambda raw: _reverse(request, raw))


def _reverse(request: Request, raw: bytes) -> JSONResponse:
    caller = authenticate(request)
    req = json_body(request, raw, ReverseRequest, V2)
    cif = authorize(
        caller, req.companyVatCode,
        "Firma la care incercati sa va conectati nu mai este disponibila in Cloud.", V2,
    )

    def op(session: Session, company: Company) -> dict[str, Any]:
        storno = operations.reverse_invoice(
            session, company, req.seriesName, req.number, req.issueDate, actor=caller.email
        )
        return _answer(request, Issued(storno), v2=True)

    return run_write(request, caller, cif, raw, op, V2)


def _state_change(request: Request, kind: str, action: str) -> JSONResponse:
    caller = authenticate(request)
    missing = "Cif trebuie specificat." if action == "delete" else CIF_MISSING
    cif = authorize(caller, request.query_params.get("cif"), missing, V1)
    series, number = _series_param(request), request.query_params.get("number")
    raw = f"{action}|{series}|{number}".encode()

    def op(session: Session, company: Company) -> dict[str, Any]:
        if action == "delete":
            operations.delete_document(session, company, kind, series, number, actor=caller.email)
            return DocumentAnswer(number=number or "", series=series or "").model_dump(mode="json")
        fn = operations.cancel_document if action == "cancel" else operations.restore_document
        doc = fn(session, company, kind, series, number, actor=caller.email)
        return DocumentAnswer(number=doc.number_text or "", series=doc.series_name).model_dump(mode="json")

    return run_write(request, caller, cif, raw, op, V1)


@router.put("/invoice/cancel", summary="Anulare factura", **_doc(None, DocumentAnswer))
def cancel_invoice(request: Request) -> JSONResponse:
    return _state_change(request, "invoice", "cancel")


@router.put("/invoice/restore", summary="Restaurare factura anulata", **_doc(None, DocumentAnswer))
def restore_invoice(request: Request) -> JSONResponse:
    return _state_change(request, "invoice", "restore")


@router.delete("/invoice", summary="Stergere factura (doar ultima din serie)", **_doc(None, DocumentAnswer))
def delete_invoice(request: Request) -> JSONResponse:
    return _state_change(request, "invoice", "delete")


@router.put("/estimate/cancel", summary="Anulare proforma", **_doc(None, DocumentAnswer))
def cancel_estimate(request: Request) -> JSONResponse:
    return _state_change(request, "proforma", "cancel")


@router.put("/estimate/restore", summary="Restaurare proforma anulata", **_doc(None, DocumentAnswer))
def restore_estimate(request: Request) -> JSONResponse:
    return _state_change(request, "proforma", "restore")


@router.delete("/estimate", summary="Stergere proforma (doar ultima din serie)", **_doc(None, DocumentAnswer))
def delete_estimate(request: Request) -> JSONResponse:
    return _state_change(request, "proforma", "delete")


@router.put("/invoice/issue", summary="Emitere ciorna (extensie punte)", **_doc(None, DocumentAnswerV2))
def issue_draft_route(request: Request) -> JSONResponse:
    """Give a draft (``isDraft``) its number. punte extension; SmartBill does this in its web interface."""
    caller = authenticate(request)
    cif = authorize(caller, request.query_params.get("cif"), CIF_MISSING, V2)
    raw_id = request.query_params.get("documentId", "")
    if not raw_id.isdigit():
        raise ApiError(400, "documentId trebuie specificat.", V2)

    def op(session: Session, company: Company) -> dict[str, Any]:
        doc = session.get(Document, int(raw_id))
        if doc is None or doc.company_id != company.id:
            raise ApiError(400, f"Documentul {raw_id} nu a fost gasit!", V2)
        issue_draft(session, company, doc, actor=caller.email)
        return _answer(request, Issued(doc), v2=True)

    return run_write(request, caller, cif, f"issue|{raw_id}".encode(), op, V2)


def _pdf(request: Request, kind: str) -> Response:
    caller = authenticate(request)
    cif = authorize(caller, request.query_params.get("cif"), CIF_MISSING)
    series, number = _series_param(request), request.query_params.get("number")
    word = "facturii" if kind == "invoice" else "proformei"
    if not series:
        raise ApiError(400, f"Seria {word} trebuie specificata!")
    if not number:
        raise ApiError(400, f"Numarul {word} trebuie specificat!")

    def op(session: Session, company: Company) -> tuple[bytes, str]:
        doc = operations.require_document(session, company, kind, series, number)
        return render_pdf(operations.read_model(session, doc), view_url=_view_url(request, doc)), doc.series_name + (doc.number_text or "")

    data, label = run_read(request, cif, op, {})
    return Response(data, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{label}.pdf"'})


@router.get("/invoice/pdf", summary="Vizualizare factura (PDF)", responses={200: {"content": {"application/pdf": {}}}})
def invoice_pdf(request: Request) -> Response:
    return _pdf(request, "invoice")


@router.get("/estimate/pdf", summary="Vizualizare proforma (PDF)", responses={200: {"content": {"application/pdf": {}}}})
def estimate_pdf(request: Request) -> Response:
    return _pdf(request, "proforma")


@router.get("/invoice/paymentstatus", summary="Stare incasare factura", **_doc(None, PaymentStatusAnswer))
def invoice_payment_status(request: Request) -> JSONResponse:
    caller = authenticate(request)
    cif = authorize(caller, request.query_params.get("cif"), CIF_MISSING)
    series, number = _series_param(request), request.query_params.get("number")

    def op(session: Session, company: Company) -> dict[str, Any]:
        doc, paid = operations.payment_status(session, company, series, number)
        unpaid = doc.gross_total - paid
        return PaymentStatusAnswer(
            number=doc.number_text or "", series=doc.series_name, invoiceTotalAmount=doc.gross_total,
            paidAmount=paid, unpaidAmount=unpaid, paid=unpaid <= 0,
        ).model_dump(mode="json")

    return JSONResponse(run_read(request, cif, op, {}))


@router.get("/series", summary="Interogare serii documente", **_doc(None, SeriesAnswer))
def list_series(request: Request) -> JSONResponse:
    caller = authenticate(request)
    cif = authorize(caller, request.query_params.get("cif"), CIF_MISSING)
    type_ = request.query_params.get("type") or None

    def op(session: Session, company: Company) -> dict[str, Any]:
        rows = companies_svc.list_series(session, company, type_)
        items = [SeriesItem(name=s.name, nextNumber=s.format(s.next_number), type=s.type) for s in rows]
        return SeriesAnswer(list=items).model_dump(mode="json")

    return JSONResponse(run_read(request, cif, op, {}))


@router.get("/tax", summary="Interogare cote TVA", **_doc(None, TaxAnswer))
def list_taxes(request: Request) -> JSONResponse:
    caller = authenticate(request)
    cif = authorize(caller, request.query_params.get("cif"), CIF_MISSING)

    def op(session: Session, company: Company) -> dict[str, Any]:
        rates = companies_svc.rates_in_force(session, company, today_in_romania())
        return TaxAnswer(taxes=[TaxItem(name=r.name, percentage=r.percentage) for r in rates]).model_dump(mode="json")

    return JSONResponse(run_read(request, cif, op, {}))


@router.get("/company/mu", summary="Unitati de masura", **_doc(None, MeasuringUnitsAnswer))
def list_units(request: Request) -> JSONResponse:
    caller = authenticate(request)
    cif = authorize(caller, request.query_params.get("cif"), CIF_MISSING)

    def op(session: Session, company: Company) -> dict[str, Any]:
        return MeasuringUnitsAnswer(mu=companies_svc.measuring_units(session, company)).model_dump(mode="json")

    return JSONResponse(run_read(request, cif, op, {}))
