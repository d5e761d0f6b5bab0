"""What every response carries (request id, nosniff), CORS, body size, and the access log."""

import asyncio
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from email.message import EmailMessage

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from contacts_api.app import create_app
from contacts_api.mail.outbox import Mailer
from contacts_api.models import User
from tests.conftest import SUITE_OUTBOX, TEST_PASSWORD, Account, make_settings
from tests.contacts import payload


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/health"), ("GET", "/api/users/me"), ("GET", "/nowhere"), ("GET", "/docs")],
)
def test_every_response_has_a_request_id_and_nosniff(
    client: TestClient, method: str, path: str
) -> None:
    response = client.request(method, path)

    assert len(response.headers["x-request-id"]) >= 16
    assert response.headers["x-content-type-options"] == "nosniff"


def test_a_plain_request_id_from_the_client_is_echoed(client: TestClient) -> None:
    response = client.get("/api/health", headers={"X-Request-ID": "trace-42.abc_DEF"})

    assert response.headers["x-request-id"] == "trace-42.abc_DEF"


@pytest.mark.parametrize("sent", ["has space", "x" * 129, "new\\nline", "ünicode"])
def test_an_unusable_request_id_is_replaced(client: TestClient, sent: str) -> None:
    response = client.get("/api/health", headers={"X-Request-ID": sent.encode()})

    assert response.headers["x-request-id"] != sent


def test_each_request_gets_its_own_id(client: TestClient) -> None:
    first = client.get("/api/health").headers["x-request-id"]

    assert client.get("/api/health").headers["x-request-id"] != first


def test_no_cross_origin_request_is_allowed_by_default(client: TestClient) -> None:
    response = client.options(
        "/api/contacts",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )

    assert "access-control-allow-origin" not in response.headers


@pytest.mark.usefixtures("db")
def test_origins_in_the_setting_are_allowed(database_url: str) -> None:
    settings = make_settings(database_url, cors_origins="https://app.example, https://b.example")

    with TestClient(create_app(settings)) as client:
        response = client.options(
            "/api/contacts",
            headers={
                "Origin": "https://app.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "Authorization, Content-Type",
            },
        )

    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "https://app.example"


def test_a_body_over_the_limit_is_413_and_stores_nothing(
    client: TestClient, account: Account
) -> None:
    huge = payload(notes="n" * (10 * 1024 * 1024))

    response = client.post("/api/contacts", json=huge, headers=account.headers)

    assert response.status_code == 413
    assert client.get("/api/contacts", headers=account.headers).json()["total"] == 0


@pytest.mark.usefixtures("db")
def test_the_body_limit_is_a_setting(database_url: str) -> None:
    with TestClient(create_app(make_settings(database_url, max_body_bytes=2048))) as client:
        response = client.post("/api/auth/signup", json={"email": "a@x.io", "password": "p" * 3000})

    assert response.status_code == 413


def test_a_body_under_the_limit_is_read(client: TestClient, account: Account) -> None:
    response = client.post("/api/contacts", json=payload(notes="n" * 2000), headers=account.headers)

    assert response.status_code == 201


def test_each_request_writes_one_access_line_with_its_fields(
    client: TestClient, account: Account, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="contacts_api.access"):
        response = client.get("/api/users/me", headers=account.headers)

    (line,) = [r.getMessage() for r in caplog.records if r.name == "contacts_api.access"]
    assert "method=GET path=/api/users/me status=200 duration_ms=" in line
    assert f"request_id={response.headers['x-request-id']}" in line
    assert line.endswith(f"user_id={account.id}")


def test_no_password_token_or_hash_ever_reaches_the_logs(
    client: TestClient, db: Session, caplog: pytest.LogCaptureFixture
) -> None:
    credentials = {"email": "ada@example.com", "password": TEST_PASSWORD}
    with caplog.at_level(logging.DEBUG):
        client.post("/api/auth/signup", json=credentials)
        pair = client.post("/api/auth/login", json=credentials).json()
        auth = {"Authorization": f"Bearer {pair['access_token']}"}
        client.post("/api/contacts", json=payload(), headers=auth)
        client.get("/api/contacts?q=ada", headers=auth)
        pair = client.post(
            "/api/auth/refresh", json={"refresh_token": pair["refresh_token"]}
        ).json()
        client.post("/api/auth/logout", json={"refresh_token": pair["refresh_token"]})
        client.post("/api/auth/login", json=credentials | {"password": "wrong password"})

    logged = "\n".join(r.getMessage() for r in caplog.records)
    hashed = db.exec(select(User.hashed_password)).one()
    assert "path=/api/auth/refresh status=200" in logged
    for secret in [
        TEST_PASSWORD,
        "wrong password",
        pair["access_token"],
        pair["refresh_token"],
        hashed,
    ]:
        assert secret not in logged
    for secret in [pair["access_token"].split(".")[1], pair["refresh_token"].split(".")[2]]:
        assert secret not in logged


class HeldMailer(Mailer):
    """A mailer whose delivery waits until the test lets it go."""

    def __init__(self) -> None:
        super().__init__(sender="contacts_api <no-reply@localhost>", outbox=SUITE_OUTBOX, smtp=None)
        self.delivering = threading.Event()
        self.release = threading.Event()

    async def deliver(self, message: EmailMessage) -> None:
        self.delivering.set()
        await asyncio.to_thread(self.release.wait, 30)


def access_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "contacts_api.access"]


def test_the_access_line_times_the_answer_not_the_mail_sent_after_it(
    app: FastAPI, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    mailer = HeldMailer()
    app.state.account_mail = replace(app.state.account_mail, mailer=mailer)
    credentials = {"email": "ada@example.com", "password": TEST_PASSWORD}

    with caplog.at_level(logging.INFO, logger="contacts_api.access"), ThreadPoolExecutor() as pool:
        signup = pool.submit(client.post, "/api/auth/signup", json=credentials)
        assert mailer.delivering.wait(30), "the sign-up's message was never delivered"
        logged_while_mailing = access_lines(caplog)
        mailer.release.set()
        assert signup.result().status_code == 201

    (line,) = logged_while_mailing
    assert "method=POST path=/api/auth/signup status=201 duration_ms=" in line
    assert access_lines(caplog) == [line]
