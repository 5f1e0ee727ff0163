"""Recurring invoices: schedules per client, run by the worker, each due occurrence issued once.

A schedule repeats a stored SmartBill invoice request body (the template) every N days, weeks,
months or years (``punte.domain.periods.Recurrence``). The worker's periodic task
``recurring.enqueue_due`` records each due occurrence (``recurring_occurrences``, unique per schedule
and date) and enqueues one keyed job for it (key = schedule id + occurrence date), under the
schedule's row lock; the job ``recurring.issue`` issues the invoice and records the result in the
same transaction. Several workers, a crash or a long downtime therefore still give exactly one
invoice per occurrence: missed occurrences are caught up once, when the worker runs again.

Every invoice is dated the day it is actually issued (never back-dated to a missed occurrence), so
numbers stay in date order in the series and the e-Factura deadline runs from a true date; the
occurrence date is kept in the history. A business refusal (quota reached, rate missing) is
recorded on the occurrence as its error and not retried.

Time comes from the worker's ``services["clock"]`` (a callable returning an aware datetime), so
tests drive the calendar without sleeping.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from punte.domain.documents import INVOICE
from punte.domain.errors import DomainError, NotFound
from punte.domain.identifiers import cif_digits
from punte.domain.periods import UNITS, Recurrence
from punte.smartbill.wire import InvoiceRequest
from punte.store.db import Database
from punte.store.models import Company, Document
from punte.store.models_operations import RecurringInvoice, RecurringOccurrence
from punte.worker.queue import enqueue
from punte.worker.runner import JobContext, handler, periodic

from . import events
from .issuing import create_document, ensure_reportable, parse_date
from .operations import line_of
from .quotas import local_day

JOB_KIND = "recurring.issue"
Clock = Callable[[], datetime]


def _describe_validation(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(piece) for piece in err["loc"])
        parts.append(f"{where}: {err['msg'].removeprefix('Value error, ')}")
    return "Sablonul facturii recurente nu este valid: " + "; ".join(parts)


@dataclass(frozen=True)
class ScheduleData:
    """What a new schedule needs; ``template`` is a SmartBill ``POST /invoice`` body."""

    template: dict[str, Any]
    every: int = 1
    unit: str = "month"
    start: date | None = None
    end: date | None = None
    day_of_month: int | None = None
    due_days: int | None = None
    name: str | None = None


@dataclass(frozen=True)
class OccurrenceView:
    date: date
    status: str  # queued | issued | failed | skipped
    series: str | None
    number: str | None
    document_id: int | None
    error: str | None


@dataclass
class ScheduleView:
    id: int
    name: str | None
    client: str
    every: int
    unit: str
    day_of_month: int | None
    start: date
    end: date | None
    due_days: int | None
    status: str
    next_occurrence: date | None
    stopped_reason: str | None
    history: list[OccurrenceView] = field(default_factory=list)


def recurrence_of(schedule: RecurringInvoice) -> Recurrence:
    return Recurrence(schedule.every, schedule.unit, schedule.start_date, schedule.end_date, schedule.day_of_month)


def _recurrence(data: ScheduleData, start: date) -> Recurrence:
    if data.unit not in UNITS:
        raise DomainError("Frecventa recurentei trebuie sa fie una din: day, week, month, year.")
    if data.every < 1 or data.every > 1000:
        raise DomainError("Intervalul recurentei trebuie sa fie intre 1 si 1000.")
    if data.day_of_month is not None:
        if data.unit not in ("month", "year"):
            raise DomainError("Ziua din luna se poate alege doar pentru recurente lunare sau anuale.")
        if not 1 <= data.day_of_month <= 31:
            raise DomainError("Ziua din luna trebuie sa fie intre 1 si 31 (31: ultima zi a lunii).")
    if data.end is not None and data.end < start:
        raise DomainError("Data de sfarsit a recurentei nu poate fi anterioara datei de inceput.")
    return Recurrence(data.every, data.unit, start, data.end, data.day_of_month)


def _template(company: Company, raw: dict[str, Any], due_days: int | None) -> tuple[dict[str, Any], int | None]:
    """Check a template body and keep it without its dates (set at each issue)."""
    if not isinstance(raw, dict):
        raise DomainError("Sablonul facturii recurente trebuie sa fie un obiect JSON (corpul POST /invoice).")
    try:
        req = InvoiceRequest.model_validate(raw)
    except ValidationError as exc:
        raise DomainError(_describe_validation(exc)) from exc
    if req.companyVatCode and cif_digits(req.companyVatCode) != company.cif:
        raise DomainError("CIF-ul firmei din sablon ('companyVatCode') nu este al firmei recurentei.")
    if req.isDraft:
        raise DomainError("O factura recurenta nu poate fi ciorna (isDraft).")
    if req.useEstimateDetails or req.estimate is not None:
        raise DomainError("O factura recurenta nu poate factura o proforma (estimate).")
    if due_days is None and req.dueDate:
        issued = parse_date(req.issueDate)
        due = parse_date(req.dueDate)
        if issued is not None and due is not None:
            due_days = (due - issued).days
    if due_days is not None and not 0 <= due_days <= 3650:
        raise DomainError("Termenul de plata (dueDays) trebuie sa fie intre 0 si 3650 de zile.")
    kept = {k: v for k, v in raw.items() if k not in ("issueDate", "dueDate", "deliveryDate", "isDraft")}
    kept["companyVatCode"] = company.cif
    return kept, due_days


def _request(schedule: RecurringInvoice, issue_day: date, *, draft: bool = False) -> InvoiceRequest:
    body = dict(schedule.template)
    body["issueDate"] = issue_day.isoformat()
    if schedule.due_days is not None:
        body["dueDate"] = (issue_day + timedelta(days=schedule.due_days)).isoformat()
    body["isDraft"] = draft
    if draft:
        body.pop("payment", None)
    return InvoiceRequest.model_validate(body)


class _DryRun(Exception):  # noqa: N818 - control flow: roll back the trial issue
    pass


def create_schedule(
    session: Session, company: Company, data: ScheduleData, *, actor: str, today: date
) -> RecurringInvoice:
    """Store a new active schedule after a trial issue of its template (as a draft, rolled back)."""
    start = data.start or today
    if start < today:
        raise DomainError("Data de inceput a recurentei nu poate fi in trecut.")
    rec = _recurrence(data, start)
    template, due_days = _template(company, data.template, data.due_days)
    name = (data.name or "").strip() or None
    if name is not None and len(name) > 200:
        raise DomainError("Numele recurentei poate avea cel mult 200 de caractere.")
    schedule = RecurringInvoice(
        company_id=company.id, name=name, client_name=str((template.get("client") or {}).get("name") or "").strip(),
        every=data.every, unit=data.unit, day_of_month=data.day_of_month, start_date=start, end_date=data.end,
        due_days=due_days, template=template, status="active", not_before=start, created_by=actor,
    )
    if InvoiceRequest.model_validate(template).sendEmail:
        from .email import NOT_CONFIGURED_AT_ISSUE, get_smtp  # drafts are not e-mailed, so check it here

        if get_smtp(session, company) is None:
            raise DomainError(NOT_CONFIGURED_AT_ISSUE)
    first = rec.next_on_or_after(start)
    if first is None:
        raise DomainError("Recurenta nu are nicio factura de emis intre data de inceput si cea de sfarsit.")
    try:
        with session.begin_nested():
            trial = create_document(session, company, _request(schedule, first, draft=True), kind=INVOICE,
                                    actor=actor, today=first).document
            ensure_reportable(trial, [line_of(ln) for ln in trial.lines])
            raise _DryRun
    except _DryRun:
        pass
    session.add(schedule)
    session.flush()
    events.record(
        session, company_id=company.id, entity="recurring_invoice", entity_id=schedule.id, action="created",
        actor=actor, data={
            "name": name, "client": schedule.client_name, "every": data.every, "unit": data.unit,
            "day_of_month": data.day_of_month, "start": start, "end": data.end, "due_days": due_days,
            "template": template,
        },
    )
    return schedule


def require_schedule(session: Session, company: Company, schedule_id: int, *, lock: bool = False) -> RecurringInvoice:
    stmt = select(RecurringInvoice).where(RecurringInvoice.id == schedule_id, RecurringInvoice.company_id == company.id)
    if lock:
        stmt = stmt.with_for_update()
    found = session.scalar(stmt)
    if found is None:
        raise NotFound(f"Factura recurenta {schedule_id} nu a fost gasita.")
    return found


def _set_status(session: Session, schedule: RecurringInvoice, status: str, *, actor: str, action: str,
                data: dict[str, Any] | None = None) -> None:
    schedule.status = status
    schedule.updated_at = datetime.now(UTC)
    events.record(session, company_id=schedule.company_id, entity="recurring_invoice", entity_id=schedule.id,
                  action=action, actor=actor, data=data or {})


def pause(session: Session, company: Company, schedule_id: int, *, actor: str) -> RecurringInvoice:
    schedule = require_schedule(session, company, schedule_id, lock=True)
    if schedule.status != "active":
        raise DomainError(f"Factura recurenta {schedule.id} nu este activa (stare: {schedule.status}).")
    _set_status(session, schedule, "paused", actor=actor, action="paused")
    return schedule


def resume(session: Session, company: Company, schedule_id: int, *, actor: str, today: date) -> RecurringInvoice:
    """Resume a paused schedule; occurrences that fell during the pause are not issued."""
    schedule = require_schedule(session, company, schedule_id, lock=True)
    if schedule.status == "stopped":
        raise DomainError(
            f"Factura recurenta {schedule.id} a fost oprita si nu poate fi repornita; adaugati-o din nou."
        )
    if schedule.status != "paused":
        raise DomainError(f"Factura recurenta {schedule.id} nu este suspendata (stare: {schedule.status}).")
    schedule.not_before = max(today, schedule.start_date)
    _set_status(session, schedule, "active", actor=actor, action="resumed", data={"from": schedule.not_before})
    return schedule


def stop(
    session: Session, company: Company, schedule_id: int, *, actor: str, reason: str | None = None
) -> RecurringInvoice:
    """Stop for good (a stopped schedule is set up again, never restarted)."""
    schedule = require_schedule(session, company, schedule_id, lock=True)
    if schedule.status in ("stopped", "finished"):
        raise DomainError(f"Factura recurenta {schedule.id} este deja oprita (stare: {schedule.status}).")
    schedule.stopped_reason = reason
    _set_status(session, schedule, "stopped", actor=actor, action="stopped", data={"reason": reason})
    return schedule


def stop_all(session: Session, company: Company, *, actor: str, reason: str) -> list[int]:
    """Stop every active or paused schedule of the company (a VAT-payer status change does this)."""
    rows = list(session.scalars(
        select(RecurringInvoice)
        .where(RecurringInvoice.company_id == company.id, RecurringInvoice.status.in_(("active", "paused")))
        .order_by(RecurringInvoice.id)
        .with_for_update()
    ))
    for schedule in rows:
        schedule.stopped_reason = reason
        _set_status(session, schedule, "stopped", actor=actor, action="stopped", data={"reason": reason})
    return [s.id for s in rows]


def _first_unscheduled(schedule: RecurringInvoice) -> date:
    if schedule.last_scheduled is None:
        return schedule.not_before
    return max(schedule.not_before, schedule.last_scheduled + timedelta(days=1))


def next_occurrence(schedule: RecurringInvoice) -> date | None:
    if schedule.status not in ("active",):
        return None
    return recurrence_of(schedule).next_on_or_after(_first_unscheduled(schedule))


def _view(session: Session, schedule: RecurringInvoice, *, with_history: bool) -> ScheduleView:
    view = ScheduleView(
        id=schedule.id, name=schedule.name, client=schedule.client_name, every=schedule.every, unit=schedule.unit,
        day_of_month=schedule.day_of_month, start=schedule.start_date, end=schedule.end_date,
        due_days=schedule.due_days, status=schedule.status, next_occurrence=next_occurrence(schedule),
        stopped_reason=schedule.stopped_reason,
    )
    if with_history:
        rows = session.scalars(
            select(RecurringOccurrence).where(RecurringOccurrence.schedule_id == schedule.id)
            .order_by(RecurringOccurrence.occurrence_date)
        )
        view.history = [
            OccurrenceView(r.occurrence_date, r.status, r.series_name, r.number_text, r.document_id, r.error)
            for r in rows
        ]
    return view


def list_schedules(session: Session, company: Company) -> list[ScheduleView]:
    rows = session.scalars(
        select(RecurringInvoice).where(RecurringInvoice.company_id == company.id).order_by(RecurringInvoice.id)
    )
    return [_view(session, s, with_history=False) for s in rows]


def schedule_view(session: Session, company: Company, schedule_id: int) -> ScheduleView:
    return _view(session, require_schedule(session, company, schedule_id), with_history=True)


# -- "repeat this invoice" (the dashboard's way to set up a schedule) -------------------------------
def _text(value: Decimal | None) -> str | None:
    return None if value is None else format(value.normalize(), "f")  # PostgreSQL keeps the scale


def template_from_invoice(session: Session, company: Company, document_id: int) -> dict[str, Any]:
    """The template that issues an existing invoice again: its series, client, lines, currency and texts.

    Dates, payment and exchange rate are left out on purpose: every occurrence gets its own (the rate of
    its issue day). Amounts are kept as decimal text, so the stored template never goes through a float.
    """
    doc = session.get(Document, document_id)
    if doc is None or doc.company_id != company.id:
        raise NotFound(f"Factura {document_id} nu a fost gasita.")
    label = f"{doc.series_name}{doc.number_text or ''}"
    if doc.kind != INVOICE:
        raise DomainError(f"Documentul {label} nu este o factura; doar o factura emisa se poate repeta.")
    if doc.status != "issued":
        raise DomainError(f"Factura {label} nu este emisa (stare: {doc.status}); doar o factura emisa se poate repeta.")
    if doc.reverses_id is not None:
        raise DomainError(f"Factura {label} este o factura storno si nu se poate repeta.")
    buyer = doc.buyer
    client = {
        "name": buyer.get("name"), "vatCode": buyer.get("cif"), "code": buyer.get("code"),
        "regCom": buyer.get("reg_com"), "address": buyer.get("address"), "city": buyer.get("city"),
        "county": buyer.get("county"), "country": buyer.get("country"), "email": buyer.get("email"),
        "phone": buyer.get("phone"), "contact": buyer.get("contact"), "iban": buyer.get("iban"),
        "bank": buyer.get("bank"), "isTaxPayer": bool(buyer.get("is_tax_payer")), "saveToDb": False,
    }
    products: list[dict[str, Any]] = []
    for ln in doc.lines:
        common = {"name": ln.name, "measuringUnitName": ln.unit, "isTaxIncluded": ln.tax_included,
                  "taxName": ln.vat_name, "taxPercentage": _text(ln.vat_percentage),
                  "translatedName": ln.translated_name, "translatedMeasuringUnit": ln.translated_unit}
        if ln.is_discount:
            products.append({**common, "isDiscount": True, "numberOfItems": ln.discount_items,
                             "discountType": 2 if ln.discount_percentage is not None else 1,
                             "discountPercentage": _text(ln.discount_percentage),
                             "discountValue": _text(-(ln.entered_price or ln.unit_price))})
        else:
            products.append({**common, "code": ln.code, "productDescription": ln.description,
                             "currency": ln.entered_currency or doc.currency, "quantity": _text(ln.quantity),
                             "price": _text(ln.entered_price if ln.entered_price is not None else ln.unit_price),
                             "warehouseName": ln.warehouse, "isService": ln.is_service})
    body: dict[str, Any] = {
        "companyVatCode": company.cif, "seriesName": doc.series_name, "currency": doc.currency,
        "language": doc.language, "precision": doc.precision, "mentions": doc.details.get("mentions"),
        "observations": doc.details.get("observations"), "useIntraCif": bool(doc.details.get("useIntraCif")),
        "client": client, "products": products,
    }
    return _without_none(body)


def _without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value


def end_after(every: int, unit: str, start: date, day_of_month: int | None, count: int) -> date:
    """The day of the ``count``-th occurrence: a schedule of ``count`` invoices ends there.

    Occurrences skipped while the schedule is paused still count, as they would on a calendar.
    """
    if not 1 <= count <= 1000:
        raise DomainError("Numarul de facturi al recurentei trebuie sa fie intre 1 si 1000.")
    rec = _recurrence(ScheduleData(template={}, every=every, unit=unit, day_of_month=day_of_month), start)
    return rec.occurrence(count - 1)


def recent_invoices(session: Session, company: Company, per_schedule: int = 3) -> dict[int, list[OccurrenceView]]:
    """{schedule id: its last ``per_schedule`` issued invoices, newest first} for the company's list."""
    rows = session.scalars(
        select(RecurringOccurrence)
        .where(RecurringOccurrence.company_id == company.id, RecurringOccurrence.status == "issued")
        .order_by(RecurringOccurrence.occurrence_date.desc(), RecurringOccurrence.id.desc())
    )
    found: dict[int, list[OccurrenceView]] = {}
    for r in rows:
        kept = found.setdefault(r.schedule_id, [])
        if len(kept) < per_schedule:
            kept.append(OccurrenceView(r.occurrence_date, r.status, r.series_name, r.number_text, r.document_id,
                                       r.error))
    return found


# -- the worker's side ------------------------------------------------------------------------------
def queue_due(session: Session, schedule_id: int, today: date) -> list[date]:
    """Record and enqueue the schedule's occurrences due by ``today`` not yet queued (idempotent)."""
    schedule = session.scalar(select(RecurringInvoice).where(RecurringInvoice.id == schedule_id).with_for_update())
    if schedule is None or schedule.status != "active":
        return []
    rec = recurrence_of(schedule)
    first = _first_unscheduled(schedule)
    due = rec.between(first, today)
    for day in due:
        occurrence = RecurringOccurrence(
            schedule_id=schedule.id, company_id=schedule.company_id, occurrence_date=day, status="queued"
        )
        session.add(occurrence)
        session.flush()
        enqueue(
            session, JOB_KIND, {"occurrence_id": occurrence.id}, company_id=schedule.company_id,
            key=f"{schedule.id}:{day.isoformat()}",
        )
    if due:
        schedule.last_scheduled = due[-1]
    if rec.next_on_or_after(max(first, today + timedelta(days=1))) is None:
        _set_status(session, schedule, "finished", actor="worker", action="finished")
    return due


def issue_occurrence(session: Session, occurrence_id: int, *, today: date) -> RecurringOccurrence | None:
    """Issue the invoice of one queued occurrence, once; the result is written on the occurrence."""
    occurrence = session.scalar(
        select(RecurringOccurrence).where(RecurringOccurrence.id == occurrence_id).with_for_update()
    )
    if occurrence is None or occurrence.status != "queued":
        return occurrence
    schedule = session.get(RecurringInvoice, occurrence.schedule_id)
    assert schedule is not None
    when = datetime.now(UTC)
    label = occurrence.occurrence_date.isoformat()
    if schedule.status in ("paused", "stopped"):
        occurrence.status = "skipped"
        occurrence.error = (
            "Factura recurenta era suspendata." if schedule.status == "paused"
            else f"Factura recurenta a fost oprita. {schedule.stopped_reason or ''}".strip()
        )
        occurrence.finished_at = when
        events.record(session, company_id=schedule.company_id, entity="recurring_invoice", entity_id=schedule.id,
                      action="occurrence_skipped", actor="worker", data={"date": label, "reason": occurrence.error})
        return occurrence
    company = session.get(Company, schedule.company_id)
    assert company is not None
    try:
        with session.begin_nested():
            issued = create_document(
                session, company, _request(schedule, today), kind=INVOICE, actor=f"recurring:{schedule.id}",
                today=today,
            )
    except DomainError as exc:
        occurrence.status = "failed"
        occurrence.error = exc.text
        occurrence.finished_at = when
        events.record(session, company_id=schedule.company_id, entity="recurring_invoice", entity_id=schedule.id,
                      action="occurrence_failed", actor="worker", data={"date": label, "error": exc.text})
        return occurrence
    doc = issued.document
    occurrence.status = "issued"
    occurrence.document_id = doc.id
    occurrence.series_name = doc.series_name
    occurrence.number_text = doc.number_text
    occurrence.finished_at = when
    events.record(
        session, company_id=schedule.company_id, entity="recurring_invoice", entity_id=schedule.id,
        action="occurrence_issued", actor="worker",
        data={"date": label, "document_id": doc.id, "invoice": f"{doc.series_name}{doc.number_text}"},
    )
    return occurrence


def _today(services: dict[str, Any]) -> date:
    clock: Clock | None = services.get("clock")
    return local_day(clock() if clock is not None else None)


def _needs_work(schedule: RecurringInvoice, today: date) -> bool:
    """An occurrence is due, or the schedule has ended (checked without a write transaction)."""
    upcoming = recurrence_of(schedule).next_on_or_after(_first_unscheduled(schedule))
    return upcoming is None or upcoming <= today


def enqueue_due(db: Database, today: date) -> int:
    """Queue every active schedule's due occurrences; one transaction per schedule."""
    with db.session() as session:
        active = session.scalars(select(RecurringInvoice).where(RecurringInvoice.status == "active"))
        ids = [s.id for s in active if _needs_work(s, today)]
    queued = 0
    for schedule_id in ids:
        with db.session(write=True) as session:
            queued += len(queue_due(session, schedule_id, today))
    return queued


@periodic("recurring.enqueue_due", 60)
def _periodic_enqueue(db: Database, _settings: Any, services: dict[str, Any]) -> None:
    enqueue_due(db, _today(services))


@handler(JOB_KIND)
def _issue_job(ctx: JobContext) -> None:
    with ctx.db.session(write=True) as session:
        issue_occurrence(session, int(ctx.job.payload["occurrence_id"]), today=_today(ctx.services))


__all__ = [
    "JOB_KIND", "OccurrenceView", "ScheduleData", "ScheduleView", "create_schedule", "end_after", "enqueue_due",
    "recent_invoices", "template_from_invoice",
    "issue_occurrence", "list_schedules", "next_occurrence", "pause", "queue_due", "recurrence_of", "resume",
    "schedule_view", "stop", "stop_all",
]
