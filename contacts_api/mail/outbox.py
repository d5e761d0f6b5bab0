"""Outgoing mail: every message is spooled to the outbox, then sent by SMTP if there is one.

A message is first written to the outbox folder as an `.eml` file readable only by
the service's user. With `SMTP_HOST` set, one attempt is made to send it at once (in
the background task of the request that caused it, `aiosmtplib`, never blocking the
event loop) and its file is removed once sent. A message the server did not take
stays in the outbox, where the outbox worker (`Mailer.outbox_worker`, run by the app's
lifespan) tries it again, waiting longer after each pass that failed, until it goes:
this run's messages and those a previous run left. With no `SMTP_HOST` (the embedded
default) the outbox is where messages go: open the file to follow its link.

The log names a message's file and subject, never its body: the body holds a link
whose token opens the account.
"""

import asyncio
import logging
import os
import secrets
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path

import aiosmtplib
from email_validator import EmailNotValidError, validate_email

from contacts_api.core.config import RETRY_DELAYS, Settings, SmtpSecurity

logger = logging.getLogger(__name__)

SMTP_TIMEOUT_SECONDS = 30


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    security: SmtpSecurity
    username: str | None = None
    password: str | None = None


def smtp_address(address: str) -> str:
    """The address as mail servers take it: the domain in its ASCII (IDNA, `xn--`) form.

    Accounts keep the domain in its Unicode form (see `rules.normalize_email`), which
    in a `To` header would be encoded as a MIME word no server reads as an address.
    """
    try:
        valid = validate_email(address, check_deliverability=False)
    except EmailNotValidError:
        return address
    return valid.ascii_email or valid.normalized


class Mailer:
    """Writes messages to the outbox and, with an SMTP server, sends them from there."""

    def __init__(
        self,
        *,
        sender: str,
        outbox: Path,
        smtp: SmtpServer | None,
        retry_delays: Sequence[float] = RETRY_DELAYS,
    ) -> None:
        self.sender = sender
        self.outbox = outbox
        self.smtp = smtp
        self.retry_delays = tuple(retry_delays) or RETRY_DELAYS
        self._sending: set[Path] = set()  # files an attempt is under way for

    def compose(self, *, to: str, subject: str, text: str) -> EmailMessage:
        to = smtp_address(to)
        # A local part beyond ASCII needs the SMTPUTF8 extension (RFC 6531) to travel.
        message = EmailMessage(policy=policy.default if to.isascii() else policy.SMTPUTF8)
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = format_datetime(datetime.now(UTC))
        message["Message-ID"] = make_msgid(domain=parseaddr(self.sender)[1].rpartition("@")[2])
        # 7bit, not the quoted-printable Python picks for long lines: that would break
        # a link across lines with `=` signs, for a reader of the raw file and for grep.
        message.set_content(text, cte="7bit")
        return message

    async def deliver(self, message: EmailMessage) -> None:
        """Spool the message, then make one attempt to send it if there is a server;
        never raises for a server that is down or refuses (the message then stays in
        the outbox, for the outbox worker).

        Meant to run after the response that caused it (a background task): nothing a
        mail server does can fail or slow that request, and one attempt holds its task
        no longer than one SMTP exchange.
        """
        path = self._new_path()
        self._sending.add(path)  # before the file exists: the worker never takes it too
        try:
            await asyncio.to_thread(self._spool, message, path)
            if self.smtp is None:
                logger.info(
                    "mail: %r written to %s (no SMTP_HOST: not sent)", message["Subject"], path
                )
                return
            await self._attempt(path, message, self.smtp)
        finally:
            self._sending.discard(path)

    @asynccontextmanager
    async def outbox_worker(self) -> AsyncIterator[None]:
        """While open, messages kept in the outbox are sent by a task of their own (with
        an SMTP server; without one the outbox is where messages go)."""
        if self.smtp is None:
            yield
            return
        worker = asyncio.create_task(self._send_kept_forever(self.smtp), name="outbox worker")
        try:
            yield
        finally:
            worker.cancel()  # a message being sent stays in the outbox: sent next run
            with suppress(asyncio.CancelledError):
                await worker

    async def _send_kept_forever(self, smtp: SmtpServer) -> None:
        """Pass over the kept messages, oldest first, then wait (`retry_delays`), forever."""
        failed_passes = 0
        while True:
            try:
                sent = await self._pass_over_kept(smtp)
            except OSError as exc:  # the outbox itself: unreadable, or a file not removable
                logger.error("mail: the outbox %s cannot be worked on: %s", self.outbox, exc)
                sent = False
            failed_passes = 0 if sent else failed_passes + 1
            await asyncio.sleep(self.retry_delays[min(failed_passes, len(self.retry_delays) - 1)])

    async def _pass_over_kept(self, smtp: SmtpServer) -> bool:
        """One attempt for each kept message: whether they all went."""
        kept = [path for path in await asyncio.to_thread(self._kept) if path not in self._sending]
        if kept:
            logger.info("mail: %d kept message(s) to send again", len(kept))
        return all([await self._send_kept(path, smtp) for path in kept])

    async def _send_kept(self, path: Path, smtp: SmtpServer) -> bool:
        self._sending.add(path)
        try:
            message = await asyncio.to_thread(_read_eml, path)
            if message is None:  # removed meanwhile (sent by hand): nothing left to do
                return True
            return await self._attempt(path, message, smtp)
        finally:
            self._sending.discard(path)

    async def _attempt(self, path: Path, message: EmailMessage, smtp: SmtpServer) -> bool:
        """Send the message of `path`, and remove the file once sent: whether it went."""
        try:
            await self._send(message, smtp)
        except (aiosmtplib.SMTPException, OSError) as exc:
            logger.warning(
                "mail: %r not sent through %s:%d: %s; it stays in %s",
                message["Subject"],
                smtp.host,
                smtp.port,
                exc,
                path,
            )
            return False
        await asyncio.to_thread(path.unlink, missing_ok=True)
        logger.info(
            "mail: %r in %s sent through %s:%d", message["Subject"], path, smtp.host, smtp.port
        )
        return True

    def _new_path(self) -> Path:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        return self.outbox / f"{stamp}-{secrets.token_hex(4)}.eml"

    def _spool(self, message: EmailMessage, path: Path) -> None:
        """Write the message as the new file `path`, which only this user may read.

        Written under a name the worker does not read, then renamed: a file named
        `.eml` is always whole.
        """
        self.outbox.mkdir(mode=0o700, parents=True, exist_ok=True)
        partial = path.with_suffix(".part")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as file:
            file.write(message.as_bytes())
        partial.rename(path)

    def _kept(self) -> list[Path]:
        """The outbox's messages, oldest first (their names start with when they were made)."""
        return sorted(self.outbox.glob("*.eml"))

    @staticmethod
    async def _send(message: EmailMessage, smtp: SmtpServer) -> None:
        await aiosmtplib.send(
            message,
            hostname=smtp.host,
            port=smtp.port,
            username=smtp.username,
            password=smtp.password,
            use_tls=smtp.security is SmtpSecurity.TLS,
            start_tls=smtp.security is SmtpSecurity.STARTTLS,
            timeout=SMTP_TIMEOUT_SECONDS,
        )


def _read_eml(path: Path) -> EmailMessage | None:
    """The message kept in `path`, as `Mailer.compose` made it; None if it is gone."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    # An address beyond ASCII was written unencoded, for the SMTPUTF8 extension.
    message = message_from_bytes(data, policy=policy.default if data.isascii() else policy.SMTPUTF8)
    assert isinstance(message, EmailMessage)
    return message


def mailer(settings: Settings) -> Mailer:
    """The mailer the settings describe: the outbox only, or the outbox and an SMTP
    server (`SMTP_HOST`)."""
    smtp = (
        SmtpServer(
            host=settings.smtp_host,
            port=settings.smtp_port,
            security=settings.smtp_security,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        )
        if settings.smtp_host
        else None
    )
    return Mailer(
        sender=settings.mail_from,
        outbox=settings.mail_outbox_dir,
        smtp=smtp,
        retry_delays=settings.mail_retry_seconds,
    )
