"""Contact versions: what a contact's `ETag` is made of, moved on by every change.

Existing contacts start at version 1.

Revision ID: e3b8d5a1f6c9
Revises: c5a7e2f91d04
Create Date: 2026-11-29 05:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e3b8d5a1f6c9"
down_revision: str | Sequence[str] | None = "c5a7e2f91d04"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain `ADD COLUMN`: a batch would rebuild the SQLite table and lose AUTOINCREMENT.
    op.add_column(
        "contacts", sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False)
    )


def downgrade() -> None:
    op.drop_column("contacts", "version")
