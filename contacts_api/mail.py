"""Outgoing mail: every message is spooled to the outbox, then sent by SMTP if there is one.

A message is first written to the outbox folder as an `.eml` file readable only by
the service's user. With `SMTP_HOST` set it is then sent (`aiosmtplib`, never blocking
the event loop), retried a few times if the server does not take it, and its file is
removed once sent; a message that could not be sent stays in the outbox, and the log
says so. With no `SMTP_HOST` (the embedded default) the outbox is where messages go:
open the file to follow its link.

The log names a message's file and subject, never its body: the body holds a link
whose token opens the account.
"""

import asyncio
import logging
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from enum import StrEnum
from pathlib import Path

import aiosmtplib
from email_validator import EmailNotValidError, validate_email

logger = logging.getLogger(__name__)

# Seconds to wait before each retry: a server restarting, or a greylisting one, takes
# the message on a later attempt; past these the message waits in the outbox.
RETRY_DELAYS: tuple[float, ...] = (1, 4, 15)
SMTP_TIMEOUT_SECONDS = 30


class SmtpSecurity(StrEnum):
    STARTTLS = "starttls"  # plain connection upgraded to TLS: port 587
    TLS = "tls"  # TLS from the first byte: port 465
    NONE = "none"  # no encryption: a local relay or Mailpit only


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
        self.retry_delays = tuple(retry_delays)

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
        """Spool the message, then send it if there is a server; never raises for a
        server that is down or refuses (the message then stays in the outbox).

        Meant to run after the response that caused it (a background task): nothing a
        mail server does can fail or slow that request.
        """
        path = await asyncio.to_thread(self._spool, message)
        subject = message["Subject"]
        if self.smtp is None:
            logger.info("mail: %r written to %s (no SMTP_HOST: not sent)", subject, path)
            return
        attempts = len(self.retry_delays) + 1
        for attempt, delay in enumerate((0, *self.retry_delays), start=1):
            await asyncio.sleep(delay)
            try:
                await self._send(message, self.smtp)
            except (aiosmtplib.SMTPException, OSError) as exc:
                logger.warning(
                    "mail: %r, attempt %d of %d to %s:%d failed: %s",
                    subject,
                    attempt,
                    attempts,
                    self.smtp.host,
                    self.smtp.port,
                    exc,
                )
                continue
            path.unlink()
            logger.info("mail: %r sent through %s:%d", subject, self.smtp.host, self.smtp.port)
            return
        logger.error("mail: %r could not be sent; it stays in %s", subject, path)

    def _spool(self, message: EmailMessage) -> Path:
        """Write the message as a new `.eml` file that only this user may read."""
        self.outbox.mkdir(mode=0o700, parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        path = self.outbox / f"{stamp}-{secrets.token_hex(4)}.eml"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as file:
            file.write(message.as_bytes())
        return path

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
