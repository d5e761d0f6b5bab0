"""Users: sign-up, look-up and authentication.

Reads borrow a connection from the engine for their one statement; sign-up goes
through the request's session.
"""

from typing import Any

from sqlalchemy import Row, bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from contacts_api.exceptions import EmailAlreadyRegistered, InvalidCredentials, InvalidToken
from contacts_api.models import User, UserCreate, UserPublic
from contacts_api.rules import normalize_email
from contacts_api.security import PasswordHasher

USERS = User.__table__
# Built once: every authenticated request runs it, and building a statement costs
# more than running it; values arrive as bound parameters. Reads name the table's
# columns rather than the class's attributes: rows come back as plain rows, without
# the ORM's machinery for turning them into objects (see `models.public`).
CURRENT_USER = select(*(USERS.c[name] for name in UserPublic.model_fields)).where(
    USERS.c.id == bindparam("user_id")
)
CREDENTIALS = select(USERS.c.id, USERS.c.hashed_password).where(USERS.c.email == bindparam("email"))


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


async def get_current(engine: AsyncEngine, user_id: int) -> Row[Any]:
    """The public columns of the user a valid token names; `InvalidToken` if they are gone."""
    async with engine.connect() as connection:
        user = (await connection.execute(CURRENT_USER, {"user_id": user_id})).first()
    if user is None:
        raise InvalidToken
    return user


async def authenticate(
    engine: AsyncEngine, *, email: str, password: str, hasher: PasswordHasher
) -> int:
    """The id of the user these credentials open, or `InvalidCredentials`, whichever is wrong.

    The connection goes back to the pool before the hash is checked, so none sits idle
    for bcrypt's quarter of a second while other requests wait for one. A login that
    the hasher would refuse (`HashingBusy`) is refused before it reads anything.
    """
    hasher.refuse_if_busy()
    async with engine.connect() as connection:
        params = {"email": normalize_email(email)}
        found = (await connection.execute(CREDENTIALS, params)).first()
    if not await hasher.verify(password, found.hashed_password if found else None) or not found:
        raise InvalidCredentials
    return found.id
