"""Request dependencies, as `Annotated` aliases a route names in its signature.

The app keeps its settings, engine, password hasher and rate limiter on `app.state`
(see `app.create_app`), so two apps with different settings can live in one process:
what the tests do to run the same suite on SQLite and PostgreSQL.

Every dependency is `async def`, even where it awaits nothing: FastAPI runs a plain
`def` in a worker thread, and the hop there and back costs more than the work.
"""

import json
from collections.abc import AsyncIterator, Iterable
from datetime import date, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Depends, File, Header, Path, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.security import OAuth2PasswordBearer
from pydantic import ValidationError
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from contacts_api.api import import_worker
from contacts_api.api.import_worker import ImportJob, ImportQueue
from contacts_api.core.config import Settings
from contacts_api.core.exceptions import ImportTooLarge
from contacts_api.core.ratelimit import RateLimiter
from contacts_api.core.rules import InvalidFields, check_contact_fields
from contacts_api.core.security import (
    PasswordHasher,
    TokenClaims,
    TokenPolicy,
    TokenType,
    decode_token,
)
from contacts_api.crud import contacts, users
from contacts_api.formats import vcard_import
from contacts_api.mail.messages import AccountMail
from contacts_api.models import (
    MAX_ID,
    ContactCreate,
    ContactUpdate,
    ImportQuery,
    ImportReport,
    LoginRequest,
    UserPublic,
    public,
)

TOKEN_PATH = "/api/auth/token"  # noqa: S105 (a path)
FORM_CONTENT_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")

# Declares the OAuth2 password flow in OpenAPI, so Swagger UI's Authorize button
# logs in with email and password; a missing header is answered with `401`.
oauth2_scheme = OAuth2PasswordBearer(tokenUrl=TOKEN_PATH)


def client_address(request: Request) -> str:
    """The client's address, what per-client rate limits count by (a proxy's
    `X-Forwarded-For` only from `FORWARDED_ALLOW_IPS`: see `__main__`)."""
    return request.client.host if request.client else "unknown"


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_engine(request: Request) -> AsyncEngine:
    """The app's engine, for reads: each borrows a connection for its one statement.

    A read needs no session: no objects to track, nothing to commit. Measured on
    `GET /api/users/me`, a session (and the dependency that closes it) cost a quarter
    of the request.
    """
    return request.app.state.engine


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's session for changes, in autocommit: each statement commits alone.

    A route changes one row with one statement (`INSERT`, `UPDATE … RETURNING`,
    `DELETE`), which the database applies whole or not at all by itself; wrapping it
    in a transaction would only add two round trips (`BEGIN`, `COMMIT`).

    `expire_on_commit=False`: an object keeps its values after a commit, instead of
    loading them again (which async code cannot do implicitly).
    """
    async with AsyncSession(request.app.state.engine, expire_on_commit=False) as session:
        yield session


async def get_transaction(request: Request) -> AsyncIterator[AsyncSession]:
    """A session whose statements commit together or not at all, for the routes that
    write several rows as one change (a login's family and first token, a refresh's
    spent token and its successor). A route takes this or `SessionDep`, never both:
    one connection a request, so requests can never wait on each other for a second."""
    engine = request.app.state.transaction_engine
    async with AsyncSession(engine, expire_on_commit=False) as session:
        yield session


async def get_password_hasher(request: Request) -> PasswordHasher:
    return request.app.state.password_hasher


async def get_rate_limiter(request: Request) -> RateLimiter:
    return request.app.state.rate_limiter


async def get_token_policy(request: Request) -> TokenPolicy:
    return request.app.state.token_policy


async def get_account_mail(request: Request) -> AccountMail:
    return request.app.state.account_mail


async def get_import_queue(request: Request) -> ImportQueue:
    return request.app.state.import_queue


SettingsDep = Annotated[Settings, Depends(get_settings)]
RateLimiterDep = Annotated[RateLimiter, Depends(get_rate_limiter)]
EngineDep = Annotated[AsyncEngine, Depends(get_engine)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
TransactionDep = Annotated[AsyncSession, Depends(get_transaction)]
PasswordHasherDep = Annotated[PasswordHasher, Depends(get_password_hasher)]
TokenPolicyDep = Annotated[TokenPolicy, Depends(get_token_policy)]
AccountMailDep = Annotated[AccountMail, Depends(get_account_mail)]
ImportQueueDep = Annotated[ImportQueue, Depends(get_import_queue)]


async def get_access_claims(
    request: Request, token: Annotated[str, Depends(oauth2_scheme)]
) -> TokenClaims:
    """The claims of a valid access token (`InvalidToken`, a `401`, for anything less), not
    yet checked against the user's row.

    For the reads whose own query also checks that the account exists and the token's
    generation is still the user's (`InvalidToken` if not): that check then costs no
    query of its own. Every other route takes `CurrentUser`, which looks the user up.
    """
    key = request.app.state.token_policy.key
    claims = decode_token(token, expected_type=TokenType.ACCESS, key=key)
    request.state.user_id = claims.subject  # for the access log line
    return claims


AccessClaims = Annotated[TokenClaims, Depends(get_access_claims)]


async def get_current_user(request: Request, claims: AccessClaims) -> UserPublic:
    """The user an access token names.

    The user is read on every request, so a deleted account loses access at once, and
    so does every token issued before all of the user's logins were ended.
    """
    row = await users.get_current(
        request.app.state.engine, user_id=claims.subject, generation=claims.generation
    )
    return public(UserPublic, row)


CurrentUser = Annotated[UserPublic, Depends(get_current_user)]


async def get_today(settings: SettingsDep) -> date:
    """Today's date in the `TIMEZONE` setting; tests override this to freeze the calendar."""
    return datetime.now(ZoneInfo(settings.timezone)).date()


TodayDep = Annotated[date, Depends(get_today)]
ContactId = Annotated[int, Path(ge=1, le=MAX_ID)]


async def get_owned_contact(
    request: Request, contact_id: ContactId, claims: AccessClaims
) -> Row[Any]:
    """The contact in the path (its public columns and its version), if it is the
    token's user's; `404` otherwise.

    The user check and the contact are one query (see `contacts.get_as_owner`):
    the most common authenticated read costs one round trip to the database.
    """
    engine = request.app.state.engine
    return await contacts.get_as_owner(
        engine, owner_id=claims.subject, generation=claims.generation, contact_id=contact_id
    )


OwnedContact = Annotated[Row[Any], Depends(get_owned_contact)]
IfMatch = Annotated[
    str | None,
    Header(
        description="The contact's `ETag` as you read it: the change is made only if the"
        " contact is still that version (`412` otherwise, and nothing changes)"
    ),
]
IfNoneMatch = Annotated[
    str | None,
    Header(description="The `ETag` of your copy: `304` and no body while it is current"),
]


def validation_error(errors: Iterable[dict[str, Any]]) -> RequestValidationError:
    """A `422` in FastAPI's own shape, for checks made outside FastAPI's validation."""
    return RequestValidationError(list(errors))


def _checked(values: dict[str, Any], settings: Settings, today: date) -> dict[str, Any]:
    """`check_contact_fields` with this request's settings and date; `422` naming each field."""
    try:
        return check_contact_fields(values, phone_region=settings.phone_region, today=today)
    except InvalidFields as exc:
        raise validation_error(
            {"type": "value_error", "loc": ("body", field), "msg": message, "input": values[field]}
            for field, message in exc.problems.items()
        ) from exc


async def valid_contact(
    data: ContactCreate, settings: SettingsDep, today: TodayDep
) -> ContactCreate:
    return ContactCreate.model_validate(_checked(data.model_dump(), settings, today))


async def valid_changes(
    data: ContactUpdate, settings: SettingsDep, today: TodayDep
) -> dict[str, Any]:
    return _checked(data.model_dump(exclude_unset=True), settings, today)


ValidContact = Annotated[ContactCreate, Depends(valid_contact)]
ValidChanges = Annotated[dict[str, Any], Depends(valid_changes)]


VCardUpload = Annotated[UploadFile, File(description="A .vcf file of one or many cards")]


async def import_vcards(
    request: Request, upload: UploadFile, query: ImportQuery, *, owner_id: int, today: date
) -> ImportReport:
    """Import the uploaded cards (see `import_worker.import_file`); `413` past
    `MAX_IMPORT_BYTES`, 10,000 cards or `IMPORT_TIME_LIMIT_SECONDS`, `422` for a file
    that is not vCards. The import stops if the client goes away.

    Called by the route, not a dependency: the file is read only once its sender is
    known (`CurrentUser`), so an anonymous upload costs no parsing at all.
    """
    settings: Settings = request.app.state.settings
    if upload.size is not None and upload.size > settings.max_import_bytes:
        raise ImportTooLarge(f"The file is over {settings.max_import_bytes:,} bytes: split it")
    job = ImportJob(
        database_url=settings.database_url,
        database_timeout=settings.database_timeout_seconds,
        owner_id=owner_id,
        max_bytes=settings.max_import_bytes,
        phone_region=query.region or settings.phone_region,
        today=today,
        time_limit=settings.import_time_limit_seconds,
        on_conflict=query.on_conflict,
        dry_run=query.dry_run,
    )
    try:
        return await import_worker.import_file(upload.file, job, gone=request.is_disconnected)
    except vcard_import.NotVCards as exc:
        raise validation_error(
            [{"type": "value_error", "loc": ("body", "file"), "msg": str(exc), "input": None}]
        ) from exc


async def login_credentials(request: Request) -> LoginRequest:
    """Read credentials from an OAuth2 form (`username`, `password`) or from JSON.

    Swagger UI's Authorize button and OAuth2 clients send the form; scripts tend to
    send JSON. FastAPI declares one body type per route, so the body is read here,
    and failures are raised as the same `422` FastAPI's own validation gives.
    """
    field_names: dict[str, str] = {}
    if request.headers.get("content-type", "").startswith(FORM_CONTENT_TYPES):
        async with request.form() as form:  # closes any uploaded file when done
            fields: Any = {"email": form.get("username"), "password": form.get("password")}
        field_names = {"email": "username"}
    else:
        try:
            fields = json.loads(await request.body())
        except (ValueError, RecursionError) as exc:
            raise validation_error(
                [{"type": "json_invalid", "loc": ("body",), "msg": "Invalid JSON", "input": {}}]
            ) from exc
    try:
        return LoginRequest.model_validate(fields)
    except ValidationError as exc:
        raise validation_error(
            error | {"loc": ("body", *(field_names.get(str(p), p) for p in error["loc"]))}
            for error in exc.errors(include_url=False)
        ) from exc


Credentials = Annotated[LoginRequest, Depends(login_credentials)]
