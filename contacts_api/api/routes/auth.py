"""Sign-up, login, refresh and logout; password reset and email verification by mail."""

from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, Request, status

from contacts_api.api.deps import (
    AccountMailDep,
    Credentials,
    CurrentUser,
    EngineDep,
    PasswordHasherDep,
    RateLimiterDep,
    SessionDep,
    SettingsDep,
    TokenPolicyDep,
    TransactionDep,
    client_address,
)
from contacts_api.api.routes.responses import (
    BUSY,
    TOO_MANY_REQUESTS,
    UNAUTHORIZED,
    VALIDATION_ERROR,
    error,
)
from contacts_api.core.exceptions import (
    EmailAlreadyRegistered,
    EmailAlreadyVerified,
    EmailNotVerified,
    InvalidCredentials,
    InvalidLink,
)
from contacts_api.core.ratelimit import Limit
from contacts_api.core.rules import normalize_email
from contacts_api.core.security import TokenClaims, TokenType, decode_token
from contacts_api.crud import links, tokens, users
from contacts_api.models import (
    NO_NUL,
    Accepted,
    EmailVerification,
    LinkPurpose,
    LoginRequest,
    PasswordResetConfirm,
    PasswordResetRequest,
    RefreshRequest,
    TokenPair,
    UserCreate,
    UserPublic,
    public,
)

router = APIRouter(prefix="/api/auth", tags=["auth"])


async def limit_signup(request: Request, limiter: RateLimiterDep) -> None:
    await limiter.hit(Limit.SIGNUP, client_address(request))


async def limit_refresh(request: Request, limiter: RateLimiterDep) -> None:
    await limiter.hit(Limit.REFRESH, client_address(request))


async def refresh_claims(data: RefreshRequest, policy: TokenPolicyDep) -> TokenClaims:
    return decode_token(data.refresh_token, expected_type=TokenType.REFRESH, key=policy.key)


RefreshClaims = Annotated[TokenClaims, Depends(refresh_claims)]


async def hashing_room(hasher: PasswordHasherDep) -> None:
    hasher.refuse_if_busy()


# One request media type per operation in the schema (generated clients break on two):
# `/login` documents JSON and `/token` the OAuth2 form; `/login` takes the form too.
LOGIN_JSON_BODY = {
    "required": True,
    "content": {"application/json": {"schema": LoginRequest.model_json_schema()}},
}
TOKEN_FORM_BODY = {
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
        }
    },
}
LOGIN_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: UNAUTHORIZED[401] | error("Unknown email or wrong password", InvalidCredentials.message),
    403: error(
        "`REQUIRE_VERIFIED_EMAIL` is on and this email is not verified yet",
        EmailNotVerified.message,
    ),
    **VALIDATION_ERROR,
    **TOO_MANY_REQUESTS,
    **BUSY,
}


@router.post(
    "/signup",
    status_code=status.HTTP_201_CREATED,
    response_model=UserPublic,
    summary="Create an account",
    responses={
        409: error("Email already registered", EmailAlreadyRegistered.message),
        **TOO_MANY_REQUESTS,
        **BUSY,
    },
    dependencies=[Depends(limit_signup)],
)
async def signup(
    data: UserCreate,
    session: SessionDep,
    hasher: PasswordHasherDep,
    mail: AccountMailDep,
    background: BackgroundTasks,
) -> UserPublic:
    user = await users.create_user(session, data=data, hasher=hasher)
    background.add_task(mail.send_verification, user_id=user.id, email=user.email)
    return public(UserPublic, user)


async def log_in(
    request: Request,
    credentials: Credentials,
    engine: EngineDep,
    session: TransactionDep,
    policy: TokenPolicyDep,
    hasher: PasswordHasherDep,
    limiter: RateLimiterDep,
    settings: SettingsDep,
) -> TokenPair:
    """The login both routes make: check the credentials, start a family of tokens."""
    account = normalize_email(credentials.email)
    async with limiter.login_attempt(address=client_address(request), account=account):
        user_id, generation = await users.authenticate(
            engine,
            email=credentials.email,
            password=credentials.password,
            hasher=hasher,
            require_verified_email=settings.require_verified_email,
        )
    return await tokens.start_family(
        session,
        user_id=user_id,
        generation=generation,
        policy=policy,
        user_agent=request.headers.get("user-agent"),
    )


LoggedIn = Annotated[TokenPair, Depends(log_in)]


@router.post(
    "/login",
    summary="Log in with email and password; get an access and a refresh token",
    responses=LOGIN_RESPONSES,
    openapi_extra={"requestBody": LOGIN_JSON_BODY},
    # Before the body is even read: a login that would find no room to hash its
    # password is refused at once, at the smallest cost.
    dependencies=[Depends(hashing_room)],
)
async def login(pair: LoggedIn) -> TokenPair:
    return pair


@router.post(
    "/token",
    summary="Log in with the OAuth2 password form (what Swagger UI's Authorize sends)",
    description="The same login as `/api/auth/login`, documented as the OAuth2 form.",
    responses=LOGIN_RESPONSES,
    openapi_extra={"requestBody": TOKEN_FORM_BODY},
    dependencies=[Depends(hashing_room)],
)
async def token(pair: LoggedIn) -> TokenPair:
    return pair


@router.post(
    "/refresh",
    response_model=TokenPair,
    summary="Exchange a refresh token for a new pair (the old one is spent)",
    responses=UNAUTHORIZED | TOO_MANY_REQUESTS,
    dependencies=[Depends(limit_refresh)],
)
async def refresh(
    claims: RefreshClaims, session: TransactionDep, policy: TokenPolicyDep
) -> TokenPair:
    return await tokens.rotate(session, claims=claims, policy=policy)


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Log out: every refresh token of this login stops working",
    responses=UNAUTHORIZED,
)
async def logout(claims: RefreshClaims, session: TransactionDep) -> None:
    await tokens.revoke(session, claims=claims)


@router.post(
    "/logout-all",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Log out everywhere: every login of yours ends, and every token issued so far",
    responses=UNAUTHORIZED,
)
async def logout_all(user: CurrentUser, session: TransactionDep) -> None:
    await tokens.log_out_everywhere(session, user_id=user.id)


INVALID_LINK = {400: error("The token is unknown, expired or already used", InvalidLink.message)}
RESET_ACCEPTED = (
    "If an account has this email, a link to reset its password is on its way there."
    " It works once, for a limited time."
)


@router.post(
    "/password-reset",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Ask for a password-reset link by mail",
    description=(
        "Always the same `202`, whether an account has the email or not (who has an"
        " account here is nobody's business): the account is looked up, and the message"
        " sent, after the answer. Limited per client address and per email."
    ),
    responses=TOO_MANY_REQUESTS,
)
async def request_password_reset(
    request: Request,
    data: PasswordResetRequest,
    limiter: RateLimiterDep,
    mail: AccountMailDep,
    background: BackgroundTasks,
) -> Accepted:
    await limiter.hit(Limit.PASSWORD_RESET, client_address(request))
    await limiter.hit(Limit.PASSWORD_RESET_EMAIL, normalize_email(data.email))
    background.add_task(mail.send_password_reset, email=data.email)
    return Accepted(detail=RESET_ACCEPTED)


@router.post(
    "/password-reset/confirm",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Set a new password with the token of a reset link; every login ends",
    responses=INVALID_LINK | BUSY,
    dependencies=[Depends(hashing_room)],
)
async def confirm_password_reset(
    data: PasswordResetConfirm,
    engine: EngineDep,
    session: TransactionDep,
    hasher: PasswordHasherDep,
) -> None:
    # A token that cannot work is refused before the cost of hashing the new password.
    await links.holder(engine, token=data.token, purpose=LinkPurpose.PASSWORD_RESET)
    await users.reset_password(
        session, token=data.token, new_password=data.new_password, hasher=hasher
    )


@router.post(
    "/verify-email",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Verify your email with the token of a verification link",
    responses=INVALID_LINK,
)
async def verify_email(data: EmailVerification, session: TransactionDep) -> None:
    await users.verify_email(session, token=data.token)


@router.post(
    "/verify-email/resend",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Mail yourself a new verification link",
    responses=UNAUTHORIZED
    | {409: error("Your email is already verified", EmailAlreadyVerified.message)}
    | TOO_MANY_REQUESTS,
)
async def resend_verification(
    user: CurrentUser,
    limiter: RateLimiterDep,
    mail: AccountMailDep,
    background: BackgroundTasks,
) -> Accepted:
    if user.email_verified:
        raise EmailAlreadyVerified
    await limiter.hit(Limit.VERIFICATION_RESEND, str(user.id))
    background.add_task(mail.send_verification, user_id=user.id, email=user.email)
    return Accepted(detail="A new verification link is on its way to your email.")
