"""Calendar links end with every login: each remembers the token generation it was made
in, and when a calendar app last fetched it.

A link works only while its generation is its user's, so whatever ends every login
(logout everywhere, a new password, a reset) ends it too. Existing links get their
user's current generation: each keeps working until the next such event.

Revision ID: ec004bad5387
Revises: f4c2a9e7b1d3
Create Date: 2026-12-04 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "ec004bad5387"
down_revision: str | Sequence[str] | None = "f4c2a9e7b1d3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("calendar_links") as batch:
        batch.add_column(sa.Column("token_generation", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE calendar_links SET token_generation ="
        " (SELECT token_generation FROM users WHERE users.id = calendar_links.user_id)"
    )
    with op.batch_alter_table("calendar_links") as batch:
        batch.alter_column("token_generation", existing_type=sa.Integer(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("calendar_links") as batch:
        batch.drop_column("last_used_at")
        batch.drop_column("token_generation")
