"""GET /api/health, and the service while its database is unreachable."""

import time

import pytest
from alembic import command
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import Session

from contacts_api.app import create_app
from contacts_api.core.db import PING_AFTER_IDLE_SECONDS
from contacts_api.core.migrations import alembic_config
from tests.conftest import TEST_PASSWORD, make_settings

# A port nothing listens on: connections are refused at once, as when the server is down.
UNREACHABLE_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:1/contacts"


def test_health_is_ok_with_the_database_up(client: TestClient) -> None:
    response = client.get("/api/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def unreachable_client() -> TestClient:
    return TestClient(create_app(make_settings(UNREACHABLE_DATABASE_URL)))


def test_the_app_starts_while_the_database_is_unreachable() -> None:
    with unreachable_client() as client:
        assert client.get("/openapi.json").status_code == 200


def test_health_is_503_while_the_database_is_unreachable() -> None:
    with unreachable_client() as client:
        response = client.get("/api/health")

    assert response.status_code == 503
    assert response.json() == {"detail": "Database unavailable, try again shortly"}


def test_a_route_that_needs_the_database_is_503_while_it_is_unreachable() -> None:
    with unreachable_client() as client:
        response = client.post(
            "/api/auth/signup", json={"email": "ada@example.com", "password": TEST_PASSWORD}
        )

    assert response.status_code == 503
    assert "Traceback" not in response.text


def drop_every_connection_but_this_one(db: Session) -> None:
    """What a database restart does to the app's pool: every connection it held is gone."""
    db.exec(
        text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    )


@pytest.fixture
def on_postgresql(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has no server to drop connections")


@pytest.mark.usefixtures("on_postgresql")
def test_a_connection_idle_through_a_restart_is_replaced_before_use(
    client: TestClient, db: Session
) -> None:
    client.get("/api/health")  # the app's pool now holds a connection
    drop_every_connection_but_this_one(db)
    time.sleep(PING_AFTER_IDLE_SECONDS + 0.1)

    assert client.get("/api/health").status_code == 200


@pytest.mark.usefixtures("on_postgresql")
def test_a_connection_lost_mid_request_costs_that_request_only(
    client: TestClient, db: Session
) -> None:
    """A connection in steady use is not pinged; if it died, its request gets a `503`,
    and the pool drops every connection it held, so the next request gets a new one."""
    client.get("/api/health")
    drop_every_connection_but_this_one(db)

    assert [client.get("/api/health").status_code for _ in range(2)] == [503, 200]


@pytest.mark.usefixtures("on_postgresql")
def test_only_a_connection_that_sat_idle_is_pinged(
    app: FastAPI, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ping after idleness stands in for a ping on every checkout: a round trip saved."""
    dialect = app.state.engine.dialect
    pings: list[object] = []
    ping = dialect.do_ping
    monkeypatch.setattr(
        dialect, "do_ping", lambda connection: pings.append(connection) or ping(connection)
    )
    client.get("/api/health")

    client.get("/api/health")
    in_steady_use = len(pings)
    time.sleep(PING_AFTER_IDLE_SECONDS + 0.1)
    client.get("/api/health")

    assert (in_steady_use, len(pings)) == (0, 1)


SCHEMA_BEHIND = {"detail": "The database schema is behind the code: run `alembic upgrade head`"}


def test_health_is_503_on_a_database_never_migrated(empty_database_url: str) -> None:
    with TestClient(create_app(make_settings(empty_database_url))) as client:
        response = client.get("/api/health")

    assert response.status_code == 503
    assert response.json() == SCHEMA_BEHIND


def test_health_is_503_on_a_database_a_migration_behind(empty_database_url: str) -> None:
    command.upgrade(alembic_config(empty_database_url), "6fac3224a1b2")

    with TestClient(create_app(make_settings(empty_database_url))) as client:
        response = client.get("/api/health")

    assert response.status_code == 503
    assert response.json() == SCHEMA_BEHIND


def test_a_route_on_a_database_never_migrated_says_to_migrate(empty_database_url: str) -> None:
    """Not a `500` (PostgreSQL's undefined table), nor "try again" (SQLite's)."""
    with TestClient(create_app(make_settings(empty_database_url))) as client:
        response = client.post(
            "/api/auth/signup", json={"email": "ada@example.com", "password": TEST_PASSWORD}
        )

    assert response.status_code == 503
    assert response.json() == SCHEMA_BEHIND


@pytest.mark.usefixtures("db")
def test_health_is_503_while_redis_is_unreachable(database_url: str) -> None:
    settings = make_settings(
        database_url, rate_limit_enabled=True, redis_url="redis://127.0.0.1:1/0"
    )
    with TestClient(create_app(settings)) as client:
        response = client.get("/api/health")

    assert response.status_code == 503
    assert response.json() == {
        "detail": "Rate-limit storage (Redis) unavailable, try again shortly"
    }
