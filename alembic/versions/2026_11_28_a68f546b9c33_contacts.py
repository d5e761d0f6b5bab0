"""Contacts, with the indexes their queries need: owner first.

Revision ID: a68f546b9c33
Revises: df2e1485bc73
Create Date: 2026-11-28 18:05:44.272681
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "a68f546b9c33"
down_revision: str | Sequence[str] | None = "df2e1485bc73"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEARCH_KEYS = ["first_name_key", "last_name_key", "email_key"]


def upgrade() -> None:
    op.create_table(
        "contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("first_name", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
        sa.Column("last_name", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("phone", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("birthday", sa.Date(), nullable=False),
        sa.Column("notes", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.Column("first_name_key", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("last_name_key", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("email_key", sqlmodel.sql.sqltypes.AutoString(length=1016), nullable=False),
        sa.Column("birthday_key", sa.SmallInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_contacts_owner_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts")),
        sa.UniqueConstraint("owner_id", "email_key", name=op.f("uq_contacts_owner_id_email_key")),
    )
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_contacts_owner_order", ["owner_id", "last_name_key", "first_name_key", "id"]
        )
        batch_op.create_index("ix_contacts_owner_birthday", ["owner_id", "birthday_key"])

    if op.get_bind().dialect.name == "postgresql":
        # Trigram indexes answer `LIKE '%term%'`; pg_trgm is a trusted extension (PG 13+).
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.create_index(
            "ix_contacts_search_trgm",
            "contacts",
            SEARCH_KEYS,
            postgresql_using="gin",
            postgresql_ops=dict.fromkeys(SEARCH_KEYS, "gin_trgm_ops"),
        )


def downgrade() -> None:
    # Dropping the table drops its indexes; pg_trgm stays, other schemas may use it.
    op.drop_table("contacts")
