"""Tables of the anaf area: OAuth tokens, per-company e-Factura settings, submissions, the ZIP archive.

Imported by ``punte.store.models`` so they join ``Base.metadata``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base, UTCDateTime, utcnow

BigId = BigInteger().with_variant(Integer, "sqlite")


class AnafToken(Base):
    """One certificate holder's OAuth grant (encrypted). One token serves every company the person has
    SPV rights on, so companies point at it (``efactura_settings.token_id``).

    ``realm`` is ``sandbox`` or ``anaf`` (ANAF's test and production share one OAuth server).
    ``status`` is ``active`` or ``reauthorize`` (the refresh token expired or was refused).
    """

    __tablename__ = "anaf_tokens"
    __table_args__ = (UniqueConstraint("realm", "subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    realm: Mapped[str] = mapped_column(String(10))
    subject: Mapped[str | None] = mapped_column(String(200))
    label: Mapped[str | None] = mapped_column(String(200))
    access_token_enc: Mapped[str] = mapped_column(Text)
    refresh_token_enc: Mapped[str] = mapped_column(Text)
    access_expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    refresh_expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(20), default="active")
    status_reason: Mapped[str | None] = mapped_column(Text)
    refresh_lock_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    refresh_lock_by: Mapped[str | None] = mapped_column(String(100))
    refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    refresh_warned_for: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AnafOAuthState(Base):
    """A pending authorization: the one-time ``state`` given to ANAF's authorize URL."""

    __tablename__ = "anaf_oauth_states"

    id: Mapped[int] = mapped_column(primary_key=True)
    state: Mapped[str] = mapped_column(String(64), unique=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    environment: Mapped[str] = mapped_column(String(10))
    actor: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class EfacturaSettings(Base):
    """A company's e-Factura settings: on or off, environment, automatic sending, its ANAF token."""

    __tablename__ = "efactura_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), unique=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    environment: Mapped[str] = mapped_column(String(10), default="sandbox")
    auto_submit: Mapped[bool] = mapped_column(Boolean, default=True)
    token_id: Mapped[int | None] = mapped_column(ForeignKey("anaf_tokens.id", ondelete="SET NULL"), index=True)
    connected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EfacturaSubmission(Base):
    """One document's way to SPV. ``state`` mirrors its current attempt (see punte.efactura.pipeline)."""

    __tablename__ = "efactura_submissions"
    __table_args__ = (Index("ix_efactura_submissions_company_state", "company_id", "state"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="RESTRICT"))
    document_id: Mapped[int] = mapped_column(BigId, ForeignKey("documents.id", ondelete="CASCADE"), unique=True)
    environment: Mapped[str] = mapped_column(String(10))
    state: Mapped[str] = mapped_column(String(12))
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    upload_index: Mapped[str | None] = mapped_column(String(40))
    deadline: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EfacturaAttempt(Base):
    """One upload of a document: the exact XML sent (and its sha256), the index, ANAF's verdict."""

    __tablename__ = "efactura_attempts"
    __table_args__ = (
        UniqueConstraint("submission_id", "number"),
        Index("ix_efactura_attempts_env_index", "environment", "upload_index"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    submission_id: Mapped[int] = mapped_column(BigId, ForeignKey("efactura_submissions.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    environment: Mapped[str] = mapped_column(String(10))
    state: Mapped[str] = mapped_column(String(12))
    endpoint: Mapped[str | None] = mapped_column(String(10))  # upload | uploadb2c
    standard: Mapped[str | None] = mapped_column(String(4))  # UBL | CN
    extern: Mapped[bool] = mapped_column(Boolean, default=False)
    xml: Mapped[bytes | None] = mapped_column(LargeBinary)
    xml_sha256: Mapped[str | None] = mapped_column(String(64))
    validation: Mapped[str | None] = mapped_column(String(12))  # passed | failed | skipped
    upload_index: Mapped[str | None] = mapped_column(String(40))
    uploading_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    uploaded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    anaf_state: Mapped[str | None] = mapped_column(String(40))
    download_id: Mapped[str | None] = mapped_column(String(40))
    polls: Mapped[int] = mapped_column(Integer, default=0)
    messages: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    last_error: Mapped[str | None] = mapped_column(Text)
    archive_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("efactura_archive.id", ondelete="SET NULL"))
    requested_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class EfacturaArchive(Base):
    """A ZIP downloaded from ANAF, kept under ``data_dir/archive/<cif>/<yyyy>/<mm>/`` and never overwritten.

    ``kind``: ``invoice`` (an accepted invoice we sent), ``errors`` (ANAF's error XML of a rejected
    one), ``received`` (an invoice a supplier sent us).
    """

    __tablename__ = "efactura_archive"
    __table_args__ = (UniqueConstraint("environment", "download_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="RESTRICT"), index=True)
    environment: Mapped[str] = mapped_column(String(10))
    download_id: Mapped[str] = mapped_column(String(40))
    upload_index: Mapped[str | None] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(12))
    path: Mapped[str] = mapped_column(String(500))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AnafCallCount(Base):
    """Calls made per message per (Romanian) day, so ANAF's per-message daily limits are never exceeded."""

    __tablename__ = "anaf_call_counts"
    __table_args__ = (UniqueConstraint("call", "key", "day"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    call: Mapped[str] = mapped_column(String(30))
    key: Mapped[str] = mapped_column(String(60))
    day: Mapped[date] = mapped_column(Date)
    count: Mapped[int] = mapped_column(Integer, default=0)


__all__ = [
    "AnafCallCount",
    "AnafOAuthState",
    "AnafToken",
    "EfacturaArchive",
    "EfacturaAttempt",
    "EfacturaSettings",
    "EfacturaSubmission",
]
