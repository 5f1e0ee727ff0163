"""Tables of the payments area (imported by punte.store.models so they join Base.metadata).

- ``payment_allocations``: how much of a payment went to which invoice (one payment may cover several
  invoices of one client; the paid amount of an invoice is the sum of its allocations).
- ``fiscal_printers``: the company's cash register for fiscal receipts (casa de marcat) and the
  number of its next receipt (bon fiscal).
- ``cash_registers`` / ``cash_movements``: the cash book (registrul de casa) per company and currency.
  Movements are append-only (the database refuses UPDATE and DELETE); a deleted receipt is undone by a
  reversing movement. ``balance_after`` is the running balance in book order (``seq``).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base, Money, UTCDateTime, utcnow

BigId = BigInteger().with_variant(Integer, "sqlite")


class PaymentAllocation(Base):
    __tablename__ = "payment_allocations"
    __table_args__ = (UniqueConstraint("payment_id", "document_id", name="uq_payment_allocations_payment_document"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    payment_id: Mapped[int] = mapped_column(BigId, ForeignKey("payments.id", ondelete="CASCADE"), index=True)
    document_id: Mapped[int] = mapped_column(BigId, ForeignKey("documents.id", ondelete="RESTRICT"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    amount: Mapped[Decimal] = mapped_column(Money)


class FiscalPrinter(Base):
    """The company's cash register for fiscal receipts; ``next_number`` is taken under a row lock."""

    __tablename__ = "fiscal_printers"

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    next_number: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CashRegister(Base):
    """The cash book of one company in one currency: its current balance and last movement number."""

    __tablename__ = "cash_registers"
    __table_args__ = (UniqueConstraint("company_id", "currency", name="uq_cash_registers_company_currency"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    balance: Mapped[Decimal] = mapped_column(Money)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)


class CashMovement(Base):
    """One entry of the cash book, never changed: ``amount`` is signed (+ money in, - money out)."""

    __tablename__ = "cash_movements"
    __table_args__ = (UniqueConstraint("register_id", "seq", name="uq_cash_movements_register_seq"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    register_id: Mapped[int] = mapped_column(ForeignKey("cash_registers.id", ondelete="RESTRICT"))
    company_id: Mapped[int] = mapped_column(Integer, index=True)
    seq: Mapped[int] = mapped_column(Integer)
    day: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(20))  # payment | payment_reversal | manual_in | manual_out
    amount: Mapped[Decimal] = mapped_column(Money)
    balance_after: Mapped[Decimal] = mapped_column(Money)
    payment_id: Mapped[int | None] = mapped_column(BigInteger)  # no FK: the payment may be deleted later
    reverses_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("cash_movements.id", ondelete="RESTRICT"))
    document: Mapped[str | None] = mapped_column(String(40))  # receipt or invoice label, for the report
    text: Mapped[str | None] = mapped_column(String(300))
    actor: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
