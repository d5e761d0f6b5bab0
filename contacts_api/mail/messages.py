"""The account's messages: a password-reset link and an email-verification link.

Each is sent as a background task, after the response that asked for it: a password
reset answers the same `202` at the same speed whether an account has the email or
not, because looking the account up is part of the work done after the answer.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncEngine

from contacts_api.crud import links, users
from contacts_api.mail.outbox import Mailer
from contacts_api.models import LinkPurpose

logger = logging.getLogger(__name__)

RESET_PAGE = "/reset-password"
VERIFY_PAGE = "/verify-email"
# The database errors that mean "unavailable" (a route answers them with `503`).
DATABASE_DOWN = (OperationalError, PoolTimeoutError)

RESET_SUBJECT = "Reset your contacts_api password"
RESET_TEXT = """\
Hello,

Someone, hopefully you, asked to reset the password of the contacts_api account
of this email address. To choose a new password, open this link; it works once,
within {lifetime}:

{link}

Resetting the password signs the account out everywhere.
If you did not ask for this, ignore this message: your password stays as it is.
"""

VERIFY_SUBJECT = "Confirm your email for contacts_api"
VERIFY_TEXT = """\
Welcome to contacts_api!

To confirm that this email address is yours, open this link within {lifetime}:

{link}

If you did not sign up, ignore this message.
"""


@dataclass(frozen=True)
class LinkMessage:
    """A kind of message: the link it carries, to which page, and what it says."""

    purpose: LinkPurpose
    page: str
    subject: str
    text: str


RESET = LinkMessage(LinkPurpose.PASSWORD_RESET, RESET_PAGE, RESET_SUBJECT, RESET_TEXT)
VERIFICATION = LinkMessage(LinkPurpose.EMAIL_VERIFICATION, VERIFY_PAGE, VERIFY_SUBJECT, VERIFY_TEXT)


@dataclass(frozen=True)
class AccountMail:
    """What the account's messages need: where to look accounts up, how to send, and
    the address the links start with (`PUBLIC_URL`)."""

    engine: AsyncEngine
    mailer: Mailer
    public_url: str
    lifetimes: dict[LinkPurpose, timedelta]  # how long each kind of link works

    async def send_password_reset(self, *, email: str) -> None:
        """Mail a reset link if an account has this email; otherwise send nothing."""
        try:
            account = await users.find_by_email(self.engine, email=email)
        except DATABASE_DOWN as exc:
            logger.error("mail: password reset not sent, the database is unavailable: %s", exc)
            return
        if account is None:
            logger.info("mail: password reset asked for an email with no account")
            return
        await self._send_link(RESET, user_id=account.id, to=account.email)

    async def send_verification(self, *, user_id: int, email: str) -> None:
        """Mail a link that marks the user's email as verified."""
        await self._send_link(VERIFICATION, user_id=user_id, to=email)

    async def _send_link(self, kind: LinkMessage, *, user_id: int, to: str) -> None:
        lifetime = self.lifetimes[kind.purpose]
        try:
            token = await links.issue(
                self.engine, user_id=user_id, purpose=kind.purpose, lifetime=lifetime
            )
        except DATABASE_DOWN as exc:
            logger.error("mail: %r not sent, the database is unavailable: %s", kind.subject, exc)
            return
        except IntegrityError:
            logger.info("mail: %r not sent, the account was deleted meanwhile", kind.subject)
            return
        link = f"{self.public_url}{kind.page}?{urlencode({'token': token})}"
        text = kind.text.format(link=link, lifetime=_duration(lifetime))
        await self.mailer.deliver(self.mailer.compose(to=to, subject=kind.subject, text=text))


def _duration(lifetime: timedelta) -> str:
    """`30 minutes`, `1 hour`, `48 hours`: a lifetime as a message says it."""
    minutes = int(lifetime.total_seconds() // 60)
    count, unit = (minutes, "minute") if minutes % 60 else (minutes // 60, "hour")
    return f"{count} {unit}" if count == 1 else f"{count} {unit}s"
