"""Contacts written as vCards: 4.0 (RFC 6350) or 3.0 (RFC 2426, for older importers).

Written here rather than with `vobject`, which writes 3.0 only: a card of ours has six
properties, and what they need is escaping (RFC 6350 §3.4), folding lines at 75
octets (§3.2) without cutting a UTF-8 character in two, and CRLF line ends.
"""

import re
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from datetime import date, datetime
from typing import Protocol

from contacts_api.models import VCardVersion

# A namespace of this project's own: a contact's UID is derived from its id, so it is
# the same in every export, and no two contacts share one.
UID_NAMESPACE = uuid.UUID("5f0c4a2e-9d61-4c8e-9a51-3b7d2f6e8c14")
FOLD_AT = 75  # octets a line may hold, its CRLF not counted
MEDIA_TYPE = "text/vcard; charset=utf-8"
# The control characters a text value may not hold (RFC 6350 §3.3 and RFC 5545 §3.1
# allow a tab, and a line break only escaped): C0 but tab and line breaks, DEL, C1.
# The API refuses them (`rules.check_contact_fields`); any stored before are dropped.
CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


class CardContact(Protocol):
    """What a card is written from: a contact row or object."""

    id: int
    first_name: str
    last_name: str
    email: str
    phone: str
    birthday: date
    notes: str | None
    updated_at: datetime


def contact_uid(contact_id: int) -> str:
    return f"urn:uuid:{uuid.uuid5(UID_NAMESPACE, str(contact_id))}"


def escape(text: str) -> str:
    """A text value with `\\`, `,`, `;` and line breaks escaped (RFC 6350 §3.4), and
    without the control characters no text value may hold (see `CONTROLS`).

    iCalendar escapes text the same way (RFC 5545 §3.3.11): the birthday calendar's
    event names are written with this too.
    """
    return (
        CONTROLS.sub("", text)
        .replace("\\", "\\\\")
        .replace(",", "\\,")
        .replace(";", "\\;")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )


def fold(line: str) -> str:
    """`line` cut into lines of at most 75 octets, each continuation starting with a
    space (RFC 6350 §3.2); a cut never falls inside a UTF-8 character."""
    encoded = line.encode()
    if len(encoded) <= FOLD_AT:
        return line + "\r\n"
    parts: list[str] = []
    start, limit = 0, FOLD_AT
    while start < len(encoded):
        end = min(start + limit, len(encoded))
        while end < len(encoded) and (encoded[end] & 0xC0) == 0x80:  # a continuation byte
            end -= 1
        parts.append(encoded[start:end].decode())
        start, limit = end, FOLD_AT - 1  # a continuation line's leading space counts
    return "\r\n ".join(parts) + "\r\n"


def basic_date(day: date) -> str:
    """`YYYYMMDD`, the year in four digits even before 1000 (`09990228`): `%Y` writes
    `999` on some platforms, which no reader takes for a year."""
    return f"{day.year:04d}{day.month:02d}{day.day:02d}"


def card(contact: CardContact, version: VCardVersion = VCardVersion.V4) -> str:
    """One contact as one vCard."""
    v4 = version is VCardVersion.V4
    updated = contact.updated_at
    lines = [
        "BEGIN:VCARD",
        f"VERSION:{version}",
        f"UID:{contact_uid(contact.id)}",
        f"FN:{escape(f'{contact.first_name} {contact.last_name}')}",
        f"N:{escape(contact.last_name)};{escape(contact.first_name)};;;",
        f"EMAIL:{escape(contact.email)}",
        f"TEL;VALUE=uri:tel:{contact.phone}" if v4 else f"TEL:{contact.phone}",
        f"BDAY:{basic_date(contact.birthday)}" if v4 else f"BDAY:{contact.birthday.isoformat()}",
    ]
    if contact.notes:
        lines.append(f"NOTE:{escape(contact.notes)}")
    lines += [
        f"REV:{updated:%Y%m%dT%H%M%SZ}" if v4 else f"REV:{updated:%Y-%m-%dT%H:%M:%SZ}",
        "END:VCARD",
    ]
    return "".join(fold(line) for line in lines)


async def stream(
    batches: AsyncIterable[Iterable[CardContact]], version: VCardVersion
) -> AsyncIterator[bytes]:
    """The cards of each batch of contacts, one chunk a batch, as a response streams them."""
    async for batch in batches:
        yield "".join(card(contact, version) for contact in batch).encode()
