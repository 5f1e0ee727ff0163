"""Tables of the stock area (imported by punte.store.models so they join Base.metadata).

``stock_movements`` is the ledger: append-only, one row per quantity that entered (+) or left (-) a
warehouse, dated with the day it counts for. ``stock_balances`` is the running total per
(company, warehouse, product key), updated in the same transaction as every movement; issuing locks
its rows to check and take stock, so the ledger and the balances never disagree.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base, Money, UTCDateTime, utcnow

WAREHOUSE_TYPES = ("en gros", "en detail")  # at purchase cost / at sale price (SmartBill's two kinds)


class Warehouse(Base):
    """A company's warehouse (gestiune). Its name is matched exactly, case included, as SmartBill does."""

    __tablename__ = "warehouses"
    __table_args__ = (UniqueConstraint("company_id", "name", name="uq_warehouses_company_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(12), default="en gros")
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StockMovement(Base):
    """One entry of the stock ledger (never updated, never deleted: database triggers refuse both).

    ``kind``: ``receipt`` (goods received), ``adjustment`` (manual correction, either sign), ``issue``
    (an invoice or storno issued: out for sold quantities, in for a storno's negative ones), ``cancel``
    and ``delete`` (undo what the document had moved), ``restore`` (a cancelled document moves again).
    ``document_id`` is not a foreign key: the ledger outlives a deleted document, whose movements net
    to zero; ``document_label`` keeps its series and number for people.
    """

    __tablename__ = "stock_movements"
    __table_args__ = (
        Index("ix_stock_movements_key_date", "company_id", "warehouse_id", "product_key", "movement_date"),
        Index("ix_stock_movements_company_date", "company_id", "movement_date"),
        Index("ix_stock_movements_document", "company_id", "document_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="RESTRICT"))
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id", ondelete="RESTRICT"))
    product_key: Mapped[str] = mapped_column(String(300))
    product_name: Mapped[str] = mapped_column(String(300))
    product_code: Mapped[str | None] = mapped_column(String(60))
    unit: Mapped[str] = mapped_column(String(40))
    quantity: Mapped[Decimal] = mapped_column(Money)  # signed: + into the warehouse, - out of it
    unit_cost: Mapped[Decimal | None] = mapped_column(Money)
    movement_date: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(12))
    document_id: Mapped[int | None] = mapped_column(BigInteger)
    document_label: Mapped[str | None] = mapped_column(String(40))
    line_position: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(String(300))
    actor: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StockBalance(Base):
    """Quantity now in stock of one product in one warehouse: the sum of its ledger rows.

    ``last_movement_date`` is the latest ``movement_date`` among them: a discharge dated on or after it
    is checked against ``quantity`` alone, an earlier one against the ledger from its date on.
    """

    __tablename__ = "stock_balances"
    __table_args__ = (
        UniqueConstraint("company_id", "warehouse_id", "product_key", name="uq_stock_balances_product"),
        CheckConstraint("CAST(quantity AS NUMERIC) >= 0", name="quantity_not_negative"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="RESTRICT"), index=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id", ondelete="RESTRICT"), index=True)
    product_key: Mapped[str] = mapped_column(String(300))
    product_name: Mapped[str] = mapped_column(String(300))
    product_code: Mapped[str | None] = mapped_column(String(60))
    unit: Mapped[str] = mapped_column(String(40))
    quantity: Mapped[Decimal] = mapped_column(Money)
    last_movement_date: Mapped[date] = mapped_column(Date)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
