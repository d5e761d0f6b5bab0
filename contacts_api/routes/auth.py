"""Sign-up, login, refresh and logout."""

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, status
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from contacts_api.crud import tokens, users
from contacts_api.deps import PasswordHasherDep, RateLimiterDep, SessionDep, SettingsDep
from contacts_api.models import (
    NO_NUL,
    ErrorMessage,
    LoginRequest,
    RefreshRequest,
    TokenPair,
    UserCreate,
    UserPublic,
)
from contacts_api.ratelimit import parse_limit
from contacts_api.routes.responses import TOO_MANY_REQUESTS, UNAUTHORIZED, VALIDATION_ERROR

router = APIRouter(prefix="/api/auth", tags=["auth"])

FORM_CONTENT_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


async def login_credentials(request: Request) -> LoginRequest:
    """Read credentials from an OAuth2 form (`username`, `password`) or from JSON.

    Swagger UI's Authorize button and OAuth2 clients send the form; scripts tend to
    send JSON. FastAPI declares one body type per route, so the body is read here,
    and failures are raised as the same `422` FastAPI's own validation gives.
    """
    if request.headers.get("content-type", "").startswith(FORM_CONTENT_TYPES):
        form = await request.form()
        fields: Any = {"email": form.get("username"), "password": form.get("password")}
        field_names = {"email": "username"}
    else:
        try:
            fields = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise RequestValidationError(
                [
                    {
                        "type": "json_invalid",
                        "loc": ("body",),
                        "msg": "Invalid JSON",
                        "input": {},
                    }
                ]
            ) from exc
        field_names = {}
    try:
        return LoginRequest.model_validate(fields)
    except ValidationError as exc:
        raise RequestValidationError(
            [
                {
                    **error,
                    "loc": (
                        "body",
                        *(field_names.get(str(p), p) for p in error["loc"]),
                    ),
                }
                for error in exc.errors(include_url=False)
            ]
        ) from exc


Credentials = Annotated[LoginRequest, Depends(login_credentials)]


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def limit_signup(request: Request, limiter: RateLimiterDep, settings: SettingsDep) -> None:
    limiter.hit(parse_limit(settings.rate_limit_signup), "signup", _client(request))


def limit_login(
    request: Request, credentials: Credentials, limiter: RateLimiterDep, settings: SettingsDep
) -> None:
    """Per address, against one client trying many accounts; per account, against many
    clients trying one."""
    limiter.hit(parse_limit(settings.rate_limit_login), "login", _client(request))
    account = credentials.email.lower()
    limiter.hit(parse_limit(settings.rate_limit_login_account), "login-account", account)


def limit_refresh(request: Request, limiter: RateLimiterDep, settings: SettingsDep) -> None:
    limiter.hit(parse_limit(settings.rate_limit_refresh), "refresh", _client(request))


LOGIN_REQUEST_BODY = {
    "required": True,
    "content": {
        "application/x-www-form-urlencoded": {
            "schema": {
                "type": "object",
                "required": ["username", "password"],
                "properties": {
                    "username": {
                        "type": "string",
                        "pattern": NO_NUL,
                        "description": "The account's email",
                    },
                    "password": {"type": "string", "format": "password"},
                },
            }
        },
        "application/json": {"schema": LoginRequest.model_json_schema()},
    },
}


@router.post(
    "/signup",
    status_code=status.HTTP_201_CREATED,
    response_model=UserPublic,
    summary="Create an account",
    responses={
        409: {"model": ErrorMessage, "description": "Email already registered"},
        **TOO_MANY_REQUESTS,
    },
    dependencies=[Depends(limit_signup)],
)
def signup(data: UserCreate, session: SessionDep, hasher: PasswordHasherDep) -> UserPublic:
    user = users.create_user(session, data=data, hasher=hasher)
    return UserPublic.model_validate(user)


@router.post(
    "/login",
    response_model=TokenPair,
    summary="Log in with email and password; get an access and a refresh token",
    responses={
        401: UNAUTHORIZED[401] | {"description": "Unknown email or wrong password"},
        **VALIDATION_ERROR,
        **TOO_MANY_REQUESTS,
    },
    openapi_extra={"requestBody": LOGIN_REQUEST_BODY},
    dependencies=[Depends(limit_login)],
)
def login(
    credentials: Credentials,
    session: SessionDep,
    settings: SettingsDep,
    hasher: PasswordHasherDep,
) -> TokenPair:
    user_id = users.authenticate(
        session, email=credentials.email, password=credentials.password, hasher=hasher
    )
    return tokens.start_family(session, user_id=user_id, settings=settings)


@router.post(
    "/refresh",
    response_model=TokenPair,
    summary="Exchange a refresh token for a new pair (the old one is spent)",
    responses=UNAUTHORIZED | TOO_MANY_REQUESTS,
    dependencies=[Depends(limit_refresh)],
)
def refresh(data: RefreshRequest, session: SessionDep, settings: SettingsDep) -> TokenPair:
    return tokens.rotate(session, refresh_token=data.refresh_token, settings=settings)


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Log out: every refresh token of this login stops working",
    responses=UNAUTHORIZED,
)
def logout(data: RefreshRequest, session: SessionDep, settings: SettingsDep) -> None:
    tokens.revoke(session, refresh_token=data.refresh_token, settings=settings)
