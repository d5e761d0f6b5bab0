"""Password reset by mail, on both databases, against a real SMTP server: the message
is received, its link parsed and its token used, as a person would."""

import hashlib
import logging
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select, text, update

from contacts_api.app import create_app
from contacts_api.core.clock import utcnow
from contacts_api.core.config import Settings
from contacts_api.crud import links
from contacts_api.mail.messages import RESET_SUBJECT, VERIFY_SUBJECT
from contacts_api.models import LinkPurpose, LinkToken, User
from scripts.localhost import free_port
from tests.conftest import TEST_PASSWORD, Account, make_settings, on_engine
from tests.smtp import SmtpServer, link_in, read_eml, smtp_server, token_in

NEW_PASSWORD = "a brand new passphrase"
PUBLIC_URL = "https://contacts.example.com"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def settings(database_url: str, smtp: SmtpServer, tmp_path: Path) -> Settings:
    return make_settings(
        database_url,
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_security="none",
        mail_outbox_dir=tmp_path / "outbox",
        public_url=PUBLIC_URL,
    )


def ask_reset(client: TestClient, email: str) -> object:
    return client.post("/api/auth/password-reset", json={"email": email})


def confirm(client: TestClient, token: str, password: str = NEW_PASSWORD) -> int:
    response = client.post(
        "/api/auth/password-reset/confirm", json={"token": token, "new_password": password}
    )
    return response.status_code


def resets(smtp: SmtpServer, email: str) -> list[EmailMessage]:
    """The reset messages `email` received (sign-up sent it a verification message too)."""
    return [m for m in smtp.inbox.to(email) if m["Subject"] == RESET_SUBJECT]


def reset_token(client: TestClient, smtp: SmtpServer, email: str) -> str:
    """Ask for a reset and take the token out of the link the message brings."""
    assert ask_reset(client, email).status_code == 202
    return token_in(resets(smtp, email)[-1])


def reset_links(db: Session) -> list[LinkToken]:
    return list(db.exec(select(LinkToken).where(LinkToken.purpose == LinkPurpose.PASSWORD_RESET)))


def reset_message(client: TestClient, smtp: SmtpServer, email: str) -> EmailMessage:
    ask_reset(client, email)
    return resets(smtp, email)[-1]


def login_status(client: TestClient, email: str, password: str) -> int:
    return client.post("/api/auth/login", json={"email": email, "password": password}).status_code


def test_a_known_email_gets_a_message_with_a_link_to_the_reset_page(
    client: TestClient, smtp: SmtpServer, account: Account
) -> None:
    response = ask_reset(client, account.email)

    assert response.status_code == 202
    (message,) = resets(smtp, account.email)
    assert message["From"] == "contacts_api <no-reply@localhost>"
    assert link_in(message).startswith(f"{PUBLIC_URL}/reset-password?token=")
    assert "30 minutes" in message.get_body(("plain",)).get_content()


def test_known_and_unknown_emails_get_the_same_answer(
    client: TestClient, smtp: SmtpServer, account: Account
) -> None:
    known = ask_reset(client, account.email)
    unknown = ask_reset(client, "nobody@example.com")

    assert (unknown.status_code, unknown.content) == (known.status_code, known.content)
    assert smtp.inbox.to("nobody@example.com") == []


def test_the_email_is_matched_in_any_case(
    client: TestClient, smtp: SmtpServer, account: Account
) -> None:
    ask_reset(client, account.email.upper())

    assert len(resets(smtp, account.email)) == 1


def test_a_reset_sets_the_new_password_and_the_old_one_stops_working(
    client: TestClient, smtp: SmtpServer, account: Account
) -> None:
    token = reset_token(client, smtp, account.email)

    assert confirm(client, token) == 204
    assert login_status(client, account.email, NEW_PASSWORD) == 200
    assert login_status(client, account.email, TEST_PASSWORD) == 401


def test_a_reset_ends_every_login_and_every_token_issued_before(
    client: TestClient, smtp: SmtpServer, account: Account
) -> None:
    token = reset_token(client, smtp, account.email)

    confirm(client, token)

    assert client.get("/api/users/me", headers=account.headers).status_code == 401
    refreshed = client.post("/api/auth/refresh", json={"refresh_token": account.refresh_token})
    assert refreshed.status_code == 401


def test_a_reset_link_works_once(client: TestClient, smtp: SmtpServer, account: Account) -> None:
    token = reset_token(client, smtp, account.email)

    assert confirm(client, token) == 204
    assert confirm(client, token, "yet another passphrase") == 400
    assert login_status(client, account.email, NEW_PASSWORD) == 200


def test_an_unknown_token_is_a_400(client: TestClient) -> None:
    assert confirm(client, "not-a-token-we-ever-sent") == 400


def test_an_expired_link_is_a_400(
    client: TestClient, smtp: SmtpServer, account: Account, db: Session
) -> None:
    token = reset_token(client, smtp, account.email)
    db.exec(update(LinkToken).values(expires_at=utcnow() - timedelta(seconds=1)))  # all links
    db.commit()

    assert confirm(client, token) == 400
    assert login_status(client, account.email, TEST_PASSWORD) == 200


def test_a_link_expires_after_the_configured_minutes(
    client: TestClient, smtp: SmtpServer, account: Account, db: Session
) -> None:
    reset_token(client, smtp, account.email)

    (link,) = reset_links(db)
    assert link.expires_at - link.created_at == timedelta(minutes=30)


def test_a_new_password_that_breaks_the_rules_is_a_422_and_keeps_the_link(
    client: TestClient, smtp: SmtpServer, account: Account
) -> None:
    token = reset_token(client, smtp, account.email)

    response = client.post(
        "/api/auth/password-reset/confirm", json={"token": token, "new_password": "x1y2z3"}
    )

    assert response.status_code == 422
    assert "x1y2z3" not in response.text
    assert token not in response.text
    assert confirm(client, token) == 204


@pytest.mark.parametrize(
    "body", [{}, {"token": "x"}, {"new_password": NEW_PASSWORD}, {"token": 1, "new_password": 2}]
)
def test_a_malformed_confirmation_is_a_422(client: TestClient, body: dict) -> None:
    assert client.post("/api/auth/password-reset/confirm", json=body).status_code == 422


@pytest.mark.parametrize("email", ["", "not-an-email", "a@", None])
def test_a_malformed_email_is_a_422(client: TestClient, email: object) -> None:
    assert ask_reset(client, email).status_code == 422


def test_only_a_hash_of_the_token_is_stored(
    client: TestClient, smtp: SmtpServer, account: Account, db: Session
) -> None:
    token = reset_token(client, smtp, account.email)

    (link,) = reset_links(db)
    assert link.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in repr(db.exec(text("SELECT * FROM link_tokens")).all())


def test_a_used_link_spends_every_other_reset_link_of_the_account(
    client: TestClient, smtp: SmtpServer, account: Account
) -> None:
    first = reset_token(client, smtp, account.email)
    second = reset_token(client, smtp, account.email)

    assert confirm(client, second) == 204
    assert confirm(client, first, "yet another passphrase") == 400


def test_a_password_change_spends_the_reset_links_in_the_mailbox(
    client: TestClient, smtp: SmtpServer, account: Account
) -> None:
    token = reset_token(client, smtp, account.email)
    changed = client.post(
        "/api/users/me/password",
        json={"current_password": TEST_PASSWORD, "new_password": NEW_PASSWORD},
        headers=account.headers,
    )
    assert changed.status_code == 200

    assert confirm(client, token, "yet another passphrase") == 400


def test_a_reset_proves_the_email_so_it_becomes_verified(
    client: TestClient, smtp: SmtpServer, account: Account, db: Session
) -> None:
    confirm(client, reset_token(client, smtp, account.email))

    assert db.exec(select(User.email_verified)).one() is True


def test_a_verification_token_cannot_reset_a_password(
    client: TestClient, smtp: SmtpServer, account: Account
) -> None:
    (verification,) = [m for m in smtp.inbox.to(account.email) if m["Subject"] == VERIFY_SUBJECT]

    assert confirm(client, token_in(verification)) == 400


def test_the_log_never_holds_the_token(
    client: TestClient, smtp: SmtpServer, account: Account, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="contacts_api"):
        token = reset_token(client, smtp, account.email)
        confirm(client, token)

    ours = [r.getMessage() for r in caplog.records if r.name.startswith("contacts_api")]
    assert any("Reset your contacts_api password" in line for line in ours)
    assert not any(token in line for line in ours)


def test_the_reset_page_link_opened_by_a_get_spends_nothing(
    client: TestClient, smtp: SmtpServer, account: Account
) -> None:
    link = link_in(reset_message(client, smtp, account.email))
    path = link.removeprefix(PUBLIC_URL)

    assert client.get(path).status_code == 200
    assert client.get(path).status_code == 200
    assert confirm(client, token_in(resets(smtp, account.email)[-1])) == 204


@pytest.mark.usefixtures("db")
def test_a_mail_server_that_is_down_leaves_the_request_unharmed_and_the_message_kept(
    database_url: str, tmp_path: Path
) -> None:
    outbox = tmp_path / "kept"
    settings = make_settings(
        database_url,
        smtp_host="127.0.0.1",
        smtp_port=free_port(),  # nothing listens there
        smtp_security="none",
        mail_outbox_dir=outbox,
    )
    app: FastAPI = create_app(settings)
    with TestClient(app) as client:
        credentials = {"email": "ada@example.com", "password": TEST_PASSWORD}
        assert client.post("/api/auth/signup", json=credentials).status_code == 201
        response = ask_reset(client, "ada@example.com")

    assert response.status_code == 202
    subjects = sorted(read_eml(path)["Subject"] for path in outbox.glob("*.eml"))
    assert subjects == ["Confirm your email for contacts_api", "Reset your contacts_api password"]


@pytest.mark.usefixtures("db")
def test_the_link_lifetime_follows_the_setting_and_the_message_says_it(
    database_url: str, smtp: SmtpServer, tmp_path: Path
) -> None:
    settings = make_settings(
        database_url,
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_security="none",
        mail_outbox_dir=tmp_path,
        password_reset_expire_minutes=60,
    )
    with TestClient(create_app(settings)) as client:
        credentials = {"email": "ada@example.com", "password": TEST_PASSWORD}
        client.post("/api/auth/signup", json=credentials)
        ask_reset(client, "ada@example.com")

    (message,) = resets(smtp, "ada@example.com")
    assert "within 1 hour:" in message.get_body(("plain",)).get_content()


def test_expired_links_are_purged_and_live_ones_kept(
    client: TestClient, smtp: SmtpServer, account: Account, database_url: str, db: Session
) -> None:
    token = reset_token(client, smtp, account.email)  # and sign-up's verification link
    after_reset_expiry = utcnow() + timedelta(minutes=31)

    purged = on_engine(database_url, lambda e: links.purge_expired(e, now=after_reset_expiry))

    assert purged == 1
    assert [link.purpose for link in db.exec(select(LinkToken)).all()] == [
        LinkPurpose.EMAIL_VERIFICATION
    ]
    assert confirm(client, token) == 400


def test_deleting_the_account_deletes_its_links(
    client: TestClient, smtp: SmtpServer, account: Account, db: Session
) -> None:
    reset_token(client, smtp, account.email)

    deleted = client.request(
        "DELETE", "/api/users/me", json={"password": TEST_PASSWORD}, headers=account.headers
    )

    assert deleted.status_code == 204
    assert db.exec(select(LinkToken)).all() == []
