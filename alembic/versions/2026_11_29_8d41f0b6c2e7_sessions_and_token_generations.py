"""Sessions and token generations: what ending one login, or every login, needs.

`users.token_generation` is carried by every access token; moving it on (logout
everywhere, a new password) ends every access token issued before. A login's family
of refresh tokens gains what its owner sees of it in the list of sessions: when it was
last used, and from which client.

Revision ID: 8d41f0b6c2e7
Revises: 3b7e9c1d2a40
Create Date: 2026-11-29 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "8d41f0b6c2e7"
down_revision: str | Sequence[str] | None = "3b7e9c1d2a40"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("token_generation", sa.Integer(), server_default="0", nullable=False)
        )
    with op.batch_alter_table("refresh_token_families") as batch:
        batch.add_column(sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(
            sa.Column("user_agent", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("refresh_token_families") as batch:
        batch.drop_column("user_agent")
        batch.drop_column("last_used_at")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("token_generation")
