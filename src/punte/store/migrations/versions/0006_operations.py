"""operations: plans and quotas, special price lists, recurring invoices

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

import punte.store.models  # noqa: F401

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC_DT = punte.store.models.UTCDateTime(timezone=True)


def _company_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["company_id"], ["companies.id"], name=op.f(f"fk_{table}_company_id_companies"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "company_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=True),
        sa.Column("document_limit", sa.Integer(), nullable=True),
        sa.Column("activated_on", sa.Date(), nullable=False),
        sa.Column("created_at", UTC_DT, nullable=False),
        sa.Column("updated_at", UTC_DT, nullable=False),
        _company_fk("company_plans"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_company_plans")),
        sa.UniqueConstraint("company_id", name=op.f("uq_company_plans_company_id")),
    )
    op.create_table(
        "quota_usage",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        _company_fk("quota_usage"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quota_usage")),
        sa.UniqueConstraint("company_id", "day", "kind", name="uq_quota_usage_company_day_kind"),
    )
    op.create_table(
        "price_lists",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC_DT, nullable=False),
        _company_fk("price_lists"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_price_lists")),
        sa.UniqueConstraint("company_id", "name", name="uq_price_lists_company_name"),
    )
    with op.batch_alter_table("price_lists", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_price_lists_company_id"), ["company_id"], unique=False)
    op.create_table(
        "price_list_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("price_list_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("price", punte.store.models.Money(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("tax_included", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["price_list_id"], ["price_lists.id"], name=op.f("fk_price_list_items_price_list_id_price_lists"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_price_list_items_product_id_products"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_price_list_items")),
        sa.UniqueConstraint("price_list_id", "product_id", name="uq_price_list_items_list_product"),
    )
    with op.batch_alter_table("price_list_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_price_list_items_price_list_id"), ["price_list_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_price_list_items_product_id"), ["product_id"], unique=False)
    op.create_table(
        "price_list_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("price_list_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=True),
        sa.Column("group_name", sa.String(length=100), nullable=True),
        _company_fk("price_list_assignments"),
        sa.ForeignKeyConstraint(
            ["price_list_id"], ["price_lists.id"],
            name=op.f("fk_price_list_assignments_price_list_id_price_lists"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_price_list_assignments_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_price_list_assignments")),
        sa.UniqueConstraint("company_id", "client_id", name="uq_price_list_assignments_company_client"),
        sa.UniqueConstraint("company_id", "group_name", name="uq_price_list_assignments_company_group"),
    )
    with op.batch_alter_table("price_list_assignments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_price_list_assignments_price_list_id"), ["price_list_id"], unique=False
        )
    op.create_table(
        "client_group_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("group_name", sa.String(length=100), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        _company_fk("client_group_members"),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_client_group_members_client_id_clients"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_client_group_members")),
        sa.UniqueConstraint("company_id", "client_id", name="uq_client_group_members_company_client"),
    )
    with op.batch_alter_table("client_group_members", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_client_group_members_client_id"), ["client_id"], unique=False)
    op.create_table(
        "recurring_invoices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("client_name", sa.String(length=200), nullable=False),
        sa.Column("every", sa.Integer(), nullable=False),
        sa.Column("unit", sa.String(length=8), nullable=False),
        sa.Column("day_of_month", sa.Integer(), nullable=True),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("due_days", sa.Integer(), nullable=True),
        sa.Column("template", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("not_before", sa.Date(), nullable=False),
        sa.Column("last_scheduled", sa.Date(), nullable=True),
        sa.Column("stopped_reason", sa.String(length=300), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTC_DT, nullable=False),
        sa.Column("updated_at", UTC_DT, nullable=False),
        _company_fk("recurring_invoices"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recurring_invoices")),
    )
    with op.batch_alter_table("recurring_invoices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_recurring_invoices_company_id"), ["company_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_recurring_invoices_status"), ["status"], unique=False)
    op.create_table(
        "recurring_occurrences",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("schedule_id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("occurrence_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("document_id", BIG_ID, nullable=True),
        sa.Column("series_name", sa.String(length=20), nullable=True),
        sa.Column("number_text", sa.String(length=20), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", UTC_DT, nullable=False),
        sa.Column("finished_at", UTC_DT, nullable=True),
        sa.ForeignKeyConstraint(
            ["schedule_id"], ["recurring_invoices.id"],
            name=op.f("fk_recurring_occurrences_schedule_id_recurring_invoices"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["document_id"], ["documents.id"], name=op.f("fk_recurring_occurrences_document_id_documents"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recurring_occurrences")),
        sa.UniqueConstraint("schedule_id", "occurrence_date", name="uq_recurring_occurrences_schedule_date"),
    )
    with op.batch_alter_table("recurring_occurrences", schema=None) as batch_op:
        batch_op.create_index("ix_recurring_occurrences_status", ["status"], unique=False)


def downgrade() -> None:
    for table in (
        "recurring_occurrences",
        "recurring_invoices",
        "client_group_members",
        "price_list_assignments",
        "price_list_items",
        "price_lists",
        "quota_usage",
        "company_plans",
    ):
        op.drop_table(table)
