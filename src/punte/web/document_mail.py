"""The e-mail panel of a document's page: the messages sent about it and the defaults of the send form."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from punte.render.email import DEFAULT_BODY, DEFAULT_SUBJECT
from punte.services.email import TYPE_OF_KIND, get_smtp
from punte.store.models import Company, Document
from punte.store.models_email import EmailMessage


@dataclass(frozen=True)
class MailRow:
    to: str
    cc: str
    subject: str
    status: str  # queued | sent | failed
    attempts: int
    created_at: datetime
    sent_at: datetime | None
    error: str | None
    created_by: str


@dataclass(frozen=True)
class MailPanel:
    """What the panel shows; the form's defaults are the ones ``queue_document_email`` would use."""

    messages: list[MailRow]
    configured: bool
    to: str
    cc: str
    bcc: str
    subject: str
    body: str


def messages_of(session: Session, document_id: int) -> list[MailRow]:
    """The document's e-mails, newest first (the outgoing-mail log filtered on the document)."""
    rows = session.scalars(
        select(EmailMessage).where(EmailMessage.document_id == document_id).order_by(EmailMessage.id.desc())
    )
    return [
        MailRow(to=m.to_addrs, cc=m.cc_addrs, subject=m.subject or m.subject_template, status=m.status,
                attempts=m.attempts, created_at=m.created_at, sent_at=m.sent_at, error=m.last_error,
                created_by=m.created_by)
        for m in rows
    ]


def panel(session: Session, doc: Document) -> MailPanel | None:
    """Issued invoices and proformas only: the service sends nothing else."""
    if doc.kind not in TYPE_OF_KIND or doc.number is None:
        return None
    company = session.get(Company, doc.company_id)
    smtp = get_smtp(session, company) if company is not None else None
    if smtp is None:
        subject, body = DEFAULT_SUBJECT, DEFAULT_BODY
    elif doc.kind == "invoice":
        subject, body = smtp.invoice_subject or DEFAULT_SUBJECT, smtp.invoice_body or DEFAULT_BODY
    else:
        subject, body = smtp.proforma_subject or DEFAULT_SUBJECT, smtp.proforma_body or DEFAULT_BODY
    return MailPanel(
        messages=messages_of(session, doc.id), configured=smtp is not None, to=(doc.buyer or {}).get("email") or "",
        cc=(smtp.default_cc or "") if smtp else "", bcc=(smtp.default_bcc or "") if smtp else "",
        subject=subject, body=body,
    )
