"""anaf

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

import punte.store.models  # noqa: F401

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, punte.store.models.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "anaf_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("realm", sa.String(length=10), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=True),
        sa.Column("label", sa.String(length=200), nullable=True),
        sa.Column("access_token_enc", sa.Text(), nullable=False),
        sa.Column("refresh_token_enc", sa.Text(), nullable=False),
        _ts("access_expires_at"),
        _ts("refresh_expires_at"),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        _ts("refresh_lock_until", True),
        sa.Column("refresh_lock_by", sa.String(length=100), nullable=True),
        _ts("refreshed_at", True),
        _ts("refresh_warned_for", True),
        _ts("created_at"),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_anaf_tokens")),
        sa.UniqueConstraint("realm", "subject", name="uq_anaf_tokens_realm"),
    )

    op.create_table(
        "anaf_oauth_states",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=64), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("environment", sa.String(length=10), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        _ts("created_at"),
        _ts("expires_at"),
        _ts("used_at", True),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_anaf_oauth_states_company_id_companies"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_anaf_oauth_states")),
        sa.UniqueConstraint("state", name="uq_anaf_oauth_states_state"),
    )
    op.create_index(op.f("ix_anaf_oauth_states_company_id"), "anaf_oauth_states", ["company_id"])

    op.create_table(
        "efactura_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("environment", sa.String(length=10), nullable=False),
        sa.Column("auto_submit", sa.Boolean(), nullable=False),
        sa.Column("token_id", sa.Integer(), nullable=True),
        _ts("connected_at", True),
        _ts("updated_at"),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_efactura_settings_company_id_companies"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["token_id"], ["anaf_tokens.id"], name=op.f("fk_efactura_settings_token_id_anaf_tokens"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_efactura_settings")),
        sa.UniqueConstraint("company_id", name="uq_efactura_settings_company_id"),
    )
    op.create_index(op.f("ix_efactura_settings_token_id"), "efactura_settings", ["token_id"])

    op.create_table(
        "efactura_submissions",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("document_id", BIG_ID, nullable=False),
        sa.Column("environment", sa.String(length=10), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("upload_index", sa.String(length=40), nullable=True),
        sa.Column("deadline", sa.Date(), nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_efactura_submissions_company_id_companies"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["document_id"], ["documents.id"], name=op.f("fk_efactura_submissions_document_id_documents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_efactura_submissions")),
        sa.UniqueConstraint("document_id", name="uq_efactura_submissions_document_id"),
    )
    op.create_index("ix_efactura_submissions_company_state", "efactura_submissions", ["company_id", "state"])

    op.create_table(
        "efactura_archive",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("environment", sa.String(length=10), nullable=False),
        sa.Column("download_id", sa.String(length=40), nullable=False),
        sa.Column("upload_index", sa.String(length=40), nullable=True),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("path", sa.String(length=500), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        _ts("created_at"),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_efactura_archive_company_id_companies"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_efactura_archive")),
        sa.UniqueConstraint("environment", "download_id", name="uq_efactura_archive_environment"),
    )
    op.create_index(op.f("ix_efactura_archive_company_id"), "efactura_archive", ["company_id"])

    op.create_table(
        "efactura_attempts",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("submission_id", BIG_ID, nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("environment", sa.String(length=10), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("endpoint", sa.String(length=10), nullable=True),
        sa.Column("standard", sa.String(length=4), nullable=True),
        sa.Column("extern", sa.Boolean(), nullable=False),
        sa.Column("xml", sa.LargeBinary(), nullable=True),
        sa.Column("xml_sha256", sa.String(length=64), nullable=True),
        sa.Column("validation", sa.String(length=12), nullable=True),
        sa.Column("upload_index", sa.String(length=40), nullable=True),
        _ts("uploading_at", True),
        _ts("uploaded_at", True),
        sa.Column("anaf_state", sa.String(length=40), nullable=True),
        sa.Column("download_id", sa.String(length=40), nullable=True),
        sa.Column("polls", sa.Integer(), nullable=False),
        sa.Column("messages", sa.JSON(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("archive_id", BIG_ID, nullable=True),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        _ts("created_at"),
        _ts("finished_at", True),
        sa.ForeignKeyConstraint(
            ["submission_id"], ["efactura_submissions.id"],
            name=op.f("fk_efactura_attempts_submission_id_efactura_submissions"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["archive_id"], ["efactura_archive.id"], name=op.f("fk_efactura_attempts_archive_id_efactura_archive"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_efactura_attempts")),
        sa.UniqueConstraint("submission_id", "number", name="uq_efactura_attempts_submission_id"),
    )
    op.create_index("ix_efactura_attempts_env_index", "efactura_attempts", ["environment", "upload_index"])

    op.create_table(
        "anaf_call_counts",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("call", sa.String(length=30), nullable=False),
        sa.Column("key", sa.String(length=60), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_anaf_call_counts")),
        sa.UniqueConstraint("call", "key", "day", name="uq_anaf_call_counts_call"),
    )


def downgrade() -> None:
    op.drop_table("anaf_call_counts")
    op.drop_index("ix_efactura_attempts_env_index", table_name="efactura_attempts")
    op.drop_table("efactura_attempts")
    op.drop_index(op.f("ix_efactura_archive_company_id"), table_name="efactura_archive")
    op.drop_table("efactura_archive")
    op.drop_index("ix_efactura_submissions_company_state", table_name="efactura_submissions")
    op.drop_table("efactura_submissions")
    op.drop_index(op.f("ix_efactura_settings_token_id"), table_name="efactura_settings")
    op.drop_table("efactura_settings")
    op.drop_index(op.f("ix_anaf_oauth_states_company_id"), table_name="anaf_oauth_states")
    op.drop_table("anaf_oauth_states")
    op.drop_table("anaf_tokens")
