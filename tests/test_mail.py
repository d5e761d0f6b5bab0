"""The mail component: the outbox, SMTP in each security mode, retries, and the log.

Against a real SMTP server (aiosmtpd) on a local port; no database needed.
"""

import asyncio
import logging
import stat
from collections.abc import Callable
from contextlib import ExitStack
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword

from contacts_api.core.config import Settings, SmtpSecurity
from contacts_api.mail import outbox
from contacts_api.mail.outbox import Mailer, SmtpServer
from scripts.localhost import free_port
from tests.smtp import SmtpServer as SmtpTestServer
from tests.smtp import link_in, read_eml, self_signed_tls, smtp_server

SECRET_LINK = "http://127.0.0.1:8000/reset-password?token=" + "s3cr3t" * 8
QUICK_RETRIES = (0.01, 0.01)


def mailer(outbox: Path, smtp: SmtpServer | None = None, **options: object) -> Mailer:
    return Mailer(sender="contacts_api <no-reply@example.com>", outbox=outbox, smtp=smtp, **options)


def compose(mail: Mailer, text: str = f"Open this:\n\n{SECRET_LINK}\n") -> EmailMessage:
    return mail.compose(to="ada@example.com", subject="Reset your password", text=text)


def deliver(mail: Mailer) -> None:
    asyncio.run(mail.deliver(compose(mail)))


def plain(port: int) -> SmtpServer:
    return SmtpServer(host="127.0.0.1", port=port, security=SmtpSecurity.NONE)


def test_without_smtp_the_message_is_an_eml_file_only_its_owner_reads(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"

    deliver(mailer(outbox))

    (path,) = outbox.glob("*.eml")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(outbox.stat().st_mode) == 0o700
    message = read_eml(path)
    assert message["To"] == "ada@example.com"
    assert message["From"] == "contacts_api <no-reply@example.com>"
    assert message["Subject"] == "Reset your password"
    assert message["Message-ID"].endswith("@example.com>")
    assert link_in(message) == SECRET_LINK


def test_the_link_stays_whole_on_one_line_of_the_raw_file(tmp_path: Path) -> None:
    deliver(mailer(tmp_path))

    (path,) = tmp_path.glob("*.eml")
    assert SECRET_LINK in path.read_text().splitlines()


def test_the_log_names_the_file_and_never_the_link(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="contacts_api.mail.outbox"):
        deliver(mailer(tmp_path))

    (path,) = tmp_path.glob("*.eml")
    assert str(path) in caplog.text
    assert "s3cr3t" not in caplog.text


def test_with_smtp_the_server_gets_the_message_and_the_outbox_is_emptied(
    tmp_path: Path,
) -> None:
    with smtp_server() as server:
        deliver(mailer(tmp_path, plain(server.port)))

    (message,) = server.inbox.messages
    assert message["Subject"] == "Reset your password"
    assert link_in(message) == SECRET_LINK
    assert list(tmp_path.glob("*.eml")) == []


def test_a_server_that_is_down_leaves_the_message_in_the_outbox_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    down = plain(free_port())

    with caplog.at_level(logging.INFO, logger="contacts_api.mail.outbox"):
        deliver(mailer(tmp_path, down))

    (path,) = tmp_path.glob("*.eml")
    assert link_in(read_eml(path)) == SECRET_LINK
    (attempt,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert str(path) in attempt.getMessage()
    assert "s3cr3t" not in caplog.text


async def sent_by_the_worker(mail: Mailer, outbox: Path, while_running: Callable[[], None]) -> None:
    """Run the outbox worker until `outbox` is empty, calling `while_running` once it runs."""
    async with mail.outbox_worker():
        await asyncio.sleep(0)
        while_running()
        async with asyncio.timeout(10):
            while list(outbox.glob("*.eml")):
                await asyncio.sleep(0.01)


def test_the_outbox_worker_sends_a_kept_message_once_the_server_is_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    mail = mailer(tmp_path, plain(port), retry_delays=QUICK_RETRIES)
    deliver(mail)  # the server is down: the message is kept
    (kept,) = tmp_path.glob("*.eml")

    with caplog.at_level(logging.INFO, logger="contacts_api.mail.outbox"), ExitStack() as later:

        def start_the_server() -> None:
            servers.append(later.enter_context(smtp_server(port)))

        servers: list[SmtpTestServer] = []
        asyncio.run(sent_by_the_worker(mail, tmp_path, start_the_server))

    (server,) = servers
    (message,) = server.inbox.messages
    assert link_in(message) == SECRET_LINK
    assert f"{kept} sent through" in caplog.text
    assert "s3cr3t" not in caplog.text


def test_the_outbox_worker_sends_what_an_earlier_run_left(tmp_path: Path) -> None:
    deliver(mailer(tmp_path))  # spooled with no server: as a run that stopped would leave it

    with smtp_server() as server:
        mail = mailer(tmp_path, plain(server.port), retry_delays=QUICK_RETRIES)
        asyncio.run(sent_by_the_worker(mail, tmp_path, lambda: None))

    (message,) = server.inbox.messages
    assert link_in(message) == SECRET_LINK


def test_the_worker_never_sends_again_a_message_being_sent_at_once(tmp_path: Path) -> None:
    async def deliver_ten_while_the_worker_runs(mail: Mailer) -> None:
        async with mail.outbox_worker():
            await asyncio.gather(*(mail.deliver(compose(mail)) for _ in range(10)))

    with smtp_server() as server:
        # The worker looks at the outbox every millisecond, as each message is sent.
        mail = mailer(tmp_path, plain(server.port), retry_delays=(0.001,))
        asyncio.run(deliver_ten_while_the_worker_runs(mail))

    assert len(server.inbox.messages) == 10
    assert list(tmp_path.glob("*.eml")) == []


def accept_ada(*args: object) -> AuthResult:
    """aiosmtpd's authenticator: (server, session, envelope, mechanism, auth data)."""
    auth_data = args[-1]
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        b"ada",
        b"mail-password",
    )
    return AuthResult(success=ok, handled=False)


def test_starttls_with_a_login_delivers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    context, certificate = self_signed_tls(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate))  # the client trusts our own CA
    with smtp_server(
        tls_context=context, require_starttls=True, auth_required=True, authenticator=accept_ada
    ) as server:
        smtp = SmtpServer(
            host="127.0.0.1",
            port=server.port,
            security=SmtpSecurity.STARTTLS,
            username="ada",
            password="mail-password",
        )
        deliver(mailer(tmp_path / "outbox", smtp, retry_delays=()))

    assert len(server.inbox.messages) == 1


def test_starttls_refuses_a_server_whose_certificate_it_cannot_trust(tmp_path: Path) -> None:
    context, _ = self_signed_tls(tmp_path)
    with smtp_server(tls_context=context, require_starttls=True) as server:
        smtp = SmtpServer(host="127.0.0.1", port=server.port, security=SmtpSecurity.STARTTLS)
        deliver(mailer(tmp_path / "outbox", smtp, retry_delays=()))

    assert server.inbox.messages == []
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 1


def test_tls_from_the_first_byte_delivers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    context, certificate = self_signed_tls(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate))
    with smtp_server(ssl_context=context) as server:
        smtp = SmtpServer(host="127.0.0.1", port=server.port, security=SmtpSecurity.TLS)
        deliver(mailer(tmp_path / "outbox", smtp, retry_delays=()))

    assert len(server.inbox.messages) == 1


def test_settings_build_an_smtp_mailer_only_with_a_host(tmp_path: Path) -> None:
    base = {"_env_file": None, "secret_key": "k" * 32, "mail_outbox_dir": tmp_path}

    assert outbox.mailer(Settings(**base)).smtp is None
    smtp = outbox.mailer(Settings(**base, smtp_host="mail.example.com", smtp_password="pw")).smtp
    assert smtp == SmtpServer(
        host="mail.example.com", port=587, security=SmtpSecurity.STARTTLS, password="pw"
    )


def test_public_url_defaults_to_where_the_service_listens() -> None:
    settings = Settings(_env_file=None, secret_key="k" * 32, host="0.0.0.0", port=8123)  # noqa: S104

    assert settings.public_url == "http://127.0.0.1:8123"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("public_url", "ftp://example.com"),
        ("public_url", "example.com"),
        ("public_url", "https://example.com/?a=1"),
        ("mail_from", "nobody"),
        ("smtp_security", "ssl"),
    ],
)
def test_a_mail_setting_that_cannot_work_is_refused(name: str, value: str) -> None:
    with pytest.raises(ValueError, match=name):
        Settings(_env_file=None, secret_key="k" * 32, **{name: value})
