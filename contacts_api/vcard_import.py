"""Reading vCards as phones and address books write them, into contact fields.

The syntax is read by `vobject`'s line reader (a maintained parser of vCard 2.1 and
3.0, whose line grammar 4.0 shares): unfolding, 2.1's quoted-printable soft line
breaks (`allowQP=True`), and each line's group, name, parameters and value. Its full
objects are not built: they cost ten times as much (0.55 ms a card against 0.05),
which a 10,000-card import feels, and this module reads the values itself anyway:

- the file is split into cards first, so that each card is read on its own, and one
  that cannot be read is reported by its position instead of ending the import;
- a UTF-8 byte-order mark is removed (vobject cannot read one);
- quoted-printable values are decoded in their `CHARSET`, text escapes undone (RFC
  6350 §3.4), `N` split into its components;
- 4.0's `PREF=1` and `tel:` URIs, 3.0's `TYPE=pref`, 2.1's bare `PREF`, Apple's grouped
  properties (`item1.EMAIL`) and `X-APPLE-OMIT-YEAR`, and the forms `BDAY` comes in.

Each card is then checked with exactly the rules of `POST /api/contacts`.
"""

import io
import quopri
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydantic import ValidationError
from vobject.base import VObjectError, getLogicalLines, parseLine

from contacts_api.exceptions import ImportTooLarge
from contacts_api.models import ContactCreate, ContactUpdate, RejectedCard
from contacts_api.rules import InvalidFields, check_contact_fields, search_key

UTF8_BOM = "\ufeff"
# What ends a line of a vCard: not `str.splitlines`, which also breaks at characters a
# note may hold (U+2028, form feed, …) and would cut a card's line in two.
LINE_BREAK = re.compile(r"\r\n|\r|\n")
QP = "QUOTED-PRINTABLE"
BEGIN = re.compile(r"^BEGIN:VCARD\s*$", re.IGNORECASE)
END = re.compile(r"^END:VCARD\s*$", re.IGNORECASE)
# `1990-03-08`, `19900308`, either with a time part (`T…`) that is ignored.
FULL_DATE = re.compile(r"^(\d{4})-?(\d{2})-?(\d{2})(T.*)?$")
NO_YEAR = re.compile(r"^--\d{2}-?\d{2}")
# A backslash escape in a text value; the components of `N` (escaped `;` stay inside).
ESCAPED = re.compile(r"\\(.)")
N_FIELD = re.compile(r"((?:\\.|[^;\\])*)(?:;|$)")
PLAIN_FN = re.compile(r"^FN:(.*)$", re.IGNORECASE | re.MULTILINE)


MAX_CARDS = 10_000


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
    for line in LINE_BREAK.split(text):
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
        card = _properties(text)
    except (VObjectError, ValueError, LookupError) as exc:
        return _unreadable(position, text, f"the card cannot be read: {exc}")
    first_name, last_name = _names(card)
    fields: dict[str, Any] = {
        "first_name": first_name,
        "last_name": last_name,
        "email": _preferred(card, "EMAIL"),
        "phone": _phone(card),
        "notes": _text(card, "NOTE"),
    }
    problems: dict[str, str] = {}
    birthday = _birthday(card)
    if isinstance(birthday, str):
        problems["birthday"] = birthday
    else:
        fields["birthday"] = birthday
    name = (_text(card, "FN") or "").strip()
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
        contact = ContactCreate.model_validate(values)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            problems.setdefault(str(error["loc"][0]), error["msg"].removeprefix("Value error, "))
        # The rules that need settings, on every field Pydantic let through, so that a
        # card with a bad email and a bad phone hears about both.
        passed = {key: value for key, value in values.items() if key not in problems}
        fields = ContactUpdate.model_validate(passed).model_dump(exclude_unset=True)
    else:
        fields = contact.model_dump()
    try:
        fields = check_contact_fields(fields, phone_region=phone_region, today=today)
    except InvalidFields as exc:
        problems |= exc.problems
    if problems:
        return [f"{name}: {reason}" for name, reason in problems.items()]
    return contact.model_copy(update=fields)


def _unreadable(position: int, text: str, reason: str) -> Card:
    """A card the parser could not read, named by its `FN` line if it has a plain one."""
    found = PLAIN_FN.search(text)
    name = found[1].strip() if found else ""
    return Card(position=position, name=name, fields={}, problems={"card": reason})


@dataclass
class Property:
    """One property line of a card, its value decoded from quoted-printable if need be."""

    params: dict[str, list[str]]  # upper-case names; 2.1's bare `PREF`, `CELL` as TYPE
    value: str

    def says(self, name: str, value: str) -> bool:
        return value in (v.upper() for v in self.params.get(name, []))


def _properties(text: str) -> dict[str, list[Property]]:
    """The card's properties by upper-case name, in the order of the file, grouped ones
    (`item1.EMAIL`) under their name.

    vobject's own line reader does the syntax: unfolding, 2.1's quoted-printable soft
    line breaks, and the grammar of a line (group, name, parameters, value). Building
    its full objects on top costs ten times as much, for values this module reads
    itself anyway, so it stops there.
    """
    properties: dict[str, list[Property]] = {}
    for line, number in getLogicalLines(io.StringIO(text), allowQP=True):
        name, raw_params, value, _group = parseLine(line, number)
        params: dict[str, list[str]] = {}
        for param in raw_params:
            key, values = (param[0].upper(), param[1:]) if len(param) > 1 else ("TYPE", param)
            params.setdefault(key, []).extend(values)
        prop = Property(params=params, value=value)
        if params and (prop.says("ENCODING", QP) or prop.says("TYPE", QP)):
            charset = (params.get("CHARSET") or ["utf-8"])[0]
            prop.value = quopri.decodestring(value.encode()).decode(charset)
        properties.setdefault(name.upper(), []).append(prop)
    return properties


def _unescape(value: str) -> str:
    """A text value with its escapes undone: `\\n` a line break, `\\,` `\\;` `\\\\`
    themselves (RFC 6350 §3.4; 2.1 and 3.0 alike)."""
    return ESCAPED.sub(lambda found: "\n" if found[1] in "nN" else found[1], value)


def _text(card: dict[str, list[Property]], name: str) -> str | None:
    """The first line's text, unescaped and as written (a note keeps its spaces)."""
    lines = card.get(name)
    if not lines:
        return None
    return _unescape(lines[0].value) or None


def _preference(line: Property) -> int:
    """Lower is preferred: 4.0's `PREF=1`…`100`, 3.0's `TYPE=pref` and 2.1's bare
    `PREF` (as 1); a line saying nothing comes after them all, in the order of the file."""
    if "PREF" in line.params:
        try:
            return int(line.params["PREF"][0])
        except ValueError:
            return 1
    return 1 if line.says("TYPE", "PREF") else 101


def _preferred(card: dict[str, list[Property]], name: str) -> str | None:
    lines = card.get(name)
    if not lines:
        return None
    best = min(lines, key=_preference)  # `min` keeps the first of equals
    return _unescape(best.value).strip() or None


def _phone(card: dict[str, list[Property]]) -> str | None:
    phone = _preferred(card, "TEL")
    return phone.removeprefix("tel:") if phone else None


def _names(card: dict[str, list[Property]]) -> tuple[str | None, str | None]:
    """Given and family name from `N`; without them, `FN` split at its last space."""
    lines = card.get("N")
    if lines:
        family, given = ([*N_FIELD.findall(lines[0].value), "", ""])[:2]
        family, given = _unescape(family).strip(), _unescape(given).strip()
        if given or family:
            return given or None, family or None
    full = (_text(card, "FN") or "").strip()
    if not full:
        return None, None
    first, _, last = full.rpartition(" ")
    return (first, last) if first else (last, None)


def _birthday(card: dict[str, list[Property]]) -> date | str | None:
    """The birth date, `None` when the card has none, or a problem saying why it is not
    one (a birthday without a year cannot be stored: the API's birthday is a date)."""
    lines = card.get("BDAY")
    if not lines:
        return None
    line = lines[0]
    if "X-APPLE-OMIT-YEAR" in line.params:
        return "has no year (X-APPLE-OMIT-YEAR): the year is needed"
    value = line.value.strip()
    if NO_YEAR.match(value):
        return f"{value!r} has no year: the year is needed"
    found = FULL_DATE.match(value)
    if found:
        try:
            return date(int(found[1]), int(found[2]), int(found[3]))
        except ValueError:
            pass
    return f"{value!r} is not a date"
