"""The pages a mailed link opens: shown by a `GET` that changes nothing, completed by a
form's `POST`, self-contained (nothing loaded from elsewhere), and never leaking the
token they carry. Messages go to an outbox here (no SMTP server), as by default."""

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from contacts_api.core.config import Settings
from contacts_api.mail.messages import RESET_SUBJECT, VERIFY_SUBJECT
from tests.conftest import TEST_PASSWORD, Account, make_settings
from tests.smtp import read_eml, token_in

NEW_PASSWORD = "a brand new passphrase"
FOREIGN = ("http://", "https://", "//")


@pytest.fixture
def outbox(tmp_path: Path) -> Path:
    return tmp_path / "outbox"


@pytest.fixture
def settings(database_url: str, outbox: Path) -> Settings:
    return make_settings(database_url, mail_outbox_dir=outbox)


def token_of(outbox: Path, subject: str) -> str:
    """The token of the one message with `subject` in the outbox."""
    (message,) = [m for m in map(read_eml, outbox.glob("*.eml")) if m["Subject"] == subject]
    return token_in(message)


@pytest.fixture
def reset_token(client: TestClient, account: Account, outbox: Path) -> str:
    client.post("/api/auth/password-reset", json={"email": account.email})
    return token_of(outbox, RESET_SUBJECT)


@pytest.fixture
def verification_token(account: Account, outbox: Path) -> str:
    return token_of(outbox, VERIFY_SUBJECT)


def post_reset(client: TestClient, token: str, new: str, repeat: str | None = None) -> object:
    form = {"token": token, "new_password": new, "repeat_password": repeat or new}
    return client.post("/reset-password", data=form)


def login_status(client: TestClient, account: Account, password: str) -> int:
    credentials = {"email": account.email, "password": password}
    return client.post("/api/auth/login", json=credentials).status_code


def verified(client: TestClient, account: Account) -> bool:
    return client.get("/api/users/me", headers=account.headers).json()["email_verified"]


def test_the_reset_page_shows_a_form_that_posts_the_token_back(
    client: TestClient, reset_token: str
) -> None:
    page = client.get("/reset-password", params={"token": reset_token})

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<form method="post" action="reset-password">' in page.text
    assert f'name="token" value="{reset_token}"' in page.text
    assert 'autocomplete="new-password"' in page.text


def test_a_link_page_loads_nothing_from_elsewhere_and_leaks_no_referrer(
    client: TestClient, reset_token: str
) -> None:
    page = client.get("/reset-password", params={"token": reset_token})

    assert "<script" not in page.text
    assert "<link" not in page.text
    assert not any(prefix in page.text for prefix in FOREIGN)
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "form-action 'self'" in policy
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"


def test_opening_the_reset_page_spends_nothing(client: TestClient, reset_token: str) -> None:
    for _ in range(3):
        assert client.get("/reset-password", params={"token": reset_token}).status_code == 200

    assert post_reset(client, reset_token, NEW_PASSWORD).status_code == 200


def test_the_reset_form_sets_the_new_password(
    client: TestClient, account: Account, reset_token: str
) -> None:
    done = post_reset(client, reset_token, NEW_PASSWORD)

    assert done.status_code == 200
    assert "Password changed" in done.text
    assert login_status(client, account, NEW_PASSWORD) == 200
    assert login_status(client, account, TEST_PASSWORD) == 401


def test_the_reset_form_works_once(client: TestClient, reset_token: str) -> None:
    post_reset(client, reset_token, NEW_PASSWORD)

    again = post_reset(client, reset_token, "yet another passphrase")

    assert again.status_code == 400
    assert "already used" in again.text


def test_two_different_passwords_show_the_form_again_and_keep_the_link(
    client: TestClient, account: Account, reset_token: str
) -> None:
    page = post_reset(client, reset_token, NEW_PASSWORD, "a different passphrase")

    assert page.status_code == 422
    assert "differ" in page.text
    assert f'value="{reset_token}"' in page.text
    assert login_status(client, account, TEST_PASSWORD) == 200


@pytest.mark.parametrize(
    ("password", "problem"),
    [("short", "at least 8 characters"), ("é" * 37, "at most 72 bytes")],
)
def test_a_password_that_breaks_the_rules_is_explained_on_the_page(
    client: TestClient, reset_token: str, password: str, problem: str
) -> None:
    page = post_reset(client, reset_token, password)

    assert page.status_code == 422
    assert problem in page.text
    assert password not in page.text


@pytest.mark.parametrize("path", ["/reset-password", "/verify-email"])
@pytest.mark.parametrize("query", ["", "?token=", "?token=nothing-we-sent"])
def test_a_page_with_an_unusable_link_says_so(client: TestClient, path: str, query: str) -> None:
    page = client.get(path + query)

    assert page.status_code == 400
    assert "ask for a new one" in page.text.lower()
    assert "<form" not in page.text


def test_what_a_form_sends_back_is_escaped_on_the_page(client: TestClient) -> None:
    token = '"><script>alert(1)</script>'

    page = post_reset(client, token, NEW_PASSWORD, "a different passphrase")

    assert "<script>" not in page.text
    assert "&quot;&gt;&lt;script&gt;" in page.text


def test_the_verification_page_asks_for_a_click_and_opening_it_verifies_nothing(
    client: TestClient, account: Account, verification_token: str
) -> None:
    page = client.get("/verify-email", params={"token": verification_token})

    assert page.status_code == 200
    assert '<form method="post" action="verify-email">' in page.text
    assert verified(client, account) is False


def test_the_verification_button_verifies_the_email(
    client: TestClient, account: Account, verification_token: str
) -> None:
    done = client.post("/verify-email", data={"token": verification_token})

    assert done.status_code == 200
    assert "confirmed" in done.text
    assert verified(client, account) is True
    assert client.post("/verify-email", data={"token": verification_token}).status_code == 400


def test_the_pages_are_not_part_of_the_api_schema(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]

    assert "/reset-password" not in paths
    assert "/verify-email" not in paths
