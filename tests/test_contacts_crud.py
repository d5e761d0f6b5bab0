"""Create, read, replace, change and delete one contact: the contract's codes and fields."""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlmodel import Session, select

from contacts_api.app import create_app
from contacts_api.models import Contact, User
from tests.conftest import Account, make_settings
from tests.contacts import create, payload

PUBLIC_FIELDS = {
    "id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "birthday",
    "notes",
    "created_at",
    "updated_at",
}


def test_create_returns_201_with_the_contact(client: TestClient, account: Account) -> None:
    sent = payload(notes="Met at PyCon")

    response = client.post("/api/contacts", json=sent, headers=account.headers)

    assert response.status_code == 201
    body = response.json()
    assert set(body) == PUBLIC_FIELDS
    assert {k: body[k] for k in sent} == sent


def test_create_answers_with_the_contacts_location(client: TestClient, account: Account) -> None:
    response = client.post("/api/contacts", json=payload(), headers=account.headers)

    location = response.headers["location"]
    assert location == f"/api/contacts/{response.json()['id']}"
    assert client.get(location, headers=account.headers).status_code == 200


def test_create_timestamps_have_a_timezone(client: TestClient, account: Account) -> None:
    contact = create(client, account)

    assert contact["created_at"].endswith(("Z", "+00:00"))
    assert contact["updated_at"].endswith(("Z", "+00:00"))


def test_names_are_stored_and_returned_trimmed(client: TestClient, account: Account) -> None:
    contact = create(client, account, first_name="  Олена ", last_name="\tКоваленко\n")

    assert (contact["first_name"], contact["last_name"]) == ("Олена", "Коваленко")


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("067 123 45 67", "+380671234567"),  # national form, read in PHONE_REGION (UA)
        ("(067) 123-45-67", "+380671234567"),
        ("+380 67 123 4567", "+380671234567"),
        ("+1 202-555-0143", "+12025550143"),  # international form, any country
    ],
)
def test_phone_is_stored_in_e164(
    client: TestClient, account: Account, written: str, stored: str
) -> None:
    assert create(client, account, phone=written)["phone"] == stored


@pytest.mark.usefixtures("db")
def test_a_phone_without_country_code_is_read_in_the_phone_region_setting(
    database_url: str,
) -> None:
    with TestClient(create_app(make_settings(database_url, phone_region="US"))) as us_client:
        us_client.post("/api/auth/signup", json={"email": "u@x.io", "password": "password1"})
        token = us_client.post(
            "/api/auth/login", json={"email": "u@x.io", "password": "password1"}
        ).json()["access_token"]
        response = us_client.post(
            "/api/contacts",
            json=payload(phone="(202) 555-0143"),
            headers={"Authorization": f"Bearer {token}"},
        )

    assert response.json()["phone"] == "+12025550143"


@pytest.mark.parametrize(
    ("written", "says", "never_says"),
    [
        # A US number typed without its country code, in a service whose region is UA.
        ("(415) 555-0188", "without a country code is read as a UA number", "+44"),
        # A number with its country code, in a range no one is given: not a region mistake.
        ("+44 7700 900123", "not a valid number of GB (+44): no such numbers", "UA"),
        ("+44 7700 9001", "GB (+44): too short", "UA"),
    ],
)
def test_a_refused_phone_says_what_is_actually_wrong(
    client: TestClient, account: Account, written: str, says: str, never_says: str
) -> None:
    response = client.post("/api/contacts", json=payload(phone=written), headers=account.headers)

    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert says in error["msg"]
    assert never_says not in error["msg"]


def test_notes_are_optional(client: TestClient, account: Account) -> None:
    sent = payload()
    del sent["notes"]

    response = client.post("/api/contacts", json=sent, headers=account.headers)

    assert response.status_code == 201
    assert response.json()["notes"] is None


def field_error(response: Response) -> list[tuple[str, ...]]:
    return [tuple(error["loc"]) for error in response.json()["detail"]]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("first_name", ""),
        ("first_name", "   "),
        ("first_name", "x" * 51),
        ("last_name", ""),
        ("last_name", "y" * 51),
        ("email", "not-an-email"),
        ("email", "a@b"),
        ("phone", "12"),
        ("phone", "not a phone"),
        ("phone", "+380 12"),
        ("phone", "1" * 33),
        ("birthday", "1990-02-30"),
        ("birthday", "yesterday"),
        ("birthday", "2999-01-01"),
        ("notes", "n" * 2001),
        ("notes", "nul \x00 inside"),
        ("first_name", "A\x00da"),
        ("phone", "+380671234567\x00"),
        ("first_name", None),
        ("email", 42),
    ],
)
def test_a_bad_field_is_422_naming_it(
    client: TestClient, account: Account, field: str, value: Any
) -> None:
    response = client.post("/api/contacts", json=payload(**{field: value}), headers=account.headers)

    assert response.status_code == 422
    assert ("body", field) in field_error(response)


@pytest.mark.parametrize("field", ["first_name", "last_name", "email", "phone", "birthday"])
def test_a_missing_required_field_is_422_naming_it(
    client: TestClient, account: Account, field: str
) -> None:
    sent = payload()
    del sent[field]

    response = client.post("/api/contacts", json=sent, headers=account.headers)

    assert response.status_code == 422
    assert ("body", field) in field_error(response)


def test_names_of_exactly_50_and_notes_of_2000_characters_are_accepted(
    client: TestClient, account: Account
) -> None:
    create(client, account, first_name="я" * 50, last_name="z" * 50, notes="n" * 2000)


def test_a_bad_contact_is_not_stored(client: TestClient, account: Account) -> None:
    client.post("/api/contacts", json=payload(phone="12"), headers=account.headers)

    assert client.get("/api/contacts", headers=account.headers).json()["total"] == 0


def test_a_second_contact_with_the_same_email_is_409(client: TestClient, account: Account) -> None:
    create(client, account, email="olena@example.com")

    response = client.post(
        "/api/contacts", json=payload(email="Olena@Example.COM"), headers=account.headers
    )

    assert response.status_code == 409
    assert response.json() == {"detail": "You already have a contact with this email"}


def test_two_users_may_each_have_a_contact_with_one_email(
    client: TestClient, make_account: Callable[..., Account]
) -> None:
    ada, bob = make_account("ada@example.com"), make_account("bob@example.com")
    create(client, ada, email="olena@example.com")

    create(client, bob, email="olena@example.com")


def test_concurrent_creates_of_one_email_give_one_201_and_the_rest_409(
    client: TestClient, account: Account
) -> None:
    def post(_: int) -> int:
        sent = payload(email="same@example.com")
        return client.post("/api/contacts", json=sent, headers=account.headers).status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = sorted(pool.map(post, range(20)))

    assert statuses == [201] + [409] * 19


def test_get_returns_the_contact(client: TestClient, account: Account) -> None:
    contact = create(client, account)

    response = client.get(f"/api/contacts/{contact['id']}", headers=account.headers)

    assert response.status_code == 200
    assert response.json() == contact


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
def test_a_missing_id_is_404(client: TestClient, account: Account, method: str) -> None:
    body = payload() if method in {"PUT", "PATCH"} else None

    response = client.request(method, "/api/contacts/999999", json=body, headers=account.headers)

    assert response.status_code == 404
    assert response.json() == {"detail": "Contact not found"}


@pytest.mark.parametrize("contact_id", ["0", str(2**63)])
def test_a_number_that_cannot_be_an_id_is_422(
    client: TestClient, account: Account, contact_id: str
) -> None:
    response = client.get(f"/api/contacts/{contact_id}", headers=account.headers)

    assert response.status_code == 422


@pytest.mark.parametrize("contact_id", ["-1", "abc", "1.5"])
def test_a_path_that_is_not_a_number_is_no_contact(
    client: TestClient, account: Account, contact_id: str
) -> None:
    """Only digits make an id (`{contact_id:int}`): anything else is a path with no route."""
    response = client.get(f"/api/contacts/{contact_id}", headers=account.headers)

    assert response.status_code == 404


def test_put_replaces_every_field(client: TestClient, account: Account) -> None:
    contact = create(client, account, notes="old")
    new = payload(first_name="Grace", last_name="Hopper", phone="050 000 00 01", notes="new")

    response = client.put(f"/api/contacts/{contact['id']}", json=new, headers=account.headers)

    assert response.status_code == 200
    assert {k: response.json()[k] for k in new} == new | {"phone": "+380500000001"}


def test_put_without_a_required_field_is_422(client: TestClient, account: Account) -> None:
    contact = create(client, account)
    partial = {"first_name": "Grace"}

    response = client.put(f"/api/contacts/{contact['id']}", json=partial, headers=account.headers)

    assert response.status_code == 422
    assert ("body", "last_name") in field_error(response)


def test_put_onto_another_contacts_email_is_409(client: TestClient, account: Account) -> None:
    create(client, account, email="taken@example.com")
    contact = create(client, account)

    response = client.put(
        f"/api/contacts/{contact['id']}",
        json=payload(email="TAKEN@example.com"),
        headers=account.headers,
    )

    assert response.status_code == 409


def test_patch_changes_only_the_fields_sent(client: TestClient, account: Account) -> None:
    contact = create(client, account, notes="keep me")

    response = client.patch(
        f"/api/contacts/{contact['id']}", json={"last_name": "Byron"}, headers=account.headers
    )

    assert response.status_code == 200
    expected = contact | {"last_name": "Byron", "updated_at": response.json()["updated_at"]}
    assert response.json() == expected


def test_patch_normalises_a_new_phone(client: TestClient, account: Account) -> None:
    contact = create(client, account)

    response = client.patch(
        f"/api/contacts/{contact['id']}", json={"phone": "067 765 43 21"}, headers=account.headers
    )

    assert response.json()["phone"] == "+380677654321"


def test_patch_with_null_notes_clears_them(client: TestClient, account: Account) -> None:
    contact = create(client, account, notes="to be cleared")

    response = client.patch(
        f"/api/contacts/{contact['id']}", json={"notes": None}, headers=account.headers
    )

    assert response.json()["notes"] is None


@pytest.mark.parametrize("field", ["first_name", "last_name", "email", "phone", "birthday"])
def test_patch_with_null_for_a_required_field_is_422(
    client: TestClient, account: Account, field: str
) -> None:
    contact = create(client, account)

    response = client.patch(
        f"/api/contacts/{contact['id']}", json={field: None}, headers=account.headers
    )

    assert response.status_code == 422
    assert ("body", field) in field_error(response)


def test_patch_with_a_bad_field_changes_nothing(client: TestClient, account: Account) -> None:
    contact = create(client, account)

    client.patch(
        f"/api/contacts/{contact['id']}",
        json={"first_name": "Grace", "birthday": "2999-01-01"},
        headers=account.headers,
    )

    assert client.get(f"/api/contacts/{contact['id']}", headers=account.headers).json() == contact


def test_patch_onto_another_contacts_email_is_409(client: TestClient, account: Account) -> None:
    create(client, account, email="taken@example.com")
    contact = create(client, account)

    response = client.patch(
        f"/api/contacts/{contact['id']}",
        json={"email": "taken@EXAMPLE.com"},
        headers=account.headers,
    )

    assert response.status_code == 409


def test_an_update_moves_updated_at_and_keeps_created_at(
    client: TestClient, account: Account
) -> None:
    contact = create(client, account)

    updated = client.patch(
        f"/api/contacts/{contact['id']}", json={"notes": "x"}, headers=account.headers
    ).json()

    assert updated["created_at"] == contact["created_at"]
    assert updated["updated_at"] > contact["updated_at"]


def test_delete_is_204_and_the_contact_is_gone(client: TestClient, account: Account) -> None:
    contact = create(client, account)

    response = client.delete(f"/api/contacts/{contact['id']}", headers=account.headers)

    assert response.status_code == 204
    assert response.content == b""
    assert client.get(f"/api/contacts/{contact['id']}", headers=account.headers).status_code == 404


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/contacts"),
        ("GET", "/api/contacts"),
        ("GET", "/api/contacts/birthdays"),
        ("GET", "/api/contacts/1"),
        ("PUT", "/api/contacts/1"),
        ("PATCH", "/api/contacts/1"),
        ("DELETE", "/api/contacts/1"),
    ],
)
def test_every_contacts_route_needs_a_bearer_token(
    client: TestClient, method: str, path: str
) -> None:
    response = client.request(method, path, json=payload())

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_a_users_contacts_go_when_the_user_is_deleted(
    client: TestClient, account: Account, db: Session
) -> None:
    create(client, account)
    db.delete(db.get(User, account.id))
    db.commit()

    assert db.exec(select(Contact)).all() == []
