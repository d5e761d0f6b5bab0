"""The app factory: routers, error handlers, and docs that work without internet.

`main.py` builds the served app from the environment; tests call `create_app`
with settings of their own, so importing this module has no side effects.
"""

import json
import logging
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from fastapi import FastAPI, Request, Response, status
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from limits.errors import StorageError
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from contacts_api.api.import_worker import ImportQueue
from contacts_api.api.middleware import (
    REQUEST_ID_HEADER,
    JsonBodiesOnly,
    KnownHostsOnly,
    RequestContextMiddleware,
    loggable_path,
    printable,
)
from contacts_api.api.routes import auth, calendar, contacts, docs, health, pages, users
from contacts_api.api.routes.responses import BAD_REQUEST, SERVICE_UNAVAILABLE, UNAVAILABLE
from contacts_api.core.config import Settings
from contacts_api.core.db import create_app_engine, in_transactions, is_missing_table
from contacts_api.core.exceptions import (
    CalendarNotFound,
    ContactChanged,
    ContactEmailTaken,
    ContactNotFound,
    DatabaseUnavailable,
    DomainError,
    EmailAlreadyRegistered,
    EmailAlreadyVerified,
    EmailNotVerified,
    HashingBusy,
    ImportsBusy,
    ImportTooLarge,
    InvalidCredentials,
    InvalidLink,
    InvalidToken,
    RateLimited,
    RateLimitStorageUnavailable,
    RetryLater,
    SchemaBehind,
    SessionNotFound,
    WrongPassword,
)
from contacts_api.core.logs import flush_logs
from contacts_api.core.migrations import head_revision
from contacts_api.core.ratelimit import RateLimiter
from contacts_api.core.security import PasswordHasher
from contacts_api.mail import outbox
from contacts_api.mail.messages import AccountMail
from contacts_api.models import LinkPurpose

logger = logging.getLogger(__name__)

BEARER_CHALLENGE = {"WWW-Authenticate": "Bearer"}

# Each domain error's status code and the headers its answer carries, looked up by the
# error's class and then its bases: an error without a row of its own is still answered
# as what it is a kind of (at worst a `400`), never as a `500`.
ERROR_STATUS: dict[type[DomainError], tuple[int, dict[str, str]]] = {
    DomainError: (status.HTTP_400_BAD_REQUEST, {}),
    EmailAlreadyRegistered: (status.HTTP_409_CONFLICT, {}),
    ContactEmailTaken: (status.HTTP_409_CONFLICT, {}),
    ContactNotFound: (status.HTTP_404_NOT_FOUND, {}),
    CalendarNotFound: (status.HTTP_404_NOT_FOUND, {}),
    ContactChanged: (status.HTTP_412_PRECONDITION_FAILED, {}),
    ImportTooLarge: (status.HTTP_413_CONTENT_TOO_LARGE, {}),
    SessionNotFound: (status.HTTP_404_NOT_FOUND, {}),
    WrongPassword: (status.HTTP_403_FORBIDDEN, {}),
    EmailNotVerified: (status.HTTP_403_FORBIDDEN, {}),
    EmailAlreadyVerified: (status.HTTP_409_CONFLICT, {}),
    InvalidLink: (status.HTTP_400_BAD_REQUEST, {}),
    InvalidCredentials: (status.HTTP_401_UNAUTHORIZED, BEARER_CHALLENGE),
    InvalidToken: (status.HTTP_401_UNAUTHORIZED, BEARER_CHALLENGE),
    RateLimited: (status.HTTP_429_TOO_MANY_REQUESTS, {}),
    HashingBusy: (status.HTTP_503_SERVICE_UNAVAILABLE, {}),
    ImportsBusy: (status.HTTP_503_SERVICE_UNAVAILABLE, {}),
    DatabaseUnavailable: (status.HTTP_503_SERVICE_UNAVAILABLE, {}),
    SchemaBehind: (status.HTTP_503_SERVICE_UNAVAILABLE, {}),
    RateLimitStorageUnavailable: (status.HTTP_503_SERVICE_UNAVAILABLE, {}),
}
# Never echoed back in a 422's `input`: the client sent them, but a response may be
# logged or cached on the way, and a secret has no business there.
SECRET_FIELDS = frozenset(
    {"password", "refresh_token", "current_password", "new_password", "token"}
)
METHOD_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build an app around its own settings, engine, password hasher and rate limiter.

    The engine connects lazily, so the app starts while the database is down and
    answers `503` until it is back.
    """
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Messages an SMTP server did not take, this run's or an earlier one's, are sent
        # from the outbox until they go; the worker stops before the pool closes.
        async with app.state.account_mail.mailer.outbox_worker():
            yield
        # uvicorn gets here on SIGTERM once the requests in flight have been answered.
        await app.state.engine.dispose()
        await app.state.rate_limiter.close()
        app.state.password_hasher.close()
        logger.info("shutdown: requests finished, database pool closed")
        flush_logs()

    app = FastAPI(
        title="contacts_api",
        summary="Personal contacts behind JWT accounts: every user sees only their own.",
        version="1.0.0",
        lifespan=lifespan,
        responses=BAD_REQUEST | SERVICE_UNAVAILABLE,
        swagger_ui_parameters={"persistAuthorization": True},
        max_body_size=settings.max_body_bytes,
        # A redirect to the path with(out) its slash would be built from the request's
        # `Host` header, which a client writes: an unknown path is a plain `404`.
        redirect_slashes=False,
        docs_url=None,  # served by routes/docs.py, with their scripts from the service
        redoc_url=None,
    )
    app.mount(docs.ASSETS_URL, StaticFiles(directory=docs.ASSETS), name="static-offline-docs")
    app.state.settings = settings
    app.state.engine = create_app_engine(
        settings.database_url, timeout=settings.database_timeout_seconds
    )
    app.state.transaction_engine = in_transactions(app.state.engine)
    app.state.schema_head = head_revision()
    app.state.password_hasher = PasswordHasher(
        rounds=settings.bcrypt_rounds,
        concurrency=settings.hashing_concurrency,
        queue_seconds=settings.hashing_queue_seconds,
    )
    app.state.import_queue = ImportQueue(
        concurrency=settings.import_concurrency, queue_limit=settings.import_queue_limit
    )
    app.state.token_policy = settings.token_policy()
    app.state.account_mail = AccountMail(
        engine=app.state.engine,
        mailer=outbox.mailer(settings),
        public_url=settings.public_url,
        lifetimes={
            LinkPurpose.PASSWORD_RESET: timedelta(minutes=settings.password_reset_expire_minutes),
            LinkPurpose.EMAIL_VERIFICATION: timedelta(
                hours=settings.email_verification_expire_hours
            ),
        },
    )
    app.state.rate_limiter = RateLimiter(
        limits=settings.rate_limits(),
        enabled=settings.rate_limit_enabled,
        redis_url=settings.redis_url,
    )

    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(DBAPIError, _database_unavailable)
    app.add_exception_handler(PoolTimeoutError, _database_unavailable)
    app.add_exception_handler(StorageError, _rate_limit_storage_unavailable)

    for module in (health, auth, users, contacts, calendar, pages, docs):
        app.include_router(module.router)
    app.state.route_methods = [
        (route.path_regex, route.methods)
        for module in (health, auth, users, contacts, calendar, pages)
        for route in module.router.routes
        if isinstance(route, APIRoute)
    ]
    app.add_exception_handler(StarletteHTTPException, _http_error)

    # The last added is the outermost: every response, CORS's included, gets the headers.
    # CORS only when some origin is allowed: with none it would only cost time.
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", REQUEST_ID_HEADER],
            expose_headers=["Location", REQUEST_ID_HEADER],
        )
    app.add_middleware(JsonBodiesOnly, routes=app.state.route_methods)
    if settings.allowed_hosts:
        app.add_middleware(KnownHostsOnly, hosts=settings.allowed_hosts)
    app.add_middleware(RequestContextMiddleware)
    return app


async def _http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own answer, but a `405` lists every method the path has.

    Starlette names only the methods of the first route whose path matched, so
    `/api/contacts/{id}` would say `Allow: GET` though it also takes PUT, PATCH and
    DELETE: the routes are asked again, all of them.
    """
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == status.HTTP_405_METHOD_NOT_ALLOWED:
        path = request.url.path
        methods = {
            method
            for regex, route_methods in request.app.state.route_methods
            if regex.match(path)
            for method in route_methods
        }
        allowed = ", ".join(m for m in METHOD_ORDER if m in methods)
        exc = StarletteHTTPException(exc.status_code, exc.detail, headers={"Allow": allowed})
    return await http_exception_handler(request, exc)


def _safe_to_echo(error: dict[str, Any]) -> dict[str, Any]:
    """The error without its `input` when that is a secret, or not plain JSON (an uploaded
    file where text was expected would show the server's objects); an object echoed
    whole (the body, when a field is missing from it) loses its secret fields."""
    secret = SECRET_FIELDS.intersection(str(part) for part in error.get("loc", ()))
    if secret or not _plain_json(error.get("input")):
        return {key: value for key, value in error.items() if key != "input"}
    if "input" in error:
        return error | {"input": _without_secrets(error["input"])}
    return error


def _without_secrets(value: object) -> object:
    """`value` with every `SECRET_FIELDS` key left out, at any depth."""
    if isinstance(value, list):
        return [_without_secrets(item) for item in value]
    if isinstance(value, dict):
        return {
            key: _without_secrets(item) for key, item in value.items() if key not in SECRET_FIELDS
        }
    return value


def _plain_json(value: object) -> bool:
    if isinstance(value, list):
        return all(_plain_json(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(key, str) and _plain_json(item) for key, item in value.items())
    return value is None or isinstance(value, str | int | float | bool)


async def _validation_error(_request: Request, exc: Exception) -> Response:
    """FastAPI's own `422` body, without secrets, written with ASCII escapes.

    The errors echo the input, which may hold a lone surrogate (`"\\ud800"` is valid
    JSON but not text) that UTF-8 cannot encode: the default response would fail with
    a `500` while reporting the client's mistake.
    """
    assert isinstance(exc, RequestValidationError)
    errors = [_safe_to_echo(error) for error in exc.errors()]
    detail = _finite(jsonable_encoder(errors))
    body = json.dumps({"detail": detail}, ensure_ascii=True, separators=(",", ":"))
    return Response(
        body, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT, media_type="application/json"
    )


def _finite(value: object) -> object:
    """`value` with every NaN or infinity written as a string: JSON has neither, and a
    body holding `NaN` (which Python's parser accepts) must not get an answer that no
    JSON parser reads."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, list):
        return [_finite(item) for item in value]
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    return value


async def _domain_error(_request: Request, exc: Exception) -> JSONResponse:
    status_code, headers = next(
        ERROR_STATUS[kind] for kind in type(exc).__mro__ if kind in ERROR_STATUS
    )
    if isinstance(exc, RetryLater):
        headers = headers | {"Retry-After": str(exc.retry_after)}
    return JSONResponse({"detail": str(exc)}, status_code=status_code, headers=headers)


async def _rate_limit_storage_unavailable(request: Request, exc: Exception) -> JSONResponse:
    logger.warning(
        "rate-limit storage unavailable during %s %s: %s",
        printable(request.method),
        loggable_path(request.url.path),
        exc,
    )
    return JSONResponse(
        {"detail": "Service unavailable, try again shortly"},
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
    )


async def _database_unavailable(request: Request, exc: Exception) -> Response:
    """`503` for a database that is down or stalls, whose connections are all busy past
    `DATABASE_TIMEOUT_SECONDS` (the pool's `TimeoutError`), or that was never migrated
    (said plainly).

    Any other error from the database is a bug here, and stays the `500` it is.
    """
    assert isinstance(exc, DBAPIError | PoolTimeoutError)
    if isinstance(exc, DBAPIError):
        if is_missing_table(exc):
            return await _domain_error(request, SchemaBehind())
        if not isinstance(exc, OperationalError):
            raise exc
    logger.warning(
        "database unavailable during %s %s: %s",
        printable(request.method),
        loggable_path(request.url.path),
        exc,
    )
    return JSONResponse(
        {"detail": UNAVAILABLE},
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": "1"},
    )
