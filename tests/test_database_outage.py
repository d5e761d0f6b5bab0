"""PostgreSQL goes away and comes back: every route answers 503, then all recovers by itself.

A proxy of the test's own sits between the app and the database, so the database can
be cut off mid-run without stopping the server other tests use.
"""

import time
from collections.abc import Callable, Iterator
from functools import partial

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy.engine import make_url
from sqlmodel import Session

from contacts_api.app import create_app
from tests.conftest import TEST_PASSWORD, make_settings
from tests.contacts import payload
from tests.proxy import CuttableProxy

UNAVAILABLE = {"detail": "Database unavailable, try again shortly"}
STALL_TIMEOUT_SECONDS = 1.0


@pytest.fixture
def proxy(database_url: str, db: Session) -> Iterator[CuttableProxy]:
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        pytest.skip("an embedded SQLite file cannot become unreachable")
    with CuttableProxy((url.host or "127.0.0.1", url.port or 5432)) as proxy:
        yield proxy


@pytest.fixture
def client(database_url: str, proxy: CuttableProxy) -> Iterator[TestClient]:
    """An app whose every database connection goes through the proxy."""
    through_proxy = make_url(database_url).set(host="127.0.0.1", port=proxy.port)
    settings = make_settings(through_proxy.render_as_string(hide_password=False))
    with TestClient(create_app(settings)) as client:
        yield client


def sign_in(client: TestClient) -> dict[str, str]:
    credentials = {"email": "ada@example.com", "password": TEST_PASSWORD}
    client.post("/api/auth/signup", json=credentials)
    tokens = client.post("/api/auth/login", json=credentials).json()
    return {
        "Authorization": f"Bearer {tokens['access_token']}",
        "refresh_token": tokens["refresh_token"],
    }


def every_route_call(
    client: TestClient, signed_in: dict[str, str], contact_id: int
) -> list[Callable[[], Response]]:
    """One call of every route that reaches the database, not yet made."""
    credentials = {"email": "bob@example.com", "password": TEST_PASSWORD}
    auth = {"Authorization": signed_in["Authorization"]}
    refresh = {"refresh_token": signed_in["refresh_token"]}
    contact = f"/api/contacts/{contact_id}"
    return [
        partial(client.get, "/api/health"),
        partial(client.post, "/api/auth/signup", json=credentials),
        partial(client.post, "/api/auth/login", json=credentials),
        partial(client.post, "/api/auth/refresh", json=refresh),
        partial(client.post, "/api/auth/logout", json=refresh),
        partial(client.get, "/api/users/me", headers=auth),
        partial(client.get, "/api/contacts", headers=auth),
        partial(client.get, "/api/contacts/birthdays", headers=auth),
        partial(client.post, "/api/contacts", json=payload(), headers=auth),
        partial(client.get, contact, headers=auth),
        partial(client.patch, contact, json={"notes": "x"}, headers=auth),
        partial(client.delete, contact, headers=auth),
    ]


def every_route(client: TestClient, signed_in: dict[str, str], contact_id: int) -> list[Response]:
    return [call() for call in every_route_call(client, signed_in, contact_id)]


def test_every_database_route_answers_503_while_the_database_is_cut_off(
    client: TestClient, proxy: CuttableProxy
) -> None:
    signed_in = sign_in(client)
    auth = {"Authorization": signed_in["Authorization"]}
    contact_id = client.post("/api/contacts", json=payload(), headers=auth).json()["id"]

    proxy.cut()
    responses = every_route(client, signed_in, contact_id)

    assert [r.status_code for r in responses] == [503] * 12
    for response in responses:
        assert "Traceback" not in response.text
    assert responses[0].json() == UNAVAILABLE


def test_the_service_recovers_by_itself_when_the_database_is_back(
    client: TestClient, proxy: CuttableProxy
) -> None:
    auth = {"Authorization": sign_in(client)["Authorization"]}
    proxy.cut()
    assert client.get("/api/health").status_code == 503

    proxy.restore()

    assert client.get("/api/health").json() == {"status": "ok", "database": "ok"}
    assert client.post("/api/contacts", json=payload(), headers=auth).status_code == 201


def test_no_write_acknowledged_before_the_cut_is_lost(
    client: TestClient, proxy: CuttableProxy
) -> None:
    auth = {"Authorization": sign_in(client)["Authorization"]}
    acknowledged = [
        client.post("/api/contacts", json=payload(), headers=auth).json() for _ in range(5)
    ]

    proxy.cut()
    client.get("/api/contacts", headers=auth)
    proxy.restore()

    stored = client.get("/api/contacts?limit=100", headers=auth).json()["items"]
    assert sorted(c["id"] for c in stored) == sorted(c["id"] for c in acknowledged)
    for contact in acknowledged:
        assert client.get(f"/api/contacts/{contact['id']}", headers=auth).json() == contact


@pytest.fixture
def quick_client(database_url: str, proxy: CuttableProxy) -> Iterator[TestClient]:
    """Through the proxy, with a short `DATABASE_TIMEOUT_SECONDS` to keep the test short."""
    through_proxy = make_url(database_url).set(host="127.0.0.1", port=proxy.port)
    settings = make_settings(
        through_proxy.render_as_string(hide_password=False),
        database_timeout_seconds=STALL_TIMEOUT_SECONDS,
    )
    with TestClient(create_app(settings)) as client:
        yield client


def test_every_route_answers_503_within_the_timeout_while_the_database_stalls(
    quick_client: TestClient, proxy: CuttableProxy
) -> None:
    """A database that accepts and never answers is worse than one that is down: without
    a bound of its own, every request would hang for as long as the stall lasts."""
    signed_in = sign_in(quick_client)
    auth = {"Authorization": signed_in["Authorization"]}
    contact_id = quick_client.post("/api/contacts", json=payload(), headers=auth).json()["id"]

    proxy.stall()
    timed = []
    for call in every_route_call(quick_client, signed_in, contact_id):
        started = time.monotonic()
        response = call()
        timed.append((response.status_code, time.monotonic() - started))
    proxy.resume()

    assert [status for status, _ in timed] == [503] * len(timed)
    assert max(seconds for _, seconds in timed) < STALL_TIMEOUT_SECONDS + 1


def test_the_service_recovers_by_itself_when_a_stall_ends(
    quick_client: TestClient, proxy: CuttableProxy
) -> None:
    auth = {"Authorization": sign_in(quick_client)["Authorization"]}
    proxy.stall()
    assert quick_client.get("/api/health").status_code == 503

    proxy.resume()

    assert quick_client.get("/api/health").status_code == 200
    assert quick_client.post("/api/contacts", json=payload(), headers=auth).status_code == 201
