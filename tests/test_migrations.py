"""Alembic owns the schema: up, down and up again on an empty database, with no drift."""

from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect
from sqlmodel import SQLModel

from contacts_api.core.migrations import alembic_config, upgrade_to_head


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


def test_the_id_migration_keeps_every_row_and_stops_id_reuse_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    config = alembic_config(url)
    command.upgrade(config, "6fac3224a1b2")  # before ids were AUTOINCREMENT
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO users (email, hashed_password, created_at)"
            " VALUES ('a@x.io', 'h', '2026-01-01'), ('b@x.io', 'h', '2026-01-01')"
        )
    command.upgrade(config, "head")

    with engine.begin() as connection:
        emails = connection.exec_driver_sql("SELECT email FROM users ORDER BY id").scalars().all()
        connection.exec_driver_sql("DELETE FROM users WHERE email = 'b@x.io'")
        connection.exec_driver_sql(
            "INSERT INTO users (email, hashed_password, created_at) VALUES ('c@x.io', 'h', 'x')"
        )
        new_id = connection.exec_driver_sql("SELECT id FROM users WHERE email = 'c@x.io'").scalar()
    engine.dispose()

    assert emails == ["a@x.io", "b@x.io"]
    assert new_id == 3


def _upgrade(database_url: str) -> str:
    upgrade_to_head(database_url)
    return "migrated"


@pytest.mark.parametrize("attempt", range(3))
def test_first_starts_at_once_on_a_new_database_all_succeed(
    empty_database_url: str, attempt: int
) -> None:
    """Four processes migrate one new database at the same moment: none fails."""
    del attempt  # each attempt is a new empty database
    with ProcessPoolExecutor(4, mp_context=get_context("spawn")) as pool:
        results = list(pool.map(_upgrade, [empty_database_url] * 4))

    assert results == ["migrated"] * 4
    assert "users" in table_names(empty_database_url)


def test_existing_calendar_links_keep_working_after_the_generation_migration(
    empty_database_url: str,
) -> None:
    """A link made before links had a token generation gets its user's current one."""
    config = alembic_config(empty_database_url)
    command.upgrade(config, "f4c2a9e7b1d3")  # calendar links, before they ended with logins
    engine = create_engine(empty_database_url)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO users (id, email, hashed_password, created_at, token_generation)"
            " VALUES (1, 'a@x.io', 'h', '2026-01-01', 3)"
        )
        connection.exec_driver_sql(
            "INSERT INTO calendar_links (user_id, secret_hash, created_at)"
            " VALUES (1, 'hash', '2026-01-02')"
        )
    command.upgrade(config, "head")

    with engine.begin() as connection:
        link = connection.exec_driver_sql(
            "SELECT secret_hash, token_generation, last_used_at FROM calendar_links"
        ).one()
    engine.dispose()

    assert tuple(link) == ("hash", 3, None)
