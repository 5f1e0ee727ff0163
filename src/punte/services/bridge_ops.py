"""What operators do with the bridge's inbox: list events with their outcome, correct data and retry."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from punte.domain.errors import DomainError
from punte.providers.base import BUYER_FIELDS, sale_to_json
from punte.store.db import Database
from punte.store.models import Company, Document, Job
from punte.store.models_bridge import BridgeInbox, BridgePayment
from punte.worker import queue

from . import events
from .bridge_sale import combined_sale

JOB_PROCESS = "bridge.process"  # the same kind as punte.services.bridge.JOB_PROCESS (that module imports this one)


def _label(document: Document | None) -> str:
    return f"{document.series_name}{document.number_text}" if document is not None else "?"


@dataclass(frozen=True)
class EventRow:
    id: int
    provider: str
    event_id: str
    event_type: str
    received_at: datetime
    status: str
    outcome: str | None
    payment_status: str | None
    document: str | None
    problems: list[dict[str, Any]]


def waiting_deliveries(db: Database, company_id: int, provider: str | None = None) -> int:
    """Deliveries of the company (of one provider, or of all) acknowledged into SQLite's journal and not yet
    moved into the inbox by a worker (:mod:`punte.store.journal`); 0 on PostgreSQL."""
    counts = db.journal.waiting(company_id) if db.journal is not None else {}
    return counts.get(provider, 0) if provider else sum(counts.values())


def list_events(session: Session, company: Company, *, provider: str | None = None, status: str | None = None,
                limit: int = 50) -> list[EventRow]:
    stmt = select(BridgeInbox, BridgePayment).outerjoin(BridgePayment, BridgePayment.id == BridgeInbox.payment_id)
    stmt = stmt.where(BridgeInbox.company_id == company.id)
    if provider:
        stmt = stmt.where(BridgeInbox.provider == provider)
    if status:
        stmt = stmt.where(BridgeInbox.status == status)
    stmt = stmt.order_by(BridgeInbox.id.desc()).limit(limit)
    rows = []
    for inbox, payment in session.execute(stmt).all():
        document = None
        if payment is not None:
            if payment.remote_number:
                document = f"{payment.remote_series}{payment.remote_number} (SmartBill)"
            elif payment.document_id or payment.linked_document_id:
                doc = session.get(Document, payment.document_id or payment.linked_document_id)
                document = _label(doc) if doc else None
        rows.append(EventRow(
            id=inbox.id, provider=inbox.provider, event_id=inbox.event_id, event_type=inbox.event_type,
            received_at=inbox.received_at, status=inbox.status, outcome=inbox.outcome,
            payment_status=payment.status if payment else None, document=document,
            problems=list((inbox.detail or {}).get("problems") or []),
        ))
    return rows


def find_event(session: Session, company: Company, ref: str) -> BridgeInbox:
    """An inbox event by punte's id or the provider's event id."""
    stmt = select(BridgeInbox).where(BridgeInbox.company_id == company.id)
    row = None
    if ref.isdigit():
        row = session.scalar(stmt.where(BridgeInbox.id == int(ref)))
    if row is None:
        row = session.scalar(stmt.where(BridgeInbox.event_id == ref))
    if row is None:
        raise DomainError(f"Evenimentul {ref} nu a fost gasit.")
    return row


def find_event_any(session: Session, ref: str) -> BridgeInbox:
    """An inbox event of any company, by punte's id or (when it names one event only) the provider's id."""
    if ref.isdigit():
        row = session.get(BridgeInbox, int(ref))
        if row is not None:
            return row
    rows = list(session.scalars(select(BridgeInbox).where(BridgeInbox.event_id == ref).limit(2)))
    if not rows:
        raise DomainError(f"Evenimentul {ref} nu a fost gasit.")
    if len(rows) > 1:
        raise DomainError(f"Evenimentul {ref} exista la mai multe firme; indicati --cif.")
    return rows[0]


def prepare_retry(session: Session, company: Company, ref: str, overrides: Mapping[str, str], *,
                  actor: str) -> int:
    """Record corrections for the event's payment and make the event processable again; returns its id."""
    row = find_event(session, company, ref)
    bad = [k for k in overrides if k not in BUYER_FIELDS]
    if bad:
        allowed = ", ".join(f"buyer.{f}" for f in BUYER_FIELDS)
        raise DomainError(f"Campuri necunoscute: {', '.join(bad)} (se pot corecta: {allowed}).")
    if row.payment_id is not None:
        payment = session.get(BridgePayment, row.payment_id)
        if payment is not None:
            if overrides:
                payment.overrides = {**(payment.overrides or {}), **overrides}
            if payment.status == "failed":
                payment.status = "collecting"
            elif payment.status == "sending":  # SmartBill did not answer for long: try the call again
                company_row = session.get(Company, payment.company_id)
                assert company_row is not None
                from .bridge import _remote_job

                _remote_job(session, company_row, payment, "invoice")
    row.status = "received"
    events.record(session, company_id=company.id, entity="bridge_inbox", entity_id=row.id, action="retry",
                  actor=actor, data={"event_id": row.event_id, "overrides": dict(overrides)})
    return row.id


def requeue(session: Session, inbox_id: int) -> None:
    row = session.get(BridgeInbox, inbox_id)
    assert row is not None
    job = session.scalar(select(Job).where(Job.kind == JOB_PROCESS,
                                           Job.key == f"{row.provider}:{row.company_id}:{row.event_id}"))
    if job is None:
        queue.enqueue(session, JOB_PROCESS, {"inbox_id": inbox_id}, company_id=row.company_id,
                      key=f"{row.provider}:{row.company_id}:{row.event_id}")
    else:
        queue.requeue(session, job.id)


def payment_summary(session: Session, payment_id: int) -> dict[str, Any]:
    payment = session.get(BridgePayment, payment_id)
    if payment is None:
        return {}
    sale = combined_sale(payment.sources or {}, payment.overrides)
    return {"status": payment.status, "amount": payment.amount, "currency": payment.currency,
            "refunded": payment.refunded, "sale": sale_to_json(sale) if sale else None}


__all__ = ["EventRow", "find_event", "find_event_any", "list_events", "payment_summary", "prepare_retry", "requeue",
           "waiting_deliveries"]
