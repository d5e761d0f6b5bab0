"""Request dependencies, as `Annotated` aliases a route names in its signature.

The app keeps its settings, engine and password hasher on `app.state` (see
`main.create_app`), so two apps with different settings can live in one process:
what the tests do to run the same suite on SQLite and PostgreSQL.
"""

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlmodel import Session

from contacts_api.config import Settings
from contacts_api.crud.users import get_user
from contacts_api.exceptions import InvalidToken
from contacts_api.models import TokenType, User
from contacts_api.security import PasswordHasher, decode_token

LOGIN_PATH = "/api/auth/login"

# Declares the OAuth2 password flow in OpenAPI, so Swagger UI's Authorize button
# logs in with email and password; a missing header is answered with `401`.
oauth2_scheme = OAuth2PasswordBearer(tokenUrl=LOGIN_PATH)


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_session(request: Request) -> Iterator[Session]:
    with Session(request.app.state.engine) as session:
        yield session


def get_password_hasher(request: Request) -> PasswordHasher:
    return request.app.state.password_hasher


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]
PasswordHasherDep = Annotated[PasswordHasher, Depends(get_password_hasher)]


def get_current_user(
    session: SessionDep,
    settings: SettingsDep,
    token: Annotated[str, Depends(oauth2_scheme)],
) -> User:
    """The user an access token names; `InvalidToken` (a `401`) for anything less.

    The user is read on every request, so a deleted account loses access at once
    even while its access tokens have not yet expired.
    """
    claims = decode_token(
        token,
        expected_type=TokenType.ACCESS,
        key=settings.secret_key.get_secret_value(),
    )
    user = get_user(session, claims.subject)
    if user is None:
        raise InvalidToken
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]
