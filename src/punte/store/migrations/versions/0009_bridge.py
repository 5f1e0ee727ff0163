"""bridge

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

import punte.store.models  # noqa: F401

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
MONEY = punte.store.models.Money(precision=20, scale=6)
WHEN = punte.store.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "bridge_configs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("secret_enc", sa.Text(), nullable=False),
        sa.Column("previous_secret_enc", sa.Text(), nullable=True),
        sa.Column("previous_secret_until", WHEN, nullable=True),
        sa.Column("api_key_enc", sa.Text(), nullable=True),
        sa.Column("api_base_url", sa.String(length=300), nullable=True),
        sa.Column("series", sa.String(length=20), nullable=True),
        sa.Column("email_payer", sa.Boolean(), nullable=False),
        sa.Column("vat_rate", MONEY, nullable=False),
        sa.Column("reverse_charge", sa.Boolean(), nullable=False),
        sa.Column("issuer", sa.String(length=200), nullable=False),
        sa.Column("target", sa.String(length=12), nullable=False),
        sa.Column("smartbill_url", sa.String(length=300), nullable=True),
        sa.Column("smartbill_username", sa.String(length=200), nullable=True),
        sa.Column("smartbill_token_enc", sa.Text(), nullable=True),
        sa.Column("smartbill_cif", sa.String(length=20), nullable=True),
        sa.Column("settle_seconds", sa.Integer(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_bridge_configs_company_id_companies"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bridge_configs")),
        sa.UniqueConstraint("company_id", "provider", name="uq_bridge_configs_company_provider"),
    )
    op.create_index(op.f("ix_bridge_configs_company_id"), "bridge_configs", ["company_id"])

    op.create_table(
        "bridge_inbox",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("event_type", sa.String(length=100), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("received_at", WHEN, nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("outcome", sa.String(length=300), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("payment_id", sa.BigInteger(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("processed_at", WHEN, nullable=True),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_bridge_inbox_company_id_companies"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bridge_inbox")),
        sa.UniqueConstraint("company_id", "provider", "event_id", name="uq_bridge_inbox_company_provider_event"),
    )
    op.create_index("ix_bridge_inbox_company_received", "bridge_inbox", ["company_id", "received_at"])
    op.create_index("ix_bridge_inbox_payment_id", "bridge_inbox", ["payment_id"])

    op.create_table(
        "bridge_payments",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("confirmed", sa.Boolean(), nullable=False),
        sa.Column("sources", sa.JSON(), nullable=False),
        sa.Column("overrides", sa.JSON(), nullable=False),
        sa.Column("missing", sa.JSON(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("amount", MONEY, nullable=True),
        sa.Column("document_id", BIG_ID, nullable=True),
        sa.Column("linked_document_id", BIG_ID, nullable=True),
        sa.Column("remote_series", sa.String(length=20), nullable=True),
        sa.Column("remote_number", sa.String(length=20), nullable=True),
        sa.Column("remote_expected_number", sa.String(length=20), nullable=True),
        sa.Column("remote_request", sa.JSON(), nullable=True),
        sa.Column("refund_claimed", MONEY, nullable=False),
        sa.Column("refunded", MONEY, nullable=False),
        sa.Column("first_seen_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.Column("issued_at", WHEN, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_bridge_payments_company_id_companies"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["document_id"], ["documents.id"], name=op.f("fk_bridge_payments_document_id_documents"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["linked_document_id"], ["documents.id"], name=op.f("fk_bridge_payments_linked_document_id_documents"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bridge_payments")),
        sa.UniqueConstraint("document_id", name=op.f("uq_bridge_payments_document_id")),
    )
    op.create_index("ix_bridge_payments_company_status", "bridge_payments", ["company_id", "status"])

    op.create_table(
        "bridge_payment_keys",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("payment_id", BIG_ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_bridge_payment_keys_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["bridge_payments.id"], name=op.f("fk_bridge_payment_keys_payment_id_bridge_payments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bridge_payment_keys")),
        sa.UniqueConstraint("company_id", "provider", "key", name="uq_bridge_payment_keys_company_provider_key"),
    )
    op.create_index(op.f("ix_bridge_payment_keys_payment_id"), "bridge_payment_keys", ["payment_id"])

    op.create_table(
        "bridge_refunds",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("payment_id", BIG_ID, nullable=False),
        sa.Column("refund_key", sa.String(length=255), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["bridge_payments.id"], name=op.f("fk_bridge_refunds_payment_id_bridge_payments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bridge_refunds")),
        sa.UniqueConstraint("payment_id", "refund_key", name="uq_bridge_refunds_payment_refund"),
    )

    op.create_table(
        "bridge_stornos",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("payment_id", BIG_ID, nullable=False),
        sa.Column("document_id", BIG_ID, nullable=True),
        sa.Column("remote_series", sa.String(length=20), nullable=True),
        sa.Column("remote_number", sa.String(length=20), nullable=True),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["bridge_payments.id"], name=op.f("fk_bridge_stornos_payment_id_bridge_payments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["document_id"], ["documents.id"], name=op.f("fk_bridge_stornos_document_id_documents"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bridge_stornos")),
    )
    op.create_index(op.f("ix_bridge_stornos_payment_id"), "bridge_stornos", ["payment_id"])

    op.create_table(
        "bridge_checkouts",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("document_id", BIG_ID, nullable=False),
        sa.Column("session_id", sa.String(length=255), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_bridge_checkouts_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["document_id"], ["documents.id"], name=op.f("fk_bridge_checkouts_document_id_documents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bridge_checkouts")),
        sa.UniqueConstraint("session_id", name=op.f("uq_bridge_checkouts_session_id")),
    )
    op.create_index(op.f("ix_bridge_checkouts_company_id"), "bridge_checkouts", ["company_id"])
    op.create_index(op.f("ix_bridge_checkouts_document_id"), "bridge_checkouts", ["document_id"])


def downgrade() -> None:
    for table in (
        "bridge_checkouts", "bridge_stornos", "bridge_refunds", "bridge_payment_keys", "bridge_payments",
        "bridge_inbox", "bridge_configs",
    ):
        op.drop_table(table)
