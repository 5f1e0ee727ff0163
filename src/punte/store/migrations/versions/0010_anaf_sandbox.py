"""anaf sandbox

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

import punte.store.models  # noqa: F401

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = punte.store.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "anaf_sandbox_uploads",
        sa.Column("id", _ID, nullable=False),
        sa.Column("env", sa.String(length=4), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("standard", sa.String(length=4), nullable=False),
        sa.Column("cif", sa.String(length=16), nullable=False),
        sa.Column("extern", sa.Boolean(), nullable=False),
        sa.Column("autofactura", sa.Boolean(), nullable=False),
        sa.Column("executare", sa.Boolean(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("body_sha256", sa.String(length=64), nullable=False),
        sa.Column("invoice_number", sa.String(length=200), nullable=True),
        sa.Column("issue_date", sa.String(length=10), nullable=True),
        sa.Column("seller_cif", sa.String(length=32), nullable=True),
        sa.Column("buyer_cif", sa.String(length=32), nullable=True),
        sa.Column("token_subject", sa.String(length=200), nullable=True),
        sa.Column("client_id", sa.String(length=200), nullable=True),
        sa.Column("received_at", _TS, nullable=False),
        sa.Column("due_at", _TS, nullable=False),
        sa.Column("stare", sa.String(length=40), nullable=False),
        sa.Column("processed_at", _TS, nullable=True),
        sa.Column("errors", sa.JSON(), nullable=True),
        sa.Column("result_zip", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_anaf_sandbox_uploads")),
    )
    op.create_index("ix_anaf_sandbox_uploads_stare_due_at", "anaf_sandbox_uploads", ["stare", "due_at"])
    op.create_index(
        "ix_anaf_sandbox_uploads_invoice", "anaf_sandbox_uploads", ["env", "seller_cif", "invoice_number", "issue_date"]
    )
    op.create_index("ix_anaf_sandbox_uploads_cif", "anaf_sandbox_uploads", ["cif"])

    op.create_table(
        "anaf_sandbox_messages",
        sa.Column("id", _ID, nullable=False),
        sa.Column("env", sa.String(length=4), nullable=False),
        sa.Column("cif", sa.String(length=32), nullable=False),
        sa.Column("tip", sa.String(length=40), nullable=False),
        sa.Column("upload_id", _ID, nullable=False),
        sa.Column("detalii", sa.String(length=500), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["upload_id"], ["anaf_sandbox_uploads.id"],
            name=op.f("fk_anaf_sandbox_messages_upload_id_anaf_sandbox_uploads"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_anaf_sandbox_messages")),
    )
    op.create_index(
        "ix_anaf_sandbox_messages_env_cif_created", "anaf_sandbox_messages", ["env", "cif", "created_at"]
    )
    op.create_index(op.f("ix_anaf_sandbox_messages_upload_id"), "anaf_sandbox_messages", ["upload_id"])

    op.create_table(
        "anaf_sandbox_oauth_clients",
        sa.Column("client_id", sa.String(length=200), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=True),
        sa.Column("redirect_uris", sa.JSON(), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("client_id", name=op.f("pk_anaf_sandbox_oauth_clients")),
    )
    op.create_table(
        "anaf_sandbox_oauth_codes",
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=200), nullable=False),
        sa.Column("redirect_uri", sa.String(length=2000), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("used_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("code_hash", name=op.f("pk_anaf_sandbox_oauth_codes")),
    )
    op.create_table(
        "anaf_sandbox_refresh_tokens",
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=200), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("issued_at", _TS, nullable=False),
        sa.Column("expires_at", _TS, nullable=False),
        sa.Column("revoked_at", _TS, nullable=True),
        sa.Column("replaced_by", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_anaf_sandbox_refresh_tokens")),
    )
    op.create_index(op.f("ix_anaf_sandbox_refresh_tokens_client_id"), "anaf_sandbox_refresh_tokens", ["client_id"])

    op.create_table(
        "anaf_sandbox_counters",
        sa.Column("id", _ID, nullable=False),
        sa.Column("scope", sa.String(length=20), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_anaf_sandbox_counters")),
        sa.UniqueConstraint("scope", "key", "day", name=op.f("uq_anaf_sandbox_counters_scope")),
    )


def downgrade() -> None:
    op.drop_table("anaf_sandbox_counters")
    op.drop_table("anaf_sandbox_refresh_tokens")
    op.drop_table("anaf_sandbox_oauth_codes")
    op.drop_table("anaf_sandbox_oauth_clients")
    op.drop_table("anaf_sandbox_messages")
    op.drop_table("anaf_sandbox_uploads")
