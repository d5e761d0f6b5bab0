"""The app's outbox worker: messages the SMTP server did not take are sent once it does,
those of this run and those an earlier run left in the outbox."""

import asyncio
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from contacts_api.app import create_app
from contacts_api.core.config import Settings
from contacts_api.mail.messages import VERIFY_SUBJECT
from contacts_api.mail.outbox import Mailer
from scripts.localhost import free_port
from tests.conftest import TEST_PASSWORD, make_settings
from tests.smtp import eventually, smtp_server

QUICK_RETRIES = "0.05"  # the worker's wait between passes: the suite does not wait for it


def mailing_settings(database_url: str, outbox: Path, smtp_port: int) -> Settings:
    return make_settings(
        database_url,
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
        smtp_security="none",
        mail_outbox_dir=outbox,
        mail_retry_seconds=QUICK_RETRIES,
    )


@pytest.mark.usefixtures("db")
def test_a_message_kept_while_the_mail_server_was_down_is_sent_once_it_is_back(
    database_url: str, tmp_path: Path
) -> None:
    port = free_port()  # nothing listens there yet
    with TestClient(create_app(mailing_settings(database_url, tmp_path, port))) as client:
        credentials = {"email": "ada@example.com", "password": TEST_PASSWORD}
        assert client.post("/api/auth/signup", json=credentials).status_code == 201
        (kept,) = tmp_path.glob("*.eml")

        with smtp_server(port) as server:
            (message,) = eventually(lambda: server.inbox.messages)
            eventually(lambda: not kept.exists())

    assert message["Subject"] == VERIFY_SUBJECT
    assert message["To"] == "ada@example.com"


@pytest.mark.usefixtures("db")
def test_a_message_left_in_the_outbox_before_the_start_is_sent_after_it(
    database_url: str, tmp_path: Path
) -> None:
    earlier_run = Mailer(sender="contacts_api <no-reply@localhost>", outbox=tmp_path, smtp=None)
    left = earlier_run.compose(to="ada@example.com", subject="Left behind", text="Hello\n")
    asyncio.run(earlier_run.deliver(left))

    with smtp_server() as server:
        app = create_app(mailing_settings(database_url, tmp_path, server.port))
        with TestClient(app):
            (message,) = eventually(lambda: server.inbox.messages)
            eventually(lambda: not list(tmp_path.glob("*.eml")))

    assert message["Subject"] == "Left behind"
