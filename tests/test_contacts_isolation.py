"""A user reaches only their own contacts: anyone else's is `404`, as if it did not exist."""

from collections.abc import Callable
from datetime import date

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from contacts_api.api.deps import get_today
from tests.conftest import Account
from tests.contacts import create, payload


@pytest.fixture
def ada(make_account: Callable[..., Account]) -> Account:
    return make_account("ada@example.com")


@pytest.fixture
def eve(make_account: Callable[..., Account]) -> Account:
    return make_account("eve@example.com")


@pytest.fixture
def adas_contact(client: TestClient, ada: Account) -> dict:
    return create(client, ada, first_name="Charles", last_name="Babbage", birthday="1991-12-26")


@pytest.mark.parametrize(
    ("method", "body"),
    [("GET", None), ("PUT", payload()), ("PATCH", {"notes": "mine now"}), ("DELETE", None)],
)
def test_another_users_contact_is_404(
    client: TestClient, eve: Account, adas_contact: dict, method: str, body: dict | None
) -> None:
    response = client.request(
        method, f"/api/contacts/{adas_contact['id']}", json=body, headers=eve.headers
    )

    assert response.status_code == 404
    assert response.json() == {"detail": "Contact not found"}


@pytest.mark.parametrize(
    ("method", "body"), [("PUT", payload()), ("PATCH", {"notes": "mine now"}), ("DELETE", None)]
)
def test_another_users_write_leaves_the_contact_untouched(
    client: TestClient,
    ada: Account,
    eve: Account,
    adas_contact: dict,
    method: str,
    body: dict | None,
) -> None:
    client.request(method, f"/api/contacts/{adas_contact['id']}", json=body, headers=eve.headers)

    after = client.get(f"/api/contacts/{adas_contact['id']}", headers=ada.headers)
    assert after.json() == adas_contact


@pytest.mark.parametrize("query", ["", "?q=charles", "?last_name=babbage", "?email=example"])
def test_another_users_contact_is_never_listed(
    client: TestClient, eve: Account, adas_contact: dict, query: str
) -> None:
    response = client.get(f"/api/contacts{query}", headers=eve.headers)

    assert response.json()["items"] == []
    assert response.json()["total"] == 0


def test_another_users_contact_is_never_among_the_birthdays(
    app: FastAPI, client: TestClient, eve: Account, adas_contact: dict
) -> None:
    app.dependency_overrides[get_today] = lambda: date(2026, 12, 25)

    response = client.get("/api/contacts/birthdays?days=366", headers=eve.headers)

    assert response.json()["total"] == 0


def test_each_user_sees_their_own_contacts(
    client: TestClient, ada: Account, eve: Account, adas_contact: dict
) -> None:
    eves_contact = create(client, eve, first_name="Mallory")

    adas_list = client.get("/api/contacts", headers=ada.headers).json()
    eves_list = client.get("/api/contacts", headers=eve.headers).json()

    assert [c["id"] for c in adas_list["items"]] == [adas_contact["id"]]
    assert [c["id"] for c in eves_list["items"]] == [eves_contact["id"]]
