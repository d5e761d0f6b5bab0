"""Fixtures: every test runs against real, migrated databases, one clean slate per test.

SQLite always; PostgreSQL too when `TEST_DATABASE_URL` names a database the suite
may empty (it is migrated to head at the start and its rows deleted before each test).
"""

import asyncio
import os
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest
import redis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, create_engine, delete, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import Session, SQLModel

from contacts_api.app import create_app
from contacts_api.core.config import Settings
from contacts_api.core.db import create_app_engine, create_db_engine
from contacts_api.core.migrations import upgrade_to_head

T = TypeVar("T")

# A Redis database the suite may empty, named by the one who runs it; unset: the tests
# that need Redis are skipped, and no one's Redis is touched.
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL")
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
TEST_SECRET_KEY = "test-secret-key-that-is-long-enough-0123456789"
TEST_PASSWORD = "correct horse battery"
# Where the suite's messages go unless a test names a folder of its own: never into the
# checkout's `data/outbox` (on PostgreSQL the data folder is the working directory's).
SUITE_OUTBOX = Path(tempfile.mkdtemp(prefix="contacts-api-outbox-"))

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param(
        "postgresql",
        id="postgresql",
        marks=[
            pytest.mark.postgresql,
            pytest.mark.skipif(
                not TEST_DATABASE_URL, reason="set TEST_DATABASE_URL to run on PostgreSQL"
            ),
        ],
    ),
]


def pytest_report_header() -> list[str]:
    databases = (
        "databases: SQLite and PostgreSQL (TEST_DATABASE_URL)"
        if TEST_DATABASE_URL
        else "databases: SQLite only; PostgreSQL skipped: set TEST_DATABASE_URL to run on it"
    )
    redis = (
        "redis: TEST_REDIS_URL (emptied by the suite)"
        if TEST_REDIS_URL
        else "redis: tests that need it skipped: set TEST_REDIS_URL to run them"
    )
    return [databases, redis]


@pytest.fixture(scope="session")
def suite_redis_url() -> str:
    """`TEST_REDIS_URL`; a test that needs it is skipped, saying why, without a reachable one."""
    if not TEST_REDIS_URL:
        pytest.skip("set TEST_REDIS_URL (a Redis database the suite may empty) to run this")
    try:
        redis.Redis.from_url(TEST_REDIS_URL).ping()
    except redis.RedisError as exc:
        pytest.skip(f"TEST_REDIS_URL is not reachable: {exc}")
    return TEST_REDIS_URL


@pytest.fixture
def test_redis_url(suite_redis_url: str) -> str:
    """The suite's Redis database, emptied for this test."""
    redis.Redis.from_url(suite_redis_url).flushdb()
    return suite_redis_url


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated database of each kind, shared by the session's tests."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'test.db'}"
    else:
        assert TEST_DATABASE_URL is not None
        url = TEST_DATABASE_URL
    upgrade_to_head(url)
    return url


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


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_db_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def db(engine: Engine) -> Iterator[Session]:
    """A session on an empty database: every table's rows are deleted first."""
    with Session(engine) as session:
        for table in reversed(SQLModel.metadata.sorted_tables):
            session.exec(delete(table))
        session.commit()
        yield session


def on_engine(database_url: str, work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    """Run the async CRUD call `work` on an app engine of its own, as a route would."""

    async def run() -> T:
        engine = create_app_engine(database_url, timeout=5)
        try:
            return await work(engine)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def make_settings(database_url: str, **overrides: object) -> Settings:
    """Test settings: a fixed key, the cheapest bcrypt cost, no `.env` from the checkout.

    Rate limits are off: the suite signs up many users from one address. The tests of
    the limits turn them on.
    """
    values: dict[str, object] = {
        "database_url": database_url,
        "secret_key": SecretStr(TEST_SECRET_KEY),
        "bcrypt_rounds": 4,
        "rate_limit_enabled": False,
        "mail_outbox_dir": SUITE_OUTBOX,
    }
    return Settings(_env_file=None, **(values | overrides))


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture
def app(settings: Settings, db: Session) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


@pytest.fixture
def statements(app: FastAPI) -> Iterator[list[str]]:
    """Every statement the app's engine sends, from the moment the fixture is used."""
    sent: list[str] = []

    def record(*args: object) -> None:
        sent.append(str(args[2]))

    engine = app.state.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    yield sent
    event.remove(engine, "before_cursor_execute", record)


@dataclass
class Account:
    id: int
    email: str
    password: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


@pytest.fixture
def make_account(client: TestClient) -> Callable[..., Account]:
    """Sign up and log in through the API, as a client would."""

    def make(email: str = "ada@example.com", password: str = TEST_PASSWORD) -> Account:
        created = client.post("/api/auth/signup", json={"email": email, "password": password})
        assert created.status_code == 201, created.text
        tokens = client.post("/api/auth/login", json={"email": email, "password": password})
        assert tokens.status_code == 200, tokens.text
        return Account(
            id=created.json()["id"],
            email=email,
            password=password,
            access_token=tokens.json()["access_token"],
            refresh_token=tokens.json()["refresh_token"],
        )

    return make


@pytest.fixture
def account(make_account: Callable[..., Account]) -> Account:
    return make_account()
