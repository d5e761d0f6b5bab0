"""A real SMTP server for the tests (aiosmtpd), and reading what the service mailed."""

import datetime
import ipaddress
import re
import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import TypeVar
from urllib.parse import parse_qs, urlsplit

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from scripts.localhost import free_port

T = TypeVar("T")
LINK = re.compile(r"https?://\S+")


@dataclass
class Inbox:
    """What an SMTP server received: each message, parsed."""

    messages: list[EmailMessage] = field(default_factory=list)

    async def handle_DATA(self, _server: SMTP, _session: Session, envelope: Envelope) -> str:  # noqa: N802 (aiosmtpd's name)
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted"

    def to(self, address: str) -> list[EmailMessage]:
        return [message for message in self.messages if message["To"] == address]


@dataclass
class SmtpServer:
    inbox: Inbox
    port: int


@contextmanager
def smtp_server(port: int | None = None, **options: object) -> Iterator[SmtpServer]:
    """An SMTP server on `port` (a free one by default); `options` go to aiosmtpd's
    `Controller`: `ssl_context` for TLS from the first byte, or the `SMTP` class's own
    (`tls_context`, `require_starttls`, `auth_required`, `authenticator`)."""
    inbox = Inbox()
    port = port or free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield SmtpServer(inbox=inbox, port=port)
    finally:
        controller.stop()


def eventually(found: Callable[[], T], timeout: float = 10) -> T:
    """What `found` returns once it is truthy: a real server sends its mail just after
    the answer that caused it, so a test looks again until the message is there."""
    deadline = time.monotonic() + timeout
    while not (result := found()):
        if time.monotonic() > deadline:
            raise AssertionError(f"nothing found in {timeout} s")
        time.sleep(0.05)
    return result


def read_eml(path: Path) -> EmailMessage:
    return message_from_bytes(path.read_bytes(), policy=policy.default)


def link_in(message: EmailMessage) -> str:
    """The one link of a message's text."""
    body = message.get_body(("plain",))
    assert body is not None
    (link,) = LINK.findall(body.get_content())
    return link


def token_in(message: EmailMessage) -> str:
    (token,) = parse_qs(urlsplit(link_in(message)).query)["token"]
    return token


def self_signed_tls(directory: Path) -> tuple[ssl.SSLContext, Path]:
    """A server TLS context for `127.0.0.1` with a new self-signed certificate, and the
    certificate's file, for a client to trust."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file = directory / "smtp-cert.pem"
    key_file = directory / "smtp-key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context, cert_file
