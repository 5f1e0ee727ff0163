"""Tables of received (supplier) e-Factura invoices (imported by ``punte.store.models``).

``received_invoices`` holds one row per ``FACTURA PRIMITA`` message a company downloaded: the
ZIP's place in the archive and its sha256 (the archive is the record; ANAF deletes its copy after
about 60 days) and what punte read from the invoice XML. ``received_sync`` is each company's
cursor through ANAF's message list and the outcome of its last sync.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base, Money, UTCDateTime, utcnow

BigId = BigInteger().with_variant(Integer, "sqlite")

DOWNLOADED = "downloaded"
PARSE_ERROR = "parse_error"


class ReceivedInvoice(Base):
    """An invoice (or credit note) a supplier sent the company through e-Factura.

    ``status`` is ``downloaded`` (read: supplier, number, dates, totals, lines are filled) or
    ``parse_error`` (the ZIP is archived but its XML could not be read; ``error`` says why).
    Amounts are the supplier's, as written in the XML (a credit note states positive amounts).
    """

    __tablename__ = "received_invoices"
    __table_args__ = (
        UniqueConstraint("company_id", "environment", "download_id"),
        Index("ix_received_invoices_company_issue", "company_id", "issue_date"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="RESTRICT"))
    environment: Mapped[str] = mapped_column(String(10))
    download_id: Mapped[str] = mapped_column(String(40))
    upload_index: Mapped[str | None] = mapped_column(String(40))
    message_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(12))
    error: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str | None] = mapped_column(String(12))  # invoice | credit_note
    type_code: Mapped[str | None] = mapped_column(String(4))
    supplier_cif: Mapped[str | None] = mapped_column(String(40))
    supplier_name: Mapped[str | None] = mapped_column(String(300))
    buyer_cif: Mapped[str | None] = mapped_column(String(40))
    number: Mapped[str | None] = mapped_column(String(100))
    issue_date: Mapped[date | None] = mapped_column(Date)
    due_date: Mapped[date | None] = mapped_column(Date)
    currency: Mapped[str | None] = mapped_column(String(3))
    net_total: Mapped[Decimal | None] = mapped_column(Money)
    vat_total: Mapped[Decimal | None] = mapped_column(Money)
    gross_total: Mapped[Decimal | None] = mapped_column(Money)
    payable: Mapped[Decimal | None] = mapped_column(Money)
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    vat_breakdown: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    xml_name: Mapped[str | None] = mapped_column(String(200))
    archive_path: Mapped[str] = mapped_column(String(500))
    archive_sha256: Mapped[str] = mapped_column(String(64))
    archive_size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReceivedSync(Base):
    """A company's cursor through ANAF's message list (per environment) and its last sync's outcome.

    ``synced_until`` is the end of the last complete listing; ``last_message_at`` the newest
    ``FACTURA PRIMITA`` seen. ``status`` is ``ok``, ``not connected``, ``reauthorize needed`` or
    ``error``; ``status_text`` says what to do.
    """

    __tablename__ = "received_sync"
    __table_args__ = (UniqueConstraint("company_id", "environment"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    environment: Mapped[str] = mapped_column(String(10))
    synced_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_message_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_sync_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(30))
    status_text: Mapped[str | None] = mapped_column(Text)
    listed: Mapped[int] = mapped_column(Integer, default=0)
    queued: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


__all__ = ["DOWNLOADED", "PARSE_ERROR", "ReceivedInvoice", "ReceivedSync"]
