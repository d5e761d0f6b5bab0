"""Password hashing and JSON Web Tokens: the only module that imports passlib or jose.

Keeping both here means either library could be swapped in one place.
"""

import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from jose import jwt
from jose.exceptions import JOSEError
from passlib.context import CryptContext

from contacts_api.db import utcnow
from contacts_api.exceptions import InvalidToken
from contacts_api.models import TokenType, bcrypt_can_hash

JWT_ALGORITHM = "HS256"


class PasswordHasher:
    """bcrypt through passlib, at a cost the settings choose (tests lower it).

    Every hash costs a few hundred milliseconds of CPU by design: call it from a
    worker thread (a plain `def` route), never from `async def` code. At most
    `concurrency` hashes run at once, the rest wait their turn: a burst of logins then
    takes longer itself, but leaves CPU for every other request instead of starving them.
    """

    def __init__(self, rounds: int, concurrency: int) -> None:
        self._context = CryptContext(
            schemes=["bcrypt"], bcrypt__rounds=rounds, bcrypt__truncate_error=True
        )
        self._slots = threading.BoundedSemaphore(concurrency)
        self._dummy_hash = self.hash(uuid.uuid4().hex)

    def hash(self, password: str) -> str:
        with self._slots:
            return self._context.hash(password)

    def verify(self, password: str, hashed: str | None) -> bool:
        """Check a password; with no hash (an unknown email), check a dummy one.

        Both paths cost one bcrypt run, so the time a login takes does not tell
        whether the email is registered. A password bcrypt cannot read whole (over 72
        bytes, or with a NUL) can never have been stored, so it fails without a hash.
        """
        if not bcrypt_can_hash(password):
            return False
        with self._slots:
            matches = self._context.verify(password, hashed or self._dummy_hash)
        return matches and hashed is not None


@dataclass(frozen=True)
class TokenClaims:
    subject: int
    type: TokenType
    jti: str
    expires_at: datetime


def new_token_id() -> str:
    return uuid.uuid4().hex


def create_token(
    *,
    subject: int,
    token_type: TokenType,
    lifetime: timedelta,
    key: str,
    jti: str | None = None,
) -> tuple[str, TokenClaims]:
    """Sign a token of one type; `jti` names it, so the server can track refresh tokens."""
    now = utcnow()
    claims = TokenClaims(
        subject=subject,
        type=token_type,
        jti=jti or new_token_id(),
        expires_at=now + lifetime,
    )
    payload = {
        "sub": str(subject),
        "type": token_type.value,
        "jti": claims.jti,
        "iat": now,
        "exp": claims.expires_at,
    }
    return jwt.encode(payload, key, algorithm=JWT_ALGORITHM), claims


def decode_token(token: str, *, expected_type: TokenType, key: str) -> TokenClaims:
    """Verify a token and return its claims, or raise `InvalidToken`.

    The algorithm is pinned (RFC 8725): a token signed with `none`, another
    algorithm or another key is refused. A token of the other type is refused too,
    so a long-lived refresh token can never stand in for an access token.
    """
    try:
        payload = jwt.decode(
            token,
            key,
            algorithms=[JWT_ALGORITHM],
            options={"require_exp": True, "require_iat": True, "require_sub": True},
        )
    except JOSEError as exc:
        raise InvalidToken from exc
    try:
        claims = TokenClaims(
            subject=int(payload["sub"]),
            type=TokenType(payload["type"]),
            jti=str(payload["jti"]),
            expires_at=datetime.fromtimestamp(payload["exp"], tz=utcnow().tzinfo),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidToken from exc
    if claims.type is not expected_type:
        raise InvalidToken
    return claims
