"""Request dependencies, as `Annotated` aliases a route names in its signature.

The app keeps its settings, engine and password hasher on `app.state` (see
`main.create_app`), so two apps with different settings can live in one process:
what the tests do to run the same suite on SQLite and PostgreSQL.
"""

from collections.abc import Iterator
from datetime import date, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Depends, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import OAuth2PasswordBearer
from sqlmodel import Session

from contacts_api.config import Settings
from contacts_api.crud.contacts import get_contact
from contacts_api.crud.users import get_user
from contacts_api.exceptions import InvalidToken
from contacts_api.models import (
    MAX_ID,
    Contact,
    ContactCreate,
    ContactUpdate,
    InvalidFields,
    TokenType,
    User,
    check_contact_fields,
)
from contacts_api.ratelimit import RateLimiter
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


def get_rate_limiter(request: Request) -> RateLimiter:
    return request.app.state.rate_limiter


SettingsDep = Annotated[Settings, Depends(get_settings)]
RateLimiterDep = Annotated[RateLimiter, Depends(get_rate_limiter)]
SessionDep = Annotated[Session, Depends(get_session)]
PasswordHasherDep = Annotated[PasswordHasher, Depends(get_password_hasher)]


def get_current_user(
    request: Request,
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
    request.state.user_id = user.id  # for the access log line
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def get_today(settings: SettingsDep) -> date:
    """Today's date in the `TIMEZONE` setting; tests override this to freeze the calendar."""
    return datetime.now(ZoneInfo(settings.timezone)).date()


TodayDep = Annotated[date, Depends(get_today)]


def get_owned_contact(
    contact_id: Annotated[int, Path(ge=1, le=MAX_ID)], user: CurrentUser, session: SessionDep
) -> Contact:
    """The contact in the path, if it is the current user's; `404` otherwise."""
    return get_contact(session, owner_id=user.id, contact_id=contact_id)


OwnedContact = Annotated[Contact, Depends(get_owned_contact)]


def _checked(values: dict[str, Any], settings: Settings, today: date) -> dict[str, Any]:
    """`check_contact_fields` with this request's settings and date.

    Failures become FastAPI's own `422`, naming each field, like any other validation error.
    """
    try:
        return check_contact_fields(values, phone_region=settings.phone_region, today=today)
    except InvalidFields as exc:
        raise RequestValidationError(
            [
                {
                    "type": "value_error",
                    "loc": ("body", field),
                    "msg": message,
                    "input": values[field],
                }
                for field, message in exc.problems.items()
            ]
        ) from exc


def valid_contact(data: ContactCreate, settings: SettingsDep, today: TodayDep) -> ContactCreate:
    return ContactCreate.model_validate(_checked(data.model_dump(), settings, today))


def valid_changes(data: ContactUpdate, settings: SettingsDep, today: TodayDep) -> dict[str, Any]:
    return _checked(data.model_dump(exclude_unset=True), settings, today)


ValidContact = Annotated[ContactCreate, Depends(valid_contact)]
ValidChanges = Annotated[dict[str, Any], Depends(valid_changes)]
