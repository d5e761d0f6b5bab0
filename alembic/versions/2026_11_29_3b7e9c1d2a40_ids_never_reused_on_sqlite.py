"""Ids never reused on SQLite: users and contacts become AUTOINCREMENT tables.

Without `AUTOINCREMENT`, SQLite gives a new row the highest id in use plus one, so
deleting the newest user and signing up another hands the old id, and with it every
access token the deleted user still held, to the new account. PostgreSQL's sequences
never go back, so there is nothing to change there.

SQLite cannot alter a table in place: batch mode copies each one into a new table
(foreign keys are off meanwhile, see `env.py`).

Revision ID: 3b7e9c1d2a40
Revises: 6fac3224a1b2
Create Date: 2026-11-29 03:50:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "3b7e9c1d2a40"
down_revision: str | Sequence[str] | None = "6fac3224a1b2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("users", "contacts")


def upgrade() -> None:
    _rebuild(autoincrement=True)


def downgrade() -> None:
    _rebuild(autoincrement=False)


def _rebuild(*, autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in TABLES:
        with op.batch_alter_table(
            table, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
        ):
            pass
