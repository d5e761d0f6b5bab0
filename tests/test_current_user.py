"""GET /api/users/me, and every way a bearer token is refused on a protected route."""

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from contacts_api.core.security import TokenType
from contacts_api.models import User
from tests.conftest import Account
from tests.contacts import create
from tests.tokens import expired, forged, signed, unsigned


def test_me_returns_the_current_user(client: TestClient, account: Account) -> None:
    response = client.get("/api/users/me", headers=account.headers)

    assert response.status_code == 200
    assert response.json()["id"] == account.id
    assert response.json()["email"] == account.email
    assert set(response.json()) == {"id", "email", "created_at", "email_verified"}


def assert_refused(client: TestClient, headers: dict[str, str]) -> None:
    response = client.get("/api/users/me", headers=headers)

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert "detail" in response.json()


def test_a_missing_authorization_header_is_401(client: TestClient) -> None:
    assert_refused(client, {})


@pytest.mark.parametrize(
    "authorization",
    ["Bearer", "Bearer not-a-jwt", "Bearer a.b.c", "Basic YWRhOnBhc3M=", "eyJhbGciOi"],
)
def test_a_malformed_authorization_header_is_401(
    client: TestClient, account: Account, authorization: str
) -> None:
    assert_refused(client, {"Authorization": authorization})


@pytest.mark.parametrize("make_token", [expired, forged, unsigned], ids=lambda f: f.__name__)
def test_a_bad_access_token_is_401(
    client: TestClient, account: Account, make_token: Callable[[int, TokenType], str]
) -> None:
    assert_refused(client, {"Authorization": f"Bearer {make_token(account.id, TokenType.ACCESS)}"})


def test_a_refresh_token_in_place_of_an_access_token_is_401(
    client: TestClient, account: Account
) -> None:
    assert_refused(client, {"Authorization": f"Bearer {account.refresh_token}"})


def test_a_token_of_a_deleted_user_is_401(
    client: TestClient, account: Account, db: Session
) -> None:
    db.delete(db.get(User, account.id))
    db.commit()

    assert_refused(client, account.headers)


def test_a_token_naming_a_user_that_never_existed_is_401(
    client: TestClient, account: Account
) -> None:
    assert_refused(
        client, {"Authorization": f"Bearer {signed(account.id + 1000, TokenType.ACCESS)}"}
    )


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/contacts"),
        ("GET", "/api/contacts?offset=50"),
        ("GET", "/api/contacts?q=ada"),
        ("GET", "/api/contacts/birthdays"),
        ("GET", "/api/contacts/birthdays?offset=50"),
        ("GET", "/api/contacts/{id}"),
        ("PATCH", "/api/contacts/{id}"),
        ("DELETE", "/api/contacts/{id}"),
    ],
)
def test_every_contact_route_refuses_a_deleted_users_token(
    client: TestClient, account: Account, db: Session, method: str, path: str
) -> None:
    """Some reads check the account inside their own query: each must still say `401`."""
    contact_id = create(client, account)["id"]
    db.delete(db.get(User, account.id))
    db.commit()

    response = client.request(
        method, path.format(id=contact_id), json={"notes": "x"}, headers=account.headers
    )

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
