"""Email verification, on both databases, against a real SMTP server: sign-up mails a
link, the link's token verifies the email once, a new one can be asked for, and
`REQUIRE_VERIFIED_EMAIL` keeps unverified accounts out."""

from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from contacts_api.app import create_app
from contacts_api.core.config import Settings
from contacts_api.mail.messages import RESET_SUBJECT, VERIFY_SUBJECT
from tests.conftest import TEST_PASSWORD, Account, make_settings
from tests.smtp import SmtpServer, link_in, smtp_server, token_in

PUBLIC_URL = "https://contacts.example.com"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server


def mail_settings(
    database_url: str, smtp: SmtpServer, outbox: Path, **overrides: object
) -> Settings:
    return make_settings(
        database_url,
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_security="none",
        mail_outbox_dir=outbox,
        public_url=PUBLIC_URL,
        **overrides,
    )


@pytest.fixture
def settings(database_url: str, smtp: SmtpServer, tmp_path: Path) -> Settings:
    return mail_settings(database_url, smtp, tmp_path / "outbox")


@pytest.fixture
def make_client(db: Session) -> Callable[[Settings], TestClient]:
    """A client of an app with settings of the test's own, on the emptied database."""
    return lambda settings: TestClient(create_app(settings))


def verifications(smtp: SmtpServer, email: str) -> list[EmailMessage]:
    return [m for m in smtp.inbox.to(email) if m["Subject"] == VERIFY_SUBJECT]


def verify(client: TestClient, token: str) -> int:
    return client.post("/api/auth/verify-email", json={"token": token}).status_code


def me(client: TestClient, account: Account) -> dict:
    return client.get("/api/users/me", headers=account.headers).json()


def resend(client: TestClient, account: Account) -> int:
    return client.post("/api/auth/verify-email/resend", headers=account.headers).status_code


def test_sign_up_mails_a_link_to_the_verification_page(smtp: SmtpServer, account: Account) -> None:
    (message,) = verifications(smtp, account.email)

    assert link_in(message).startswith(f"{PUBLIC_URL}/verify-email?token=")
    assert "48 hours" in message.get_body(("plain",)).get_content()


def test_a_new_account_is_not_verified(client: TestClient, account: Account) -> None:
    assert me(client, account)["email_verified"] is False


def test_the_mailed_token_verifies_the_email(
    client: TestClient, smtp: SmtpServer, account: Account
) -> None:
    (message,) = verifications(smtp, account.email)

    assert verify(client, token_in(message)) == 204
    assert me(client, account)["email_verified"] is True


def test_a_verification_link_works_once(
    client: TestClient, smtp: SmtpServer, account: Account
) -> None:
    token = token_in(verifications(smtp, account.email)[0])

    verify(client, token)

    assert verify(client, token) == 400


@pytest.mark.usefixtures("account")
def test_an_unknown_token_is_a_400(client: TestClient) -> None:
    assert verify(client, "not-a-token-we-ever-sent") == 400


@pytest.mark.parametrize("body", [{}, {"token": 5}, {"token": "\u0000"}])
def test_a_malformed_verification_is_a_422(client: TestClient, body: dict) -> None:
    assert client.post("/api/auth/verify-email", json=body).status_code == 422


def test_a_reset_token_does_not_verify_an_email(
    client: TestClient, smtp: SmtpServer, account: Account
) -> None:
    client.post("/api/auth/password-reset", json={"email": account.email})
    (reset,) = [m for m in smtp.inbox.to(account.email) if m["Subject"] == RESET_SUBJECT]

    assert verify(client, token_in(reset)) == 400
    assert me(client, account)["email_verified"] is False


def test_resend_mails_a_new_link_that_works(
    client: TestClient, smtp: SmtpServer, account: Account
) -> None:
    assert resend(client, account) == 202

    first, second = verifications(smtp, account.email)
    assert token_in(first) != token_in(second)
    assert verify(client, token_in(second)) == 204


def test_resend_once_verified_is_a_409(
    client: TestClient, smtp: SmtpServer, account: Account
) -> None:
    verify(client, token_in(verifications(smtp, account.email)[0]))

    assert resend(client, account) == 409
    assert len(verifications(smtp, account.email)) == 1


def test_resend_needs_a_token(client: TestClient) -> None:
    assert client.post("/api/auth/verify-email/resend").status_code == 401


def test_resend_is_rate_limited_per_account(
    database_url: str, smtp: SmtpServer, tmp_path: Path, make_client: Callable[..., TestClient]
) -> None:
    settings = mail_settings(
        database_url,
        smtp,
        tmp_path,
        rate_limit_enabled=True,
        rate_limit_verification_resend="2/hour",
    )
    with make_client(settings) as client:
        credentials = {"email": "ada@example.com", "password": TEST_PASSWORD}
        client.post("/api/auth/signup", json=credentials)
        tokens = client.post("/api/auth/login", json=credentials).json()
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}

        codes = [
            client.post("/api/auth/verify-email/resend", headers=headers).status_code
            for _ in range(3)
        ]

    assert codes == [202, 202, 429]
    assert len(verifications(smtp, "ada@example.com")) == 3  # sign-up's and two resent


CREDENTIALS = {"email": "ada@example.com", "password": TEST_PASSWORD}


@pytest.fixture
def strict_client(
    database_url: str, smtp: SmtpServer, tmp_path: Path, make_client: Callable[..., TestClient]
) -> Iterator[TestClient]:
    """An app with `REQUIRE_VERIFIED_EMAIL=true`, where ada has just signed up."""
    settings = mail_settings(database_url, smtp, tmp_path, require_verified_email=True)
    with make_client(settings) as client:
        client.post("/api/auth/signup", json=CREDENTIALS)
        yield client


def test_with_verified_email_required_an_unverified_login_is_a_403(
    strict_client: TestClient, smtp: SmtpServer
) -> None:
    client, credentials = strict_client, CREDENTIALS
    refused = client.post("/api/auth/login", json=credentials)
    wrong = client.post("/api/auth/login", json=credentials | {"password": "not the one"})
    verify(client, token_in(verifications(smtp, "ada@example.com")[0]))
    allowed = client.post("/api/auth/login", json=credentials)

    assert refused.status_code == 403
    assert "verify" in refused.json()["detail"].lower()
    assert wrong.status_code == 401  # a wrong password learns nothing about verification
    assert allowed.status_code == 200


def test_with_verified_email_required_a_reset_link_also_lets_the_owner_in(
    strict_client: TestClient, smtp: SmtpServer
) -> None:
    client = strict_client
    client.post("/api/auth/password-reset", json={"email": "ada@example.com"})
    (reset,) = [m for m in smtp.inbox.to("ada@example.com") if m["Subject"] == RESET_SUBJECT]
    new = {"token": token_in(reset), "new_password": "a brand new passphrase"}
    client.post("/api/auth/password-reset/confirm", json=new)

    login = client.post(
        "/api/auth/login", json=CREDENTIALS | {"password": "a brand new passphrase"}
    )

    assert login.status_code == 200


def test_unverified_accounts_log_in_by_default(client: TestClient, account: Account) -> None:
    assert me(client, account)["email_verified"] is False  # and `account` logged in


def test_an_international_domain_gets_its_mail_at_the_ascii_address(
    client: TestClient, smtp: SmtpServer
) -> None:
    credentials = {"email": "ada@пример.рф", "password": TEST_PASSWORD}

    assert client.post("/api/auth/signup", json=credentials).status_code == 201

    (message,) = smtp.inbox.messages
    assert message["To"] == "ada@xn--e1afmkfd.xn--p1ai"
    assert link_in(message).startswith(f"{PUBLIC_URL}/verify-email?token=")
