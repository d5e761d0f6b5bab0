"""POST /api/auth/signup, and how passwords are stored."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from contacts_api.app import create_app
from contacts_api.models import User
from tests.conftest import TEST_PASSWORD, make_settings


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


def test_twelve_concurrent_signups_are_all_served(database_url: str, db: Session) -> None:
    """Twelve at once on one hashing thread (a 2-CPU machine's default) are a burst it
    hashes in about three seconds: all queued, none refused. Every hash waits until all
    twelve have asked for one, so they are all in the queue at once on any machine."""
    app = create_app(make_settings(database_url, hashing_concurrency=1))
    hasher = app.state.password_hasher
    burst = 12
    asked = 0
    everyone_asked = threading.Event()
    hash_password, hash_in_thread = hasher.hash, hasher._context.hash

    async def counted_hash(password: str) -> str:
        nonlocal asked
        asked += 1
        if asked == burst:
            everyone_asked.set()
        return await hash_password(password)

    def held_hash(password: str) -> str:
        everyone_asked.wait(10)
        return hash_in_thread(password)

    hasher.hash, hasher._context.hash = counted_hash, held_hash
    with TestClient(app) as client, ThreadPoolExecutor(max_workers=burst) as pool:
        statuses = sorted(
            r["status"] for r in pool.map(lambda _: signup(client, "a@x.io"), range(burst))
        )

    assert statuses == [201] + [409] * (burst - 1)


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
