"""E-mail: a company's SMTP settings, documents and notices queued for sending, and the sender job.

Sending goes through the outbox. A request (``POST /document/send``, ``sendEmail`` on issue, a
notice from another area) writes an :class:`~punte.store.models_email.EmailMessage` row and an
``email.send`` job keyed by that row in the caller's transaction. The worker renders the message
(placeholders, PDF) and talks to the company's SMTP server outside any transaction, then records
the outcome. A message is sent at most once by punte: the job checks the row is still ``queued``
before sending and records ``sent`` before the job is acknowledged, and a job run twice finds it
``sent``. (A crash between the server's ``250`` and that record is the one window left; the fixed
Message-ID lets receiving servers recognise the repeat.)

Temporary failures (server unreachable, timeouts, 4xx answers) are retried with the queue's
back-off; a 5xx answer marks the message ``failed`` with the server's words.
"""

from __future__ import annotations

import logging
import ssl
import uuid
from dataclasses import dataclass, fields
from datetime import UTC, datetime

from cryptography.fernet import InvalidToken
from sqlalchemy import select
from sqlalchemy.orm import Session

from punte.config import Settings
from punte.crypto import SecretBox
from punte.domain.errors import DomainError
from punte.render.email import (
    DEFAULT_BODY,
    DEFAULT_SUBJECT,
    AddressError,
    Attachment,
    DocumentFacts,
    Outgoing,
    bare_address,
    build_message,
    parse_addresses,
    render_body,
    render_subject,
    split_stored,
)
from punte.smartbill.wire import EmailData
from punte.smartbill.wire_email import DOCUMENT_TYPES, Base64TextError, decode_base64_text
from punte.store.db import Database
from punte.store.models import Company, Document
from punte.store.models_email import EmailMessage, SmtpSettings
from punte.worker import queue
from punte.worker.runner import JobContext, Retry, handler

from . import events
from .smtp import (
    DEFAULT_PORTS,
    SECURITY_MODES,
    Delivery,
    DeliveryFailure,
    PermanentFailure,
    SmtpServer,
    TransientFailure,
    deliver,
)

log = logging.getLogger("punte.email")

JOB_KIND = "email.send"
#: With the queue's back-off (5 s doubling, capped at an hour) 20 attempts span about twelve hours.
MAX_ATTEMPTS = 20
MAX_RECIPIENTS = 50
#: Worker service name under which tests (or an operator's own CA) inject the TLS context.
SSL_CONTEXT_SERVICE = "email.ssl_context"
WORKER_ACTOR = "worker"

KIND_OF_TYPE = {"factura": "invoice", "proforma": "proforma"}
TYPE_OF_KIND = {"invoice": "factura", "proforma": "proforma"}
NOT_CONFIGURED = (
    "Serverul de e-mail (SMTP) nu este configurat pentru aceasta firma. "
    "Configurati-l cu 'punte smtp set --cif ...'."
)
NOT_CONFIGURED_AT_ISSUE = (
    "Documentul nu poate fi trimis pe e-mail (sendEmail): firma nu are configurat un server de e-mail (SMTP). "
    "Configurati-l cu 'punte smtp set' sau emiteti documentul fara sendEmail."
)
NO_RECIPIENT = (
    "Adresa de e-mail a destinatarului trebuie specificata: completati 'to' "
    "(clientul documentului nu are adresa de e-mail)."
)


def _now() -> datetime:
    return datetime.now(UTC)


# ---- settings ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SmtpConfig:
    """Changes to a company's SMTP settings. ``None`` keeps the current value; ``""`` clears an optional one.

    A first configuration needs ``host`` and ``from_address``; the port defaults to the usual one
    for the security mode (587 STARTTLS, 465 SSL, 25 none).
    """

    host: str | None = None
    port: int | None = None
    security: str | None = None
    username: str | None = None
    password: str | None = None
    from_address: str | None = None
    from_name: str | None = None
    reply_to: str | None = None
    default_cc: str | None = None
    default_bcc: str | None = None
    invoice_subject: str | None = None
    invoice_body: str | None = None
    proforma_subject: str | None = None
    proforma_body: str | None = None
    timeout_seconds: int | None = None


def get_smtp(session: Session, company: Company) -> SmtpSettings | None:
    return session.scalar(select(SmtpSettings).where(SmtpSettings.company_id == company.id))


def require_smtp(session: Session, company: Company) -> SmtpSettings:
    row = get_smtp(session, company)
    if row is None:
        raise DomainError(NOT_CONFIGURED)
    return row


def _addresses(value: str | None, field_name: str) -> list[str]:
    try:
        return parse_addresses(value, field_name)
    except AddressError as exc:
        raise DomainError(exc.text) from exc


def _single_address(value: str, field_name: str) -> str:
    found = _addresses(value, field_name)
    if len(found) != 1 or "<" in found[0]:
        raise DomainError(f"Campul {field_name} trebuie sa contina o singura adresa de e-mail, fara nume.")
    return found[0]


def configure_smtp(
    session: Session, company: Company, config: SmtpConfig, *, secret_key: str, actor: str
) -> SmtpSettings:
    """Create or change the company's SMTP settings; the password is stored encrypted."""
    row = get_smtp(session, company)
    creating = row is None
    if row is None:
        if not (config.host or "").strip():
            raise DomainError("Serverul SMTP (host) trebuie specificat.")
        if not (config.from_address or "").strip():
            raise DomainError("Adresa expeditorului (from) trebuie specificata.")
        row = SmtpSettings(company_id=company.id, security="starttls", timeout_seconds=30, created_at=_now())

    if config.security is not None:
        security = config.security.strip().lower()
        if security not in SECURITY_MODES:
            raise DomainError("Securitatea conexiunii SMTP poate fi: none, starttls sau ssl.")
        row.security = security
    if config.host is not None:
        host = config.host.strip()
        if not host or any(ch.isspace() for ch in host) or len(host) > 255:
            raise DomainError("Serverul SMTP (host) nu este valid.")
        row.host = host
    if config.port is not None:
        if not 1 <= config.port <= 65535:
            raise DomainError("Portul SMTP trebuie sa fie intre 1 si 65535.")
        row.port = config.port
    elif creating:
        row.port = DEFAULT_PORTS[row.security]
    if config.timeout_seconds is not None:
        if not 1 <= config.timeout_seconds <= 300:
            raise DomainError("Timpul de asteptare SMTP trebuie sa fie intre 1 si 300 de secunde.")
        row.timeout_seconds = config.timeout_seconds
    if config.from_address is not None:
        row.from_address = _single_address(config.from_address, "from")
    if config.reply_to is not None:
        row.reply_to = _single_address(config.reply_to, "reply-to") if config.reply_to.strip() else None
    for attr in ("default_cc", "default_bcc"):
        value = getattr(config, attr)
        if value is not None:
            setattr(row, attr, ", ".join(_addresses(value, attr.removeprefix("default_"))) or None)
    for attr in ("from_name", "username", "invoice_subject", "invoice_body", "proforma_subject", "proforma_body"):
        value = getattr(config, attr)
        if value is not None:
            setattr(row, attr, value.strip() or None)
    if config.password is not None:
        row.password_encrypted = SecretBox(secret_key).encrypt(config.password) if config.password else None
    row.updated_at = _now()
    if creating:
        session.add(row)
    session.flush()
    changed = sorted(f.name for f in fields(config) if getattr(config, f.name) is not None and f.name != "password")
    events.record(
        session, company_id=company.id, entity="smtp_settings", entity_id=row.id,
        action="configured" if creating else "updated", actor=actor,
        data={
            "host": row.host, "port": row.port, "security": row.security, "username": row.username,
            "from": row.from_address, "changed": changed, "password_changed": config.password is not None,
        },
    )
    return row


def smtp_server(row: SmtpSettings, secret_key: str) -> SmtpServer:
    """Connection parameters with the password decrypted (for sending only; never logged)."""
    password = SecretBox(secret_key).decrypt(row.password_encrypted) if row.password_encrypted else None
    return SmtpServer(row.host, row.port, row.security, row.username, password, float(row.timeout_seconds))


# ---- queueing ----------------------------------------------------------------------------------------


def _decode(value: str | None, field_name: str) -> str | None:
    try:
        return decode_base64_text(value, field_name)
    except Base64TextError as exc:
        raise DomainError(exc.text) from exc


def _new_message(
    session: Session,
    company: Company,
    smtp: SmtpSettings,
    *,
    purpose: str,
    to: list[str],
    subject_template: str,
    body_template: str,
    actor: str,
    cc: list[str] | None = None,
    bcc: list[str] | None = None,
    document: Document | None = None,
    doc_type: str | None = None,
) -> EmailMessage:
    cc, bcc = cc or [], bcc or []
    if len(to) + len(cc) + len(bcc) > MAX_RECIPIENTS:
        raise DomainError(f"Un e-mail poate avea cel mult {MAX_RECIPIENTS} de destinatari (to, cc si bcc).")
    domain = smtp.from_address.rpartition("@")[2]
    message = EmailMessage(
        company_id=company.id,
        document_id=document.id if document is not None else None,
        purpose=purpose,
        doc_type=doc_type,
        to_addrs=", ".join(to),
        cc_addrs=", ".join(cc),
        bcc_addrs=", ".join(bcc),
        subject_template=subject_template,
        body_template=body_template,
        status="queued",
        attempts=0,
        message_id=f"<punte.{uuid.uuid4().hex}@{domain}>",
        created_by=actor,
    )
    session.add(message)
    session.flush()
    if purpose != "test":
        queue.enqueue(
            session, JOB_KIND, {"message": message.id}, company_id=company.id, key=f"email-message:{message.id}",
            max_attempts=MAX_ATTEMPTS,
        )
    events.record(
        session, company_id=company.id, entity="email", entity_id=message.id, action="queued", actor=actor,
        data={
            "purpose": purpose,
            "document_id": message.document_id,
            "document": f"{document.series_name}{document.number_text or ''}" if document is not None else None,
            "to": message.to_addrs, "cc": message.cc_addrs, "bcc": message.bcc_addrs,
        },
    )
    return message


def _queue_for_document(
    session: Session,
    company: Company,
    smtp: SmtpSettings,
    document: Document,
    *,
    doc_type: str,
    to: str | None,
    cc: str | None,
    bcc: str | None,
    subject: str | None,
    body: str | None,
    actor: str,
) -> EmailMessage:
    if document.status == "draft":
        raise DomainError("Un document ciorna nu poate fi trimis pe e-mail.")
    to_list = _addresses(to, "to") if (to or "").strip() else _addresses((document.buyer or {}).get("email"), "to")
    if not to_list:
        raise DomainError(NO_RECIPIENT)
    cc_list = _addresses(cc, "cc") if (cc or "").strip() else _addresses(smtp.default_cc, "cc")
    bcc_list = _addresses(bcc, "bcc") if (bcc or "").strip() else _addresses(smtp.default_bcc, "bcc")
    stored_subject, stored_body = (
        (smtp.invoice_subject, smtp.invoice_body) if doc_type == "factura" else (smtp.proforma_subject, smtp.proforma_body)
    )
    return _new_message(
        session, company, smtp, purpose="document", document=document, doc_type=doc_type,
        to=to_list, cc=cc_list, bcc=bcc_list,
        subject_template=subject or stored_subject or DEFAULT_SUBJECT,
        body_template=body or stored_body or DEFAULT_BODY,
        actor=actor,
    )


def queue_document_email(
    session: Session,
    company: Company,
    *,
    doc_type: str | None,
    series: str | None,
    number: str | None,
    to: str | None = None,
    cc: str | None = None,
    bcc: str | None = None,
    subject: str | None = None,
    body: str | None = None,
    actor: str,
) -> EmailMessage:
    """``POST /document/send``: queue an issued invoice or proforma for e-mailing (texts already decoded).

    ``to`` defaults to the client's address on the document; ``cc``/``bcc`` to the company's
    defaults; ``subject``/``body`` to the company's texts for the document type, then punte's.
    """
    from .operations import require_document

    kind_word = (doc_type or "").strip().lower()
    if kind_word not in DOCUMENT_TYPES:
        raise DomainError("Tipul documentului (type) trebuie sa fie 'factura' sau 'proforma'.")
    if not (series or "").strip():
        raise DomainError("Seria documentului trebuie specificata (seriesName).")
    if not (number or "").strip():
        raise DomainError("Numarul documentului trebuie specificat (number).")
    document = require_document(session, company, KIND_OF_TYPE[kind_word], series, number)
    smtp = require_smtp(session, company)
    return _queue_for_document(
        session, company, smtp, document, doc_type=kind_word, to=to, cc=cc, bcc=bcc, subject=subject, body=body,
        actor=actor,
    )


def queue_issue_email(
    session: Session, company: Company, document: Document, email: EmailData | None, *, actor: str
) -> EmailMessage | None:
    """``sendEmail`` on ``POST /invoice`` or ``/estimate``: queue the just-issued document, same transaction.

    ``email.subject``/``email.bodyText`` are base64 as on ``/document/send``. Drafts are not sent.
    """
    if document.status == "draft":
        return None
    smtp = get_smtp(session, company)
    if smtp is None:
        raise DomainError(NOT_CONFIGURED_AT_ISSUE)
    data = email or EmailData()
    return _queue_for_document(
        session, company, smtp, document, doc_type=TYPE_OF_KIND[document.kind],
        to=data.to, cc=data.cc, bcc=data.bcc,
        subject=_decode(data.subject, "email.subject"), body=_decode(data.bodyText, "email.bodyText"),
        actor=actor,
    )


def notify_company(
    session: Session, company: Company, subject: str, body: str, *, actor: str = "punte",
    also_to: tuple[str, ...] = (),
) -> EmailMessage | None:
    """Queue a plain message to the company's own address and to ``also_to`` (problems other areas need a
    human for; the bridge adds the user its documents are issued as).

    An address that is missing or invalid is left out (logged); the message goes to the others, each once.
    Returns ``None``, queueing nothing, when no address is left or the company has no SMTP server: there is
    nowhere to send it, and the caller's own work must not fail for that.
    """
    smtp = get_smtp(session, company)
    if smtp is None:
        return None
    to: list[str] = []
    seen: set[str] = set()
    for value, field_name in [(company.email, "email"), *((extra, "also_to") for extra in also_to)]:
        try:
            found = parse_addresses(value, field_name)
        except AddressError:
            log.warning("company %s: invalid notice address %r left out", company.cif, value)
            continue
        for address in found:
            if bare_address(address).lower() not in seen:
                seen.add(bare_address(address).lower())
                to.append(address)
    if not to:
        return None
    return _new_message(
        session, company, smtp, purpose="notice", to=to, subject_template=" ".join(subject.split()),
        body_template=body, actor=actor,
    )


def list_messages(
    session: Session, company: Company, *, status: str | None = None, limit: int = 50
) -> list[EmailMessage]:
    stmt = select(EmailMessage).where(EmailMessage.company_id == company.id)
    if status:
        stmt = stmt.where(EmailMessage.status == status)
    return list(session.scalars(stmt.order_by(EmailMessage.id.desc()).limit(limit)))


# ---- sending -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SendOutcome:
    status: str  # queued (will retry) | sent | failed | missing
    text: str = ""

    @property
    def retry(self) -> bool:
        return self.status == "queued"


@dataclass(frozen=True)
class _Prepared:
    server: SmtpServer
    outgoing: Outgoing


def view_url(settings: Settings, document: Document) -> str:
    """The document's public page (``documentViewUrl``)."""
    return f"{settings.public_url.rstrip('/')}/view/{document.view_token}"


def _prepare(session: Session, settings: Settings, row: EmailMessage) -> _Prepared:
    """Render the message as it will be sent now; :class:`PermanentFailure` when it never can be."""
    company = session.get(Company, row.company_id)
    smtp = session.scalar(select(SmtpSettings).where(SmtpSettings.company_id == row.company_id))
    if company is None or smtp is None:
        raise PermanentFailure(NOT_CONFIGURED)
    try:
        server = smtp_server(smtp, settings.resolved_secret_key())
    except InvalidToken as exc:
        raise PermanentFailure(
            "Parola SMTP nu poate fi decriptata (cheia secreta a instalarii s-a schimbat); "
            "setati-o din nou cu 'punte smtp set --password-stdin'."
        ) from exc
    facts: DocumentFacts | None = None
    attachments: list[Attachment] = []
    if row.purpose == "document":
        document = session.get(Document, row.document_id) if row.document_id is not None else None
        if document is None:
            raise PermanentFailure("Documentul a fost sters; mesajul nu mai poate fi trimis.")
        attachments.append(_pdf_attachment(session, settings, document))
        facts = DocumentFacts(
            doc_type=row.doc_type or TYPE_OF_KIND.get(document.kind, document.kind),
            number_label=f"{document.series_name}{document.number_text or ''}",
            link=view_url(settings, document),
            issue_date=document.issue_date,
            due_date=document.due_date,
            total=document.gross_total,
            currency=document.currency,
            mentions=str((document.details or {}).get("mentions") or ""),
            client_name=document.client_name,
            contact=str((document.buyer or {}).get("contact") or ""),
        )
    text, markup = render_body(row.body_template, facts)
    outgoing = Outgoing(
        from_address=smtp.from_address,
        from_name=smtp.from_name or company.name,
        to=split_stored(row.to_addrs),
        cc=split_stored(row.cc_addrs),
        bcc=split_stored(row.bcc_addrs),
        reply_to=smtp.reply_to,
        subject=render_subject(row.subject_template, facts),
        text=text,
        html=markup,
        message_id=row.message_id,
        attachments=attachments,
    )
    return _Prepared(server, outgoing)


def _pdf_attachment(session: Session, settings: Settings, document: Document) -> Attachment:
    from punte.render.pdf import render_pdf

    from .operations import read_model

    word = "Factura" if document.kind == "invoice" else "Proforma"
    data = render_pdf(read_model(session, document), view_url=view_url(settings, document))
    return Attachment(f"{word}_{document.series_name}{document.number_text or ''}.pdf", data)


def send_message(
    db: Database,
    settings: Settings,
    message_id: int,
    *,
    final_attempt: bool = False,
    ssl_context: ssl.SSLContext | None = None,
    actor: str = WORKER_ACTOR,
) -> SendOutcome:
    """Send one queued message now and record what happened. Safe to call twice: a message not
    ``queued`` any more is left alone. ``final_attempt`` turns a temporary failure into ``failed``."""
    with db.session() as session:
        row = session.get(EmailMessage, message_id)
        if row is None:
            return SendOutcome("missing")
        if row.status != "queued":
            return SendOutcome(row.status)
        try:
            prepared = _prepare(session, settings, row)
            data = build_message(prepared.outgoing).as_bytes()
            failure: DeliveryFailure | None = None
        except DeliveryFailure as exc:
            failure = exc
        except Exception as exc:  # noqa: BLE001 - rendering failed (fonts, data): recorded, retried
            log.exception("preparing e-mail %s failed", message_id)
            failure = TransientFailure(f"Pregatirea mesajului a esuat: {type(exc).__name__}: {exc}")
    if failure is not None:
        return _record(db, message_id, None, failure, None, final_attempt, actor)
    subject = prepared.outgoing.subject
    try:
        delivery = deliver(
            prepared.server, prepared.outgoing.from_address, prepared.outgoing.envelope_recipients, data,
            ssl_context=ssl_context,
        )
    except DeliveryFailure as exc:
        return _record(db, message_id, None, exc, subject, final_attempt, actor)
    return _record(db, message_id, delivery, None, subject, final_attempt, actor)


def _record(
    db: Database,
    message_id: int,
    delivery: Delivery | None,
    failure: DeliveryFailure | None,
    subject: str | None,
    final_attempt: bool,
    actor: str,
) -> SendOutcome:
    with db.session(write=True) as session:
        row = session.get(EmailMessage, message_id, with_for_update=True)
        if row is None:
            return SendOutcome("missing")
        if row.status != "queued":  # recorded meanwhile by another run: that record stands
            return SendOutcome(row.status)
        row.attempts += 1
        row.updated_at = _now()
        if subject is not None:
            row.subject = subject
        if delivery is not None:
            row.status = "sent"
            row.sent_at = _now()
            row.last_error = None
            refused = "; ".join(f"{addr}: {reply}" for addr, reply in delivery.refused.items())
            row.smtp_response = delivery.response + (f" (refuzati: {refused})" if refused else "")
            action, text = "sent", row.smtp_response
        else:
            assert failure is not None
            row.last_error = failure.text[:4000]
            permanent = isinstance(failure, PermanentFailure)
            if failure.reply:
                row.smtp_response = failure.reply[:4000]
            if permanent or final_attempt:
                row.status = "failed"
                action, text = "failed", failure.text
            else:
                action, text = "attempt_failed", failure.text
        events.record(
            session, company_id=row.company_id, entity="email", entity_id=row.id, action=action, actor=actor,
            data={"attempt": row.attempts, "result": text[:1000], "message_id": row.message_id},
        )
        return SendOutcome(row.status, text)


def send_test(
    db: Database, settings: Settings, company: Company, to: str, *, ssl_context: ssl.SSLContext | None = None,
    actor: str = "cli",
) -> EmailMessage:
    """Send a short test message at once (no queue), record it in the log and return the row."""
    with db.session(write=True) as session:
        smtp = require_smtp(session, company)
        recipients = _addresses(to, "to")
        if not recipients:
            raise DomainError("Adresa de e-mail pentru test trebuie specificata (--to).")
        row = _new_message(
            session, company, smtp, purpose="test", to=recipients,
            subject_template=f"Mesaj de test punte ({company.name})",
            body_template=(
                f"Acesta este un mesaj de test trimis de punte pentru firma {company.name} (CIF {company.cif}).\n"
                f"Serverul SMTP {smtp.host}:{smtp.port} ({smtp.security}) functioneaza.\n"
            ),
            actor=actor,
        )
        message_id = row.id
    send_message(db, settings, message_id, final_attempt=True, ssl_context=ssl_context, actor=actor)
    with db.session() as session:
        sent = session.get(EmailMessage, message_id)
        assert sent is not None
        return sent


@handler(JOB_KIND)
def run_send_job(ctx: JobContext) -> None:
    """The ``email.send`` job: one message; temporary failures retried with the queue's back-off."""
    outcome = send_message(
        ctx.db, ctx.settings, int(ctx.job.payload["message"]),
        final_attempt=ctx.job.attempts >= ctx.job.max_attempts,
        ssl_context=ctx.services.get(SSL_CONTEXT_SERVICE),
    )
    if outcome.retry:
        raise Retry(outcome.text, count=True)


__all__ = [
    "JOB_KIND", "MAX_ATTEMPTS", "NOT_CONFIGURED", "SSL_CONTEXT_SERVICE", "SendOutcome", "SmtpConfig",
    "configure_smtp", "get_smtp", "list_messages", "notify_company", "queue_document_email", "queue_issue_email",
    "require_smtp", "send_message", "send_test", "smtp_server", "view_url",
]
