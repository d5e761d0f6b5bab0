"""Rate limits on sign-up, login, refresh and mail: 429 with Retry-After, in memory or Redis."""

from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from contacts_api.app import create_app
from tests.conftest import TEST_PASSWORD, make_settings


@pytest.fixture(params=["memory", "redis"])
def redis_url(request: pytest.FixtureRequest) -> str | None:
    """No Redis (counts in memory), or the suite's Redis (`TEST_REDIS_URL`)."""
    if request.param == "memory":
        return None
    return request.getfixturevalue("test_redis_url")


@pytest.fixture
def limited_app(database_url: str, redis_url: str | None, db: Session) -> Callable[..., FastAPI]:
    """An app with rate limits on: the given limits, generous ones otherwise."""

    def make(**limits: str) -> FastAPI:
        values = {
            "rate_limit_signup": "100/minute",
            "rate_limit_login": "100/minute",
            "rate_limit_login_account": "100/minute",
            "rate_limit_refresh": "100/minute",
            "rate_limit_password_reset": "100/minute",
            "rate_limit_password_reset_email": "100/minute",
            "rate_limit_verification_resend": "100/minute",
        } | limits
        settings = make_settings(
            database_url, rate_limit_enabled=True, redis_url=redis_url, **values
        )
        return create_app(settings)

    return make


def from_address(client: TestClient, host: str) -> TestClient:
    """Another client of the same running app, from another address, on its event loop
    (a Redis connection belongs to the loop that opened it)."""
    other = TestClient(client.app, client=(host, 50000))
    other.portal = client.portal
    return other


def signup(client: TestClient, email: str) -> int:
    return client.post(
        "/api/auth/signup", json={"email": email, "password": TEST_PASSWORD}
    ).status_code


def login(client: TestClient, email: str, password: str = TEST_PASSWORD) -> int:
    return client.post("/api/auth/login", json={"email": email, "password": password}).status_code


def test_signups_over_the_limit_are_429_with_retry_after(
    limited_app: Callable[..., FastAPI],
) -> None:
    with TestClient(limited_app(rate_limit_signup="2/minute")) as client:
        assert [signup(client, f"u{n}@x.io") for n in range(2)] == [201, 201]
        response = client.post(
            "/api/auth/signup", json={"email": "u2@x.io", "password": TEST_PASSWORD}
        )

    assert response.status_code == 429
    assert 0 < int(response.headers["retry-after"]) <= 60
    assert response.json() == {"detail": "Too many requests, try again later"}


def test_a_refused_signup_creates_no_account(limited_app: Callable[..., FastAPI]) -> None:
    with TestClient(limited_app(rate_limit_signup="1/minute")) as client:
        signup(client, "first@x.io")
        signup(client, "second@x.io")
        refused_login = login(client, "second@x.io")

    assert refused_login == 401


def test_logins_from_one_address_over_the_limit_are_429(
    limited_app: Callable[..., FastAPI],
) -> None:
    with TestClient(limited_app(rate_limit_login="3/minute")) as client:
        signup(client, "a@x.io")
        statuses = [login(client, f"guess{n}@x.io") for n in range(3)]
        statuses.append(login(client, "a@x.io"))

    assert statuses == [401, 401, 401, 429]


def test_wrong_passwords_to_one_account_from_one_address_are_429_after_the_limit(
    limited_app: Callable[..., FastAPI],
) -> None:
    with TestClient(limited_app(rate_limit_login_account="2/minute")) as client:
        signup(client, "a@x.io")
        statuses = [login(client, "a@x.io", "wrong pass"), login(client, "A@x.io", "wrong pass")]
        statuses.append(login(client, "a@x.io"))
        statuses.append(login(client, "b@x.io"))  # another account still has its budget

    assert statuses == [401, 401, 429, 401]


def test_a_stranger_cannot_lock_the_owner_out(limited_app: Callable[..., FastAPI]) -> None:
    """Any number of wrong passwords from elsewhere: the owner, from home, still logs in."""
    app = limited_app(rate_limit_login_account="2/minute", rate_limit_login="3/minute")
    with TestClient(app) as owner:
        stranger = from_address(owner, "10.0.0.2")
        signup(owner, "a@x.io")
        attacks = [login(stranger, "a@x.io", "wrong pass") for _ in range(5)]
        owner_login = login(owner, "a@x.io")

    assert attacks == [401, 401, 429, 429, 429]
    assert owner_login == 200


def test_right_passwords_are_never_counted(limited_app: Callable[..., FastAPI]) -> None:
    with TestClient(limited_app(rate_limit_login_account="2/minute")) as client:
        signup(client, "a@x.io")
        statuses = [login(client, "a@x.io") for _ in range(4)]

    assert statuses == [200, 200, 200, 200]


def test_refreshes_over_the_limit_are_429(limited_app: Callable[..., FastAPI]) -> None:
    with TestClient(limited_app(rate_limit_refresh="2/minute")) as client:
        statuses = [
            client.post("/api/auth/refresh", json={"refresh_token": "x"}).status_code
            for _ in range(3)
        ]

    assert statuses == [401, 401, 429]


def reset(client: TestClient, email: str) -> int:
    return client.post("/api/auth/password-reset", json={"email": email}).status_code


def test_resets_from_one_address_over_the_limit_are_429(
    limited_app: Callable[..., FastAPI],
) -> None:
    with TestClient(limited_app(rate_limit_password_reset="3/hour")) as client:
        statuses = [reset(client, f"someone{n}@x.io") for n in range(4)]
        elsewhere = reset(from_address(client, "10.0.0.2"), "someone@x.io")

    assert statuses == [202, 202, 202, 429]
    assert elsewhere == 202


def test_resets_for_one_email_over_the_limit_are_429_from_any_address(
    limited_app: Callable[..., FastAPI],
) -> None:
    with TestClient(limited_app(rate_limit_password_reset_email="2/hour")) as client:
        statuses = [reset(client, "ada@x.io"), reset(client, "ADA@x.io")]
        statuses.append(reset(from_address(client, "10.0.0.2"), "ada@x.io"))
        other_email = reset(client, "grace@x.io")

    assert statuses == [202, 202, 429]
    assert other_email == 202


def test_the_reset_limit_answers_alike_for_known_and_unknown_emails(
    limited_app: Callable[..., FastAPI],
) -> None:
    with TestClient(limited_app(rate_limit_password_reset_email="1/hour")) as client:
        signup(client, "ada@x.io")
        known = [reset(client, "ada@x.io") for _ in range(2)]
        unknown = [reset(client, "nobody@x.io") for _ in range(2)]

    assert known == unknown == [202, 429]


def test_other_routes_are_not_limited(limited_app: Callable[..., FastAPI]) -> None:
    with TestClient(limited_app(rate_limit_signup="1/minute")) as client:
        statuses = {client.get("/api/health").status_code for _ in range(5)}

    assert statuses == {200}


@pytest.mark.usefixtures("db")
def test_with_limits_off_nothing_is_refused(database_url: str) -> None:
    settings = make_settings(database_url, rate_limit_enabled=False, rate_limit_signup="1/hour")
    with TestClient(create_app(settings)) as client:
        statuses = [signup(client, f"u{n}@x.io") for n in range(3)]

    assert statuses == [201, 201, 201]


@pytest.mark.usefixtures("db")
def test_two_processes_sharing_redis_share_one_budget(
    database_url: str, test_redis_url: str
) -> None:
    def replica() -> TestClient:
        settings = make_settings(
            database_url,
            rate_limit_enabled=True,
            redis_url=test_redis_url,
            rate_limit_signup="2/minute",
        )
        return TestClient(create_app(settings))

    with replica() as first, replica() as second:
        statuses = [signup(first, "a@x.io"), signup(second, "b@x.io"), signup(first, "c@x.io")]

    assert statuses == [201, 201, 429]


@pytest.mark.usefixtures("db")
def test_an_unreachable_redis_is_503_not_unlimited(database_url: str) -> None:
    settings = make_settings(
        database_url, rate_limit_enabled=True, redis_url="redis://127.0.0.1:1/0"
    )
    with TestClient(create_app(settings)) as client:
        response = client.post(
            "/api/auth/signup", json={"email": "a@x.io", "password": TEST_PASSWORD}
        )

    assert response.status_code == 503


def test_the_limited_routes_document_their_429() -> None:
    with TestClient(create_app(make_settings("sqlite://"))) as client:
        paths = client.get("/openapi.json").json()["paths"]

    limited = [
        "/api/auth/signup",
        "/api/auth/login",
        "/api/auth/refresh",
        "/api/auth/password-reset",
        "/api/auth/verify-email/resend",
    ]
    for path in limited:
        assert "Retry-After" in paths[path]["post"]["responses"]["429"]["headers"]
