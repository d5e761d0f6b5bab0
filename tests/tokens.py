"""Hand-made tokens for the rejection tests: expired, forged, unsigned, of another type."""

import base64
import json
from datetime import timedelta

from contacts_api.core.security import TokenType, create_token
from tests.conftest import TEST_SECRET_KEY

OTHER_KEY = "another-key-that-is-also-long-enough-9876543210"


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def claims_of(token: str) -> dict:
    """The payload of a JWT, read without checking it (the tests' view of a token)."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def signed(
    user_id: int,
    token_type: TokenType,
    *,
    lifetime: timedelta = timedelta(minutes=5),
    key: str = TEST_SECRET_KEY,
) -> str:
    token, _ = create_token(subject=user_id, token_type=token_type, lifetime=lifetime, key=key)
    return token


def expired(user_id: int, token_type: TokenType) -> str:
    return signed(user_id, token_type, lifetime=timedelta(seconds=-10))


def forged(user_id: int, token_type: TokenType) -> str:
    return signed(user_id, token_type, key=OTHER_KEY)


def unsigned(user_id: int, token_type: TokenType) -> str:
    """`alg: none`: a token anyone can write, with the claims of a valid one."""
    header = _b64({"alg": "none", "typ": "JWT"})
    claims = claims_of(signed(user_id, token_type))
    return f"{header}.{_b64(claims)}."
