"""Reading vCards as phones and address books write them, into contact fields.

Each card is parsed by `vobject` (a maintained parser of vCard 2.1 and 3.0, which also
reads the syntax of 4.0). What vobject leaves to its caller is done here:

- the file is split into cards first, so that each card is parsed on its own, and one
  that cannot be read is reported by its position instead of ending the import;
- a UTF-8 byte-order mark is removed (vobject cannot read one), and Android's vCard
  2.1 quoted-printable values are read with `allowQP=True`;
- vCard 4.0's `PREF=1` and `tel:` URIs, 3.0's `TYPE=pref`, Apple's grouped properties
  (`item1.EMAIL`) and `X-APPLE-OMIT-YEAR`, and the forms `BDAY` comes in.

The fields are then checked by the caller with exactly the rules of `POST /api/contacts`.
"""

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import vobject
from pydantic import ValidationError
from vobject.base import Component, ContentLine, VObjectError

from contacts_api.exceptions import ImportTooLarge
from contacts_api.models import ContactCreate, ContactUpdate, RejectedCard
from contacts_api.rules import InvalidFields, check_contact_fields, search_key

UTF8_BOM = "\ufeff"
BEGIN = re.compile(r"^BEGIN:VCARD\s*$", re.IGNORECASE)
END = re.compile(r"^END:VCARD\s*$", re.IGNORECASE)
# `1990-03-08`, `19900308`, either with a time part (`T…`) that is ignored.
FULL_DATE = re.compile(r"^(\d{4})-?(\d{2})-?(\d{2})(T.*)?$")
NO_YEAR = re.compile(r"^--\d{2}-?\d{2}")
PLAIN_FN = re.compile(r"^FN:(.*)$", re.IGNORECASE | re.MULTILINE)


MAX_CARDS = 10_000
# The most an upload may carry, whatever `MAX_IMPORT_BYTES` says: the setting is checked
# on the file itself, this bounds what the server receives at all.
MAX_UPLOAD_BYTES = 64 * 1024 * 1024


class NotVCards(ValueError):
    """The upload holds no vCard at all, or is not text."""


@dataclass
class Reading:
    """A file, read and checked: the contacts to import, and the cards refused."""

    accepted: list[ContactCreate]
    rejected: list[RejectedCard]


def read_upload(data: bytes, *, max_bytes: int, phone_region: str, today: date) -> Reading:
    """`read`, for an upload read up to one byte past `max_bytes`: refused past it."""
    if len(data) > max_bytes:
        raise ImportTooLarge(f"The file is over {max_bytes:,} bytes: split it")
    return read(data, phone_region=phone_region, today=today)


def read(data: bytes, *, phone_region: str, today: date) -> Reading:
    """Every card of a file, checked by the rules of `POST /api/contacts`.

    A card whose email an earlier card of the same file has is refused, saying which:
    the file itself does not say which of the two is meant. CPU work (a 5 MB file takes
    seconds), for a worker thread.
    """
    texts = split_cards(data)
    if len(texts) > MAX_CARDS:
        raise ImportTooLarge(f"More than {MAX_CARDS:,} cards: split the file")
    accepted: list[ContactCreate] = []
    rejected: list[RejectedCard] = []
    first_with: dict[str, int] = {}
    for position, text in enumerate(texts, start=1):
        card = read_card(position, text)
        result = checked(card, phone_region=phone_region, today=today)
        if isinstance(result, list):
            rejected.append(RejectedCard(card=position, name=card.name, reasons=result))
            continue
        key = search_key(result.email)
        if key in first_with:
            reason = f"email: card {first_with[key]} of this file has the same email"
            rejected.append(RejectedCard(card=position, name=card.name, reasons=[reason]))
            continue
        first_with[key] = position
        accepted.append(result)
    return Reading(accepted=accepted, rejected=rejected)


@dataclass
class Card:
    """One card of a file: where it was, who it names, and what could be read of it."""

    position: int  # 1-based, in the order of the file
    name: str
    fields: dict[str, Any]
    problems: dict[str, str] = field(default_factory=dict)  # found while reading


def split_cards(data: bytes) -> list[str]:
    """The text of each card of a file, in order; `NotVCards` if it holds none.

    A card left without its `END:VCARD` is kept (and reported unreadable by
    `read_card`): nothing in the file is passed over without a word.
    """
    try:
        text = data.decode("utf-8").removeprefix(UTF8_BOM)
    except UnicodeDecodeError as exc:
        raise NotVCards("The file is not UTF-8 text") from exc
    cards: list[list[str]] = []
    current: list[str] | None = None
    for line in text.splitlines():
        if BEGIN.match(line):
            current = [line]
            cards.append(current)
        elif current is not None:
            current.append(line)
            if END.match(line):
                current = None
    if not cards:
        raise NotVCards("The file holds no vCard (no BEGIN:VCARD line)")
    return ["\r\n".join(lines) + "\r\n" for lines in cards]


def read_card(position: int, text: str) -> Card:
    """The contact fields of one card, and the problems found reading it."""
    if not END.match(text.rstrip("\r\n").rsplit("\r\n", 1)[-1]):
        return _unreadable(position, text, "the card is not closed by END:VCARD")
    try:
        component = vobject.readOne(text, allowQP=True)
    except (VObjectError, ValueError, TypeError) as exc:
        return _unreadable(position, text, f"the card cannot be read: {exc}")
    first_name, last_name = _names(component)
    fields: dict[str, Any] = {
        "first_name": first_name,
        "last_name": last_name,
        "email": _preferred_value(component, "email"),
        "phone": _phone(component),
        "notes": _value(component, "note"),
    }
    problems: dict[str, str] = {}
    birthday = _birthday(component)
    if isinstance(birthday, str):
        problems["birthday"] = birthday
    else:
        fields["birthday"] = birthday
    name = (_value(component, "fn") or "").strip()
    name = name or " ".join(part for part in (first_name, last_name) if part)
    return Card(position=position, name=name, fields=fields, problems=problems)


def checked(card: Card, *, phone_region: str, today: date) -> ContactCreate | list[str]:
    """The card as a new contact, through the checks of `POST /api/contacts`; or every
    reason it fails them (`field: reason`), those found reading it first."""
    problems = dict(card.problems)
    if "card" in problems:
        return [problems["card"]]
    values = {key: value for key, value in card.fields.items() if value is not None}
    try:
        contact: ContactCreate | None = ContactCreate.model_validate(values)
    except ValidationError as exc:
        contact = None
        for error in exc.errors(include_url=False):
            problems.setdefault(str(error["loc"][0]), error["msg"].removeprefix("Value error, "))
    # The rules that need settings, on every field Pydantic let through, so that a card
    # with a bad email and a bad phone hears about both.
    passed = {key: value for key, value in values.items() if key not in problems}
    try:
        fields = check_contact_fields(
            ContactUpdate.model_validate(passed).model_dump(exclude_unset=True),
            phone_region=phone_region,
            today=today,
        )
    except InvalidFields as exc:
        problems |= exc.problems
    if problems:
        return [f"{name}: {reason}" for name, reason in problems.items()]
    assert contact is not None
    return ContactCreate.model_validate(contact.model_dump() | fields)


def _unreadable(position: int, text: str, reason: str) -> Card:
    """A card the parser could not read, named by its `FN` line if it has a plain one."""
    found = PLAIN_FN.search(text)
    name = found[1].strip() if found else ""
    return Card(position=position, name=name, fields={}, problems={"card": reason})


def _lines(component: Component, name: str) -> list[ContentLine]:
    """Every line of a property, grouped ones (`item1.EMAIL`) included."""
    return list(component.contents.get(name, []))


def _value(component: Component, name: str) -> str | None:
    """The first line's text as written (a note keeps its spaces), `None` if empty."""
    lines = _lines(component, name)
    if not lines or not isinstance(lines[0].value, str):
        return None
    return lines[0].value or None


def _preference(line: ContentLine) -> int:
    """Lower is preferred: 4.0's `PREF=1`…`100`, 3.0's and 2.1's `TYPE=pref` (as 1);
    a line saying nothing comes after them all, in the order of the file."""
    params = {key.upper(): values for key, values in line.params.items()}
    if "PREF" in params:
        try:
            return int(params["PREF"][0])
        except ValueError:
            return 1  # 2.1 writes a bare `PREF` parameter
    types = {value.upper() for value in params.get("TYPE", [])}
    return 1 if "PREF" in types else 101


def _preferred_value(component: Component, name: str) -> str | None:
    lines = [line for line in _lines(component, name) if isinstance(line.value, str)]
    if not lines:
        return None
    best = min(lines, key=_preference)  # `min` keeps the first of equals
    return best.value.strip() or None


def _phone(component: Component) -> str | None:
    phone = _preferred_value(component, "tel")
    return phone.removeprefix("tel:") if phone else None


def _names(component: Component) -> tuple[str | None, str | None]:
    """Given and family name from `N`; without them, `FN` split at its last space."""
    lines = _lines(component, "n")
    if lines and not isinstance(lines[0].value, str):
        name = lines[0].value
        given, family = _joined(name.given), _joined(name.family)
        if given or family:
            return given, family
    full = (_value(component, "fn") or "").strip()
    if not full:
        return None, None
    first, _, last = full.rpartition(" ")
    return (first, last) if first else (last, None)


def _joined(part: str | list[str]) -> str | None:
    text = " ".join(part) if isinstance(part, list) else part
    return text.strip() or None


def _birthday(component: Component) -> date | str | None:
    """The birth date, `None` when the card has none, or a problem saying why it is not
    one (a birthday without a year cannot be stored: the API's birthday is a date)."""
    lines = _lines(component, "bday")
    if not lines:
        return None
    line = lines[0]
    if any(key.upper() == "X-APPLE-OMIT-YEAR" for key in line.params):
        return "has no year (X-APPLE-OMIT-YEAR): the year is needed"
    value = str(line.value).strip()
    if NO_YEAR.match(value):
        return f"{value!r} has no year: the year is needed"
    found = FULL_DATE.match(value)
    if found:
        try:
            return date(int(found[1]), int(found[2]), int(found[3]))
        except ValueError:
            pass
    return f"{value!r} is not a date"
