"""Database engines: the async one requests use, the sync one for Alembic and scripts.

The app serves every request from one async engine: psycopg 3's async driver on
PostgreSQL, aiosqlite on SQLite. Alembic, the seed script and the tests' own set-up
use a plain sync engine on the same database: they run one job from start to end,
where an event loop would only add ceremony.
"""

import asyncio
import logging
import time
from functools import partial
from pathlib import Path
from sqlite3 import Connection as SQLiteConnection
from typing import Any, TypeVar

import psycopg
from psycopg.abc import PQGen
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, Dialect, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import ArgumentError, DBAPIError, DisconnectionError, NoSuchModuleError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

RV = TypeVar("RV")

# Connections kept open for reuse, and how many more may open under a burst. A request
# that finds the pool empty opens a connection and closes it afterwards, which costs
# far more than the request itself.
POOL_SIZE = 20
POOL_OVERFLOW = 20
# A pooled connection unused for this long is pinged before it is handed out (see
# `_ping_if_idle`); one in steady use is not, which saves a round trip a request.
PING_AFTER_IDLE_SECONDS = 1.0
# How often psycopg looks at a socket it waits on (its own default).
WAIT_INTERVAL_SECONDS = 0.1

SCHEMES = {
    "postgres": "postgresql+psycopg",  # what hosting services hand out
    "postgresql": "postgresql+psycopg",
    "sqlite": "sqlite",
}
ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite"}


def database_url(raw: str) -> URL:
    """`raw` with its driver spelled out: `postgres://` and `postgresql://` mean psycopg 3."""
    url = make_url(raw)
    return url.set(drivername=SCHEMES.get(url.drivername, url.drivername))


def database_problem(raw_url: str, error: Exception) -> str:
    """One line that says what is wrong with `DATABASE_URL` (already read as a URL by the
    settings), its password hidden."""
    where = database_url(raw_url).render_as_string(hide_password=True)
    if isinstance(error, NoSuchModuleError | ArgumentError):
        return f"DATABASE_URL names no database this service knows: {where}"
    reason = str(getattr(error, "orig", error)).strip().splitlines()[0]
    return f"cannot use the database at {where}: {reason}"


def is_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite"


def create_db_engine(raw_url: str) -> Engine:
    """A sync engine, for Alembic, scripts and test set-up: never on a request's path."""
    url = database_url(raw_url)
    if not is_sqlite(url):
        return create_engine(url, pool_pre_ping=True)
    _make_sqlite_folder(url)
    engine = create_engine(url, connect_args={"check_same_thread": False})
    event.listen(engine, "connect", _configure_sqlite)
    return engine


# The app engine's connections are in autocommit: each statement is its own transaction.
# Most requests read, or change one row with one statement, which the database applies
# whole or not at all by itself; a transaction around it would only add two round trips
# (`BEGIN`, then `COMMIT` or `ROLLBACK`), and a connection handed back holds no
# transaction to roll back. What must change several rows together asks for a
# transaction: `in_transactions`.
AUTOCOMMIT: dict[str, Any] = {
    "isolation_level": "AUTOCOMMIT",
    "pool_reset_on_return": None,
    # SQL parameters hold password hashes and emails: never in an error or a log.
    "hide_parameters": True,
}
# Each database's name for its ordinary transactions.
TRANSACTION_ISOLATION = {"postgresql": "READ COMMITTED", "sqlite": "SERIALIZABLE"}


def in_transactions(engine: AsyncEngine) -> AsyncEngine:
    """The same engine and pool, its connections in a transaction while a session has them:
    what a session's statements commit together, or not at all."""
    level = TRANSACTION_ISOLATION[engine.dialect.name]
    return engine.execution_options(isolation_level=level)


def create_app_engine(raw_url: str, *, timeout: float) -> AsyncEngine:
    """The app's one async engine; no wait for the database lasts longer than `timeout`.

    On SQLite that bounds the wait for a pooled connection and for another writer's
    lock. On PostgreSQL it covers each of its three waits: for a pooled connection
    (`pool_timeout`), for a new one (the connect is cut off), and for every answer to
    a statement, a commit or a ping (`BoundedConnection`). The server gets the same
    figure as `statement_timeout`, so a query stuck on a lock is ended there and the
    connection stays usable; a server that stops answering altogether is cut off by the
    client. Either way the request gets a `503`, never a hang.

    The engine connects lazily: the app starts while the database is down.
    """
    url = database_url(raw_url)
    if is_sqlite(url):
        # aiosqlite logs every statement with its parameters (password hashes among
        # them) at DEBUG: never worth that, whatever level the root logger is at.
        logging.getLogger("aiosqlite").setLevel(logging.INFO)
        _make_sqlite_folder(url)
        # A file gets the same pool as PostgreSQL, and above all the same bound on the
        # wait for one of its connections (SQLAlchemy's default would be 30 s). An
        # in-memory database is one connection, which SQLAlchemy keeps (no pool).
        pool = (
            {}
            if _in_memory(url)
            else {"pool_size": POOL_SIZE, "max_overflow": POOL_OVERFLOW, "pool_timeout": timeout}
        )
        engine = create_async_engine(
            url.set(drivername=ASYNC_DRIVERS["sqlite"]),
            # How long a writer waits for another's lock before "database is locked".
            connect_args={"timeout": timeout},
            **pool,
            **AUTOCOMMIT,
        )
        event.listen(engine.sync_engine, "connect", _configure_sqlite)
        return engine

    server_options = f"-c statement_timeout={int(timeout * 1000)}"
    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)

    async def connect() -> psycopg.AsyncConnection[Any]:
        try:
            async with asyncio.timeout(timeout):
                connection = await BoundedConnection.connect(conninfo, options=server_options)
        except TimeoutError:
            raise psycopg.errors.ConnectionTimeout(
                f"no connection to the database within {timeout:g} s"
            ) from None
        connection.io_timeout = timeout
        return connection

    engine = create_async_engine(
        url,
        async_creator=connect,
        pool_size=POOL_SIZE,
        max_overflow=POOL_OVERFLOW,
        pool_timeout=timeout,
        **AUTOCOMMIT,
    )
    event.listen(engine.sync_engine, "checkin", _note_checkin)
    event.listen(engine.sync_engine, "checkout", partial(_ping_if_idle, engine.dialect))
    return engine


class DatabaseTimeout(psycopg.OperationalError):
    """The server took longer than the connection's `io_timeout` to answer."""


class BoundedConnection(psycopg.AsyncConnection[Any]):
    """A psycopg connection that waits at most `io_timeout` seconds for any answer.

    psycopg waits for the server in one method, `wait`, so bounding it bounds every
    statement, commit and rollback. Cancelling the waiting task instead would make
    psycopg ask the server to cancel the query, and wait for that too: through a
    server that has stopped answering, that can take longer than the query itself. A
    connection that timed out is in an unknown state, so it is closed: SQLAlchemy sees
    a closed connection, drops it from the pool, and opens a fresh one next time.
    """

    io_timeout: float | None = None

    async def wait(
        self,
        gen: PQGen[RV],
        interval: float = WAIT_INTERVAL_SECONDS,
        timeout: float | None = None,
    ) -> RV:
        try:
            return await super().wait(gen, interval, timeout or self.io_timeout)
        except psycopg.errors._WaitTimeout:  # psycopg's own, raised only by its wait
            self.pgconn.finish()
            raise DatabaseTimeout(
                f"no answer from the database within {self.io_timeout:g} s"
            ) from None


async def schema_revision(engine: AsyncEngine) -> str | None:
    """The migration the database is at (Alembic's record), `None` if it was never migrated.

    Raises what an unreachable database raises: the health route's one query.
    """
    async with engine.connect() as connection:
        try:
            return (await connection.execute(REVISION)).scalar()
        except DBAPIError as exc:
            if not is_missing_table(exc):
                raise
            return None


REVISION = text("SELECT version_num FROM alembic_version")
UNDEFINED_TABLE = "42P01"  # PostgreSQL's SQLSTATE


def is_missing_table(error: DBAPIError) -> bool:
    """Whether the statement failed on a table that does not exist: a database that was
    never migrated, not one that is down."""
    original = error.orig
    return getattr(original, "sqlstate", None) == UNDEFINED_TABLE or (
        "no such table" in str(original)
    )


def _note_checkin(_dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry) -> None:
    record.info["checked_in_at"] = time.monotonic()


def _ping_if_idle(
    dialect: Dialect,
    dbapi_connection: DBAPIConnection,
    record: ConnectionPoolEntry,
    _proxy: PoolProxiedConnection,
) -> None:
    """Make sure a connection that sat idle is still alive before a request gets it.

    SQLAlchemy's `pool_pre_ping` pings on every checkout: one more round trip for
    every request. A database restart is noticed just as well by pinging only
    connections that were idle (as HikariCP does): one in steady use has just
    answered, and if it fails mid-request the pool is invalidated all the same.

    A dead connection is replaced at once (`DisconnectionError` makes the pool
    reconnect); a ping that timed out is raised as it is, so a stalled database costs
    the request one timeout, not a second one for the reconnect.
    """
    checked_in_at = record.info.get("checked_in_at")
    if checked_in_at is None or time.monotonic() - checked_in_at < PING_AFTER_IDLE_SECONDS:
        return
    try:
        dialect.do_ping(dbapi_connection)  # SQLAlchemy's own ping: leaves no transaction open
    except DatabaseTimeout:
        raise
    except psycopg.Error as exc:
        raise DisconnectionError(str(exc)) from exc


def _in_memory(url: URL) -> bool:
    return url.database in (None, "", ":memory:")


def _make_sqlite_folder(url: URL) -> None:
    if not _in_memory(url):
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)


def _configure_sqlite(dbapi_connection: SQLiteConnection, _record: ConnectionPoolEntry) -> None:
    """SQLite leaves foreign keys off unless asked, per connection.

    WAL lets readers go on while one request writes.
    """
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.close()
