"""Token pairs and refresh-token families: login, rotation with reuse detection, logout.

A login starts a *family*. Each refresh spends the presented refresh token and
issues the next one into the same family. A refresh token is good for one exchange:
if a spent one comes back, either its owner or a thief holds a copy, and the server
cannot tell which, so it revokes the whole family and both must log in again
(refresh-token rotation as Auth0 describes it). Logout revokes the family too.
"""

from datetime import datetime, timedelta

from sqlalchemy import delete, exists, update
from sqlmodel import Session, col, select

from contacts_api.config import Settings
from contacts_api.db import utcnow
from contacts_api.exceptions import InvalidToken
from contacts_api.models import RefreshToken, RefreshTokenFamily, TokenPair, TokenType
from contacts_api.security import create_token, decode_token, new_token_id


def start_family(session: Session, *, user_id: int, settings: Settings) -> TokenPair:
    """A new login: a new family and its first token pair."""
    family = RefreshTokenFamily(id=new_token_id(), user_id=user_id)
    session.add(family)
    pair = _issue_pair(session, family=family, settings=settings)
    session.commit()
    return pair


def rotate(session: Session, *, refresh_token: str, settings: Settings) -> TokenPair:
    """Spend a refresh token and issue the next pair from the same family."""
    family = _spend(session, refresh_token=refresh_token, settings=settings)
    pair = _issue_pair(session, family=family, settings=settings)
    session.commit()
    return pair


def revoke(session: Session, *, refresh_token: str, settings: Settings) -> None:
    """Logout: spend the presented token and revoke every token of its family."""
    family = _spend(session, refresh_token=refresh_token, settings=settings)
    family.revoked_at = utcnow()
    session.commit()


def purge_expired(session: Session, *, now: datetime | None = None) -> int:
    """Delete expired refresh tokens and the families left without any; return how many tokens.

    A family's revocation only matters while one of its tokens could still be
    presented, and an expired token is refused by its signature check alone.
    """
    now = now or utcnow()
    purged = session.exec(delete(RefreshToken).where(col(RefreshToken.expires_at) <= now)).rowcount
    session.exec(
        delete(RefreshTokenFamily).where(
            ~exists().where(RefreshToken.family_id == RefreshTokenFamily.id)
        )
    )
    session.commit()
    return purged


def _spend(session: Session, *, refresh_token: str, settings: Settings) -> RefreshTokenFamily:
    """Verify a refresh token and spend it, returning its family; a replay revokes the family.

    Spending is one conditional `UPDATE`, so of two requests racing with the same
    token exactly one wins and the other is treated as the replay it is.
    """
    claims = decode_token(
        refresh_token,
        expected_type=TokenType.REFRESH,
        key=settings.secret_key.get_secret_value(),
    )
    family = session.exec(
        select(RefreshTokenFamily)
        .join(RefreshToken)
        .where(RefreshToken.jti == claims.jti, RefreshTokenFamily.user_id == claims.subject)
    ).first()
    if family is None or family.revoked_at is not None:
        raise InvalidToken
    now = utcnow()
    spent = session.exec(
        update(RefreshToken)
        .where(col(RefreshToken.jti) == claims.jti, col(RefreshToken.spent_at).is_(None))
        .values(spent_at=now)
    ).rowcount
    if spent != 1:
        family.revoked_at = now
        session.commit()
        raise InvalidToken
    return family


def _issue_pair(session: Session, *, family: RefreshTokenFamily, settings: Settings) -> TokenPair:
    key = settings.secret_key.get_secret_value()
    access_token, _ = create_token(
        subject=family.user_id,
        token_type=TokenType.ACCESS,
        lifetime=timedelta(minutes=settings.access_token_expire_minutes),
        key=key,
    )
    refresh_token, claims = create_token(
        subject=family.user_id,
        token_type=TokenType.REFRESH,
        lifetime=timedelta(days=settings.refresh_token_expire_days),
        key=key,
    )
    session.add(RefreshToken(jti=claims.jti, family=family, expires_at=claims.expires_at))
    return TokenPair(access_token=access_token, refresh_token=refresh_token)
