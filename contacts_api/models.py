"""Tables and API schemas, one SQLModel family per entity.

`XBase` holds the fields that are shared; `XCreate` is what a client sends, the
`table=True` class is the row, and `XPublic` is what a client gets back, so a column
such as `hashed_password` can never reach a response by accident.
"""

from datetime import datetime
from enum import StrEnum

from pydantic import EmailStr, field_validator
from sqlalchemy import ForeignKey
from sqlmodel import Column, Field, Relationship, SQLModel

from contacts_api.db import UTCDateTime, utcnow

# Stable constraint names, so that migrations can refer to them on both databases.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

EMAIL_MAX_LENGTH = 254
PASSWORD_MIN_LENGTH = 8
BCRYPT_MAX_BYTES = 72


def _timestamp_column(*, nullable: bool = False, index: bool = False) -> Column[datetime]:
    return Column(UTCDateTime(), nullable=nullable, index=index)


# --- Users ------------------------------------------------------------------


class UserBase(SQLModel):
    email: EmailStr = Field(max_length=EMAIL_MAX_LENGTH)

    @field_validator("email")
    @classmethod
    def _fold_case(cls, value: str) -> str:
        """Emails are stored lower-cased, so the unique index also makes them unique
        case-insensitively: `A@x.io` and `a@x.io` are one account."""
        return value.lower()


class UserCreate(UserBase):
    password: str = Field(
        min_length=PASSWORD_MIN_LENGTH,
        schema_extra={"examples": ["correct horse battery"]},
    )

    @field_validator("password")
    @classmethod
    def _fits_bcrypt(cls, value: str) -> str:
        """bcrypt reads only the first 72 bytes of a password and ignores the rest.

        Hashing a longer one would let any password with the same first 72 bytes
        open the account, so it is refused here instead. Pre-hashing would lift
        the limit, but would also make our hashes unlike every other bcrypt's.
        """
        if len(value.encode()) > BCRYPT_MAX_BYTES:
            raise ValueError(f"must be at most {BCRYPT_MAX_BYTES} bytes in UTF-8")
        return value


class User(UserBase, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=EMAIL_MAX_LENGTH, unique=True)
    hashed_password: str
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp_column())


class UserPublic(UserBase):
    id: int
    email: str
    created_at: datetime


# --- Tokens -----------------------------------------------------------------


class TokenType(StrEnum):
    ACCESS = "access"
    REFRESH = "refresh"


class LoginRequest(SQLModel):
    """Credentials as JSON; the form variant names the email `username` (OAuth2)."""

    email: str = Field(max_length=EMAIL_MAX_LENGTH, schema_extra={"examples": ["ada@example.com"]})
    password: str = Field(max_length=1024, schema_extra={"examples": ["correct horse battery"]})


class RefreshRequest(SQLModel):
    refresh_token: str = Field(max_length=4096)


class TokenPair(SQLModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"  # noqa: S105 (the OAuth2 token type)


class RefreshTokenFamily(SQLModel, table=True):
    """One login: every refresh token rotated from it belongs to this family.

    Revocation is one flag on the family, checked at every use, so a token issued a
    moment after the family was revoked is refused as well: there is no race between
    rotating a token and revoking its family.
    """

    __tablename__ = "refresh_token_families"

    id: str = Field(primary_key=True, max_length=32)
    user_id: int = Field(
        sa_column=Column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp_column())
    revoked_at: datetime | None = Field(default=None, sa_column=_timestamp_column(nullable=True))


class RefreshToken(SQLModel, table=True):
    """A refresh token the server has issued, known by its `jti` claim.

    `spent_at` is set when the token is exchanged for a new pair; presenting it again
    is the sign of a stolen copy, and revokes its family.
    """

    __tablename__ = "refresh_tokens"

    jti: str = Field(primary_key=True, max_length=32)
    family_id: str = Field(
        sa_column=Column(
            ForeignKey("refresh_token_families.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        )
    )
    expires_at: datetime = Field(sa_column=_timestamp_column(index=True))
    spent_at: datetime | None = Field(default=None, sa_column=_timestamp_column(nullable=True))

    family: RefreshTokenFamily = Relationship()


# --- Responses shared by every entity ----------------------------------------


class ErrorMessage(SQLModel):
    """The body of every error but `422`: FastAPI's `{"detail": "..."}`."""

    detail: str = Field(schema_extra={"examples": ["Could not validate credentials"]})


class HealthStatus(SQLModel):
    status: str = Field(schema_extra={"examples": ["ok"]})
    database: str = Field(schema_extra={"examples": ["ok"]})
