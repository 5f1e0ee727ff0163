"""Tables of the email area (imported by punte.store.models so they join Base.metadata)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base, UTCDateTime, utcnow


class SmtpSettings(Base):
    """A company's own outgoing mail server, sender identity and default texts (one row per company).

    The password is stored encrypted with :class:`punte.crypto.SecretBox` (installation secret).
    """

    __tablename__ = "smtp_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), unique=True)
    host: Mapped[str] = mapped_column(String(255))
    port: Mapped[int] = mapped_column(Integer)
    security: Mapped[str] = mapped_column(String(10))  # none | starttls | ssl
    username: Mapped[str | None] = mapped_column(String(255))
    password_encrypted: Mapped[str | None] = mapped_column(Text)
    from_address: Mapped[str] = mapped_column(String(254))
    from_name: Mapped[str | None] = mapped_column(String(200))
    reply_to: Mapped[str | None] = mapped_column(String(254))
    default_cc: Mapped[str | None] = mapped_column(Text)
    default_bcc: Mapped[str | None] = mapped_column(Text)
    invoice_subject: Mapped[str | None] = mapped_column(Text)
    invoice_body: Mapped[str | None] = mapped_column(Text)
    proforma_subject: Mapped[str | None] = mapped_column(Text)
    proforma_body: Mapped[str | None] = mapped_column(Text)
    timeout_seconds: Mapped[int] = mapped_column(Integer, default=30)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EmailMessage(Base):
    """One outgoing e-mail and what became of it (the outgoing-message log).

    ``subject_template``/``body_template`` are kept as asked for (placeholders unresolved);
    ``subject`` is the subject as it was actually sent. ``message_id`` is fixed when the message is
    queued, so every attempt carries the same Message-ID header.
    """

    __tablename__ = "email_messages"
    __table_args__ = (Index("ix_email_messages_company_created", "company_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id", ondelete="SET NULL"), index=True)
    purpose: Mapped[str] = mapped_column(String(12))  # document | notice | test
    doc_type: Mapped[str | None] = mapped_column(String(10))  # factura | proforma
    to_addrs: Mapped[str] = mapped_column(Text)
    cc_addrs: Mapped[str] = mapped_column(Text, default="")
    bcc_addrs: Mapped[str] = mapped_column(Text, default="")
    subject_template: Mapped[str] = mapped_column(Text)
    body_template: Mapped[str] = mapped_column(Text)
    subject: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="queued", index=True)  # queued | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    smtp_response: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[str] = mapped_column(String(250), unique=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


__all__ = ["EmailMessage", "SmtpSettings"]
