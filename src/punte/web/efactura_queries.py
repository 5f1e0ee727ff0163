"""Read side of e-Factura for the dashboard: a document's timeline, its attempts and their archives.

Reads only (the state itself comes from ``punte.efactura.anaf.submissions.document_status``); the
resubmission goes through ``submissions.submit``. Nothing here changes a row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from punte.efactura.anaf import submissions
from punte.services import events
from punte.services.anaf_connection import ConnectionStatus, connection_status
from punte.store.models import Company, Document
from punte.store.models_anaf import EfacturaArchive, EfacturaAttempt, EfacturaSubmission


@dataclass(frozen=True)
class TimelineStep:
    at: datetime
    action: str  # a submission state, or resubmitted / reconciled / upload_retry ...
    attempt: int | None
    upload_index: str | None
    actor: str


@dataclass(frozen=True)
class AttemptRow:
    number: int
    state: str
    environment: str
    endpoint: str | None
    validation: str | None
    upload_index: str | None
    uploaded_at: datetime | None
    finished_at: datetime | None
    messages: list[dict[str, Any]]
    last_error: str | None
    archive_kind: str | None  # "invoice" (ANAF's signed ZIP) or "errors"
    requested_by: str


@dataclass
class Timeline:
    """Everything the document page shows about the invoice's e-Factura life."""

    view: submissions.SubmissionView
    connection: ConnectionStatus
    steps: list[TimelineStep] = field(default_factory=list)
    attempts: list[AttemptRow] = field(default_factory=list)

    @property
    def can_resubmit(self) -> bool:
        return self.view.state in submissions.RESUBMITTABLE

    @property
    def can_submit(self) -> bool:
        """Never sent (automatic sending off, or issued before e-Factura was enabled)."""
        return self.view.state == "not submitted" and self.connection.enabled


def timeline(session: Session, doc: Document, today: date) -> Timeline | None:
    """The timeline of an issued invoice (None for proformas and drafts)."""
    if doc.kind != "invoice" or doc.number is None:
        return None
    company = session.get(Company, doc.company_id)
    assert company is not None
    view = submissions.document_status(session, company, doc, today=today)
    result = Timeline(view=view, connection=connection_status(session, company))
    submission_id = session.scalar(select(EfacturaSubmission.id).where(EfacturaSubmission.document_id == doc.id))
    if submission_id is None:
        return result
    for e in events.history(session, submissions.ENTITY, submission_id):
        data = e.data or {}
        result.steps.append(TimelineStep(at=e.at, action=e.action, attempt=data.get("attempt"),
                                         upload_index=data.get("upload_index"), actor=e.actor))
    rows = session.execute(
        select(EfacturaAttempt, EfacturaArchive.kind)
        .outerjoin(EfacturaArchive, EfacturaArchive.id == EfacturaAttempt.archive_id)
        .where(EfacturaAttempt.submission_id == submission_id)
        .order_by(EfacturaAttempt.number.desc())
    ).all()
    result.attempts = [
        AttemptRow(number=a.number, state=a.state, environment=a.environment, endpoint=a.endpoint,
                   validation=a.validation, upload_index=a.upload_index, uploaded_at=a.uploaded_at,
                   finished_at=a.finished_at, messages=list(a.messages or []), last_error=a.last_error,
                   archive_kind=kind, requested_by=a.requested_by)
        for a, kind in rows
    ]
    return result


@dataclass(frozen=True)
class ArchivedFile:
    path: str
    sha256: str
    name: str


def archive_of(session: Session, document_id: int, attempt: int) -> ArchivedFile | None:
    """The ZIP ANAF gave for one attempt of the document (signed invoice or error list), if archived."""
    row = session.execute(
        select(EfacturaArchive.path, EfacturaArchive.sha256)
        .join(EfacturaAttempt, EfacturaAttempt.archive_id == EfacturaArchive.id)
        .join(EfacturaSubmission, EfacturaSubmission.id == EfacturaAttempt.submission_id)
        .where(EfacturaSubmission.document_id == document_id, EfacturaAttempt.number == attempt)
    ).first()
    if row is None:
        return None
    return ArchivedFile(path=row[0], sha256=row[1], name=row[0].rsplit("/", 1)[-1])


@dataclass(frozen=True)
class Attention:
    """The overview's e-Factura card: submissions needing a look and invoices near or past their deadline."""

    by_state: dict[str, int]  # nok / invalid / unknown -> count (issued invoices of the last 60 days)
    deadlines: submissions.DeadlineSummary

    @property
    def problems(self) -> int:
        return sum(self.by_state.values())


ATTENTION_STATES = (submissions.NOK, submissions.INVALID, submissions.UNKNOWN)


def attention(session: Session, company_id: int, today: date) -> Attention:
    company = session.get(Company, company_id)
    assert company is not None
    return Attention(by_state=submissions.states_count(session, company, ATTENTION_STATES, today=today),
                     deadlines=submissions.deadline_summary(session, company, today=today))
