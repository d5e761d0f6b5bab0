"""Every pooled connection busy: a request waits at most `DATABASE_TIMEOUT_SECONDS` for
one, then gets the contract's `503`, on both databases (it was a `500` on PostgreSQL and
a 30 s wait on SQLite)."""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel import Session

from contacts_api.app import create_app
from contacts_api.core.db import POOL_OVERFLOW, POOL_SIZE
from tests.conftest import Account, make_settings

UNAVAILABLE = {"detail": "Database unavailable, try again shortly"}


@pytest.fixture
def client(database_url: str, db: Session) -> Iterator[TestClient]:
    """An app that waits a fraction of a second for a pooled connection."""
    settings = make_settings(database_url, database_timeout_seconds=0.3)
    with TestClient(create_app(settings)) as client:
        yield client


def hold_every_connection(client: TestClient) -> list[AsyncConnection]:
    """Check out every connection the app's pool will ever hand out, in the app's loop."""
    engine: AsyncEngine = client.app.state.engine  # type: ignore[attr-defined]

    async def take() -> list[AsyncConnection]:
        return [await engine.connect() for _ in range(POOL_SIZE + POOL_OVERFLOW)]

    return client.portal.call(take)  # type: ignore[union-attr]


def release(client: TestClient, connections: list[AsyncConnection]) -> None:
    async def close() -> None:
        for connection in connections:
            await connection.close()

    client.portal.call(close)  # type: ignore[union-attr]


def test_a_request_that_finds_every_connection_busy_gets_503(
    client: TestClient, account: Account
) -> None:
    held = hold_every_connection(client)
    try:
        answer = client.get("/api/users/me", headers=account.headers)
    finally:
        release(client, held)

    assert answer.status_code == 503, answer.text
    assert answer.json() == UNAVAILABLE
    assert answer.headers["Retry-After"] == "1"


def test_the_service_answers_again_once_connections_are_free(
    client: TestClient, account: Account
) -> None:
    release(client, hold_every_connection(client))

    assert client.get("/api/users/me", headers=account.headers).status_code == 200
