"""email

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

import punte.store.models  # noqa: F401

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "smtp_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("security", sa.String(length=10), nullable=False),
        sa.Column("username", sa.String(length=255), nullable=True),
        sa.Column("password_encrypted", sa.Text(), nullable=True),
        sa.Column("from_address", sa.String(length=254), nullable=False),
        sa.Column("from_name", sa.String(length=200), nullable=True),
        sa.Column("reply_to", sa.String(length=254), nullable=True),
        sa.Column("default_cc", sa.Text(), nullable=True),
        sa.Column("default_bcc", sa.Text(), nullable=True),
        sa.Column("invoice_subject", sa.Text(), nullable=True),
        sa.Column("invoice_body", sa.Text(), nullable=True),
        sa.Column("proforma_subject", sa.Text(), nullable=True),
        sa.Column("proforma_body", sa.Text(), nullable=True),
        sa.Column("timeout_seconds", sa.Integer(), nullable=False),
        sa.Column("created_at", punte.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", punte.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_smtp_settings_company_id_companies"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_smtp_settings")),
        sa.UniqueConstraint("company_id", name=op.f("uq_smtp_settings_company_id")),
    )
    op.create_table(
        "email_messages",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("purpose", sa.String(length=12), nullable=False),
        sa.Column("doc_type", sa.String(length=10), nullable=True),
        sa.Column("to_addrs", sa.Text(), nullable=False),
        sa.Column("cc_addrs", sa.Text(), nullable=False),
        sa.Column("bcc_addrs", sa.Text(), nullable=False),
        sa.Column("subject_template", sa.Text(), nullable=False),
        sa.Column("body_template", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("smtp_response", sa.Text(), nullable=True),
        sa.Column("message_id", sa.String(length=250), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", punte.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", punte.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", punte.store.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_email_messages_company_id_companies"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["document_id"], ["documents.id"], name=op.f("fk_email_messages_document_id_documents"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_messages")),
        sa.UniqueConstraint("message_id", name=op.f("uq_email_messages_message_id")),
    )
    op.create_index("ix_email_messages_company_created", "email_messages", ["company_id", "created_at"])
    op.create_index(op.f("ix_email_messages_document_id"), "email_messages", ["document_id"])
    op.create_index(op.f("ix_email_messages_status"), "email_messages", ["status"])


def downgrade() -> None:
    op.drop_table("email_messages")
    op.drop_table("smtp_settings")
