"""Token pairs and refresh-token families: login, rotation with reuse detection, logout.

A login starts a *family*. Each refresh spends the presented refresh token and
issues the next one into the same family. A refresh token is good for one exchange:
if a spent one comes back, either its owner or a thief holds a copy, and the server
cannot tell which, so it revokes the whole family and both must log in again
(refresh-token rotation as Auth0 describes it). Logout revokes the family too.

The functions take claims that `security.decode_token` has already verified: this
module keeps the server's record of refresh tokens, and never reads a JWT itself.
"""

from datetime import datetime

from sqlalchemy import delete, exists, update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from contacts_api.db import in_transactions, utcnow
from contacts_api.exceptions import InvalidToken
from contacts_api.models import RefreshToken, RefreshTokenFamily, TokenPair
from contacts_api.security import TokenClaims, TokenPolicy, TokenType, create_token, new_token_id


async def start_family(session: AsyncSession, *, user_id: int, policy: TokenPolicy) -> TokenPair:
    """A new login: a new family and its first token pair."""
    family = RefreshTokenFamily(id=new_token_id(), user_id=user_id)
    session.add(family)
    pair = _issue_pair(session, family=family, policy=policy)
    await session.commit()
    return pair


async def rotate(session: AsyncSession, *, claims: TokenClaims, policy: TokenPolicy) -> TokenPair:
    """Spend a refresh token and issue the next pair from the same family."""
    family = await _spend(session, claims=claims)
    pair = _issue_pair(session, family=family, policy=policy)
    await session.commit()
    return pair


async def revoke(session: AsyncSession, *, claims: TokenClaims) -> None:
    """Logout: spend the presented token and revoke every token of its family."""
    family = await _spend(session, claims=claims)
    family.revoked_at = utcnow()
    await session.commit()


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


async def _spend(session: AsyncSession, *, claims: TokenClaims) -> RefreshTokenFamily:
    """Spend a refresh token, returning its family; a replay revokes the family.

    Spending is one conditional `UPDATE`, so of two requests racing with the same
    token exactly one wins and the other is treated as the replay it is.
    """
    family = (
        await session.exec(
            select(RefreshTokenFamily)
            .join(RefreshToken)
            .where(RefreshToken.jti == claims.jti, RefreshTokenFamily.user_id == claims.subject)
        )
    ).first()
    if family is None or family.revoked_at is not None:
        raise InvalidToken
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
    return family


def _issue_pair(
    session: AsyncSession, *, family: RefreshTokenFamily, policy: TokenPolicy
) -> TokenPair:
    access_token, _ = create_token(
        subject=family.user_id,
        token_type=TokenType.ACCESS,
        lifetime=policy.access_lifetime,
        key=policy.key,
    )
    refresh_token, claims = create_token(
        subject=family.user_id,
        token_type=TokenType.REFRESH,
        lifetime=policy.refresh_lifetime,
        key=policy.key,
    )
    session.add(RefreshToken(jti=claims.jti, family=family, expires_at=claims.expires_at))
    return TokenPair(access_token=access_token, refresh_token=refresh_token)
