"""Tables and API schemas, one SQLModel family per entity.

`XBase` holds the fields that are shared; `XCreate` is what a client sends, the
`table=True` class is the row, and `XPublic` is what a client gets back, so a column
such as `hashed_password` can never reach a response by accident.
"""

import unicodedata
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

import phonenumbers
from pydantic import ConfigDict, EmailStr, StringConstraints, field_validator
from sqlalchemy import ForeignKey, Index, SmallInteger, UniqueConstraint
from sqlmodel import Column, Field, Relationship, SQLModel

from contacts_api.db import UTCDateTime, utcnow

# Stable constraint names, so that migrations can refer to them on both databases.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

EMAIL_MAX_LENGTH = 254
# No NUL character in any text: PostgreSQL cannot store one and bcrypt refuses one, so
# it is a 422 here rather than an error deep below. In the schema, so clients see it.
# (A pattern also makes Pydantic refuse lone surrogates, "\ud800" in JSON: not text.)
NO_NUL = r"^[^\x00]*$"
PlainText = Annotated[str, StringConstraints(pattern=NO_NUL)]
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


def bcrypt_can_hash(password: str) -> bool:
    """Whether bcrypt reads all of `password`: at most 72 bytes, and no NUL character."""
    return len(password.encode()) <= BCRYPT_MAX_BYTES and "\x00" not in password


class UserCreate(UserBase):
    password: PlainText = Field(
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
        if not bcrypt_can_hash(value):
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

    email: PlainText = Field(
        max_length=EMAIL_MAX_LENGTH, schema_extra={"examples": ["ada@example.com"]}
    )
    password: PlainText = Field(
        max_length=1024, schema_extra={"examples": ["correct horse battery"]}
    )


class RefreshRequest(SQLModel):
    refresh_token: PlainText = Field(max_length=4096)


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


# --- Contacts ---------------------------------------------------------------

NAME_MAX_LENGTH = 50
PHONE_MAX_LENGTH = 32
NOTES_MAX_LENGTH = 2000

Name = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=NAME_MAX_LENGTH, pattern=NO_NUL
    ),
]


def search_key(text: str) -> str:
    """The form a name or email is matched in: compatibility-normalised and case-folded.

    SQLite's `lower()` and `LIKE` fold only ASCII, and PostgreSQL's depend on the
    database's locale, so neither can be trusted to match `оле` in "Олена". Folding in
    Python, once on write and once for each query, gives the same answer on both.
    """
    return unicodedata.normalize("NFKC", text).casefold()


def birthday_key(birthday: date) -> int:
    """Month and day as one number, `MMDD` (1 March is 301): what the birthday query needs.

    "Birthdays in the next N days" compares month and day and ignores the year, which a
    `date` column cannot do with an index. With this key the window is one or two
    ranges of integers, which the `(owner_id, birthday_key)` index serves directly.
    """
    return birthday.month * 100 + birthday.day


def normalize_phone(raw: str, region: str) -> str:
    """A phone number in E.164 (`+380671234567`), or `ValueError` if it is not a real one.

    A number written without a country code is read as a number of `region`.
    """
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError("not a phone number") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"not a valid phone number (without a country code, read in {region})")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class InvalidFields(ValueError):
    """Checks that need settings or the calendar failed; `problems` maps field to message."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("; ".join(f"{field}: {message}" for field, message in problems.items()))
        self.problems = problems


def check_contact_fields(
    values: dict[str, Any], *, phone_region: str, today: date
) -> dict[str, Any]:
    """The checks a Pydantic model cannot make alone, since they need settings or the date.

    Returns `values` with the phone in E.164, read in `phone_region` when it has no
    country code; refuses a birthday after `today`. Raises `InvalidFields` naming each
    field that failed. The API and the seed script both check contacts through here.
    """
    checked = dict(values)
    problems: dict[str, str] = {}
    if values.get("phone") is not None:
        try:
            checked["phone"] = normalize_phone(values["phone"], phone_region)
        except ValueError as exc:
            problems["phone"] = str(exc)
    if values.get("birthday") is not None and values["birthday"] > today:
        problems["birthday"] = "must not be in the future"
    if problems:
        raise InvalidFields(problems)
    return checked


def derived_columns(values: dict[str, Any]) -> dict[str, Any]:
    """The search and birthday keys for whichever of their source fields `values` holds."""
    derived: dict[str, Any] = {}
    for field in ("first_name", "last_name", "email"):
        if field in values:
            derived[f"{field}_key"] = search_key(values[field])
    if "birthday" in values:
        derived["birthday_key"] = birthday_key(values["birthday"])
    return derived


class ContactBase(SQLModel):
    first_name: Name = Field(max_length=NAME_MAX_LENGTH)
    last_name: Name = Field(max_length=NAME_MAX_LENGTH)
    email: EmailStr = Field(max_length=EMAIL_MAX_LENGTH)
    phone: PlainText = Field(
        min_length=1,
        max_length=PHONE_MAX_LENGTH,
        description="Stored and returned in E.164; without a country code, read in PHONE_REGION",
    )
    birthday: date = Field(description="Not in the future")
    notes: PlainText | None = Field(default=None, max_length=NOTES_MAX_LENGTH)


CONTACT_EXAMPLE = {
    "first_name": "Олена",
    "last_name": "Коваленко",
    "email": "olena.kovalenko@example.com",
    "phone": "067 123 45 67",
    "birthday": "1990-03-08",
    "notes": "Met at the Kyiv meetup",
}


class ContactCreate(ContactBase):
    """A new contact, or every field of one for `PUT`."""

    model_config = ConfigDict(json_schema_extra={"examples": [CONTACT_EXAMPLE]})


def _update_schema(schema: dict[str, Any]) -> None:
    """Show no `null` default for a field that must not be null, and give an example."""
    for prop in schema["properties"].values():
        if "default" in prop and prop["default"] is None and "anyOf" not in prop:
            del prop["default"]
    schema["examples"] = [{"phone": "+380 50 123 45 67", "notes": None}]


class ContactUpdate(SQLModel):
    """Any subset of the fields, for `PATCH`.

    A field left out keeps its value. The fields a contact must have default to
    `None` only to mark them as "left out": sent as `null` they fail validation,
    while `"notes": null` clears the notes.
    """

    model_config = ConfigDict(json_schema_extra=_update_schema)

    first_name: Name = Field(default=None, max_length=NAME_MAX_LENGTH)
    last_name: Name = Field(default=None, max_length=NAME_MAX_LENGTH)
    email: EmailStr = Field(default=None, max_length=EMAIL_MAX_LENGTH)
    phone: PlainText = Field(default=None, min_length=1, max_length=PHONE_MAX_LENGTH)
    birthday: date = Field(default=None)
    notes: PlainText | None = Field(default=None, max_length=NOTES_MAX_LENGTH)


class Contact(ContactBase, table=True):
    """A contact row; the `*_key` columns are derived, see `derived_columns`."""

    __tablename__ = "contacts"
    __table_args__ = (
        # Unique per owner, case-insensitively: the database decides a race between two creates.
        UniqueConstraint("owner_id", "email_key"),
        # The list's order, so a page is read straight off the index.
        Index("ix_contacts_owner_order", "owner_id", "last_name_key", "first_name_key", "id"),
        Index("ix_contacts_owner_birthday", "owner_id", "birthday_key"),
        # Substring search (`LIKE '%оле%'`) through trigrams; PostgreSQL only, see env.py.
        Index(
            "ix_contacts_search_trgm",
            "first_name_key",
            "last_name_key",
            "email_key",
            postgresql_using="gin",
            postgresql_ops={
                "first_name_key": "gin_trgm_ops",
                "last_name_key": "gin_trgm_ops",
                "email_key": "gin_trgm_ops",
            },
            postgresql_with={"gin_pending_list_limit": 1024},  # kB: see its migration
            info={"dialect": "postgresql"},
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    owner_id: int = Field(
        sa_column=Column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    )
    email: str = Field(max_length=EMAIL_MAX_LENGTH)
    first_name_key: str = Field(max_length=4 * NAME_MAX_LENGTH)
    last_name_key: str = Field(max_length=4 * NAME_MAX_LENGTH)
    email_key: str = Field(max_length=4 * EMAIL_MAX_LENGTH)
    birthday_key: int = Field(sa_type=SmallInteger)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp_column())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp_column())


class ContactPublic(ContactBase):
    id: int
    email: str
    created_at: datetime
    updated_at: datetime


MAX_ID = 2**31 - 1  # the largest integer id both databases store
MAX_OFFSET = 2**31 - 1
SEARCH_TERM_MAX_LENGTH = EMAIL_MAX_LENGTH


class PageQuery(SQLModel):
    limit: int = Field(default=20, ge=1, le=100)
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)


class ContactSearch(PageQuery):
    """`GET /api/contacts`: every term a case-insensitive substring, all of them AND-ed."""

    q: PlainText | None = Field(
        default=None,
        max_length=SEARCH_TERM_MAX_LENGTH,
        description="Matches first name, last name or email",
    )
    first_name: PlainText | None = Field(default=None, max_length=SEARCH_TERM_MAX_LENGTH)
    last_name: PlainText | None = Field(default=None, max_length=SEARCH_TERM_MAX_LENGTH)
    email: PlainText | None = Field(default=None, max_length=SEARCH_TERM_MAX_LENGTH)


class BirthdayQuery(PageQuery):
    days: int = Field(default=7, ge=1, le=366, description="The window: today … today + days - 1")


class ContactPage(SQLModel):
    items: list[ContactPublic]
    total: int
    limit: int
    offset: int


class BirthdayContact(ContactPublic):
    next_birthday: date
    turns: int = Field(description="The age the contact turns on `next_birthday`")


class BirthdayPage(SQLModel):
    items: list[BirthdayContact]
    total: int
    limit: int
    offset: int


# --- Responses shared by every entity ----------------------------------------


class ErrorMessage(SQLModel):
    """The body of every error but `422`: FastAPI's `{"detail": "..."}`."""

    detail: str = Field(schema_extra={"examples": ["Could not validate credentials"]})


class HealthStatus(SQLModel):
    status: str = Field(schema_extra={"examples": ["ok"]})
    database: str = Field(schema_extra={"examples": ["ok"]})
