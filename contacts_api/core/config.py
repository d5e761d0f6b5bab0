"""Settings, read once from the environment or a `.env` file.

Every name of the contract's "Running it" section is a field here; the rest of the
code receives a `Settings` object and never reads the environment itself.
"""

import os
import secrets
import sys
from datetime import timedelta
from email.utils import parseaddr
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from limits import RateLimitItem
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from contacts_api.core.ratelimit import Limit, parse_limit
from contacts_api.core.security import TokenPolicy

DEFAULT_DATABASE_URL = "sqlite:///data/contacts.db"
SECRET_KEY_FILE_NAME = "secret_key"  # noqa: S105 (a file name)
MIN_SECRET_KEY_LENGTH = 32
MAKE_A_KEY_HINT = 'python -c "import secrets; print(secrets.token_urlsafe(48))"'
# The most an import's body may carry, refused unread past it (the route's own limit):
# the largest `MAX_IMPORT_BYTES` allowed, and room for the multipart wrapping.
MAX_IMPORT_FILE_BYTES = 16 * 1024 * 1024
MAX_UPLOAD_BYTES = MAX_IMPORT_FILE_BYTES + 64 * 1024


class DatabaseSettings(BaseSettings):
    """Only where the database is: what Alembic's command line needs, and nothing else.

    Kept apart so that running `alembic` never generates a secret key as a side effect.
    """

    # An empty variable counts as unset, so `SECRET_KEY=` falls back to the generated key.
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", env_ignore_empty=True)

    database_url: str = DEFAULT_DATABASE_URL

    @field_validator("database_url")
    @classmethod
    def _a_url(cls, value: str) -> str:
        try:
            make_url(value)
        except ArgumentError as exc:
            raise ValueError("not a database URL (e.g. postgresql://user:pass@host/db)") from exc
        return value


def data_dir(database_url: str) -> Path:
    """The folder for local state: beside the SQLite file, or `./data` for a server database."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (
        None,
        "",
        ":memory:",
    ):
        return Path(url.database).parent
    return Path("data")


def load_or_create_secret_key(database_url: str) -> str:
    """Read the key kept in the data folder, creating it on the first start.

    A key generated per process would sign every user out at each restart, so the
    generated key is written once, readable only by its owner, and reused after.
    Opening with `O_EXCL` lets two processes starting together agree on one key.
    """
    path = data_dir(database_url) / SECRET_KEY_FILE_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as key_file:
        key = secrets.token_urlsafe(48)
        key_file.write(key)
    return key


def _secret_key_default(data: dict[str, Any]) -> SecretStr:
    return SecretStr(load_or_create_secret_key(data["database_url"]))


def _browsable(host: str) -> str:
    """The host a browser on this machine reaches a server listening on `host` at."""
    return "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104


def _spare_cpus() -> int:
    """All CPUs but one, so that password hashing always leaves one for everything else."""
    return max(1, (os.cpu_count() or 1) - 1)


# Seconds the outbox worker waits before its next pass over the kept messages: the
# first while all went well, then one more for each pass in a row that failed (a server
# restarting, or a greylisting one, takes them later), the last repeated until they go.
RETRY_DELAYS: tuple[float, ...] = (5, 30, 120, 600)


class SmtpSecurity(StrEnum):
    STARTTLS = "starttls"  # plain connection upgraded to TLS: port 587
    TLS = "tls"  # TLS from the first byte: port 465
    NONE = "none"  # no encryption: a local relay or Mailpit only


class Settings(DatabaseSettings):
    """The service's settings; see the README's settings table for each one."""

    secret_key: SecretStr = Field(default_factory=_secret_key_default)
    access_token_expire_minutes: int = Field(default=15, gt=0)
    refresh_token_expire_days: int = Field(default=7, gt=0)
    timezone: str = "UTC"
    phone_region: str = "UA"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    bcrypt_rounds: int = Field(default=12, ge=4, le=31)
    hashing_concurrency: int = Field(default_factory=_spare_cpus, ge=1)
    # Logins (and sign-ups) wait for a hashing thread as long as the threads hash within
    # this many seconds; one more gets `503` at once.
    hashing_queue_seconds: float = Field(default=5, ge=0, le=60)
    database_timeout_seconds: float = Field(default=5, gt=0, le=600)
    # `python -m contacts_api` only: how long a client may take to send a request's head,
    # then its whole body, and how many connections it may hold open at once.
    header_timeout_seconds: float = Field(default=10, gt=0, le=600)
    body_timeout_seconds: float = Field(default=60, gt=0, le=3600)
    max_connections: int = Field(default=1000, ge=1)
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Host names the service answers to (comma-separated); any other `Host` gets `400`.
    allowed_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    # A .vcf upload; at most what the import route's body limit lets through.
    max_import_bytes: int = Field(default=5 * 1024 * 1024, ge=1024, le=MAX_IMPORT_FILE_BYTES)
    # Imports read at once (each holds its cards in memory until written), how many may
    # wait for their turn (more get `503` at once), and the reading time one may take.
    import_concurrency: int = Field(default=1, ge=1)
    import_queue_limit: int = Field(default=16, ge=0)
    import_time_limit_seconds: float = Field(default=30, gt=0)
    rate_limit_enabled: bool = True
    rate_limit_signup: str = "5/minute"  # per client address
    rate_limit_login: str = "10/minute"  # wrong passwords, per client address
    rate_limit_login_account: str = "5/minute"  # wrong passwords, per account and address
    rate_limit_refresh: str = "30/minute"  # per client address
    rate_limit_password_reset: str = "5/hour"  # noqa: S105 (requests, per client address)
    rate_limit_password_reset_email: str = "3/hour"  # noqa: S105 (requests, per email)
    rate_limit_verification_resend: str = "3/hour"  # new verification messages, per account
    rate_limit_calendar: str = "60/minute"  # birthday-calendar downloads, per client address
    redis_url: str | None = None
    # Proxies whose X-Forwarded-For/-Proto are believed (comma-separated; `*`: any).
    forwarded_allow_ips: str = ""
    # `WARNING` drops the access line of every request; `DEBUG` adds nothing of ours.
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Mail. No SMTP_HOST: messages are only written to the outbox folder.
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_security: SmtpSecurity = SmtpSecurity.STARTTLS
    mail_from: str = "contacts_api <no-reply@localhost>"
    mail_outbox_dir: Path = Field(
        default_factory=lambda data: data_dir(data["database_url"]) / "outbox"
    )
    # The outbox worker's waits between passes over kept messages (comma-separated seconds).
    mail_retry_seconds: Annotated[list[Annotated[float, Field(gt=0)]], NoDecode] = Field(
        default=list(RETRY_DELAYS), min_length=1
    )
    # Where the service is reached from a browser: the links in messages start with it.
    public_url: str = Field(
        default_factory=lambda data: f"http://{_browsable(data['host'])}:{data['port']}"
    )
    password_reset_expire_minutes: int = Field(default=30, gt=0)
    email_verification_expire_hours: int = Field(default=48, gt=0)
    require_verified_email: bool = False

    @property
    def public_docs_url(self) -> str:
        """Where a browser finds Swagger UI: under `PUBLIC_URL`, which follows `HOST` and
        `PORT` unless it is set itself (behind a proxy, say)."""
        return f"{self.public_url}/docs"

    def token_policy(self) -> TokenPolicy:
        return TokenPolicy(
            key=self.secret_key.get_secret_value(),
            access_lifetime=timedelta(minutes=self.access_token_expire_minutes),
            refresh_lifetime=timedelta(days=self.refresh_token_expire_days),
        )

    def rate_limits(self) -> dict[Limit, RateLimitItem]:
        """Each limit, parsed: done once, when the app is built."""
        return {
            Limit.SIGNUP: parse_limit(self.rate_limit_signup),
            Limit.LOGIN_FAILURES: parse_limit(self.rate_limit_login),
            Limit.ACCOUNT_LOGIN_FAILURES: parse_limit(self.rate_limit_login_account),
            Limit.REFRESH: parse_limit(self.rate_limit_refresh),
            Limit.PASSWORD_RESET: parse_limit(self.rate_limit_password_reset),
            Limit.PASSWORD_RESET_EMAIL: parse_limit(self.rate_limit_password_reset_email),
            Limit.VERIFICATION_RESEND: parse_limit(self.rate_limit_verification_resend),
            Limit.CALENDAR: parse_limit(self.rate_limit_calendar),
        }

    @field_validator("cors_origins", "allowed_hosts", "mail_retry_seconds", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        """`CORS_ORIGINS=https://a.example,https://b.example`, as people write it."""
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("secret_key")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        if any(character.isspace() for character in value.get_secret_value()):
            raise ValueError(
                f"SECRET_KEY must not contain spaces; make one with: {MAKE_A_KEY_HINT}"
            )
        if len(value.get_secret_value()) < MIN_SECRET_KEY_LENGTH:
            raise ValueError(
                f"SECRET_KEY must be at least {MIN_SECRET_KEY_LENGTH} characters; "
                f"make one with: {MAKE_A_KEY_HINT} (or unset it to have one generated)"
            )
        return value

    @field_validator(
        "rate_limit_signup",
        "rate_limit_login",
        "rate_limit_login_account",
        "rate_limit_refresh",
        "rate_limit_password_reset",
        "rate_limit_password_reset_email",
        "rate_limit_verification_resend",
        "rate_limit_calendar",
    )
    @classmethod
    def _readable_limit(cls, value: str) -> str:
        parse_limit(value)  # raises ValueError, naming what it could not read
        return value

    @field_validator("mail_from")
    @classmethod
    def _an_address(cls, value: str) -> str:
        _, address = parseaddr(value)
        if "@" not in address:
            raise ValueError("not an email address (e.g. contacts <no-reply@example.com>)")
        return value

    @field_validator("public_url")
    @classmethod
    def _a_site(cls, value: str) -> str:
        """An `http(s)://host[:port][/path]` the links are built on, without a final `/`."""
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
            raise ValueError("not a site address (e.g. https://contacts.example.com)")
        return value.rstrip("/")

    @field_validator("phone_region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        if value not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"unknown region {value!r}: a two-letter code such as UA or US")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value


def load_settings(program: str) -> Settings:
    """The settings, or the program ends with one line a mistake, and no traceback.

    Pydantic's own report shows each wrong value, which for `SECRET_KEY` is the secret
    itself: the lines here name the setting and what is wrong, never the value.
    """
    try:
        return Settings()
    except ValidationError as exc:
        lines = [
            f"{program}: invalid setting {'.'.join(map(str, error['loc'])).upper()}: "
            f"{error['msg'].removeprefix('Value error, ')}"
            for error in exc.errors(include_input=False, include_url=False)
            # A default made from another setting is not made when that one is wrong.
            if error["type"] != "default_factory_not_called"
        ]
        sys.exit("\n".join(lines))
