"""Single-use tokens of mailed links (password reset, email verification).

Only a token's hash is stored (see `models.LinkToken`); every function here takes
the token as the client sent it and looks it up by its hash.
"""

from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from contacts_api.core.clock import utcnow
from contacts_api.core.exceptions import InvalidLink
from contacts_api.core.security import link_token_hash, new_link_token
from contacts_api.models import LinkPurpose, LinkToken

LINKS = LinkToken.__table__
# A token that can still be used: this purpose, not used yet, not expired. (The
# parameters are not named after columns: an `UPDATE` keeps those names for its `SET`.)
LIVE = (
    LINKS.c.token_hash == bindparam("hash"),
    LINKS.c.purpose == bindparam("link_purpose"),
    LINKS.c.used_at.is_(None),
    LINKS.c.expires_at > bindparam("now"),
)
HOLDER = select(LINKS.c.user_id).where(*LIVE)


async def issue(
    engine: AsyncEngine, *, user_id: int, purpose: LinkPurpose, lifetime: timedelta
) -> str:
    """A new token for the user, valid for `lifetime`; only its hash is stored.

    One `INSERT` on a connection of the (autocommit) engine: it commits by itself.
    """
    token = new_link_token()
    now = utcnow()
    async with engine.connect() as connection:
        await connection.execute(
            insert(LINKS).values(
                token_hash=link_token_hash(token),
                user_id=user_id,
                purpose=purpose,
                created_at=now,
                expires_at=now + lifetime,
            )
        )
    return token


async def holder(engine: AsyncEngine, *, token: str, purpose: LinkPurpose) -> int:
    """The id of the user a live token is for; `InvalidLink` if it is unknown, expired
    or used. Spends nothing: what a page opened by a `GET` may do, and the check made
    before the cost of hashing a new password."""
    params = _params(token, purpose)
    async with engine.connect() as connection:
        user_id = (await connection.execute(HOLDER, params)).scalar()
    if user_id is None:
        raise InvalidLink
    return user_id


async def spend(session: AsyncSession, *, token: str, purpose: LinkPurpose) -> int:
    """Use the token up and return its user's id; `InvalidLink` if it cannot be used.

    One conditional `UPDATE`: of two requests racing with one token, exactly one
    gets the user and the other `InvalidLink`. Not committed here: the caller commits
    it with the change the link was for.
    """
    spent = await session.exec(
        update(LINKS).where(*LIVE).values(used_at=utcnow()).returning(LINKS.c.user_id),
        params=_params(token, purpose),
    )
    user_id = spent.scalar_one_or_none()
    if user_id is None:
        raise InvalidLink
    return user_id


async def spend_all(session: AsyncSession, *, user_id: int, purpose: LinkPurpose) -> None:
    """Use up every live token of the user for `purpose`: once a password has been reset,
    the other reset links in the mailbox must not reset it again."""
    await session.exec(
        update(LINKS)
        .where(
            LINKS.c.user_id == user_id,
            LINKS.c.purpose == purpose,
            LINKS.c.used_at.is_(None),
        )
        .values(used_at=utcnow())
    )


async def purge_expired(engine: AsyncEngine, *, now: datetime | None = None) -> int:
    """Delete the links past their expiry, used or not; return how many. An expired
    link is refused whether its row is there or not."""
    async with engine.connect() as connection:
        purged = await connection.execute(
            delete(LINKS).where(LINKS.c.expires_at <= (now or utcnow()))
        )
    return purged.rowcount


def _params(token: str, purpose: LinkPurpose) -> dict[str, object]:
    return {"hash": link_token_hash(token), "link_purpose": purpose, "now": utcnow()}
