"""received invoices

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

import punte.store.models  # noqa: F401

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, punte.store.models.UTCDateTime(timezone=True), nullable=nullable)


def _money(name: str) -> sa.Column:
    return sa.Column(name, punte.store.models.Money(precision=20, scale=6), nullable=True)


def upgrade() -> None:
    op.create_table(
        "received_invoices",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("environment", sa.String(length=10), nullable=False),
        sa.Column("download_id", sa.String(length=40), nullable=False),
        sa.Column("upload_index", sa.String(length=40), nullable=True),
        _ts("message_at", True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("kind", sa.String(length=12), nullable=True),
        sa.Column("type_code", sa.String(length=4), nullable=True),
        sa.Column("supplier_cif", sa.String(length=40), nullable=True),
        sa.Column("supplier_name", sa.String(length=300), nullable=True),
        sa.Column("buyer_cif", sa.String(length=40), nullable=True),
        sa.Column("number", sa.String(length=100), nullable=True),
        sa.Column("issue_date", sa.Date(), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        _money("net_total"),
        _money("vat_total"),
        _money("gross_total"),
        _money("payable"),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("vat_breakdown", sa.JSON(), nullable=False),
        sa.Column("xml_name", sa.String(length=200), nullable=True),
        sa.Column("archive_path", sa.String(length=500), nullable=False),
        sa.Column("archive_sha256", sa.String(length=64), nullable=False),
        sa.Column("archive_size", sa.Integer(), nullable=False),
        _ts("created_at"),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_received_invoices_company_id_companies"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_received_invoices")),
        sa.UniqueConstraint("company_id", "environment", "download_id", name="uq_received_invoices_company_id"),
    )
    op.create_index("ix_received_invoices_company_issue", "received_invoices", ["company_id", "issue_date"])

    op.create_table(
        "received_sync",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("environment", sa.String(length=10), nullable=False),
        _ts("synced_until", True),
        _ts("last_message_at", True),
        _ts("last_sync_at", True),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("status_text", sa.Text(), nullable=True),
        sa.Column("listed", sa.Integer(), nullable=False),
        sa.Column("queued", sa.Integer(), nullable=False),
        _ts("updated_at"),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_received_sync_company_id_companies"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_received_sync")),
        sa.UniqueConstraint("company_id", "environment", name="uq_received_sync_company_id"),
    )


def downgrade() -> None:
    op.drop_table("received_sync")
    op.drop_index("ix_received_invoices_company_issue", table_name="received_invoices")
    op.drop_table("received_invoices")
