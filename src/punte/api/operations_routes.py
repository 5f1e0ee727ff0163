"""punte extensions under ``/SBORO/api``: the document quota and recurring invoices.

SmartBill has no such endpoints; they use the same HTTP Basic auth, JSON and ``errorText`` answers.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from punte.services import quotas, recurring
from punte.services.issuing import parse_date, today_in_romania
from punte.smartbill.wire_operations import (
    OccurrenceItem,
    QuotaAnswer,
    RecurringAnswer,
    RecurringItem,
    RecurringListAnswer,
    RecurringRequest,
)
from punte.store.models import Company

from .context import authenticate, authorize, json_body, off_loop, run_read, run_write

router = APIRouter(prefix="/SBORO/api", tags=["punte extensions: operations"])

CIF_MISSING = "Ciful firmei trebuie specificat!"
COMPANY_MISSING = "CIF-ul firmei ('companyVatCode') trebuie specificat"
ERRORS = {
    400: {"description": "Bad data or forbidden action; errorText says why."},
    401: {"description": "Wrong e-mail/token or no right on the company."},
}


def _body(model: type[RecurringRequest]) -> dict[str, Any]:
    """Routes read the raw body (to answer with errorText), so the request schema is declared here."""
    return {"openapi_extra": {"requestBody": {
        "required": True, "content": {"application/json": {"schema": model.model_json_schema()}},
    }}}


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day is not None else None


@router.get("/quota", summary="Documente emise in perioada curenta a abonamentului (extensie punte)",
            response_model=QuotaAnswer, responses=ERRORS)
def get_quota(request: Request) -> JSONResponse:
    caller = authenticate(request)
    cif = authorize(caller, request.query_params.get("cif"), CIF_MISSING)

    def op(session: Session, company: Company) -> dict[str, Any]:
        st = quotas.status(session, company)
        period = st.period
        return QuotaAnswer(
            plan=st.plan, unlimited=st.limit is None, limit=st.limit, used=st.used, remaining=st.remaining,
            activated=_iso(st.activated_on), periodStart=_iso(period.start if period else None),
            periodEnd=_iso(period.end if period else None),
            nextPeriodStart=_iso(period.next_start if period else None), byKind=st.by_kind,
        ).model_dump(mode="json")

    return JSONResponse(run_read(request, cif, op, {}))


def _item(view: recurring.ScheduleView, *, detail: bool = True) -> RecurringItem:
    """A schedule on the wire; the detail (``RecurringAnswer``) carries its history."""
    fields: dict[str, Any] = {
        "id": view.id, "name": view.name, "client": view.client, "every": view.every, "unit": view.unit,
        "dayOfMonth": view.day_of_month, "startDate": view.start.isoformat(), "endDate": _iso(view.end),
        "dueDays": view.due_days, "status": view.status, "nextOccurrence": _iso(view.next_occurrence),
        "stoppedReason": view.stopped_reason,
    }
    if not detail:
        return RecurringItem(**fields)
    history = [
        OccurrenceItem(date=o.date.isoformat(), status=o.status, series=o.series, number=o.number,
                       documentId=o.document_id, error=o.error)
        for o in view.history
    ]
    return RecurringAnswer(**fields, history=history)


@router.post("/recurring", summary="Adaugare factura recurenta (extensie punte)",
             response_model=RecurringAnswer, responses=ERRORS, **_body(RecurringRequest))
async def add_recurring(request: Request) -> JSONResponse:
    return await off_loop(request, lambda raw: _add_recurring(request, raw))


def _add_recurring(request: Request, raw: bytes) -> JSONResponse:
    caller = authenticate(request)
    req = json_body(request, raw, RecurringRequest)
    template = req.invoice
    cif = authorize(caller, req.companyVatCode or (template or {}).get("companyVatCode"), COMPANY_MISSING)

    def op(session: Session, company: Company) -> dict[str, Any]:
        today = today_in_romania()
        data = recurring.ScheduleData(
            template=template if template is not None else {}, every=req.every, unit=req.unit,
            start=parse_date(req.startDate), end=parse_date(req.endDate), day_of_month=req.dayOfMonth,
            due_days=req.dueDays, name=req.name,
        )
        schedule = recurring.create_schedule(session, company, data, actor=caller.email, today=today)
        return _item(recurring.schedule_view(session, company, schedule.id)).model_dump(mode="json")

    return run_write(request, caller, cif, raw, op, {})


@router.get("/recurring", summary="Lista facturilor recurente (extensie punte)", response_model=RecurringListAnswer,
         responses=ERRORS)
def list_recurring(request: Request) -> JSONResponse:
    caller = authenticate(request)
    cif = authorize(caller, request.query_params.get("cif"), CIF_MISSING)

    def op(session: Session, company: Company) -> dict[str, Any]:
        views = recurring.list_schedules(session, company)
        return RecurringListAnswer(list=[_item(v, detail=False) for v in views]).model_dump(mode="json")

    return JSONResponse(run_read(request, cif, op, {}))


@router.get("/recurring/{schedule_id}", summary="Factura recurenta si istoricul ei (extensie punte)",
            response_model=RecurringAnswer, responses=ERRORS)
def get_recurring(request: Request, schedule_id: int) -> JSONResponse:
    caller = authenticate(request)
    cif = authorize(caller, request.query_params.get("cif"), CIF_MISSING)

    def op(session: Session, company: Company) -> dict[str, Any]:
        view = recurring.schedule_view(session, company, schedule_id)
        return _item(view).model_dump(mode="json")

    return JSONResponse(run_read(request, cif, op, {}))


def _change(request: Request, schedule_id: int, action: str) -> JSONResponse:
    caller = authenticate(request)
    cif = authorize(caller, request.query_params.get("cif"), CIF_MISSING)

    def op(session: Session, company: Company) -> dict[str, Any]:
        if action == "pause":
            recurring.pause(session, company, schedule_id, actor=caller.email)
        elif action == "resume":
            recurring.resume(session, company, schedule_id, actor=caller.email, today=today_in_romania())
        else:
            recurring.stop(session, company, schedule_id, actor=caller.email)
        return _item(recurring.schedule_view(session, company, schedule_id)).model_dump(mode="json")

    raw = json.dumps({"action": action, "id": schedule_id}).encode()
    return run_write(request, caller, cif, raw, op, {})


@router.put("/recurring/{schedule_id}/pause", summary="Suspendare factura recurenta (extensie punte)",
            response_model=RecurringAnswer, responses=ERRORS)
def pause_recurring(request: Request, schedule_id: int) -> JSONResponse:
    return _change(request, schedule_id, "pause")


@router.put("/recurring/{schedule_id}/resume", summary="Reluare factura recurenta suspendata (extensie punte)",
            response_model=RecurringAnswer, responses=ERRORS)
def resume_recurring(request: Request, schedule_id: int) -> JSONResponse:
    return _change(request, schedule_id, "resume")


@router.put("/recurring/{schedule_id}/stop", summary="Oprire definitiva factura recurenta (extensie punte)",
            response_model=RecurringAnswer, responses=ERRORS)
def stop_recurring(request: Request, schedule_id: int) -> JSONResponse:
    return _change(request, schedule_id, "stop")
