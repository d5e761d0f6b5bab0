"""Users: sign-up, look-up and authentication."""

from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from contacts_api.exceptions import EmailAlreadyRegistered, InvalidCredentials, InvalidToken
from contacts_api.models import User, UserCreate
from contacts_api.rules import normalize_email
from contacts_api.security import PasswordHasher


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


async def get_current(session: AsyncSession, user_id: int) -> User:
    """The user a valid token names; `InvalidToken` if the account is gone since."""
    user = await session.get(User, user_id)
    if user is None:
        raise InvalidToken
    return user


async def get_by_email(session: AsyncSession, email: str) -> User | None:
    return (await session.exec(select(User).where(User.email == normalize_email(email)))).first()


async def authenticate(
    session: AsyncSession, *, email: str, password: str, hasher: PasswordHasher
) -> int:
    """The id of the user these credentials open, or `InvalidCredentials`, whichever is wrong.

    The read transaction ends before the hash is checked, so no database connection
    sits idle for bcrypt's quarter of a second while other requests wait for one.
    """
    found = (
        await session.exec(
            select(User.id, User.hashed_password).where(User.email == normalize_email(email))
        )
    ).first()
    await session.rollback()
    if not await hasher.verify(password, found.hashed_password if found else None) or not found:
        raise InvalidCredentials
    return found.id
