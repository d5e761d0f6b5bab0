"""Tables and API schemas, one SQLModel family per entity.

`XBase` holds the fields that are shared; `XCreate` is what a client sends, the
`table=True` class is the row, and `XPublic` is what a client gets back, so a column
such as `hashed_password` can never reach a response by accident.

May import `core`'s field rules and clock. Never the database engines, security,
a file format, `crud`, `mail` or `api`: a model only declares data.
"""

import re
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Generic, Self, TypeVar

import phonenumbers
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    StringConstraints,
    field_validator,
)
from sqlalchemy import ForeignKey, Index, SmallInteger, String, UniqueConstraint, text
from sqlmodel import Column, Field, Relationship, SQLModel

from contacts_api.core.clock import UTCDateTime, utcnow
from contacts_api.core.rules import BCRYPT_MAX_BYTES, bcrypt_can_hash, normalize_email

# Stable constraint names, so that migrations can refer to them on both databases.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

EMAIL_MAX_LENGTH = 254
USER_AGENT_MAX_LENGTH = 255
# No NUL character in any text: PostgreSQL cannot store one and bcrypt refuses one, so
# it is a 422 here rather than an error deep below. In the schema, so clients see it.
# (A pattern also makes Pydantic refuse lone surrogates, "\ud800" in JSON: not text.)
NO_NUL = r"^[^\x00]*$"
PlainText = Annotated[str, StringConstraints(pattern=NO_NUL)]
PASSWORD_MIN_LENGTH = 8


def _timestamp_column(*, nullable: bool = False, index: bool = False) -> Column[datetime]:
    return Column(UTCDateTime(), nullable=nullable, index=index)


# --- Users ------------------------------------------------------------------


class VCardVersion(StrEnum):
    """The vCard versions cards are written in (`formats.vcard`)."""

    V4 = "4.0"
    V3 = "3.0"


class UserBase(SQLModel):
    email: EmailStr = Field(max_length=EMAIL_MAX_LENGTH)


def _bcrypt_reads_it_all(value: str) -> str:
    """A password bcrypt reads whole: see `core.rules.bcrypt_can_hash` for why a longer one
    is refused rather than cut."""
    if not bcrypt_can_hash(value):
        raise ValueError(f"must be at most {BCRYPT_MAX_BYTES} bytes in UTF-8")
    return value


# A new password: the rules of sign-up, of a password change and of a reset alike.
NewPassword = Annotated[
    str,
    StringConstraints(min_length=PASSWORD_MIN_LENGTH, pattern=NO_NUL),
    AfterValidator(_bcrypt_reads_it_all),
]


class UserCreate(UserBase):
    password: NewPassword = Field(schema_extra={"examples": ["correct horse battery"]})

    @field_validator("email")
    @classmethod
    def _normalize(cls, value: str) -> str:
        """Stored in one form (see `normalize_email`), so the unique index also makes
        emails unique case-insensitively: `A@x.io` and `a@x.io` are one account."""
        return normalize_email(value)


class User(UserBase, table=True):
    __tablename__ = "users"
    # SQLite would otherwise reuse the id of a deleted newest row: see the migration.
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=EMAIL_MAX_LENGTH, unique=True)
    hashed_password: str
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp_column())
    # Every access token carries the generation it was issued in; ending every login
    # (logout everywhere, a new password) moves it on, and the older tokens stop working.
    token_generation: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    # Set once the owner follows a link mailed to the address (verification or reset).
    email_verified: bool = Field(default=False, sa_column_kwargs={"server_default": text("false")})


class UserPublic(UserBase):
    id: int
    email: str
    created_at: datetime
    email_verified: bool = Field(
        description="Whether the owner has followed a link mailed to this address"
    )


# --- Tokens -----------------------------------------------------------------


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
    last_used_at: datetime | None = Field(default=None, sa_column=_timestamp_column(nullable=True))
    user_agent: str | None = Field(default=None, max_length=USER_AGENT_MAX_LENGTH)


class SessionPublic(SQLModel):
    """A live login, as its user sees it in the list of their sessions."""

    id: str
    created_at: datetime
    last_used_at: datetime | None
    user_agent: str | None
    current: bool = Field(description="Whether this is the login making the request")


class PasswordChange(SQLModel):
    current_password: PlainText = Field(max_length=1024)
    new_password: NewPassword


class PasswordConfirmation(SQLModel):
    password: PlainText = Field(max_length=1024)


# A token from a mailed link, as a client sends it back: any text, so that a wrong one
# is the `400` of an unknown token rather than a `422`.
MailedToken = Annotated[str, StringConstraints(max_length=512, pattern=NO_NUL)]


class PasswordResetRequest(SQLModel):
    email: EmailStr = Field(max_length=EMAIL_MAX_LENGTH)


class PasswordResetConfirm(SQLModel):
    token: MailedToken
    new_password: NewPassword


class EmailVerification(SQLModel):
    token: MailedToken


class Accepted(SQLModel):
    """The body of a `202`: what happens next, said the same way whatever the case."""

    detail: str


class LinkPurpose(StrEnum):
    PASSWORD_RESET = "password-reset"  # noqa: S105 (a name)
    EMAIL_VERIFICATION = "email-verification"


class LinkToken(SQLModel, table=True):
    """A single-use token mailed in a link (password reset, email verification).

    Only its SHA-256 is kept: the database alone, leaked or read by a colleague, opens
    no account. The token is 256 random bits, so a fast hash is enough (bcrypt is for
    passwords people choose). `used_at` is set by the one conditional `UPDATE` that
    spends it, so a link works once, however many times it is opened at once.
    """

    __tablename__ = "link_tokens"

    token_hash: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(
        sa_column=Column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    purpose: LinkPurpose = Field(sa_type=String(32))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp_column())
    expires_at: datetime = Field(sa_column=_timestamp_column(index=True))
    used_at: datetime | None = Field(default=None, sa_column=_timestamp_column(nullable=True))


class CalendarLink(SQLModel, table=True):
    """A user's private birthday-calendar address: one per user, its secret kept only as
    a SHA-256 (like a mailed link's token: 256 random bits, so a fast hash will do).

    A link is made in one of the user's token generations and works only while that
    generation is the user's: whatever ends every login (logout everywhere, a new
    password, a reset) moves the generation on and so ends the link too, with no write
    of its own, and the feed's one query checks it by the way (see `crud.calendar_links`).
    """

    __tablename__ = "calendar_links"

    user_id: int = Field(
        sa_column=Column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    )
    secret_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp_column())
    token_generation: int
    # When a calendar app last fetched the calendar; moved on at most once a minute.
    last_used_at: datetime | None = Field(default=None, sa_column=_timestamp_column(nullable=True))


class CalendarLinkPublic(SQLModel):
    url: str = Field(
        description="Your birthday calendar: subscribe to it by this address, and keep it"
        " private (whoever has it can read the calendar)",
        schema_extra={"examples": ["http://127.0.0.1:8000/api/calendar/3q2-….ics"]},
    )


class CalendarLinkStatus(SQLModel):
    """Whether you have a calendar link, and its use: never its address, which only its
    making shows."""

    created_at: datetime
    last_used_at: datetime | None = Field(
        description="When a calendar app last fetched the calendar (up to a minute late);"
        " `null` until the first time"
    )


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
    """A contact row; the `*_key` columns are derived, see `rules.derived_columns`."""

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
        {"sqlite_autoincrement": True},  # ids never reused, as for users
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
    # Moved on by every change: the contact's `ETag` (see `etags.py`), and what an
    # `UPDATE … WHERE version = :expected` checks to refuse a change made on a stale copy.
    version: int = Field(default=1, sa_column_kwargs={"server_default": text("1")})


PUBLIC_CONTACT_EXAMPLE = CONTACT_EXAMPLE | {
    "id": 7,
    "phone": "+380671234567",
    "created_at": "2026-03-01T09:30:00Z",
    "updated_at": "2026-03-01T09:30:00Z",
}


class ContactPublic(ContactBase):
    # A whole example: without it, Swagger UI makes up names from the fields' patterns.
    model_config = ConfigDict(json_schema_extra={"examples": [PUBLIC_CONTACT_EXAMPLE]})

    id: int
    email: str
    created_at: datetime
    updated_at: datetime


MAX_ID = 2**31 - 1  # the largest integer id both databases store
MAX_OFFSET = 2**31 - 1
SEARCH_TERM_MAX_LENGTH = EMAIL_MAX_LENGTH


def _written_in_digits(value: object) -> object:
    """A number in a query string must be plain ASCII digits: Python would also read
    `"3\u00a0"`, `"٣"` or `"1_0"` as numbers, which no client means to send."""
    if isinstance(value, str) and not DIGITS.fullmatch(value):
        raise ValueError("must be a whole number written in digits")
    return value


DIGITS = re.compile(r"-?[0-9]+")
QueryInt = Annotated[int, BeforeValidator(_written_in_digits)]


class PageQuery(SQLModel):
    limit: QueryInt = Field(default=20, ge=1, le=100)
    offset: QueryInt = Field(default=0, ge=0, le=MAX_OFFSET)


class ContactFilter(SQLModel):
    """Which contacts: every term a case-insensitive substring, all of them AND-ed."""

    q: PlainText | None = Field(
        default=None,
        max_length=SEARCH_TERM_MAX_LENGTH,
        description="Matches first name, last name or email",
    )
    first_name: PlainText | None = Field(default=None, max_length=SEARCH_TERM_MAX_LENGTH)
    last_name: PlainText | None = Field(default=None, max_length=SEARCH_TERM_MAX_LENGTH)
    email: PlainText | None = Field(default=None, max_length=SEARCH_TERM_MAX_LENGTH)


class ContactSearch(ContactFilter, PageQuery):
    """`GET /api/contacts`: a page of the contacts the terms match."""


class VCardQuery(SQLModel):
    version: VCardVersion = Field(
        default=VCardVersion.V4,
        description="`4.0` (RFC 6350), or `3.0` (RFC 2426) for older address books",
    )


class ExportQuery(ContactFilter, VCardQuery):
    """`GET /api/contacts/export`: every contact the terms match, as vCards."""


class OnConflict(StrEnum):
    SKIP = "skip"  # the contact with the card's email stays as it is
    UPDATE = "update"  # the contact's fields are overwritten from the card


class ImportQuery(SQLModel):
    dry_run: bool = Field(
        default=False, description="Answer what the import would do, and write nothing"
    )
    on_conflict: OnConflict = Field(
        default=OnConflict.SKIP,
        description="A card whose email one of your contacts has: `skip` leaves the contact,"
        " `update` overwrites its fields from the card",
    )
    region: str | None = Field(
        default=None,
        regex=r"^[A-Za-z]{2}$",
        description="The country (ISO 3166 alpha-2, e.g. `US`) whose numbers the cards' phone"
        " numbers written without a country code are; default: the `PHONE_REGION` setting",
        schema_extra={"examples": ["US"]},
    )

    @field_validator("region")
    @classmethod
    def _known_region(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if value.upper() not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"unknown region {value!r}: a two-letter code such as UA or US")
        return value.upper()


class RejectedCard(SQLModel):
    card: int = Field(
        description="The card's position in the file, from 1; `0` for lines outside any card"
    )
    name: str = Field(description="Its name (FN), as far as it could be read")
    reasons: list[str] = Field(description="Every rule the card breaks")


class ImportReport(SQLModel):
    created: int
    updated: int
    unchanged: int
    rejected: list[RejectedCard]


class BirthdayQuery(PageQuery):
    days: QueryInt = Field(
        default=7, ge=1, le=366, description="The window: today … today + days - 1"
    )


T = TypeVar("T")
PublicModel = TypeVar("PublicModel", bound=SQLModel)


class Page(BaseModel, Generic[T]):
    """The envelope of every paged answer: one page of items, and how many match in all."""

    items: list[T]
    total: int
    limit: int
    offset: int

    @classmethod
    def of(cls, items: list[T], *, total: int, query: PageQuery) -> Self:
        return cls(items=items, total=total, limit=query.limit, offset=query.offset)


class ContactPage(Page[ContactPublic]):
    """A page of contacts (a named class, so the schema reads `ContactPage`)."""


class BirthdayContact(ContactPublic):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [PUBLIC_CONTACT_EXAMPLE | {"next_birthday": "2027-03-08", "turns": 37}]
        }
    )

    next_birthday: date
    turns: int = Field(description="The age the contact turns on `next_birthday`")


class BirthdayPage(Page[BirthdayContact]):
    """A page of upcoming birthdays."""


# --- Responses shared by every entity ----------------------------------------


class ErrorMessage(SQLModel):
    """The body of every error but `422`: FastAPI's `{"detail": "..."}`.

    Each documented answer gives its own example (`routes.responses.error`).
    """

    detail: str


class HealthStatus(SQLModel):
    status: str = Field(schema_extra={"examples": ["ok"]})
    database: str = Field(schema_extra={"examples": ["ok"]})


def public(schema: type[PublicModel], source: object, **extra: object) -> PublicModel:
    """The response model `schema` filled from a row or table object of our own database.

    What the database holds was validated on its way in, so it is not validated again:
    `model_construct` only copies the fields `schema` declares (never, say, a
    `hashed_password`), at a fraction of the cost, which a page of 100 contacts feels.
    `extra` gives the fields the source does not have.
    """
    values = {name: getattr(source, name) for name in schema.model_fields if name not in extra}
    return schema.model_construct(**values, **extra)
