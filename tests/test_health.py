"""GET /api/health, and the service while its database is unreachable."""

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import Session

from contacts_api.app import create_app
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


def test_the_service_carries_on_after_the_database_drops_its_connections(
    client: TestClient, db: Session, database_url: str
) -> None:
    """What a database restart does to the pool: every connection it held is gone."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has no server to drop connections")
    client.get("/api/health")  # the app's pool now holds a connection
    db.exec(
        text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    )

    assert client.get("/api/health").status_code == 200
