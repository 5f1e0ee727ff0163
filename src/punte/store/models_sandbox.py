"""Tables of the offline ANAF sandbox (imported by ``punte.store.models`` so they join ``Base.metadata``).

These rows are the state of the *emulated ANAF*, not punte's own records: what "ANAF" received,
its verdicts and message lists, its OAuth codes and refresh tokens, its daily call counters.
``index_incarcare`` and ``id_descarcare`` are derived from ``AnafSandboxUpload.id`` (see
:mod:`punte.efactura.sandbox.service`), so several processes never hand out the same number.
"""

from __future__ import annotations

from datetime import date, datetime

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
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base, UTCDateTime, utcnow


class AnafSandboxUpload(Base):
    """One file received by the sandbox (``upload``, ``uploadb2c``) or injected for a test/demo."""

    __tablename__ = "anaf_sandbox_uploads"
    __table_args__ = (
        Index("ix_anaf_sandbox_uploads_stare_due_at", "stare", "due_at"),
        Index("ix_anaf_sandbox_uploads_invoice", "env", "seller_cif", "invoice_number", "issue_date"),
        Index("ix_anaf_sandbox_uploads_cif", "cif"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    env: Mapped[str] = mapped_column(String(4))  # prod | test
    kind: Mapped[str] = mapped_column(String(12))  # upload | uploadb2c | injected
    standard: Mapped[str] = mapped_column(String(4))  # UBL | CN | CII | RASP
    cif: Mapped[str] = mapped_column(String(16))  # the ``cif`` parameter (digits)
    extern: Mapped[bool] = mapped_column(Boolean, default=False)
    autofactura: Mapped[bool] = mapped_column(Boolean, default=False)
    executare: Mapped[bool] = mapped_column(Boolean, default=False)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    body_sha256: Mapped[str] = mapped_column(String(64))
    invoice_number: Mapped[str | None] = mapped_column(String(200))
    issue_date: Mapped[str | None] = mapped_column(String(10))
    seller_cif: Mapped[str | None] = mapped_column(String(32))
    buyer_cif: Mapped[str | None] = mapped_column(String(32))
    token_subject: Mapped[str | None] = mapped_column(String(200))
    client_id: Mapped[str | None] = mapped_column(String(200))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    stare: Mapped[str] = mapped_column(String(40), default="in prelucrare")
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    errors: Mapped[list[str] | None] = mapped_column(JSON)
    result_zip: Mapped[bytes | None] = mapped_column(LargeBinary)


class AnafSandboxMessage(Base):
    """One entry of a CIF's message list (FACTURA TRIMISA / PRIMITA, ERORI FACTURA, MESAJ CUMPARATOR)."""

    __tablename__ = "anaf_sandbox_messages"
    __table_args__ = (Index("ix_anaf_sandbox_messages_env_cif_created", "env", "cif", "created_at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    env: Mapped[str] = mapped_column(String(4))
    cif: Mapped[str] = mapped_column(String(32))  # whose list the message is in
    tip: Mapped[str] = mapped_column(String(40))
    upload_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), ForeignKey("anaf_sandbox_uploads.id", ondelete="CASCADE"),
        index=True,
    )
    detalii: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AnafSandboxOAuthClient(Base):
    """A client id seen by the sandbox's authorize step (or registered by a test)."""

    __tablename__ = "anaf_sandbox_oauth_clients"

    client_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    secret_hash: Mapped[str | None] = mapped_column(String(64))  # bound at the first token call when unset
    redirect_uris: Mapped[list[str] | None] = mapped_column(JSON)  # None: any redirect_uri
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AnafSandboxOAuthCode(Base):
    """An authorization code (stored hashed), valid once, for 60 seconds."""

    __tablename__ = "anaf_sandbox_oauth_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(200))
    redirect_uri: Mapped[str] = mapped_column(String(2000))
    subject: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AnafSandboxRefreshToken(Base):
    """A refresh token (by its JWT id); rotated on use: the old one is revoked and points to its successor."""

    __tablename__ = "anaf_sandbox_refresh_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(200), index=True)
    subject: Mapped[str] = mapped_column(String(200))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    replaced_by: Mapped[str | None] = mapped_column(String(64))


class AnafSandboxCounter(Base):
    """Daily call counters (per message or per CUI), one row per (scope, key, Bucharest day)."""

    __tablename__ = "anaf_sandbox_counters"
    __table_args__ = (UniqueConstraint("scope", "key", "day"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    scope: Mapped[str] = mapped_column(String(20))
    key: Mapped[str] = mapped_column(String(64))
    day: Mapped[date] = mapped_column(Date)
    count: Mapped[int] = mapped_column(Integer, default=0)


__all__ = [
    "AnafSandboxCounter",
    "AnafSandboxMessage",
    "AnafSandboxOAuthClient",
    "AnafSandboxOAuthCode",
    "AnafSandboxRefreshToken",
    "AnafSandboxUpload",
]
