"""e-Factura submissions: per-company settings, queueing documents, their state, the deadline.

A document has at most one submission row; each upload try is an attempt row (a new attempt only
when the user resubmits explicitly after ``nok`` or ``invalid``). The states, driven by
:mod:`punte.efactura.pipeline`::

    queued -> validated -> uploading -> uploaded(index) -> ok | nok
                 |             \\-> unknown (sent, no answer) -> uploaded (found in the list)
                 |                                          \\-> validated (not found: sent again)
                 \\-> invalid (local validation failed: not uploaded)

Every state change writes an event (entity ``efactura_submission``) in the same transaction.
Queueing happens in the caller's transaction (an issued invoice is queued atomically with its
issue), and the worker job is keyed by (submission, attempt), so it exists exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from punte.domain.calendar import efactura_deadline, working_days_between
from punte.domain.errors import Conflict, DomainError
from punte.services import events
from punte.store.models import Company, Document, Job
from punte.store.models_anaf import EfacturaArchive, EfacturaAttempt, EfacturaSettings, EfacturaSubmission
from punte.worker import queue

from .archive import sha256
from .environments import check_env

SUBMIT_JOB = "efactura.submit"

QUEUED = "queued"
VALIDATED = "validated"
UPLOADING = "uploading"
UPLOADED = "uploaded"
OK = "ok"
NOK = "nok"
UNKNOWN = "unknown"
INVALID = "invalid"
STATES = (QUEUED, VALIDATED, UPLOADING, UPLOADED, OK, NOK, UNKNOWN, INVALID)
TERMINAL = frozenset({OK, NOK, INVALID})
RESUBMITTABLE = frozenset({NOK, INVALID})
#: States in which the document counts as transmitted for the deadline.
TRANSMITTED = frozenset({UPLOADING, UPLOADED, OK})

ENTITY = "efactura_submission"
DEADLINE_WARNING_DAYS = 2  # working days left at which an unsent invoice is flagged


def now_utc() -> datetime:
    return datetime.now(UTC)


def label(document: Document) -> str:
    return f"{document.series_name}{document.number_text or ''}"


# -- settings -----------------------------------------------------------------------------------------
def enable(session: Session, company: Company, *, env: str | None, auto: bool | None, actor: str) -> EfacturaSettings:
    """Turn e-Factura on for the company (environment and automatic sending of every issued invoice)."""
    row = session.scalar(select(EfacturaSettings).where(EfacturaSettings.company_id == company.id))
    if row is None:
        row = EfacturaSettings(company_id=company.id, enabled=True, environment=check_env(env or "sandbox"),
                               auto_submit=True if auto is None else auto, updated_at=now_utc())
        session.add(row)
    else:
        row.enabled = True
        if env is not None:
            row.environment = check_env(env)
        if auto is not None:
            row.auto_submit = auto
        row.updated_at = now_utc()
    session.flush()
    events.record(session, company_id=company.id, entity="efactura_settings", entity_id=company.id, action="enabled",
                  actor=actor, data={"environment": row.environment, "auto_submit": row.auto_submit})
    return row


def disable(session: Session, company: Company, *, actor: str) -> EfacturaSettings:
    """Turn automatic and explicit sending off; submissions already under way finish."""
    row = session.scalar(select(EfacturaSettings).where(EfacturaSettings.company_id == company.id))
    if row is None or not row.enabled:
        raise Conflict(f"e-Factura nu este activat pentru firma {company.cif}.")
    row.enabled = False
    row.updated_at = now_utc()
    events.record(session, company_id=company.id, entity="efactura_settings", entity_id=company.id,
                  action="disabled", actor=actor, data={})
    return row


# -- transitions ----------------------------------------------------------------------------------------
def set_state(
    session: Session, submission: EfacturaSubmission, attempt: EfacturaAttempt, state: str, *, actor: str,
    data: dict[str, Any] | None = None, action: str | None = None,
) -> None:
    """Move the attempt (and its submission) to ``state`` and write the event, in the caller's transaction."""
    now = now_utc()
    attempt.state = state
    submission.state = state
    submission.updated_at = now
    if attempt.upload_index:
        submission.upload_index = attempt.upload_index
    if state in TERMINAL:
        attempt.finished_at = now
    events.record(
        session, company_id=submission.company_id, entity=ENTITY, entity_id=submission.id, action=action or state,
        actor=actor,
        data={"state": state, "document_id": submission.document_id, "attempt": attempt.number,
              "environment": attempt.environment, **({"upload_index": attempt.upload_index} if attempt.upload_index
                                                     else {}), **(data or {})},
    )


def _new_attempt(session: Session, submission: EfacturaSubmission, number: int, *, actor: str) -> EfacturaAttempt:
    attempt = EfacturaAttempt(
        submission_id=submission.id, number=number, environment=submission.environment, state=QUEUED,
        extern=False, polls=0, messages=[], requested_by=actor, created_at=now_utc(),
    )
    session.add(attempt)
    session.flush()
    queue.enqueue(session, SUBMIT_JOB, {"submission_id": submission.id, "attempt": number},
                  company_id=submission.company_id, key=f"{submission.id}:{number}", max_attempts=50)
    return attempt


def _settings_for(session: Session, company: Company) -> EfacturaSettings | None:
    return session.scalar(select(EfacturaSettings).where(EfacturaSettings.company_id == company.id))


def _create(session: Session, company: Company, document: Document, env: str, *, actor: str,
            action: str = QUEUED) -> EfacturaSubmission:
    submission = EfacturaSubmission(
        company_id=company.id, document_id=document.id, environment=env, state=QUEUED, attempt=1,
        deadline=efactura_deadline(document.issue_date), created_at=now_utc(), updated_at=now_utc(),
    )
    session.add(submission)
    session.flush()
    attempt = _new_attempt(session, submission, 1, actor=actor)
    set_state(session, submission, attempt, QUEUED, actor=actor, action=action,
              data={"document": label(document), "storno_of": document.reverses_id} if document.reverses_id
              else {"document": label(document)})
    return submission


def queue_on_issue(session: Session, company: Company, document: Document, *, actor: str) -> EfacturaSubmission | None:
    """The ``after_issue`` hook: with automatic sending on, queue every issued invoice (storno included)."""
    if document.kind != "invoice" or document.status != "issued" or document.number is None:
        return None
    row = _settings_for(session, company)
    if row is None or not row.enabled or not row.auto_submit:
        return None
    existing = session.scalar(select(EfacturaSubmission).where(EfacturaSubmission.document_id == document.id))
    if existing is not None:
        return existing
    return _create(session, company, document, row.environment, actor=actor)


def submit(session: Session, company: Company, document: Document, *, actor: str,
           current_xml: bytes | None = None) -> EfacturaSubmission:
    """An explicit submission: the first one, or a resubmission after ``nok``/``invalid``.

    A document ANAF accepted, or one under way, is refused: SPV must never hold it twice. When the
    document's XML now differs from what was uploaded, the refusal says so (a transmitted invoice is
    corrected by storno, not by sending it again).
    """
    if document.kind != "invoice":
        raise DomainError("Doar facturile se transmit in e-Factura.")
    if document.status == "draft" or document.number is None:
        raise DomainError(f"Factura {label(document)} este ciorna; emiteti-o inainte de transmitere.")
    if document.status == "cancelled":
        raise Conflict(f"Factura {label(document)} este anulata; nu se transmite in e-Factura.")
    row = _settings_for(session, company)
    if row is None or not row.enabled:
        raise Conflict(f"e-Factura nu este activat pentru firma {company.cif}: rulati 'punte efactura enable'.")
    submission = session.scalar(
        select(EfacturaSubmission).where(EfacturaSubmission.document_id == document.id).with_for_update()
    )
    if submission is None:
        return _create(session, company, document, row.environment, actor=actor)
    last = current_attempt(session, submission)
    if submission.state not in RESUBMITTABLE:
        changed = ""
        if current_xml is not None and last is not None and last.xml_sha256 and sha256(current_xml) != last.xml_sha256:
            changed = (" Atentie: documentul s-a schimbat fata de XML-ul incarcat (sha256 diferit); ANAF are "
                       "versiunea incarcata, corectia se face prin storno.")
        if submission.state == OK:
            raise Conflict(f"Factura {label(document)} a fost deja acceptata de ANAF (index "
                           f"{submission.upload_index}); nu se retrimite.{changed}")
        raise Conflict(f"Factura {label(document)} este deja in curs de transmitere (stare {submission.state}"
                       f"{', index ' + submission.upload_index if submission.upload_index else ''}).{changed}")
    number = submission.attempt + 1
    submission.attempt = number
    submission.environment = row.environment
    attempt = _new_attempt(session, submission, number, actor=actor)
    set_state(session, submission, attempt, QUEUED, actor=actor, action="resubmitted",
              data={"previous_state": last.state if last else None,
                    "previous_sha256": last.xml_sha256 if last else None})
    return submission


def guard_delete(session: Session, company: Company, document: Document) -> None:
    """The ``before_delete`` hook: a document that may be in SPV is never deleted."""
    submission = session.scalar(select(EfacturaSubmission).where(EfacturaSubmission.document_id == document.id))
    if submission is None:
        return
    attempts = session.scalars(select(EfacturaAttempt).where(EfacturaAttempt.submission_id == submission.id))
    if any(a.state in (UPLOADING, UPLOADED, UNKNOWN, OK) or a.upload_index for a in attempts):
        raise Conflict(f"Factura {label(document)} a fost transmisa in e-Factura; nu poate fi stearsa. "
                       "Corectati-o prin storno.")


def current_attempt(session: Session, submission: EfacturaSubmission) -> EfacturaAttempt | None:
    return session.scalar(select(EfacturaAttempt).where(EfacturaAttempt.submission_id == submission.id,
                                                        EfacturaAttempt.number == submission.attempt))


def run_now(session: Session, company: Company) -> int:
    """Make the company's waiting e-Factura jobs due now (``punte efactura sync``)."""
    result = session.execute(
        update(Job).where(Job.kind == SUBMIT_JOB, Job.company_id == company.id, Job.status == "queued")
        .values(run_at=now_utc())
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# -- reading --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SubmissionView:
    document_id: int
    document: str
    issue_date: date
    storno: bool
    state: str  # a submission state, or "not submitted"
    attempt: int
    upload_index: str | None
    download_id: str | None
    deadline: date
    flag: str  # "", "due soon", "overdue"
    messages: list[dict[str, Any]] = field(default_factory=list)
    last_error: str | None = None
    validation: str | None = None
    archive_path: str | None = None
    archive_sha256: str | None = None
    xml_sha256: str | None = None


def deadline_flag(deadline: date, today: date, state: str | None, *, within: int = DEADLINE_WARNING_DAYS) -> str:
    """``overdue`` or ``due soon`` for an invoice not yet transmitted (or rejected); else empty."""
    if state in TRANSMITTED:
        return ""
    if today > deadline:
        return "overdue"
    if working_days_between(today, deadline) <= within:
        return "due soon"
    return ""


def _view(document: Document, submission: EfacturaSubmission | None, attempt: EfacturaAttempt | None,
          archive: EfacturaArchive | None, today: date) -> SubmissionView:
    deadline = submission.deadline if submission is not None else efactura_deadline(document.issue_date)
    state = submission.state if submission is not None else "not submitted"
    return SubmissionView(
        document_id=document.id, document=label(document), issue_date=document.issue_date,
        storno=document.reverses_id is not None, state=state, attempt=submission.attempt if submission else 0,
        upload_index=(attempt.upload_index if attempt else None) or (submission.upload_index if submission else None),
        download_id=attempt.download_id if attempt else None, deadline=deadline,
        flag=deadline_flag(deadline, today, submission.state if submission else None),
        messages=list(attempt.messages or []) if attempt else [], last_error=attempt.last_error if attempt else None,
        validation=attempt.validation if attempt else None, archive_path=archive.path if archive else None,
        archive_sha256=archive.sha256 if archive else None, xml_sha256=attempt.xml_sha256 if attempt else None,
    )


def _rows(session: Session, stmt: Any, today: date) -> list[SubmissionView]:
    stmt = (
        stmt.outerjoin(EfacturaSubmission, EfacturaSubmission.document_id == Document.id)
        .outerjoin(EfacturaAttempt, (EfacturaAttempt.submission_id == EfacturaSubmission.id)
                   & (EfacturaAttempt.number == EfacturaSubmission.attempt))
        .outerjoin(EfacturaArchive, EfacturaArchive.id == EfacturaAttempt.archive_id)
        .add_columns(EfacturaSubmission, EfacturaAttempt, EfacturaArchive)
    )
    return [_view(doc, sub, att, arc, today) for doc, sub, att, arc in session.execute(stmt)]


def company_status(session: Session, company: Company, *, today: date, days: int = 60) -> list[SubmissionView]:
    """Every issued invoice of the last ``days`` days with its e-Factura state, oldest first."""
    stmt = (
        select(Document)
        .where(Document.company_id == company.id, Document.kind == "invoice", Document.status == "issued",
               Document.issue_date >= today - timedelta(days=days))
        .order_by(Document.issue_date, Document.series_name, Document.number)
    )
    return _rows(session, stmt, today)


def document_status(session: Session, company: Company, document: Document, *, today: date) -> SubmissionView:
    return _rows(session, select(Document).where(Document.id == document.id), today)[0]


def _pending_invoices(company: Company | None, today: date, days: int) -> list[Any]:
    """Conditions for issued invoices of the last ``days`` days not (yet) transmitted to ANAF."""
    conditions = [
        Document.kind == "invoice", Document.status == "issued", Document.number.is_not(None),
        Document.issue_date >= today - timedelta(days=days),
        or_(EfacturaSubmission.id.is_(None), EfacturaSubmission.state.not_in(TRANSMITTED)),
    ]
    if company is not None:
        conditions.append(Document.company_id == company.id)
    return conditions


def deadline_alerts(session: Session, company: Company | None, *, today: date, days: int = 60,
                    within: int = DEADLINE_WARNING_DAYS) -> list[SubmissionView]:
    """Issued invoices not transmitted (never sent, waiting, invalid, rejected, unknown) whose 5-working-day
    deadline is at most ``within`` working days away or already past."""
    stmt = select(Document).where(*_pending_invoices(company, today, days)).order_by(Document.issue_date, Document.id)
    return [view for view in _rows(session, stmt, today)
            if deadline_flag(view.deadline, today, None if view.state == "not submitted" else view.state,
                             within=within)]


@dataclass(frozen=True)
class DeadlineSummary:
    """How many untransmitted invoices are past or near their deadline, and the oldest few of each."""

    overdue: int
    due_soon: int
    first_overdue: list[SubmissionView]
    first_due_soon: list[SubmissionView]


def deadline_summary(session: Session, company: Company, *, today: date, days: int = 60,
                     within: int = DEADLINE_WARNING_DAYS, show: int = 5) -> DeadlineSummary:
    """:func:`deadline_alerts` counted in the database, for the overview of a company with many invoices.

    An invoice's deadline depends only on its issue date (or the one its submission stored), so the
    database groups by those two and only ``show`` invoices of each kind become objects.
    """
    pending = _pending_invoices(company, today, days)
    groups = session.execute(
        select(Document.issue_date, EfacturaSubmission.deadline, func.count())
        .select_from(Document).outerjoin(EfacturaSubmission, EfacturaSubmission.document_id == Document.id)
        .where(*pending).group_by(Document.issue_date, EfacturaSubmission.deadline)
    ).all()
    counts = {"overdue": 0, "due soon": 0}
    dates: dict[str, set[date]] = {"overdue": set(), "due soon": set()}
    for issued, stored, n in groups:
        flag = deadline_flag(stored or efactura_deadline(issued), today, None, within=within)
        if flag:
            counts[flag] += n
            dates[flag].add(issued)

    def first(flag: str) -> list[SubmissionView]:
        if not dates[flag]:
            return []
        stmt = (select(Document).where(*pending, Document.issue_date.in_(sorted(dates[flag])))
                .order_by(Document.issue_date, Document.id).limit(show * 4))
        views = [v for v in _rows(session, stmt, today) if deadline_flag(v.deadline, today, None, within=within) == flag]
        return views[:show]

    return DeadlineSummary(counts["overdue"], counts["due soon"], first("overdue"), first("due soon"))


def states_count(session: Session, company: Company, states: tuple[str, ...], *, today: date,
                 days: int = 60) -> dict[str, int]:
    """How many issued invoices of the last ``days`` days are in each of ``states``."""
    found = dict.fromkeys(states, 0)
    rows = session.execute(
        select(EfacturaSubmission.state, func.count())
        .join(Document, Document.id == EfacturaSubmission.document_id)
        .where(Document.company_id == company.id, Document.kind == "invoice", Document.status == "issued",
               Document.issue_date >= today - timedelta(days=days), EfacturaSubmission.state.in_(states))
        .group_by(EfacturaSubmission.state)
    )
    for state, n in rows:
        found[state] = n
    return found


__all__ = [
    "INVALID", "NOK", "OK", "QUEUED", "STATES", "SUBMIT_JOB", "TERMINAL", "UNKNOWN", "UPLOADED", "UPLOADING",
    "VALIDATED", "DeadlineSummary", "SubmissionView", "company_status", "current_attempt", "deadline_alerts",
    "deadline_flag", "deadline_summary", "disable", "states_count",
    "document_status", "enable", "guard_delete", "queue_on_issue", "run_now", "set_state", "submit",
]
