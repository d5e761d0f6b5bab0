"""The database engine, and the one column type both databases need help with."""

from datetime import UTC, datetime
from pathlib import Path
from sqlite3 import Connection as SQLiteConnection

from sqlalchemy import DateTime, Engine, create_engine, event
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import TypeDecorator

POSTGRES_CONNECT_TIMEOUT_SECONDS = 5
# Connections kept open for reuse, and how many more may open under a burst. A request
# that finds the pool empty opens a connection and closes it afterwards, which costs
# far more than the request itself; FastAPI runs up to 40 sync requests at once.
POOL_SIZE = 20
POOL_OVERFLOW = 20
SQLITE_BUSY_TIMEOUT_SECONDS = 30


def create_db_engine(database_url: str) -> Engine:
    """One engine per app: PostgreSQL through psycopg 3, or an embedded SQLite file.

    `pool_pre_ping` checks a pooled connection before handing it out, so the service
    carries on by itself after the database restarts. The connect timeout keeps a
    request from hanging while the database is unreachable: it gets a `503` instead.
    """
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return create_engine(
            url,
            pool_size=POOL_SIZE,
            max_overflow=POOL_OVERFLOW,
            pool_pre_ping=True,
            connect_args={"connect_timeout": POSTGRES_CONNECT_TIMEOUT_SECONDS},
        )
    if url.database not in (None, "", ":memory:"):
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={
            "check_same_thread": False,
            "timeout": SQLITE_BUSY_TIMEOUT_SECONDS,
        },
    )
    event.listen(engine, "connect", _configure_sqlite)
    return engine


def _configure_sqlite(dbapi_connection: SQLiteConnection, _record: ConnectionPoolEntry) -> None:
    """SQLite leaves foreign keys off unless asked, per connection.

    WAL lets readers go on while one request writes, which the threadpool's
    concurrent requests need.
    """
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.close()


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp, stored and returned in UTC on both databases.

    PostgreSQL keeps the zone (`timestamptz`); SQLite keeps none and hands back naive
    values, which this type reads as the UTC they were written in. A naive value on
    the way in is a bug in the caller, so it is refused rather than guessed at.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass a timezone-aware value")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    """The current time, timezone-aware: the default for every timestamp column."""
    return datetime.now(UTC)
