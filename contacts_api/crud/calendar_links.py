"""Each user's private calendar address, and what its calendar is made of.

The address holds a secret; only its SHA-256 is stored, so the database alone opens
no one's calendar. A user has at most one: making a new one replaces the old.

A link ends with every login. It keeps the token generation it was made in, and
works only while that is still its user's: logout everywhere, a new password and a
reset move the generation on (`tokens.end_every_login`), deleting the account deletes
the link (`ON DELETE CASCADE`). Checking the generation costs the feed no query of its
own, only a join to the user's row in the one it makes anyway; and no event that ends
logins, now or added later, has to remember the calendar for the link to end with it.
"""

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import Row, and_, bindparam, delete, exists, func, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from contacts_api.core.clock import utcnow
from contacts_api.core.exceptions import CalendarNotFound, InvalidToken, NoCalendarLink
from contacts_api.core.security import TokenClaims, link_token_hash, new_link_token
from contacts_api.models import CalendarLink, Contact, RefreshTokenFamily, User

LINKS = CalendarLink.__table__
USERS = User.__table__
FAMILIES = RefreshTokenFamily.__table__
CONTACTS = Contact.__table__
# Each database's `INSERT` with `ON CONFLICT` (Core's own has no such clause).
UPSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}
# A link's use is written down at most this often: a calendar app polling every few
# seconds costs the feed one write a minute, not one a request.
USE_RECORDED_EVERY = timedelta(minutes=1)
# The user a link opens, while it is of the user's current token generation.
LIVE_LINK = LINKS.join(
    USERS,
    and_(USERS.c.id == LINKS.c.user_id, USERS.c.token_generation == LINKS.c.token_generation),
)
# The link's user and when it was last used, and what decides the calendar's content:
# how many contacts, the newest id and the latest change. Any create, change or delete
# moves one of them, so they make the calendar's `ETag` without reading a single event.
STATE = (
    select(
        LINKS.c.user_id,
        LINKS.c.last_used_at,
        func.count(CONTACTS.c.id).label("contacts"),
        func.max(CONTACTS.c.id).label("newest"),
        func.max(CONTACTS.c.updated_at).label("changed"),
    )
    .select_from(LIVE_LINK.outerjoin(CONTACTS, CONTACTS.c.owner_id == LINKS.c.user_id))
    .where(LINKS.c.secret_hash == bindparam("secret_hash"))
    .group_by(LINKS.c.user_id, LINKS.c.last_used_at)
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
# The token's user, if the token is of their current generation (else no row), and
# their live link's dates (`NULL` when they have none).
STATUS = (
    select(LINKS.c.created_at, LINKS.c.last_used_at)
    .select_from(
        USERS.outerjoin(
            LINKS,
            and_(
                LINKS.c.user_id == USERS.c.id,
                LINKS.c.token_generation == USERS.c.token_generation,
            ),
        )
    )
    .where(USERS.c.id == bindparam("user_id"), USERS.c.token_generation == bindparam("generation"))
)


async def replace(session: AsyncSession, *, claims: TokenClaims) -> str:
    """A new secret for the calendar of the token's user; the one before stops working.

    Only for a token of a live login: of the user's current generation, and issued to a
    session (`sid`) that has not been ended. An access token outlives its session's end
    by up to its lifetime, and must not turn into a link that outlives it for good;
    `InvalidToken` otherwise.

    One statement, an upsert of a row selected only if both hold (`INSERT … SELECT …
    ON CONFLICT (user_id) DO UPDATE`, which both databases speak): two requests at once
    each leave a working link, the later one's, where a delete-then-insert would
    collide on the key.
    """
    secret = new_link_token()
    live_session = exists().where(
        FAMILIES.c.id == claims.session_id,
        FAMILIES.c.user_id == USERS.c.id,
        FAMILIES.c.revoked_at.is_(None),
    )
    row = select(
        USERS.c.id,
        literal(link_token_hash(secret)),
        literal(utcnow(), LINKS.c.created_at.type),
        USERS.c.token_generation,
    ).where(
        USERS.c.id == claims.subject,
        USERS.c.token_generation == claims.generation,
        live_session,
    )
    columns = ["user_id", "secret_hash", "created_at", "token_generation"]
    upsert = UPSERTS[session.bind.dialect.name](LINKS).from_select(columns, row)
    made = await session.exec(
        upsert.on_conflict_do_update(
            index_elements=[LINKS.c.user_id],
            set_={
                "secret_hash": upsert.excluded.secret_hash,
                "created_at": upsert.excluded.created_at,
                "token_generation": upsert.excluded.token_generation,
                "last_used_at": None,
            },
        ).returning(LINKS.c.user_id)
    )
    if made.first() is None:
        raise InvalidToken
    await session.commit()
    return secret


async def status(engine: AsyncEngine, *, claims: TokenClaims) -> Row[Any]:
    """When the token's user made their live link, and when it was last used;
    `NoCalendarLink` when they have none, `InvalidToken` for a token no longer theirs."""
    params = {"user_id": claims.subject, "generation": claims.generation}
    async with engine.connect() as connection:
        found = (await connection.execute(STATUS, params)).first()
    if found is None:
        raise InvalidToken
    if found.created_at is None:
        raise NoCalendarLink
    return found


async def revoke(session: AsyncSession, *, user_id: int) -> None:
    await session.exec(delete(LINKS).where(LINKS.c.user_id == user_id))
    await session.commit()


async def state(engine: AsyncEngine, *, secret: str) -> Row[Any]:
    """The calendar's owner and what decides its content; `CalendarNotFound` for a
    secret that is not (or no longer) anyone's, or whose user has since ended every
    login.

    Notes the use, at most once a minute (`USE_RECORDED_EVERY`): one conditional
    `UPDATE`, which of two polls at once only one makes.
    """
    secret_hash = link_token_hash(secret)
    async with engine.connect() as connection:
        found = (await connection.execute(STATE, {"secret_hash": secret_hash})).first()
        if found is None:
            raise CalendarNotFound
        now = utcnow()
        if found.last_used_at is None or found.last_used_at <= now - USE_RECORDED_EVERY:
            await connection.execute(
                update(LINKS)
                .where(
                    LINKS.c.secret_hash == secret_hash,
                    or_(
                        LINKS.c.last_used_at.is_(None),
                        LINKS.c.last_used_at <= now - USE_RECORDED_EVERY,
                    ),
                )
                .values(last_used_at=now)
            )
    return found


async def birthdays(engine: AsyncEngine, *, owner_id: int) -> Sequence[Row[Any]]:
    async with engine.connect() as connection:
        return (await connection.execute(BIRTHDAYS, {"owner_id": owner_id})).all()
