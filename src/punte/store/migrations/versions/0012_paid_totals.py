"""paid totals on documents

Revision ID: 0012
Revises: 0011

Every document keeps what has been collected on it (``paid_total``, the sum of its allocations of issued
payments) and a ``payment_state`` (unpaid | partial | paid) derived from it and its total, so that the
dashboard selects open invoices through an index instead of summing allocations. The back-fill sums in
Python with Decimal: SQLite stores money as text and would add it as floats.
"""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa
from alembic import op

import punte.store.models  # noqa: F401

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

ZERO = Decimal("0")


def _state(gross: Decimal, paid: Decimal) -> str:
    """The rule of ``services.payments.payment_state``, frozen here as it was at this revision."""
    if paid <= ZERO:
        return "unpaid"
    return "paid" if paid >= gross else "partial"


def upgrade() -> None:
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("paid_total", punte.store.models.Money(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("payment_state", sa.String(length=8), server_default="unpaid", nullable=False))
        batch_op.create_index("ix_documents_open", ["company_id", "kind", "status", "payment_state"], unique=False)
    _backfill()


def _backfill() -> None:
    bind = op.get_bind()
    money = punte.store.models.Money()
    documents = sa.table("documents", sa.column("id"), sa.column("gross_total", money), sa.column("paid_total", money),
                         sa.column("payment_state"))
    allocations = sa.table("payment_allocations", sa.column("payment_id"), sa.column("document_id"),
                           sa.column("amount", money))
    payments = sa.table("payments", sa.column("id"), sa.column("status"))
    rows = bind.execute(
        sa.select(allocations.c.document_id, allocations.c.amount, documents.c.gross_total)
        .join(payments, payments.c.id == allocations.c.payment_id)
        .join(documents, documents.c.id == allocations.c.document_id)
        .where(payments.c.status == "issued")
    )
    paid: dict[int, Decimal] = {}
    gross: dict[int, Decimal] = {}
    for doc_id, amount, total in rows:
        paid[doc_id] = paid.get(doc_id, ZERO) + amount
        gross[doc_id] = total
    changes = [{"doc_id": doc_id, "paid": amount, "state": _state(gross[doc_id], amount)}
               for doc_id, amount in sorted(paid.items())]
    for start in range(0, len(changes), 1000):
        bind.execute(
            documents.update().where(documents.c.id == sa.bindparam("doc_id"))
            .values(paid_total=sa.bindparam("paid", type_=money), payment_state=sa.bindparam("state")),
            changes[start:start + 1000],
        )


def downgrade() -> None:
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_index("ix_documents_open")
        batch_op.drop_column("payment_state")
        batch_op.drop_column("paid_total")
