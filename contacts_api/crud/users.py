"""Users: sign-up, look-up, authentication, and the changes an account goes through.

Reads borrow a connection from the engine for their one statement; sign-up goes
through the request's session.
"""

from typing import Any

from sqlalchemy import Row, bindparam, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from contacts_api.core.exceptions import (
    EmailAlreadyRegistered,
    EmailNotVerified,
    InvalidCredentials,
    InvalidToken,
    WrongPassword,
)
from contacts_api.core.rules import normalize_email
from contacts_api.core.security import PasswordHasher, TokenPolicy
from contacts_api.crud import links, tokens
from contacts_api.models import LinkPurpose, TokenPair, User, UserCreate, UserPublic

USERS = User.__table__
# Built once: every authenticated request runs it, and building a statement costs
# more than running it; values arrive as bound parameters. Reads name the table's
# columns rather than the class's attributes: rows come back as plain rows, without
# the ORM's machinery for turning them into objects (see `models.public`).
# A token's user, as long as the token is of the user's current generation.
CURRENT_USER = select(*(USERS.c[name] for name in UserPublic.model_fields)).where(
    USERS.c.id == bindparam("user_id"), USERS.c.token_generation == bindparam("generation")
)
CREDENTIALS = select(
    USERS.c.id, USERS.c.hashed_password, USERS.c.token_generation, USERS.c.email_verified
).where(USERS.c.email == bindparam("email"))
BY_EMAIL = select(USERS.c.id, USERS.c.email).where(USERS.c.email == bindparam("email"))
PASSWORD_OF = select(USERS.c.hashed_password).where(USERS.c.id == bindparam("user_id"))


async def create_user(session: AsyncSession, *, data: UserCreate, hasher: PasswordHasher) -> User:
    """Insert a user; the unique index on `email` decides a race between two sign-ups."""
    user = User(email=data.email, hashed_password=await hasher.hash(data.password))
    session.add(user)
    try:
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        raise EmailAlreadyRegistered from exc
    return user


async def get_current(engine: AsyncEngine, *, user_id: int, generation: int) -> Row[Any]:
    """The public columns of the user a valid token names; `InvalidToken` if they are gone,
    or if the token is of an earlier generation (every login ended since it was issued)."""
    params = {"user_id": user_id, "generation": generation}
    async with engine.connect() as connection:
        user = (await connection.execute(CURRENT_USER, params)).first()
    if user is None:
        raise InvalidToken
    return user


async def find_by_email(engine: AsyncEngine, *, email: str) -> Row[Any] | None:
    """The id and stored email of the account with this email, in any of its spellings."""
    async with engine.connect() as connection:
        return (await connection.execute(BY_EMAIL, {"email": normalize_email(email)})).first()


async def authenticate(
    engine: AsyncEngine,
    *,
    email: str,
    password: str,
    hasher: PasswordHasher,
    require_verified_email: bool = False,
) -> tuple[int, int]:
    """The id and token generation of the user these credentials open, or
    `InvalidCredentials`, whichever is wrong; `EmailNotVerified` when a verified email
    is required and this one is not (said only to whoever knows the password).

    The connection goes back to the pool before the hash is checked, so none sits idle
    for bcrypt's quarter of a second while other requests wait for one.
    """
    async with engine.connect() as connection:
        params = {"email": normalize_email(email)}
        found = (await connection.execute(CREDENTIALS, params)).first()
    if not await hasher.verify(password, found.hashed_password if found else None) or not found:
        raise InvalidCredentials
    if require_verified_email and not found.email_verified:
        raise EmailNotVerified
    return found.id, found.token_generation


async def confirm_password(
    engine: AsyncEngine, *, user_id: int, password: str, hasher: PasswordHasher
) -> None:
    """`WrongPassword` unless `password` is the user's: asked again before a serious change,
    so that a stolen access token alone can neither lock the owner out nor delete them."""
    async with engine.connect() as connection:
        hashed = (await connection.execute(PASSWORD_OF, {"user_id": user_id})).scalar()
    if hashed is None:
        raise InvalidToken
    if not await hasher.verify(password, hashed):
        raise WrongPassword


async def change_password(
    session: AsyncSession,
    *,
    user_id: int,
    new_password: str,
    hasher: PasswordHasher,
    policy: TokenPolicy,
    user_agent: str | None,
) -> TokenPair:
    """Store the new password, end every login (tokens issued before stop working), and
    start a new one for the caller: one transaction."""
    hashed = await hasher.hash(new_password)
    await session.exec(update(USERS).where(USERS.c.id == user_id).values(hashed_password=hashed))
    await links.spend_all(session, user_id=user_id, purpose=LinkPurpose.PASSWORD_RESET)
    generation = await tokens.end_every_login(session, user_id=user_id)
    return await tokens.start_family(
        session, user_id=user_id, generation=generation, policy=policy, user_agent=user_agent
    )


async def reset_password(
    session: AsyncSession, *, token: str, new_password: str, hasher: PasswordHasher
) -> None:
    """Spend a reset link and store the new password, one transaction that also ends
    every login and uses up the user's other reset links.

    The link was mailed to the account's address, so following it proves the address
    too: the email counts as verified from then on.
    """
    hashed = await hasher.hash(new_password)
    user_id = await links.spend(session, token=token, purpose=LinkPurpose.PASSWORD_RESET)
    await session.exec(
        update(USERS)
        .where(USERS.c.id == user_id)
        .values(hashed_password=hashed, email_verified=True)
    )
    await links.spend_all(session, user_id=user_id, purpose=LinkPurpose.PASSWORD_RESET)
    await tokens.end_every_login(session, user_id=user_id)
    await session.commit()


async def verify_email(session: AsyncSession, *, token: str) -> None:
    """Spend a verification link; the user's email is verified from then on."""
    user_id = await links.spend(session, token=token, purpose=LinkPurpose.EMAIL_VERIFICATION)
    await session.exec(update(USERS).where(USERS.c.id == user_id).values(email_verified=True))
    await session.commit()


async def delete_account(session: AsyncSession, *, user_id: int) -> None:
    """Delete the user; their contacts and logins go with them (`ON DELETE CASCADE`), and
    their email is free to sign up again."""
    await session.exec(delete(USERS).where(USERS.c.id == user_id))
    await session.commit()
