"""stock

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

import punte.store.models  # noqa: F401
from punte.store.migrations.ddl import create_append_only, drop_append_only

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "warehouses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("type", sa.String(length=12), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", punte.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_warehouses_company_id_companies"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_warehouses")),
        sa.UniqueConstraint("company_id", "name", name="uq_warehouses_company_name"),
    )
    op.create_index(op.f("ix_warehouses_company_id"), "warehouses", ["company_id"])

    op.create_table(
        "stock_movements",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("warehouse_id", sa.Integer(), nullable=False),
        sa.Column("product_key", sa.String(length=300), nullable=False),
        sa.Column("product_name", sa.String(length=300), nullable=False),
        sa.Column("product_code", sa.String(length=60), nullable=True),
        sa.Column("unit", sa.String(length=40), nullable=False),
        sa.Column("quantity", punte.store.models.Money(precision=20, scale=6), nullable=False),
        sa.Column("unit_cost", punte.store.models.Money(precision=20, scale=6), nullable=True),
        sa.Column("movement_date", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("document_id", sa.BigInteger(), nullable=True),
        sa.Column("document_label", sa.String(length=40), nullable=True),
        sa.Column("line_position", sa.Integer(), nullable=True),
        sa.Column("note", sa.String(length=300), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("created_at", punte.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_stock_movements_company_id_companies"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["warehouse_id"], ["warehouses.id"], name=op.f("fk_stock_movements_warehouse_id_warehouses"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_movements")),
    )
    op.create_index(
        "ix_stock_movements_key_date", "stock_movements", ["company_id", "warehouse_id", "product_key", "movement_date"]
    )
    op.create_index("ix_stock_movements_company_date", "stock_movements", ["company_id", "movement_date"])
    op.create_index("ix_stock_movements_document", "stock_movements", ["company_id", "document_id"])
    create_append_only("stock_movements")

    op.create_table(
        "stock_balances",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("warehouse_id", sa.Integer(), nullable=False),
        sa.Column("product_key", sa.String(length=300), nullable=False),
        sa.Column("product_name", sa.String(length=300), nullable=False),
        sa.Column("product_code", sa.String(length=60), nullable=True),
        sa.Column("unit", sa.String(length=40), nullable=False),
        sa.Column("quantity", punte.store.models.Money(precision=20, scale=6), nullable=False),
        sa.Column("last_movement_date", sa.Date(), nullable=False),
        sa.Column("updated_at", punte.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "CAST(quantity AS NUMERIC) >= 0", name=op.f("ck_stock_balances_quantity_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_stock_balances_company_id_companies"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["warehouse_id"], ["warehouses.id"], name=op.f("fk_stock_balances_warehouse_id_warehouses"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_balances")),
        sa.UniqueConstraint("company_id", "warehouse_id", "product_key", name="uq_stock_balances_product"),
    )
    op.create_index(op.f("ix_stock_balances_company_id"), "stock_balances", ["company_id"])
    op.create_index(op.f("ix_stock_balances_warehouse_id"), "stock_balances", ["warehouse_id"])


def downgrade() -> None:
    drop_append_only("stock_movements")
    op.drop_table("stock_balances")
    op.drop_table("stock_movements")
    op.drop_table("warehouses")
