"""The service as a real process: a reset answers as fast for an unknown email as for a
known one, and a person in Chromium follows the mailed links to a new password and a
verified email. Links are read from the outbox, where messages go by default."""

import statistics
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import httpx2
import pytest

from contacts_api.mail.messages import RESET_SUBJECT, VERIFY_SUBJECT
from tests.browser import browser_page, needs_chromium
from tests.conftest import TEST_PASSWORD
from tests.servers import one_command_run
from tests.smtp import SmtpServer, eventually, link_in, read_eml, smtp_server

EMAIL = "ada@example.com"
NEW_PASSWORD = "a brand new passphrase"
ROUNDS = 15


def link_of(outbox: Path, subject: str) -> str:
    """The link of the one message with `subject`, once it has been written."""
    (message,) = eventually(
        lambda: [m for m in map(read_eml, outbox.glob("*.eml")) if m["Subject"] == subject]
    )
    return link_in(message)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """`python -m contacts_api` on a new SQLite file, one account signed up: (URL, outbox)."""
    with one_command_run(tmp_path, BCRYPT_ROUNDS="4", RATE_LIMIT_ENABLED="false") as (_, url):
        credentials = {"email": EMAIL, "password": TEST_PASSWORD}
        httpx2.post(f"{url}/api/auth/signup", json=credentials).raise_for_status()
        yield url, tmp_path / "data" / "outbox"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server


def resets(smtp: SmtpServer) -> list[EmailMessage]:
    return [m for m in smtp.inbox.messages if m["Subject"] == RESET_SUBJECT]


@pytest.mark.usefixtures("db")
def test_a_reset_for_an_unknown_email_takes_about_as_long_as_for_a_known_one(
    database_url: str, smtp: SmtpServer, tmp_path: Path
) -> None:
    settings = {
        "DATABASE_URL": database_url,
        "BCRYPT_ROUNDS": "4",
        "RATE_LIMIT_ENABLED": "false",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp.port),
        "SMTP_SECURITY": "none",
        "LOG_LEVEL": "WARNING",
    }
    with one_command_run(tmp_path, **settings) as (_, url), httpx2.Client(base_url=url) as client:
        client.post("/api/auth/signup", json={"email": EMAIL, "password": TEST_PASSWORD})
        timings: dict[str, list[float]] = {EMAIL: [], "nobody@example.com": []}
        for _ in range(ROUNDS + 1):  # the first round warms the connections up
            for email, seconds in timings.items():
                started = time.perf_counter()
                response = client.post("/api/auth/password-reset", json={"email": email})
                seconds.append(time.perf_counter() - started)
                assert response.status_code == 202
        sent = eventually(lambda: len(resets(smtp)) == ROUNDS + 1 and resets(smtp))

    known, unknown = (statistics.median(seconds[1:]) for seconds in timings.values())
    print(f"reset: known {known * 1000:.2f} ms, unknown {unknown * 1000:.2f} ms (medians)")
    assert max(known, unknown) <= 3 * min(known, unknown)
    assert all(message["To"] == EMAIL for message in sent)


@needs_chromium
def test_a_person_resets_their_password_from_the_mailed_link_in_a_browser(
    server: tuple[str, Path],
) -> None:
    from playwright.sync_api import expect

    url, outbox = server
    httpx2.post(f"{url}/api/auth/password-reset", json={"email": EMAIL})
    link = link_of(outbox, RESET_SUBJECT)
    assert link.startswith(f"{url}/reset-password?token=")

    with browser_page("reset-password.png") as page:
        page.goto(link)
        page.get_by_label("New password").fill(NEW_PASSWORD)
        page.get_by_label("The same again").fill(NEW_PASSWORD)
        page.get_by_role("button", name="Set the new password").click()
        expect(page.get_by_role("heading")).to_have_text("Password changed")

    login = httpx2.post(f"{url}/api/auth/login", json={"email": EMAIL, "password": NEW_PASSWORD})
    assert login.status_code == 200


@needs_chromium
def test_a_person_confirms_their_email_from_the_mailed_link_in_a_browser(
    server: tuple[str, Path],
) -> None:
    from playwright.sync_api import expect

    url, outbox = server
    link = link_of(outbox, VERIFY_SUBJECT)

    with browser_page("verify-email.png") as page:
        page.goto(link)
        page.get_by_role("button", name="Confirm my email").click()
        expect(page.get_by_role("heading")).to_have_text("Email confirmed")

    credentials = {"email": EMAIL, "password": TEST_PASSWORD}
    tokens = httpx2.post(f"{url}/api/auth/login", json=credentials).json()
    me = httpx2.get(
        f"{url}/api/users/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert me.json()["email_verified"] is True
