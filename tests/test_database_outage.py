"""PostgreSQL goes away and comes back: every route answers 503, then all recovers by itself.

A proxy of the test's own sits between the app and the database, so the database can
be cut off mid-run without stopping the server other tests use.
"""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url
from sqlmodel import Session

from contacts_api.app import create_app
from tests.conftest import TEST_PASSWORD, make_settings
from tests.contacts import payload
from tests.proxy import CuttableProxy

UNAVAILABLE = {"detail": "Database unavailable, try again shortly"}


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


def every_route(client: TestClient, signed_in: dict[str, str], contact_id: int) -> list:
    credentials = {"email": "bob@example.com", "password": TEST_PASSWORD}
    auth = {"Authorization": signed_in["Authorization"]}
    refresh = {"refresh_token": signed_in["refresh_token"]}
    return [
        client.get("/api/health"),
        client.post("/api/auth/signup", json=credentials),
        client.post("/api/auth/login", json=credentials),
        client.post("/api/auth/refresh", json=refresh),
        client.post("/api/auth/logout", json=refresh),
        client.get("/api/users/me", headers=auth),
        client.get("/api/contacts", headers=auth),
        client.get("/api/contacts/birthdays", headers=auth),
        client.post("/api/contacts", json=payload(), headers=auth),
        client.get(f"/api/contacts/{contact_id}", headers=auth),
        client.patch(f"/api/contacts/{contact_id}", json={"notes": "x"}, headers=auth),
        client.delete(f"/api/contacts/{contact_id}", headers=auth),
    ]


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
