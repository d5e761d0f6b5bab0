"""Search index with a small pending list: lookups stay fast while contacts are written.

A GIN index buffers new entries in a "pending list" that every search reads in full
until it is merged. At the default limit (4 MB) that list made a search of 100,000
contacts four times slower; with no list at all, bulk inserts slowed four times.
1 MB keeps a search within a millisecond of a clean index and inserts batched.

Revision ID: 6fac3224a1b2
Revises: a68f546b9c33
Create Date: 2026-11-28 18:38:00.248722
"""

from collections.abc import Sequence

from alembic import op

revision: str = "6fac3224a1b2"
down_revision: str | Sequence[str] | None = "a68f546b9c33"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER INDEX ix_contacts_search_trgm SET (gin_pending_list_limit = 1024)")
        op.execute("SELECT gin_clean_pending_list('ix_contacts_search_trgm')")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER INDEX ix_contacts_search_trgm RESET (gin_pending_list_limit)")
