"""Alembic's entry point: migrations run against DATABASE_URL, or the URL a caller passes.

Synchronous, on a sync engine for the same database: a migration is one job run from
start to end, before the app serves anything, with no other work to interleave.
"""

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from logging.config import fileConfig

from alembic import context
from alembic.autogenerate.api import AutogenContext
from pydantic import ValidationError
from sqlalchemy import Connection
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.schema import SchemaItem
from sqlmodel import SQLModel

import contacts_api.models  # noqa: F401  (registers every table on SQLModel.metadata)
from contacts_api.core.clock import UTCDateTime
from contacts_api.core.config import DatabaseSettings
from contacts_api.core.db import create_db_engine, database_problem

config = context.config
if config.config_file_name is not None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = SQLModel.metadata
# Any number, the same in every process: the key of PostgreSQL's advisory lock.
MIGRATION_LOCK_KEY = 7_415_001


# Code that runs migrations (`python -m contacts_api`, the tests) passes the URL and
# reports a failure its own way; the `alembic` command reads the settings instead.
FROM_CODE = "database_url" in config.attributes


def database_url() -> str:
    if FROM_CODE:
        return config.attributes["database_url"]
    try:
        return DatabaseSettings().database_url
    except ValidationError as exc:
        reason = exc.errors()[0]["msg"].removeprefix("Value error, ")
        raise SystemExit(f"alembic: invalid setting DATABASE_URL: {reason}") from None


@contextmanager
def mistakes_in_one_line(url: str) -> Iterator[None]:
    """At the `alembic` command, a database it cannot use (unknown host or scheme, refused
    port, missing database) ends it with one line, as `python -m contacts_api` does: a
    traceback of a hundred lines would hide the one that matters."""
    try:
        yield
    except (DBAPIError, NoSuchModuleError, ArgumentError) as exc:
        if FROM_CODE:
            raise
        raise SystemExit(f"alembic: {database_problem(url, exc)}") from None


def render_item(type_: str, obj: object, autogen_context: AutogenContext) -> str | bool:
    """Write `UTCDateTime` into migrations as the plain column type it stores as."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def include_object(
    obj: SchemaItem, name: str | None, type_: str, reflected: bool, compare_to: SchemaItem | None
) -> bool:
    """Leave out of the comparison what a model declares for another database only.

    The trigram index is PostgreSQL's (`info={"dialect": "postgresql"}`): migrations
    create it there only, and on SQLite `alembic check` would otherwise call it drift.
    """
    dialect = obj.info.get("dialect") if hasattr(obj, "info") else None
    return dialect in (None, context.get_context().dialect.name)


@contextmanager
def one_migration_at_a_time(connection: Connection) -> Iterator[None]:
    """Hold the database's migration lock while migrations run.

    Two processes starting at once on a new database (two replicas, or two
    `python -m contacts_api`) would both find it empty and both create its tables: one
    fails. With the lock, the second waits, then finds the schema at head and has
    nothing to do. PostgreSQL has advisory locks for this; SQLite is a file, so a lock
    on a file beside it serves (`flock`, released when the file closes).
    """
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})")
        connection.commit()
        try:
            yield
        finally:
            connection.exec_driver_sql(f"SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})")
            connection.commit()
        return
    database = connection.engine.url.database
    if connection.dialect.name != "sqlite" or database in (None, "", ":memory:"):
        yield
        return
    with open(f"{database}.migration-lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def run_migrations_offline() -> None:
    """Print the SQL instead of running it (`alembic upgrade head --sql`)."""
    context.configure(
        url=database_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
        render_item=render_item,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run against the database, in batch mode so SQLite can alter tables too.

    SQLite alters a table by copying it into a new one and dropping the old, and with
    foreign keys enforced, dropping `users` would delete every contact on the way
    (`ON DELETE CASCADE`). So, as SQLite's own documentation advises for this, foreign
    keys are off while migrations run there, and checked whole afterwards.
    """
    url = database_url()
    with mistakes_in_one_line(url):
        engine = create_db_engine(url)
        connection = engine.connect()
    with connection, one_migration_at_a_time(connection):
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys = OFF")
            connection.commit()  # ends the transaction SQLAlchemy began: migrations get their own
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=True,
            render_item=render_item,
            include_object=include_object,
        )
        with context.begin_transaction():
            context.run_migrations()
        if sqlite:
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"migration left rows without their parents: {broken}")
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
