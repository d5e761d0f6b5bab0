"""Users: sign-up, look-up and authentication."""

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from contacts_api.exceptions import EmailAlreadyRegistered, InvalidCredentials
from contacts_api.models import User, UserCreate
from contacts_api.security import PasswordHasher


def create_user(session: Session, *, data: UserCreate, hasher: PasswordHasher) -> User:
    """Insert a user; the unique index on `email` decides a race between two sign-ups."""
    user = User(email=data.email, hashed_password=hasher.hash(data.password))
    session.add(user)
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise EmailAlreadyRegistered from exc
    session.refresh(user)
    return user


def get_user(session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)


def get_user_by_email(session: Session, email: str) -> User | None:
    return session.exec(select(User).where(User.email == email.lower())).first()


def authenticate(session: Session, *, email: str, password: str, hasher: PasswordHasher) -> int:
    """The id of the user these credentials open, or `InvalidCredentials`, whichever is wrong.

    The read transaction ends before the hash is checked, so no database connection
    sits idle for bcrypt's quarter of a second while other requests wait for one.
    """
    found = session.exec(
        select(User.id, User.hashed_password).where(User.email == email.lower())
    ).first()
    session.commit()
    if not hasher.verify(password, found.hashed_password if found else None) or found is None:
        raise InvalidCredentials
    return found.id


def set_password(session: Session, *, user: User, password: str, hasher: PasswordHasher) -> User:
    """Store a new hash for `user` (added if new): what the seed script's demo user needs."""
    user.hashed_password = hasher.hash(password)
    session.add(user)
    session.commit()
    session.refresh(user)
    return user
