"""Alembic owns the schema: up, down and up again on an empty database, with no drift."""

from collections.abc import Iterator

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

from contacts_api.migrations import alembic_config


@pytest.fixture
def empty_database_url(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A database of the same kind as `database_url`, with nothing in it."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('empty') / 'empty.db'}"
        return
    scratch = f"{url.database}_migrations"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{scratch}"')
        connection.exec_driver_sql(f'CREATE DATABASE "{scratch}"')
    yield url.set(database=scratch).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
    admin.dispose()


def table_names(database_url: str) -> set[str]:
    engine = create_engine(database_url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_creates_every_table(empty_database_url: str) -> None:
    command.upgrade(alembic_config(empty_database_url), "head")

    assert table_names(empty_database_url) == set(SQLModel.metadata.tables) | {"alembic_version"}


def test_the_models_and_the_migrations_agree(empty_database_url: str) -> None:
    config = alembic_config(empty_database_url)
    command.upgrade(config, "head")

    command.check(config)  # raises when autogenerate would write a new migration


def test_downgrade_removes_every_table_and_upgrade_restores_them(
    empty_database_url: str,
) -> None:
    config = alembic_config(empty_database_url)
    command.upgrade(config, "head")

    command.downgrade(config, "base")
    assert table_names(empty_database_url) == {"alembic_version"}

    command.upgrade(config, "head")
    assert table_names(empty_database_url) == set(SQLModel.metadata.tables) | {"alembic_version"}
