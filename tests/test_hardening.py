"""What outside testers broke and must stay fixed: races, odd bodies, odd tokens, logs.

Each test names the attack it replays; each failed before its fix.
"""

import json
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from jose import jwt
from sqlmodel import Session

from contacts_api.models import User
from tests.conftest import TEST_PASSWORD, TEST_SECRET_KEY, Account
from tests.contacts import create

RACES = 20


def test_of_two_deletes_of_one_contact_one_is_204_and_the_other_404(
    client: TestClient, account: Account
) -> None:
    outcomes = []
    for _ in range(RACES):
        path = f"/api/contacts/{create(client, account)['id']}"
        with ThreadPoolExecutor(2) as pool:
            answers = [pool.submit(client.delete, path, headers=account.headers) for _ in "ab"]
        outcomes.append(sorted(answer.result().status_code for answer in answers))

    assert outcomes == [[204, 404]] * RACES


def test_an_update_racing_a_delete_is_200_or_404_never_a_500(
    client: TestClient, account: Account
) -> None:
    seen: set[tuple[int, int]] = set()
    for _ in range(RACES):
        path = f"/api/contacts/{create(client, account)['id']}"
        with ThreadPoolExecutor(2) as pool:
            patched = pool.submit(client.patch, path, json={"notes": "x"}, headers=account.headers)
            deleted = pool.submit(client.delete, path, headers=account.headers)
            seen.add((patched.result().status_code, deleted.result().status_code))

    assert seen <= {(200, 204), (404, 204)}
    assert client.get("/api/contacts", headers=account.headers).json()["total"] == 0


DEEP = "[" * 20_000 + "]" * 20_000  # 40 kB: under the body limit, past the parser


@pytest.mark.parametrize(
    ("path", "needs_token"),
    [
        ("/api/auth/login", False),
        ("/api/auth/signup", False),
        ("/api/auth/refresh", False),
        ("/api/contacts", True),
    ],
)
def test_json_nested_deeper_than_the_parser_takes_is_4xx(
    client: TestClient, account: Account, path: str, needs_token: bool
) -> None:
    headers = {"content-type": "application/json"} | (account.headers if needs_token else {})

    response = client.post(path, content=DEEP, headers=headers)

    assert response.status_code in (400, 422)


def _forged(claims: dict[str, Any], headers: dict[str, Any] | None = None) -> str:
    """A token signed with the real key: only its claims are odd."""
    now = int(time.time())
    base = {"sub": "1", "type": "access", "jti": "j", "iat": now, "exp": now + 300, "gen": 0}
    return jwt.encode(base | claims, TEST_SECRET_KEY, algorithm="HS256", headers=headers)


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": "1" * 30},  # past any id column
        {"exp": 10**20},  # past any clock
        {"sub": " {id} "},
        {"sub": "{id}_0"},
        {"sub": "١"},  # an Arabic-Indic digit, which int() accepts
        {"sub": "+{id}"},
        {"sub": "0{id}"},
        {"sub": {"id": 1}},
        {"iat": int(time.time()) + 365 * 86400},  # issued a year from now
        {"gen": -1},
        {"gen": "0"},
        {"gen": True},
        {"gen": 1},  # a generation the user has not reached
        {"sid": 5},
    ],
    ids=str,
)
def test_a_token_with_odd_claims_signed_with_the_real_key_is_401(
    client: TestClient, account: Account, claims: dict[str, Any]
) -> None:
    claims = {
        key: value.format(id=account.id) if isinstance(value, str) else value
        for key, value in claims.items()
    }

    response = client.get("/api/users/me", headers={"Authorization": f"Bearer {_forged(claims)}"})

    assert response.status_code == 401


def test_a_token_with_an_unknown_critical_header_is_401(
    client: TestClient, account: Account
) -> None:
    token = _forged({"sub": str(account.id)}, headers={"crit": ["exp-v2"], "exp-v2": 1})

    response = client.get("/api/users/me", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 401


def test_a_plain_token_with_the_real_key_is_accepted(client: TestClient, account: Account) -> None:
    """The control for the tests above: only the odd part makes them fail."""
    token = _forged({"sub": str(account.id)})

    assert client.get("/api/users/me", headers={"Authorization": f"Bearer {token}"}).is_success


def test_a_newline_in_the_path_cannot_forge_an_access_line(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="contacts_api.access"):
        client.get("/api/nowhere%0amethod=GET path=/api/forged status=200")

    lines = [r.getMessage() for r in caplog.records if r.name == "contacts_api.access"]
    assert len(lines) == 1
    assert "\n" not in lines[0]
    assert "\\n" in lines[0]


@pytest.mark.parametrize(
    ("signed_up", "logs_in"),
    [
        ("ada@xn--e1afmkfd.xn--p1ai", "ada@xn--e1afmkfd.xn--p1ai"),  # punycode, as signed up
        ("ada@пример.рф", "ada@пример.рф"),
        ("ada@пример.рф", "ada@xn--e1afmkfd.xn--p1ai"),
        ("Ada@Example.com", "  ada@EXAMPLE.com "),
        ("ada@e\u0301xample.com", "ada@\u00e9xample.com"),  # one letter, two spellings (NFC)
    ],
)
def test_whatever_signed_up_logs_in(client: TestClient, signed_up: str, logs_in: str) -> None:
    created = client.post("/api/auth/signup", json={"email": signed_up, "password": TEST_PASSWORD})
    assert created.status_code == 201, created.text

    response = client.post("/api/auth/login", json={"email": logs_in, "password": TEST_PASSWORD})

    assert response.status_code == 200


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/auth/signup", {"email": "not an email", "password": "s3cret-but-short"[:6]}),
        ("/api/auth/login", {"email": "ada@example.com", "password": 12345678}),
        ("/api/auth/refresh", {"refresh_token": ["s3cret", "token"]}),
        # A missing field: the error's `input` is the whole body, secrets and all.
        ("/api/auth/signup", {"password": "s3cret-password"}),
        ("/api/auth/login", {"password": "s3cret-password"}),
        ("/api/auth/password-reset/confirm", {"new_password": "s3cret-password"}),
        ("/api/auth/password-reset/confirm", {"token": "s3cret-token"}),
    ],
)
def test_a_422_never_echoes_a_secret(client: TestClient, path: str, body: dict) -> None:
    response = client.post(path, json=body)

    assert response.status_code == 422
    secrets = [
        v for k, v in body.items() if k in {"password", "refresh_token", "new_password", "token"}
    ]
    for secret in secrets:
        assert json.dumps(secret) not in response.text
        assert "s3cret" not in response.text


def test_sql_parameters_never_reach_a_log(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    """A failing statement's error names the SQL, never the values (a password hash)."""
    with caplog.at_level(logging.DEBUG):
        client.post("/api/auth/signup", json={"email": "a@x.io", "password": TEST_PASSWORD})
        client.post("/api/auth/signup", json={"email": "a@x.io", "password": TEST_PASSWORD})

    assert "$2b$" not in caplog.text


def test_a_client_cannot_set_server_fields(client: TestClient, account: Account) -> None:
    """Mass assignment: `id`, `owner_id` and the timestamps are the server's alone."""
    contact = create(client, account, id=999_999, owner_id=0, created_at="1999-01-01T00:00:00Z")

    assert contact["id"] != 999_999
    assert datetime.fromisoformat(contact["created_at"]).year == datetime.now(UTC).year


def test_an_id_is_never_reused_so_an_old_token_opens_no_new_account(
    client: TestClient, make_account: Callable[..., Account], db: Session
) -> None:
    """Delete the newest user, sign up another: SQLite would hand out the same id again."""
    gone = make_account("gone@example.com")
    db.delete(db.get(User, gone.id))
    db.commit()

    newcomer = make_account("new@example.com")

    assert newcomer.id != gone.id
    assert client.get("/api/users/me", headers=gone.headers).status_code == 401


@pytest.mark.parametrize(
    ("signed_up", "logs_in"),
    [
        ("caf\u00e9 au lait 1", "cafe\u0301 au lait 1"),  # é precomposed, then combining
        ("password \uff11\uff12\uff13", "password 123"),  # full-width digits
    ],
)
def test_a_password_logs_in_however_its_letters_are_encoded(
    client: TestClient, signed_up: str, logs_in: str
) -> None:
    client.post("/api/auth/signup", json={"email": "ada@example.com", "password": signed_up})

    response = client.post(
        "/api/auth/login", json={"email": "ada@example.com", "password": logs_in}
    )

    assert response.status_code == 200


def test_a_file_where_a_password_belongs_echoes_no_server_object(client: TestClient) -> None:
    response = client.post(
        "/api/auth/login",
        data={"username": "ada@example.com"},
        files={"password": ("p.txt", b"correct horse battery", "text/plain")},
    )

    assert response.status_code == 422
    assert "UploadFile" not in response.text
    assert "object at 0x" not in response.text
