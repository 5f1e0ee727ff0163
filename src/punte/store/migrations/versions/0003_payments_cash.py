"""payments cash

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

import punte.store.models  # noqa: F401
from punte.store.migrations.ddl import create_append_only, drop_append_only

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "fiscal_printers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("next_number", sa.Integer(), nullable=False),
        sa.Column("created_at", punte.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_fiscal_printers_company_id_companies"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fiscal_printers")),
        sa.UniqueConstraint("company_id", name=op.f("uq_fiscal_printers_company_id")),
    )
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status", sa.String(length=12), server_default="issued", nullable=False))
        batch_op.add_column(sa.Column("language", sa.String(length=5), server_default="RO", nullable=False))
        batch_op.add_column(sa.Column("exchange_rate", punte.store.models.Money(), nullable=True))
        batch_op.add_column(sa.Column("fiscal_printer_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("number_text", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("fiscal_text", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("details", sa.JSON(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_payments_fiscal_printer_id_fiscal_printers"), "fiscal_printers", ["fiscal_printer_id"],
            ["id"], ondelete="RESTRICT",
        )
        batch_op.create_unique_constraint(
            "uq_payments_company_fiscal_number", ["company_id", "fiscal_printer_id", "number"]
        )
    op.create_table(
        "payment_allocations",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("payment_id", BIG_ID, nullable=False),
        sa.Column("document_id", BIG_ID, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("amount", punte.store.models.Money(), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"], ["documents.id"], name=op.f("fk_payment_allocations_document_id_documents"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_payment_allocations_payment_id_payments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_allocations")),
        sa.UniqueConstraint("payment_id", "document_id", name="uq_payment_allocations_payment_document"),
    )
    with op.batch_alter_table("payment_allocations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payment_allocations_payment_id"), ["payment_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_payment_allocations_document_id"), ["document_id"], unique=False)
    # payments recorded at invoice issue before this revision: one allocation each; receipts' printed numbers
    bind = op.get_bind()
    numbered = bind.execute(sa.text(
        "SELECT payments.id, payments.number, series.padding FROM payments JOIN series ON series.id = payments.series_id "
        "WHERE payments.number IS NOT NULL"
    )).all()
    for payment_id, number, padding in numbered:
        bind.execute(sa.text("UPDATE payments SET number_text = :text WHERE id = :id"),
                     {"text": str(number).zfill(padding), "id": payment_id})
    # payments recorded at invoice issue before this revision: one allocation each
    op.execute(
        "INSERT INTO payment_allocations (payment_id, document_id, position, amount) "
        "SELECT id, document_id, 1, value FROM payments WHERE document_id IS NOT NULL"
    )

    op.create_table(
        "cash_registers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("balance", punte.store.models.Money(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_cash_registers_company_id_companies"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cash_registers")),
        sa.UniqueConstraint("company_id", "currency", name="uq_cash_registers_company_currency"),
    )
    with op.batch_alter_table("cash_registers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cash_registers_company_id"), ["company_id"], unique=False)
    op.create_table(
        "cash_movements",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("register_id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("amount", punte.store.models.Money(), nullable=False),
        sa.Column("balance_after", punte.store.models.Money(), nullable=False),
        sa.Column("payment_id", sa.BigInteger(), nullable=True),
        sa.Column("reverses_id", BIG_ID, nullable=True),
        sa.Column("document", sa.String(length=40), nullable=True),
        sa.Column("text", sa.String(length=300), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("created_at", punte.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["register_id"], ["cash_registers.id"], name=op.f("fk_cash_movements_register_id_cash_registers"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["reverses_id"], ["cash_movements.id"], name=op.f("fk_cash_movements_reverses_id_cash_movements"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cash_movements")),
        sa.UniqueConstraint("register_id", "seq", name="uq_cash_movements_register_seq"),
    )
    with op.batch_alter_table("cash_movements", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cash_movements_company_id"), ["company_id"], unique=False)
    create_append_only("cash_movements")


def downgrade() -> None:
    drop_append_only("cash_movements")
    with op.batch_alter_table("cash_movements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cash_movements_company_id"))
    op.drop_table("cash_movements")
    with op.batch_alter_table("cash_registers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cash_registers_company_id"))
    op.drop_table("cash_registers")
    with op.batch_alter_table("payment_allocations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_allocations_document_id"))
        batch_op.drop_index(batch_op.f("ix_payment_allocations_payment_id"))
    op.drop_table("payment_allocations")
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_constraint("uq_payments_company_fiscal_number", type_="unique")
        batch_op.drop_constraint(batch_op.f("fk_payments_fiscal_printer_id_fiscal_printers"), type_="foreignkey")
        batch_op.drop_column("details")
        batch_op.drop_column("fiscal_text")
        batch_op.drop_column("number_text")
        batch_op.drop_column("fiscal_printer_id")
        batch_op.drop_column("exchange_rate")
        batch_op.drop_column("language")
        batch_op.drop_column("status")
    op.drop_table("fiscal_printers")
