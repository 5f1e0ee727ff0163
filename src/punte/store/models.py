"""SQLAlchemy 2 models. One schema for SQLite and PostgreSQL; tenancy is by company."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeEngine


def utcnow() -> datetime:
    return datetime.now(UTC)


class Money(TypeDecorator[Decimal]):
    """Exact decimals everywhere: NUMERIC on PostgreSQL, text on SQLite (whose NUMERIC is a float)."""

    impl = Numeric(20, 6)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(40))
        return dialect.type_descriptor(Numeric(20, 6))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, Decimal):
            value = Decimal(str(value))
        if dialect.name == "sqlite":
            return format(value, "f")
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return Decimal(str(value))


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both engines."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Company(Base):
    __tablename__ = "companies"

    id: Mapped[int] = mapped_column(primary_key=True)
    cif: Mapped[str] = mapped_column(String(16), unique=True)  # digits only
    name: Mapped[str] = mapped_column(String(200))
    reg_com: Mapped[str | None] = mapped_column(String(40))
    address: Mapped[str | None] = mapped_column(String(300))
    city: Mapped[str | None] = mapped_column(String(100))
    county: Mapped[str | None] = mapped_column(String(100))
    country: Mapped[str] = mapped_column(String(60), default="Romania")
    iban: Mapped[str | None] = mapped_column(String(40))
    bank: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(40))
    intra_cif: Mapped[str | None] = mapped_column(String(20))
    uses_product_codes: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    vat_statuses: Mapped[list[VatStatus]] = relationship(order_by="VatStatus.effective_from", lazy="selectin")


class VatStatus(Base):
    """The company's VAT-payer status from ``effective_from`` on (history, never edited)."""

    __tablename__ = "company_vat_status"
    __table_args__ = (UniqueConstraint("company_id", "effective_from"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    vat_payer: Mapped[bool] = mapped_column(Boolean)
    vat_on_collection: Mapped[bool] = mapped_column(Boolean, default=False)
    effective_from: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class VatRateRow(Base):
    __tablename__ = "vat_rates"

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(40))
    percentage: Mapped[Decimal] = mapped_column(Money)
    category: Mapped[str] = mapped_column(String(4), default="S")
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    exemption_reason: Mapped[str | None] = mapped_column(String(200))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)


class MeasuringUnit(Base):
    __tablename__ = "measuring_units"
    __table_args__ = (UniqueConstraint("company_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(40))
    code: Mapped[str] = mapped_column(String(8))


class Series(Base):
    """A numbering series. ``next_number`` is taken under a row lock when a document is issued."""

    __tablename__ = "series"
    __table_args__ = (UniqueConstraint("company_id", "type", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(1))  # f invoice, p proforma, c receipt
    name: Mapped[str] = mapped_column(String(20))
    next_number: Mapped[int] = mapped_column(Integer, default=1)
    padding: Mapped[int] = mapped_column(Integer, default=4)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)

    def format(self, number: int) -> str:
        return str(number).zfill(self.padding)


class ApiToken(Base):
    """An API user's token for one company; only a keyed hash is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(200), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Client(Base):
    """Client nomenclature (``saveToDb``)."""

    __tablename__ = "clients"
    __table_args__ = (UniqueConstraint("company_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    vat_code: Mapped[str | None] = mapped_column(String(40))
    code: Mapped[str | None] = mapped_column(String(40))
    reg_com: Mapped[str | None] = mapped_column(String(40))
    address: Mapped[str | None] = mapped_column(String(300))
    city: Mapped[str | None] = mapped_column(String(100))
    county: Mapped[str | None] = mapped_column(String(100))
    country: Mapped[str | None] = mapped_column(String(60))
    email: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(40))
    contact: Mapped[str | None] = mapped_column(String(100))
    bank: Mapped[str | None] = mapped_column(String(100))
    iban: Mapped[str | None] = mapped_column(String(40))
    is_tax_payer: Mapped[bool] = mapped_column(Boolean, default=False)


class Product(Base):
    """Product nomenclature (``saveToDb``)."""

    __tablename__ = "products"
    __table_args__ = (UniqueConstraint("company_id", "name", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    code: Mapped[str] = mapped_column(String(60), default="")
    unit: Mapped[str] = mapped_column(String(40))
    price: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3), default="RON")
    tax_included: Mapped[bool] = mapped_column(Boolean, default=False)
    vat_name: Mapped[str | None] = mapped_column(String(40))
    vat_percentage: Mapped[Decimal | None] = mapped_column(Money)
    is_service: Mapped[bool] = mapped_column(Boolean, default=False)


class Document(Base):
    """An invoice, proforma or receipt. Immutable once issued: changes are new events or documents."""

    __tablename__ = "documents"
    __table_args__ = (
        UniqueConstraint("company_id", "series_id", "number", name="uq_documents_company_series_number"),
        Index("ix_documents_company_kind_date", "company_id", "kind", "issue_date"),
        Index("ix_documents_company_date_id", "company_id", "issue_date", "id"),  # dashboard keyset pages
        # the overview's open invoices: (company, invoice, issued, unpaid|partial) is two index ranges
        Index("ix_documents_open", "company_id", "kind", "status", "payment_state"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="RESTRICT"), index=True)
    kind: Mapped[str] = mapped_column(String(12))  # invoice | proforma | receipt
    series_id: Mapped[int] = mapped_column(ForeignKey("series.id", ondelete="RESTRICT"))
    series_name: Mapped[str] = mapped_column(String(20))
    number: Mapped[int | None] = mapped_column(Integer)  # NULL while a draft
    number_text: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(12), index=True)  # draft | issued | cancelled
    issue_date: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date | None] = mapped_column(Date)
    delivery_date: Mapped[date | None] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3), default="RON")
    exchange_rate: Mapped[Decimal | None] = mapped_column(Money)
    language: Mapped[str] = mapped_column(String(5), default="RO")
    precision: Mapped[int] = mapped_column(Integer, default=2)
    vat_payer: Mapped[bool] = mapped_column(Boolean)  # the seller's status the document was issued under
    vat_on_collection: Mapped[bool] = mapped_column(Boolean, default=False)
    seller: Mapped[dict[str, Any]] = mapped_column(JSON)
    buyer: Mapped[dict[str, Any]] = mapped_column(JSON)
    client_name: Mapped[str] = mapped_column(String(200), index=True)
    client_cif: Mapped[str | None] = mapped_column(String(40))
    line_total: Mapped[Decimal] = mapped_column(Money)
    allowance_total: Mapped[Decimal] = mapped_column(Money)
    net_total: Mapped[Decimal] = mapped_column(Money)
    vat_total: Mapped[Decimal] = mapped_column(Money)
    gross_total: Mapped[Decimal] = mapped_column(Money)
    vat_total_ron: Mapped[Decimal | None] = mapped_column(Money)
    gross_total_ron: Mapped[Decimal | None] = mapped_column(Money)
    # kept by services.payments.refresh_paid from the allocations of issued payments, in the same transaction;
    # payment_state: unpaid | partial | paid (services.payments.payment_state)
    paid_total: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"), server_default="0")
    payment_state: Mapped[str] = mapped_column(String(8), default="unpaid", server_default="unpaid")
    vat_breakdown: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # mentions, delegate, issuer, ...
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id", ondelete="RESTRICT"), unique=True)
    estimate_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id", ondelete="RESTRICT"))
    view_token: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    lines: Mapped[list[DocumentLine]] = relationship(
        order_by="DocumentLine.position", cascade="all, delete-orphan", lazy="selectin"
    )


class DocumentLine(Base):
    __tablename__ = "document_lines"
    __table_args__ = (UniqueConstraint("document_id", "position"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    is_discount: Mapped[bool] = mapped_column(Boolean, default=False)
    name: Mapped[str] = mapped_column(String(300))
    code: Mapped[str | None] = mapped_column(String(60))
    description: Mapped[str | None] = mapped_column(Text)
    unit: Mapped[str] = mapped_column(String(40))
    quantity: Mapped[Decimal] = mapped_column(Money)
    unit_price: Mapped[Decimal] = mapped_column(Money)
    net_amount: Mapped[Decimal] = mapped_column(Money)
    vat_name: Mapped[str | None] = mapped_column(String(40))
    vat_percentage: Mapped[Decimal | None] = mapped_column(Money)
    vat_category: Mapped[str] = mapped_column(String(4))
    vat_exemption_reason: Mapped[str | None] = mapped_column(String(200))
    tax_included: Mapped[bool] = mapped_column(Boolean, default=False)
    entered_price: Mapped[Decimal | None] = mapped_column(Money)
    entered_currency: Mapped[str | None] = mapped_column(String(3))
    entered_exchange_rate: Mapped[Decimal | None] = mapped_column(Money)
    is_service: Mapped[bool] = mapped_column(Boolean, default=False)
    translated_name: Mapped[str | None] = mapped_column(String(300))
    translated_unit: Mapped[str | None] = mapped_column(String(40))
    warehouse: Mapped[str | None] = mapped_column(String(100))
    discount_items: Mapped[int | None] = mapped_column(Integer)
    discount_percentage: Mapped[Decimal | None] = mapped_column(Money)
    gross_amount: Mapped[Decimal | None] = mapped_column(Money)


class Payment(Base):
    """A payment collected against invoices (or standalone); a Chitanta has its own series number, a Bon
    (fiscal receipt) the number of the company's fiscal printer. ``document_id`` is the first invoice; the
    split over invoices is in ``payment_allocations``. A draft receipt (``status`` draft) has no number."""

    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("company_id", "series_id", "number", name="uq_payments_company_series_number"),
        UniqueConstraint("company_id", "fiscal_printer_id", "number", name="uq_payments_company_fiscal_number"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="RESTRICT"), index=True)
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(30))
    value: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3), default="RON")
    payment_date: Mapped[date] = mapped_column(Date)
    is_cash: Mapped[bool] = mapped_column(Boolean, default=False)
    series_id: Mapped[int | None] = mapped_column(ForeignKey("series.id", ondelete="RESTRICT"))
    series_name: Mapped[str | None] = mapped_column(String(20))
    number: Mapped[int | None] = mapped_column(Integer)
    client_name: Mapped[str | None] = mapped_column(String(200))
    client_cif: Mapped[str | None] = mapped_column(String(40))  # as written on the invoice / request
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(12), default="issued", server_default="issued")  # issued | draft
    language: Mapped[str] = mapped_column(String(5), default="RO", server_default="RO")
    exchange_rate: Mapped[Decimal | None] = mapped_column(Money)
    fiscal_printer_id: Mapped[int | None] = mapped_column(ForeignKey("fiscal_printers.id", ondelete="RESTRICT"))
    number_text: Mapped[str | None] = mapped_column(String(20))  # the number as printed ("0001")
    fiscal_text: Mapped[str | None] = mapped_column(Text)  # a Bon's text for the cash register
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=dict)  # text, observation, client, tenders


class Event(Base):
    """Append-only log of every state change (database triggers refuse UPDATE and DELETE)."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_entity", "entity", "entity_id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    company_id: Mapped[int | None] = mapped_column(Integer, index=True)
    entity: Mapped[str] = mapped_column(String(30))
    entity_id: Mapped[int | None] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class IdempotencyKey(Base):
    """The first answer given to a write carrying an ``Idempotency-Key``, per API user."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("scope", "key"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    scope: Mapped[str] = mapped_column(String(250))  # user email + method + path
    key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ExchangeRate(Base):
    """BNR reference rates: RON per one unit of ``currency`` published on ``day``."""

    __tablename__ = "exchange_rates"
    __table_args__ = (UniqueConstraint("currency", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    currency: Mapped[str] = mapped_column(String(3))
    day: Mapped[date] = mapped_column(Date)
    rate: Mapped[Decimal] = mapped_column(Money)
    source: Mapped[str] = mapped_column(String(20), default="BNR")


class Job(Base):
    """The transactional outbox: work queued in the same transaction as the change that needs it.

    A job with a ``key`` is unique per ``kind`` (enqueueing it twice is a no-op), which is how
    "exactly once" effects (one submission per document, one invoice per payment) are keyed.
    """

    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("kind", "key", name="uq_jobs_kind_key"),
        Index("ix_jobs_status_run_at", "status", "run_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    key: Mapped[str | None] = mapped_column(String(200))
    company_id: Mapped[int | None] = mapped_column(Integer, index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(12), default="queued")  # queued | running | done | dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=12)
    run_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    locked_by: Mapped[str | None] = mapped_column(String(100))
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# Tables of the other areas live in their own modules; importing them here puts them in Base.metadata.
from . import (  # noqa: E402,F401
    models_anaf,
    models_bridge,
    models_email,
    models_operations,
    models_payments,
    models_received,
    models_sandbox,
    models_stock,
    models_web,
)
