"""The signed-in user's own account: who they are, their logins, their password, leaving."""

from typing import Annotated

from fastapi import APIRouter, Path, Request, status

from contacts_api.api.deps import (
    AccessClaims,
    CurrentUser,
    EngineDep,
    PasswordHasherDep,
    SessionDep,
    SettingsDep,
    TokenPolicyDep,
    TransactionDep,
)
from contacts_api.api.routes.responses import BUSY, UNAUTHORIZED, error
from contacts_api.core.exceptions import NoCalendarLink, SessionNotFound, WrongPassword
from contacts_api.crud import calendar_links, tokens, users
from contacts_api.formats import calendar_feed
from contacts_api.models import (
    CalendarLinkPublic,
    CalendarLinkStatus,
    PasswordChange,
    PasswordConfirmation,
    SessionPublic,
    TokenPair,
    UserPublic,
    public,
)

router = APIRouter(prefix="/api/users", tags=["users"], responses=UNAUTHORIZED)

# A login's id, as the sessions list shows it: 32 hexadecimal digits.
SessionId = Annotated[str, Path(pattern="^[0-9a-f]{32}$")]
WRONG_PASSWORD = {403: error("The password given is wrong", WrongPassword.message)}
SESSION_NOT_FOUND = {404: error("No such live login of yours", SessionNotFound.message)}


@router.get("/me", summary="The signed-in user")
async def read_me(user: CurrentUser) -> UserPublic:
    return user


@router.post(
    "/me/password",
    summary="Change your password: every other login ends; you get a new pair of tokens",
    responses=WRONG_PASSWORD | BUSY,
)
async def change_password(
    request: Request,
    data: PasswordChange,
    user: CurrentUser,
    engine: EngineDep,
    session: TransactionDep,
    hasher: PasswordHasherDep,
    policy: TokenPolicyDep,
) -> TokenPair:
    await users.confirm_password(
        engine, user_id=user.id, password=data.current_password, hasher=hasher
    )
    return await users.change_password(
        session,
        user_id=user.id,
        new_password=data.new_password,
        hasher=hasher,
        policy=policy,
        user_agent=request.headers.get("user-agent"),
    )


@router.get("/me/sessions", summary="Your live logins; `current` marks this one")
async def list_sessions(
    claims: AccessClaims, user: CurrentUser, engine: EngineDep
) -> list[SessionPublic]:
    rows = await tokens.live_sessions(engine, user_id=user.id)
    return [public(SessionPublic, row, current=row.id == claims.session_id) for row in rows]


@router.delete(
    "/me/sessions/{session_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="End one of your logins: its refresh tokens stop working",
    responses=SESSION_NOT_FOUND,
)
async def end_session(session_id: SessionId, user: CurrentUser, session: SessionDep) -> None:
    await tokens.end_session(session, user_id=user.id, session_id=session_id)


@router.post(
    "/me/calendar-link",
    status_code=status.HTTP_201_CREATED,
    summary="Make the private address of your birthday calendar; a new one replaces the old."
    " It ends with every login (logout everywhere, a new password, a reset)",
)
async def make_calendar_link(
    claims: AccessClaims, session: SessionDep, settings: SettingsDep
) -> CalendarLinkPublic:
    secret = await calendar_links.replace(session, claims=claims)
    return CalendarLinkPublic(url=calendar_feed.feed_url(settings.public_url, secret))


@router.get(
    "/me/calendar-link",
    summary="Whether you have a calendar link: when it was made and last used (never its address)",
    responses={404: error("You have no calendar link", NoCalendarLink.message)},
)
async def read_calendar_link(claims: AccessClaims, engine: EngineDep) -> CalendarLinkStatus:
    found = await calendar_links.status(engine, claims=claims)
    return public(CalendarLinkStatus, found)


@router.delete(
    "/me/calendar-link",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Revoke the address of your birthday calendar",
)
async def revoke_calendar_link(user: CurrentUser, session: SessionDep) -> None:
    await calendar_links.revoke(session, user_id=user.id)


@router.delete(
    "/me",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete your account, your contacts and your logins, for good",
    responses=WRONG_PASSWORD | BUSY,
)
async def delete_me(
    data: PasswordConfirmation,
    user: CurrentUser,
    engine: EngineDep,
    session: SessionDep,
    hasher: PasswordHasherDep,
) -> None:
    await users.confirm_password(engine, user_id=user.id, password=data.password, hasher=hasher)
    await users.delete_account(session, user_id=user.id)
