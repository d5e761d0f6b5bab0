"""Each user's private calendar address, and what its calendar is made of.

The address holds a secret; only its SHA-256 is stored, so the database alone opens
no one's calendar. A user has at most one: making a new one replaces the old.
"""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, bindparam, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from contacts_api.db import utcnow
from contacts_api.exceptions import CalendarNotFound
from contacts_api.models import CalendarLink, Contact
from contacts_api.security import link_token_hash, new_link_token

LINKS = CalendarLink.__table__
# Each database's `INSERT` with `ON CONFLICT` (Core's own has no such clause).
UPSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}
CONTACTS = Contact.__table__
# The link's user, and what decides the calendar's content: how many contacts, the
# newest id and the latest change. Any create, change or delete moves one of them,
# so they make the calendar's `ETag` without reading a single event.
STATE = (
    select(
        LINKS.c.user_id,
        func.count(CONTACTS.c.id).label("contacts"),
        func.max(CONTACTS.c.id).label("newest"),
        func.max(CONTACTS.c.updated_at).label("changed"),
    )
    .select_from(LINKS.outerjoin(CONTACTS, CONTACTS.c.owner_id == LINKS.c.user_id))
    .where(LINKS.c.secret_hash == bindparam("secret_hash"))
    .group_by(LINKS.c.user_id)
)
BIRTHDAYS = (
    select(
        CONTACTS.c.id,
        CONTACTS.c.first_name,
        CONTACTS.c.last_name,
        CONTACTS.c.birthday,
        CONTACTS.c.updated_at,
    )
    .where(CONTACTS.c.owner_id == bindparam("owner_id"))
    .order_by(CONTACTS.c.birthday_key, CONTACTS.c.id)
)


async def replace(session: AsyncSession, *, user_id: int) -> str:
    """A new secret for the user's calendar; the one before stops working.

    One statement, an upsert on the user's row (`INSERT … ON CONFLICT (user_id) DO
    UPDATE`, which both databases speak): two requests at once each leave a working
    link, the later one's, where a delete-then-insert would collide on the key.
    """
    secret = new_link_token()
    values = {"user_id": user_id, "secret_hash": link_token_hash(secret), "created_at": utcnow()}
    upsert = UPSERTS[session.bind.dialect.name](LINKS).values(values)
    await session.exec(
        upsert.on_conflict_do_update(
            index_elements=[LINKS.c.user_id],
            set_={
                "secret_hash": upsert.excluded.secret_hash,
                "created_at": upsert.excluded.created_at,
            },
        )
    )
    await session.commit()
    return secret


async def revoke(session: AsyncSession, *, user_id: int) -> None:
    await session.exec(delete(LINKS).where(LINKS.c.user_id == user_id))
    await session.commit()


async def state(engine: AsyncEngine, *, secret: str) -> Row[Any]:
    """The calendar's owner and what decides its content; `CalendarNotFound` for a
    secret that is not (or no longer) anyone's."""
    async with engine.connect() as connection:
        found = (await connection.execute(STATE, {"secret_hash": link_token_hash(secret)})).first()
    if found is None:
        raise CalendarNotFound
    return found


async def birthdays(engine: AsyncEngine, *, owner_id: int) -> Sequence[Row[Any]]:
    async with engine.connect() as connection:
        return (await connection.execute(BIRTHDAYS, {"owner_id": owner_id})).all()
