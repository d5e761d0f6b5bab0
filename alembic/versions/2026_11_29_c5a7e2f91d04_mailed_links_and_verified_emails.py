"""Mailed links and verified emails: what password reset and email verification need.

`link_tokens` keeps the SHA-256 of each single-use token sent in a link, never the
token; `users.email_verified` records that the owner followed one. Accounts made
before this migration start unverified.

Revision ID: c5a7e2f91d04
Revises: 8d41f0b6c2e7
Create Date: 2026-11-29 05:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "c5a7e2f91d04"
down_revision: str | Sequence[str] | None = "8d41f0b6c2e7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain `ADD COLUMN` (not a batch, which would rebuild the SQLite table from its
    # reflection and lose its AUTOINCREMENT), with a default both databases read.
    op.add_column(
        "users",
        sa.Column("email_verified", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )
    op.create_table(
        "link_tokens",
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_link_tokens_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_link_tokens")),
    )
    with op.batch_alter_table("link_tokens") as batch:
        batch.create_index(batch.f("ix_link_tokens_user_id"), ["user_id"], unique=False)
        batch.create_index(batch.f("ix_link_tokens_expires_at"), ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_table("link_tokens")
    op.drop_column("users", "email_verified")
