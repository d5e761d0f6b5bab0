"""Token pairs and refresh-token families: login, rotation with reuse detection, logout.

A login starts a *family*. Each refresh spends the presented refresh token and
issues the next one into the same family. A refresh token is good for one exchange:
if a spent one comes back, either its owner or a thief holds a copy, and the server
cannot tell which, so it revokes the whole family and both must log in again
(refresh-token rotation as Auth0 describes it). Logout revokes the family too.

The functions take claims that `security.decode_token` has already verified: this
module keeps the server's record of refresh tokens, and never reads a JWT itself.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, exists, update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from contacts_api.core.clock import utcnow
from contacts_api.core.db import in_transactions
from contacts_api.core.exceptions import InvalidToken, SessionNotFound
from contacts_api.core.security import (
    TokenClaims,
    TokenPolicy,
    TokenType,
    create_token,
    new_token_id,
)
from contacts_api.models import (
    USER_AGENT_MAX_LENGTH,
    RefreshToken,
    RefreshTokenFamily,
    TokenPair,
    User,
)

USERS = User.__table__


async def start_family(
    session: AsyncSession,
    *,
    user_id: int,
    generation: int,
    policy: TokenPolicy,
    user_agent: str | None = None,
) -> TokenPair:
    """A new login: a new family and its first token pair, committed with whatever the
    session holds already (a password change commits with its new login)."""
    now = utcnow()
    family = RefreshTokenFamily(
        id=new_token_id(),
        user_id=user_id,
        created_at=now,
        last_used_at=now,
        user_agent=user_agent[:USER_AGENT_MAX_LENGTH] if user_agent else None,
    )
    session.add(family)
    pair = _issue_pair(session, family=family, generation=generation, policy=policy)
    await session.commit()
    return pair


async def rotate(session: AsyncSession, *, claims: TokenClaims, policy: TokenPolicy) -> TokenPair:
    """Spend a refresh token and issue the next pair from the same family."""
    family, generation = await _spend(session, claims=claims)
    family.last_used_at = utcnow()
    pair = _issue_pair(session, family=family, generation=generation, policy=policy)
    await session.commit()
    return pair


async def revoke(session: AsyncSession, *, claims: TokenClaims) -> None:
    """Logout: spend the presented token and revoke every token of its family."""
    family, _ = await _spend(session, claims=claims)
    family.revoked_at = utcnow()
    await session.commit()


async def end_every_login(session: AsyncSession, *, user_id: int) -> int:
    """Revoke every family of the user and move their token generation on: every refresh
    token and every access token issued so far stops working. Returns the new generation.

    Not committed here: the caller commits it together with what caused it (a new
    password, a new login for the one who asked).
    """
    await session.exec(
        update(RefreshTokenFamily)
        .where(
            col(RefreshTokenFamily.user_id) == user_id, col(RefreshTokenFamily.revoked_at).is_(None)
        )
        .values(revoked_at=utcnow())
    )
    bumped = await session.exec(
        update(USERS)
        .where(USERS.c.id == user_id)
        .values(token_generation=USERS.c.token_generation + 1)
        .returning(USERS.c.token_generation)
    )
    generation = bumped.scalar_one_or_none()
    if generation is None:
        raise InvalidToken
    return generation


async def log_out_everywhere(session: AsyncSession, *, user_id: int) -> None:
    """End every login of the user, and every access token issued so far."""
    await end_every_login(session, user_id=user_id)
    await session.commit()


async def live_sessions(engine: AsyncEngine, *, user_id: int) -> Sequence[Row[Any]]:
    """The user's logins that can still be refreshed: not revoked, with a refresh token
    neither spent nor expired. Newest first."""
    live_token = exists().where(
        RefreshToken.family_id == RefreshTokenFamily.id,
        col(RefreshToken.spent_at).is_(None),
        col(RefreshToken.expires_at) > utcnow(),
    )
    families = RefreshTokenFamily.__table__
    statement = (
        select(families.c.id, families.c.created_at, families.c.last_used_at, families.c.user_agent)
        .where(families.c.user_id == user_id, families.c.revoked_at.is_(None), live_token)
        .order_by(families.c.created_at.desc())
    )
    async with engine.connect() as connection:
        return (await connection.execute(statement)).all()


async def end_session(session: AsyncSession, *, user_id: int, session_id: str) -> None:
    """Revoke one of the user's logins; `SessionNotFound` if it is not a live one of theirs."""
    revoked = await session.exec(
        update(RefreshTokenFamily)
        .where(
            col(RefreshTokenFamily.id) == session_id,
            col(RefreshTokenFamily.user_id) == user_id,
            col(RefreshTokenFamily.revoked_at).is_(None),
        )
        .values(revoked_at=utcnow())
    )
    await session.commit()
    if revoked.rowcount == 0:
        raise SessionNotFound


async def purge_expired(engine: AsyncEngine, *, now: datetime | None = None) -> int:
    """Delete expired refresh tokens and the families left without any; return how many tokens.

    A family's revocation only matters while one of its tokens could still be
    presented, and an expired token is refused by its signature check alone.
    """
    now = now or utcnow()
    async with in_transactions(engine).begin() as connection:
        purged = await connection.execute(
            delete(RefreshToken).where(col(RefreshToken.expires_at) <= now)
        )
        await connection.execute(
            delete(RefreshTokenFamily).where(
                ~exists().where(RefreshToken.family_id == RefreshTokenFamily.id)
            )
        )
    return purged.rowcount


async def _spend(session: AsyncSession, *, claims: TokenClaims) -> tuple[RefreshTokenFamily, int]:
    """Spend a refresh token, returning its family and its user's token generation; a
    replay revokes the family.

    Spending is one conditional `UPDATE`, so of two requests racing with the same
    token exactly one wins and the other is treated as the replay it is.
    """
    found = (
        await session.exec(
            select(RefreshTokenFamily, User.token_generation)
            .join(RefreshToken)
            .join(User)
            .where(RefreshToken.jti == claims.jti, RefreshTokenFamily.user_id == claims.subject)
        )
    ).first()
    if found is None or found[0].revoked_at is not None:
        raise InvalidToken
    family, generation = found
    now = utcnow()
    spent = await session.exec(
        update(RefreshToken)
        .where(col(RefreshToken.jti) == claims.jti, col(RefreshToken.spent_at).is_(None))
        .values(spent_at=now)
    )
    if spent.rowcount != 1:
        family.revoked_at = now
        await session.commit()
        raise InvalidToken
    return family, generation


def _issue_pair(
    session: AsyncSession, *, family: RefreshTokenFamily, generation: int, policy: TokenPolicy
) -> TokenPair:
    access_token, _ = create_token(
        subject=family.user_id,
        token_type=TokenType.ACCESS,
        lifetime=policy.access_lifetime,
        key=policy.key,
        generation=generation,
        session_id=family.id,
    )
    refresh_token, claims = create_token(
        subject=family.user_id,
        token_type=TokenType.REFRESH,
        lifetime=policy.refresh_lifetime,
        key=policy.key,
    )
    session.add(RefreshToken(jti=claims.jti, family=family, expires_at=claims.expires_at))
    return TokenPair(access_token=access_token, refresh_token=refresh_token)
