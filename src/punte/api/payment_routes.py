"""SmartBill-compatible payment routes (Incasari), the proforma -> invoices listing, and punte's cash book.

``POST /payment``, ``GET /payment/text``, ``DELETE /payment/chitanta``, ``DELETE /payment/v2`` and
``GET /estimate/invoices`` are SmartBill's. ``PUT /payment/issue`` (issue a draft receipt) and
``/cash/...`` (the cash register) are punte extensions.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from punte.domain.errors import DomainError
from punte.services import cash, estimates, payment_deletes, payments
from punte.services.issuing import parse_date, today_in_romania
from punte.smartbill.wire import (
    CashBalanceAnswer,
    CashMovementItem,
    CashOperationAnswer,
    CashOperationRequest,
    CashRegisterAnswer,
    DocumentAnswer,
    EstimateInvoicesAnswer,
    InvoiceNumber,
    PaymentAnswer,
    PaymentRequest,
    PaymentTextAnswer,
)
from punte.store.models import Company
from punte.store.models_payments import CashMovement

from . import smartbill_routes
from .context import ApiError, authenticate, authorize, json_body, off_loop, run_read, run_write
from .smartbill_routes import CIF_MISSING, COMPANY_MISSING, V1, _doc, _series_param

router = APIRouter(prefix="/SBORO/api", tags=["SmartBill-compatible"])

PAYMENT_SHAPE: dict[str, Any] = {"number": "", "series": "", "url": "", "id": ""}
ESTIMATE_SHAPE: dict[str, Any] = {"areInvoicesCreated": False, "invoices": []}

# the schemas the routes below refer to, next to the invoice ones (app.py puts them in the OpenAPI document)
smartbill_routes.OPENAPI_MODELS.extend([
    PaymentRequest, PaymentAnswer, PaymentTextAnswer, EstimateInvoicesAnswer, CashOperationRequest,
    CashOperationAnswer, CashBalanceAnswer, CashRegisterAnswer,
])


def _query_cif(request: Request, shape: dict[str, Any] | None = None) -> tuple[Any, str]:
    caller = authenticate(request)
    return caller, authorize(caller, request.query_params.get("cif"), CIF_MISSING, shape)


@router.post("/payment", summary="Emitere incasare (chitanta, bon fiscal, card, ordin de plata...)",
             **_doc(PaymentRequest, PaymentAnswer))
async def create_payment(request: Request) -> JSONResponse:
    return await off_loop(request, lambda raw: _create_payment(request, raw))


def _create_payment(request: Request, raw: bytes) -> JSONResponse:
    caller = authenticate(request)
    req = json_body(request, raw, PaymentRequest, PAYMENT_SHAPE)
    cif = authorize(caller, req.companyVatCode, COMPANY_MISSING, PAYMENT_SHAPE)

    def op(session: Session, company: Company) -> dict[str, Any]:
        recorded = payments.create_payment(session, company, req, actor=caller.email)
        return PaymentAnswer(
            message=recorded.fiscal_message, number=recorded.number, series=recorded.series,
            id=str(recorded.payment.id),
        ).model_dump(mode="json")

    return run_write(request, caller, cif, raw, op, PAYMENT_SHAPE)


@router.get("/payment/pdf", summary="Chitanta in format PDF (extensie punte)",
            responses={200: {"content": {"application/pdf": {}}}})
def receipt_pdf(request: Request) -> Response:
    """A receipt (Chitanta) by ``seriesName`` and ``number``, as PDF (SmartBill shows it only in its web app)."""
    from punte.render.pdf import render_pdf
    from punte.services.receipt_view import find_receipt, receipt_document

    _caller, cif = _query_cif(request, V1)
    series, number = _series_param(request), request.query_params.get("number")

    def op(session: Session, company: Company) -> tuple[bytes, str]:
        payment = find_receipt(session, company, series, number)
        return render_pdf(receipt_document(session, company, payment)), f"{payment.series_name}{payment.number_text}"

    data, name = run_read(request, cif, op, {})
    return Response(data, media_type="application/pdf", headers={"Content-Disposition": f'attachment; filename="{name}.pdf"'})


@router.get("/payment/text", summary="Continut bon fiscal (base64)", **_doc(None, PaymentTextAnswer))
def payment_text(request: Request) -> JSONResponse:
    _, cif = _query_cif(request)
    payment_id = request.query_params.get("id")

    def op(session: Session, company: Company) -> dict[str, Any]:
        return PaymentTextAnswer(message=payments.fiscal_text(session, company, payment_id)).model_dump(mode="json")

    return JSONResponse(run_read(request, cif, op, {}))


@router.delete("/payment/chitanta", summary="Stergere chitanta (doar ultima din serie)", **_doc(None, DocumentAnswer))
def delete_receipt(request: Request) -> JSONResponse:
    """The last receipt of a series, by ``seriesName`` and ``number``; or (punte extension) a draft receipt,
    which has no number yet, by the ``id`` its ``POST /payment`` answered."""
    caller, cif = _query_cif(request, V1)
    series, number = _series_param(request), request.query_params.get("number")
    draft_id = request.query_params.get("id")

    def op(session: Session, company: Company) -> dict[str, Any]:
        if draft_id and not number:
            payment = payment_deletes.delete_draft_receipt(session, company, draft_id, actor=caller.email)
            return DocumentAnswer(series=payment.series_name or "").model_dump(mode="json")
        name, text = payment_deletes.delete_receipt(session, company, series, number, actor=caller.email)
        return DocumentAnswer(number=text, series=name).model_dump(mode="json")

    return run_write(request, caller, cif, f"chitanta|{series}|{number}|{draft_id}".encode(), op, V1)


@router.delete("/payment/v2", summary="Stergere alte incasari (dupa factura sau dupa datele incasarii)",
               **_doc(None, DocumentAnswer))
def delete_payment(request: Request) -> JSONResponse:
    q = request.query_params
    caller = authenticate(request)
    cif = authorize(caller, q.get("cif") or q.get("companyVatCode"), CIF_MISSING, V1)
    query = payment_deletes.PaymentQuery(
        payment_type=q.get("paymentType"), invoice_series=q.get("invoiceSeries"), invoice_number=q.get("invoiceNumber"),
        payment_date=q.get("paymentDate"), payment_value=q.get("paymentValue"), client_name=q.get("clientName"),
        client_cif=q.get("clientCif"),
    )

    def op(session: Session, company: Company) -> dict[str, Any]:
        payment = payment_deletes.delete_payment(session, company, query, actor=caller.email)
        return DocumentAnswer(series=query.invoice_series or "", number=query.invoice_number or "",
                              message=f"Incasarea {payment.type} a fost stearsa.").model_dump(mode="json")

    return run_write(request, caller, cif, f"v2|{sorted(q.items())}".encode(), op, V1)


@router.put("/payment/issue", summary="Emitere chitanta ciorna (extensie punte)", **_doc(None, PaymentAnswer))
def issue_draft_receipt(request: Request) -> JSONResponse:
    """Give a draft receipt (``isDraft``) its number. punte extension; SmartBill does this in its web interface."""
    caller, cif = _query_cif(request, PAYMENT_SHAPE)
    payment_id = request.query_params.get("id")

    def op(session: Session, company: Company) -> dict[str, Any]:
        payment = payments.issue_draft_receipt(session, company, payment_id, actor=caller.email)
        recorded = payments.Recorded(payment)
        return PaymentAnswer(number=recorded.number, series=recorded.series, id=str(payment.id)).model_dump(mode="json")

    return run_write(request, caller, cif, f"issue|{payment_id}".encode(), op, PAYMENT_SHAPE)


@router.get("/estimate/invoices", summary="Stare facturare proforma", **_doc(None, EstimateInvoicesAnswer))
def estimate_invoices(request: Request) -> JSONResponse:
    """The invoices made from a proforma. None yet: ``areInvoicesCreated`` false and SmartBill's text in
    ``errorText`` (HTTP 200: it is a state, not a failure)."""
    _, cif = _query_cif(request, ESTIMATE_SHAPE)
    series, number = _series_param(request), request.query_params.get("number")

    def op(session: Session, company: Company) -> dict[str, Any]:
        estimate, invoices = estimates.invoices_from_estimate(session, company, series, number)
        answer = EstimateInvoicesAnswer(
            areInvoicesCreated=bool(invoices),
            invoices=[InvoiceNumber(series=d.series_name, number=d.number_text or "") for d in invoices],
            errorText="" if invoices else estimates.not_invoiced_text(estimate),
        )
        return answer.model_dump(mode="json")

    return JSONResponse(run_read(request, cif, op, ESTIMATE_SHAPE))


# ---- the cash book (punte extension) ---------------------------------------------------------------------------


def _movement(m: CashMovement, balance: Decimal | None = None) -> CashMovementItem:
    return CashMovementItem(
        id=m.id, date=m.day.isoformat(), kind=cash.KIND_LABEL.get(m.kind, m.kind), value=m.amount,
        balance=m.balance_after if balance is None else balance, document=m.document or "", text=m.text or "",
    )


def _date_param(request: Request, name: str, default: date, shape: dict[str, Any]) -> date:
    try:
        day = parse_date(request.query_params.get(name), default=default)
    except DomainError as exc:
        raise ApiError(400, exc.text, shape) from exc
    assert day is not None
    return day


@router.post("/cash/operation", summary="Operatiune de casa manuala: incasare sau plata (extensie punte)",
             **_doc(CashOperationRequest, CashOperationAnswer))
async def cash_operation(request: Request) -> JSONResponse:
    return await off_loop(request, lambda raw: _cash_operation(request, raw))


def _cash_operation(request: Request, raw: bytes) -> JSONResponse:
    caller = authenticate(request)
    req = json_body(request, raw, CashOperationRequest, {})
    cif = authorize(caller, req.companyVatCode, COMPANY_MISSING, {})

    def op(session: Session, company: Company) -> dict[str, Any]:
        day = parse_date(req.issueDate, default=today_in_romania())
        assert day is not None
        movement = cash.manual_operation(
            session, company, type=req.type, value=req.value, currency=req.currency, day=day, text=req.text,
            actor=caller.email,
        )
        currency = (req.currency or "RON").strip().upper()
        return CashOperationAnswer(currency=currency, movement=_movement(movement),
                                   balance=movement.balance_after).model_dump(mode="json")

    return run_write(request, caller, cif, raw, op, {})


@router.get("/cash/balance", summary="Soldul casei (extensie punte)", **_doc(None, CashBalanceAnswer))
def cash_balance(request: Request) -> JSONResponse:
    _, cif = _query_cif(request)
    currency = request.query_params.get("currency")
    day = _date_param(request, "date", today_in_romania(), {})

    def op(session: Session, company: Company) -> dict[str, Any]:
        value = cash.balance(session, company, currency, on=day)
        return CashBalanceAnswer(currency=(currency or "RON").strip().upper(), date=day.isoformat(),
                                 balance=value).model_dump(mode="json")

    return JSONResponse(run_read(request, cif, op, {}))


@router.get("/cash/movements", summary="Registrul de casa intre doua date (extensie punte)",
            **_doc(None, CashRegisterAnswer))
def cash_movements(request: Request) -> JSONResponse:
    _, cif = _query_cif(request)
    today = today_in_romania()
    end = _date_param(request, "to", today, {})
    start = _date_param(request, "from", end.replace(day=1), {})
    currency = request.query_params.get("currency")

    def op(session: Session, company: Company) -> dict[str, Any]:
        rep = cash.report(session, company, start=start, end=end, currency=currency)
        return CashRegisterAnswer(
            currency=rep.currency, dateFrom=rep.start.isoformat(), dateTo=rep.end.isoformat(),
            openingBalance=rep.opening, closingBalance=rep.closing, movements=[_movement(m, b) for m, b in rep.movements],
        ).model_dump(mode="json")

    return JSONResponse(run_read(request, cif, op, {}))
