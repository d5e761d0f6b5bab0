"""Calendar links: each user's private address of their birthday calendar, kept only as
the SHA-256 of its secret.

Revision ID: f4c2a9e7b1d3
Revises: e3b8d5a1f6c9
Create Date: 2026-11-29 05:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "f4c2a9e7b1d3"
down_revision: str | Sequence[str] | None = "e3b8d5a1f6c9"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "calendar_links",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("secret_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_calendar_links_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_calendar_links")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_calendar_links_secret_hash")),
    )


def downgrade() -> None:
    op.drop_table("calendar_links")
