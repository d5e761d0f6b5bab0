"""POST /api/auth/login: form and JSON, one answer for every wrong credential."""

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from contacts_api.app import create_app
from contacts_api.core.security import PasswordHasher
from tests.conftest import TEST_PASSWORD, Account, make_settings
from tests.tokens import claims_of

WRONG_CREDENTIALS = {"detail": "Incorrect email or password"}


def test_login_with_the_oauth2_form_returns_a_token_pair(
    client: TestClient, make_account: Callable[..., Account]
) -> None:
    make_account("ada@example.com")

    response = client.post(
        "/api/auth/login", data={"username": "ada@example.com", "password": TEST_PASSWORD}
    )

    assert response.status_code == 200
    assert set(response.json()) == {"access_token", "refresh_token", "token_type"}
    assert response.json()["token_type"] == "bearer"


def test_login_with_json_returns_a_token_pair(
    client: TestClient, make_account: Callable[..., Account]
) -> None:
    make_account("ada@example.com")

    response = client.post(
        "/api/auth/login", json={"email": "ada@example.com", "password": TEST_PASSWORD}
    )

    assert response.status_code == 200
    assert response.json()["token_type"] == "bearer"


def test_login_matches_the_email_case_insensitively(
    client: TestClient, make_account: Callable[..., Account]
) -> None:
    make_account("ada@example.com")

    response = client.post(
        "/api/auth/login", json={"email": "ADA@Example.com", "password": TEST_PASSWORD}
    )

    assert response.status_code == 200


def test_tokens_carry_sub_type_exp_iat_and_jti(
    client: TestClient, make_account: Callable[..., Account]
) -> None:
    account = make_account()

    access = claims_of(account.access_token)
    refresh = claims_of(account.refresh_token)

    assert access["sub"] == refresh["sub"] == str(account.id)
    assert (access["type"], refresh["type"]) == ("access", "refresh")
    for claims in (access, refresh):
        assert {"exp", "iat", "jti"} <= set(claims)
    assert access["jti"] != refresh["jti"]


def test_token_lifetimes_follow_the_settings(
    client: TestClient, make_account: Callable[..., Account]
) -> None:
    account = make_account()

    access = claims_of(account.access_token)
    refresh = claims_of(account.refresh_token)

    assert access["exp"] - access["iat"] == 15 * 60
    assert refresh["exp"] - refresh["iat"] == 7 * 24 * 3600


def test_login_with_a_wrong_password_is_401_with_a_bearer_challenge(
    client: TestClient, make_account: Callable[..., Account]
) -> None:
    make_account("ada@example.com")

    response = client.post(
        "/api/auth/login", json={"email": "ada@example.com", "password": "wrong password"}
    )

    assert response.status_code == 401
    assert response.json() == WRONG_CREDENTIALS
    assert response.headers["www-authenticate"] == "Bearer"


def test_login_with_an_unknown_email_gives_the_same_401(client: TestClient) -> None:
    response = client.post(
        "/api/auth/login", data={"username": "nobody@example.com", "password": TEST_PASSWORD}
    )

    assert response.status_code == 401
    assert response.json() == WRONG_CREDENTIALS
    assert response.headers["www-authenticate"] == "Bearer"


def test_login_with_an_unknown_email_still_checks_one_hash(
    app: FastAPI, client: TestClient
) -> None:
    """The time a login takes must not tell whether the email is registered."""
    checked: list[str | None] = []

    class CountingHasher(PasswordHasher):
        async def verify(self, password: str, hashed: str | None) -> bool:
            checked.append(hashed)
            return await super().verify(password, hashed)

    app.state.password_hasher = CountingHasher(rounds=4, concurrency=1, queue_seconds=5)

    client.post("/api/auth/login", json={"email": "nobody@example.com", "password": "x" * 10})

    assert checked == [None]


def test_passwords_sharing_their_first_72_bytes_do_not_open_one_account(
    client: TestClient, make_account: Callable[..., Account]
) -> None:
    make_account("ada@example.com", password="p" * 72)

    response = client.post(
        "/api/auth/login", json={"email": "ada@example.com", "password": "p" * 72 + "extra"}
    )

    assert response.status_code == 401


@pytest.mark.parametrize(
    ("body", "missing"), [({"email": "a@x.io"}, "password"), ({"password": "x" * 8}, "email")]
)
def test_login_without_a_field_is_422_naming_it(
    client: TestClient, body: dict, missing: str
) -> None:
    response = client.post("/api/auth/login", json=body)

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", missing]


def test_login_form_without_a_password_is_422_naming_it(client: TestClient) -> None:
    response = client.post("/api/auth/login", data={"username": "a@x.io"})

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "password"]


def test_login_with_a_body_that_is_not_json_is_422(client: TestClient) -> None:
    response = client.post(
        "/api/auth/login", content=b"{not json", headers={"content-type": "application/json"}
    )

    assert response.status_code == 422


def test_no_database_connection_is_held_while_the_password_is_checked(
    app: FastAPI, client: TestClient, make_account: Callable[..., Account]
) -> None:
    """bcrypt takes a quarter of a second; a connection held meanwhile starves the pool."""
    make_account("ada@example.com")
    pool = app.state.engine.pool
    held: list[int] = []

    class PoolWatchingHasher(PasswordHasher):
        async def verify(self, password: str, hashed: str | None) -> bool:
            held.append(pool.checkedout())
            return await super().verify(password, hashed)

    app.state.password_hasher = PoolWatchingHasher(rounds=4, concurrency=1, queue_seconds=5)

    client.post("/api/auth/login", json={"email": "ada@example.com", "password": TEST_PASSWORD})

    assert held == [0]


def test_login_with_a_nul_in_the_password_is_422_not_an_error(
    client: TestClient, make_account: Callable[..., Account]
) -> None:
    make_account("ada@example.com")

    response = client.post(
        "/api/auth/login", json={"email": "ada@example.com", "password": "pass\x00word"}
    )

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "password"]


def test_login_with_a_nul_in_the_email_is_422(client: TestClient) -> None:
    response = client.post("/api/auth/login", data={"username": "a\x00@x.io", "password": "x"})

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "username"]


@contextmanager
def one_login_hashing(client: TestClient, app: FastAPI, email: str) -> Iterator[None]:
    """A login of `email` (right password) holds the one hashing slot meanwhile."""
    hasher = app.state.password_hasher
    release = threading.Event()
    original = hasher._context.verify

    def held_verify(password: str, hashed: str) -> bool:
        release.wait(5)
        return original(password, hashed)

    hasher._context.verify = held_verify
    login = {"email": email, "password": TEST_PASSWORD}
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(client.post, "/api/auth/login", json=login)
        while not hasher._room.busy:
            time.sleep(0.01)
        yield
        release.set()
        assert first.result().status_code == 200
    hasher._context.verify = original


def test_a_login_past_the_hashing_queue_is_503_with_retry_after_at_once(
    database_url: str, db: Session
) -> None:
    """One login hashing, no queue (`HASHING_QUEUE_SECONDS=0`): the next is refused, not queued."""
    app = create_app(make_settings(database_url, hashing_concurrency=1, hashing_queue_seconds=0))
    with TestClient(app) as client:
        client.post("/api/auth/signup", json={"email": "a@x.io", "password": TEST_PASSWORD})
        with one_login_hashing(client, app, "a@x.io"):
            refused = client.post(
                "/api/auth/login", json={"email": "a@x.io", "password": TEST_PASSWORD}
            )

    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "1"
    assert refused.json() == {"detail": "Too many logins at once, try again shortly"}


def test_a_login_refused_while_hashing_is_busy_counts_as_no_failure(
    database_url: str, db: Session
) -> None:
    """Only a wrong password counts against the limit, never a refusal before the check."""
    settings = make_settings(
        database_url,
        hashing_concurrency=1,
        hashing_queue_seconds=0,
        rate_limit_enabled=True,
        rate_limit_login_account="1/minute",
    )
    app = create_app(settings)
    wrong = {"email": "a@x.io", "password": "wrong password"}
    with TestClient(app) as client:
        client.post("/api/auth/signup", json={"email": "a@x.io", "password": TEST_PASSWORD})
        with one_login_hashing(client, app, "a@x.io"):
            refusals = [client.post("/api/auth/login", json=wrong).status_code for _ in range(3)]
        counted = [client.post("/api/auth/login", json=wrong).status_code for _ in range(2)]

    assert refusals == [503, 503, 503]
    assert counted == [401, 429]
