"""POST /api/auth/signup, and how passwords are stored."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from contacts_api.models import User
from tests.conftest import TEST_PASSWORD


def signup(client: TestClient, email: str, password: str = TEST_PASSWORD) -> dict:
    response = client.post("/api/auth/signup", json={"email": email, "password": password})
    return {"status": response.status_code, "body": response.json()}


def test_signup_returns_201_with_the_user(client: TestClient) -> None:
    result = signup(client, "ada@example.com")

    assert result["status"] == 201
    assert set(result["body"]) == {"id", "email", "created_at", "email_verified"}
    assert result["body"]["email"] == "ada@example.com"
    assert result["body"]["email_verified"] is False


def test_signup_response_carries_no_password_or_hash(client: TestClient) -> None:
    response = client.post(
        "/api/auth/signup", json={"email": "ada@example.com", "password": TEST_PASSWORD}
    )

    assert TEST_PASSWORD not in response.text
    assert "hash" not in response.text
    assert "$2b$" not in response.text


def test_signup_created_at_has_a_timezone(client: TestClient) -> None:
    created_at = signup(client, "ada@example.com")["body"]["created_at"]

    assert created_at.endswith(("Z", "+00:00"))


def test_signup_with_a_taken_email_is_409(client: TestClient) -> None:
    signup(client, "ada@example.com")

    result = signup(client, "ada@example.com")

    assert result["status"] == 409
    assert result["body"] == {"detail": "Email already registered"}


def test_signup_email_is_taken_case_insensitively(client: TestClient) -> None:
    signup(client, "a@x.io")

    assert signup(client, "A@X.io")["status"] == 409


def test_signup_stores_the_email_lower_cased(client: TestClient) -> None:
    assert signup(client, "Ada@Example.COM")["body"]["email"] == "ada@example.com"


def test_concurrent_signups_with_one_email_create_one_account(client: TestClient) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = sorted(
            r["status"] for r in pool.map(lambda _: signup(client, "a@x.io"), range(8))
        )

    assert statuses == [201] + [409] * 7


@pytest.mark.parametrize("email", ["not-an-email", "a@", "@x.io", ""])
def test_signup_with_an_invalid_email_is_422(client: TestClient, email: str) -> None:
    result = signup(client, email)

    assert result["status"] == 422
    assert result["body"]["detail"][0]["loc"] == ["body", "email"]


def test_signup_with_a_password_under_8_characters_is_422(client: TestClient) -> None:
    result = signup(client, "ada@example.com", password="seven77")

    assert result["status"] == 422
    assert result["body"]["detail"][0]["loc"] == ["body", "password"]


def test_signup_accepts_a_password_of_exactly_72_bytes(client: TestClient) -> None:
    assert signup(client, "ada@example.com", password="p" * 72)["status"] == 201


def test_signup_refuses_a_password_over_72_bytes_instead_of_truncating(
    client: TestClient,
) -> None:
    password = "пароль" * 7  # 42 characters, 84 bytes in UTF-8

    result = signup(client, "ada@example.com", password=password)

    assert result["status"] == 422
    assert "72 bytes" in result["body"]["detail"][0]["msg"]


def test_password_is_stored_only_as_a_salted_bcrypt_hash(client: TestClient, db: Session) -> None:
    signup(client, "a@x.io")
    signup(client, "b@x.io")

    hashes = db.exec(select(User.hashed_password)).all()

    assert all(h.startswith("$2b$") for h in hashes)
    assert TEST_PASSWORD not in "".join(hashes)
    assert hashes[0] != hashes[1]


def test_signup_refuses_a_password_with_a_nul_character(client: TestClient) -> None:
    result = signup(client, "ada@example.com", password="pass\x00word")

    assert result["status"] == 422
    assert result["body"]["detail"][0]["loc"] == ["body", "password"]
