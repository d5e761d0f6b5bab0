"""Text no database can store, sent as valid JSON: a clear 422 naming the field, never a 500.

`"\\ud800"` is a legal JSON escape but a lone surrogate, not a character: UTF-8 cannot
encode it, so it can neither be stored nor echoed back in an error as it is.
"""

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Account

JSON = {"Content-Type": "application/json"}
LONE_SURROGATE = "\\ud800"  # as written inside a JSON string


def contact_body(**fields: str) -> bytes:
    values = {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada@example.com",
        "phone": "+380671234567",
        "birthday": "1990-12-10",
    } | fields
    return ("{" + ",".join(f'"{k}":"{v}"' for k, v in values.items()) + "}").encode()


@pytest.mark.parametrize("field", ["first_name", "last_name", "email", "phone", "notes"])
def test_a_lone_surrogate_in_a_contact_field_is_422_naming_it(
    client: TestClient, account: Account, field: str
) -> None:
    body = contact_body(**{field: f"x{LONE_SURROGATE}y"})

    response = client.post("/api/contacts", content=body, headers=account.headers | JSON)

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", field]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (
            "/api/auth/signup",
            f'{{"email":"a@x.io","password":"pass{LONE_SURROGATE}word"}}',
            "password",
        ),
        (
            "/api/auth/signup",
            f'{{"email":"a{LONE_SURROGATE}@x.io","password":"password1"}}',
            "email",
        ),
        (
            "/api/auth/login",
            f'{{"email":"a{LONE_SURROGATE}@x.io","password":"password1"}}',
            "email",
        ),
        ("/api/auth/login", f'{{"email":"a@x.io","password":"pass{LONE_SURROGATE}"}}', "password"),
        ("/api/auth/refresh", f'{{"refresh_token":"a.{LONE_SURROGATE}.c"}}', "refresh_token"),
        ("/api/auth/logout", f'{{"refresh_token":"{LONE_SURROGATE}"}}', "refresh_token"),
    ],
)
def test_a_lone_surrogate_in_an_auth_field_is_422_naming_it(
    client: TestClient, path: str, body: str, field: str
) -> None:
    response = client.post(path, content=body.encode(), headers=JSON)

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", field]


def test_the_422_echoes_the_bad_input_escaped(client: TestClient, account: Account) -> None:
    body = contact_body(first_name=f"A{LONE_SURROGATE}")

    response = client.post("/api/contacts", content=body, headers=account.headers | JSON)

    assert b"\\ud800" in response.content
    assert response.headers["content-type"] == "application/json"
