"""Tables of the operations area (imported by punte.store.models so they join Base.metadata):
subscription plans and document quotas, special price lists, recurring invoices."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base, Money, UTCDateTime, utcnow

BIG_ID = BigInteger().with_variant(Integer, "sqlite")


class CompanyPlan(Base):
    """A company's subscription: at most ``document_limit`` documents per anniversary month
    anchored on ``activated_on`` (NULL limit: unlimited). Issuers lock this row to count."""

    __tablename__ = "company_plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), unique=True)
    name: Mapped[str | None] = mapped_column(String(40))
    document_limit: Mapped[int | None] = mapped_column(Integer)
    activated_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class QuotaUsage(Base):
    """Documents issued per company, Bucharest day of the issue moment, and kind.

    Written in the issuing transaction and never decremented (a deleted document was issued), so a
    period's use is the sum of its days, whichever anchor the plan has.
    """

    __tablename__ = "quota_usage"
    __table_args__ = (UniqueConstraint("company_id", "day", "kind", name="uq_quota_usage_company_day_kind"),)

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(12))
    used: Mapped[int] = mapped_column(Integer, default=0)


class PriceList(Base):
    """A special price list ("lista de preturi speciale"); applies only while ``active``."""

    __tablename__ = "price_lists"
    __table_args__ = (UniqueConstraint("company_id", "name", name="uq_price_lists_company_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PriceListItem(Base):
    """The special price of one nomenclature product in one list."""

    __tablename__ = "price_list_items"
    __table_args__ = (UniqueConstraint("price_list_id", "product_id", name="uq_price_list_items_list_product"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    price_list_id: Mapped[int] = mapped_column(ForeignKey("price_lists.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), index=True)
    price: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3), default="RON")
    tax_included: Mapped[bool] = mapped_column(Boolean, default=False)


class PriceListAssignment(Base):
    """Who a list applies to: one client (``client_id``) or a client group (``group_name``).
    A client, and a group, has at most one list."""

    __tablename__ = "price_list_assignments"
    __table_args__ = (
        UniqueConstraint("company_id", "client_id", name="uq_price_list_assignments_company_client"),
        UniqueConstraint("company_id", "group_name", name="uq_price_list_assignments_company_group"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    price_list_id: Mapped[int] = mapped_column(ForeignKey("price_lists.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    group_name: Mapped[str | None] = mapped_column(String(100))


class ClientGroupMember(Base):
    """A client's group (at most one), for group price lists."""

    __tablename__ = "client_group_members"
    __table_args__ = (UniqueConstraint("company_id", "client_id", name="uq_client_group_members_company_client"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    group_name: Mapped[str] = mapped_column(String(100))
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)


class RecurringInvoice(Base):
    """A recurring invoice schedule; ``template`` is a stored SmartBill invoice request body.

    ``status``: active | paused | stopped (final) | finished (past its end date). Occurrences dated
    before ``not_before`` are never issued (creation day, resume day); ``last_scheduled`` is the
    latest occurrence already queued.
    """

    __tablename__ = "recurring_invoices"

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    name: Mapped[str | None] = mapped_column(String(200))
    client_name: Mapped[str] = mapped_column(String(200))
    every: Mapped[int] = mapped_column(Integer)
    unit: Mapped[str] = mapped_column(String(8))
    day_of_month: Mapped[int | None] = mapped_column(Integer)
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    due_days: Mapped[int | None] = mapped_column(Integer)
    template: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(12), index=True)
    not_before: Mapped[date] = mapped_column(Date)
    last_scheduled: Mapped[date | None] = mapped_column(Date)
    stopped_reason: Mapped[str | None] = mapped_column(String(300))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RecurringOccurrence(Base):
    """One due occurrence of a schedule: queued, then issued (with its invoice), failed or skipped."""

    __tablename__ = "recurring_occurrences"
    __table_args__ = (
        UniqueConstraint("schedule_id", "occurrence_date", name="uq_recurring_occurrences_schedule_date"),
        Index("ix_recurring_occurrences_status", "status"),
    )

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("recurring_invoices.id", ondelete="CASCADE"))
    company_id: Mapped[int] = mapped_column(Integer)
    occurrence_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(12))
    document_id: Mapped[int | None] = mapped_column(BIG_ID, ForeignKey("documents.id", ondelete="SET NULL"))
    series_name: Mapped[str | None] = mapped_column(String(20))
    number_text: Mapped[str | None] = mapped_column(String(20))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
