"""Reading vCards as phones and address books write them, into contact fields.

The reader is our own, and every step of it costs time linear in the bytes, whatever
the file holds. vobject's line reader, used before, copied the growing line on every
physical line it appended: one card whose quoted-printable `NOTE` was continued over
300,000 soft line breaks took minutes to read. Here a logical line is gathered as a
list of pieces and joined once, a line's parameters are matched one after the other
from where the last one ended, and a value is decoded only if the import uses it.

What the reader does, in the order of the file:

- the upload is read 64 KB at a time from the file Starlette spooled it to, and
  decoded as UTF-8 on the way (what all three versions' exporters write): one card
  at a time is held in memory, never the file;
- lines end at CR, LF or CRLF only (not at U+2028 or a form feed, which a note may
  hold); a line that starts with a space or a tab continues the one before (folding,
  RFC 6350 §3.2), and in vCard 2.1 a quoted-printable value that ends with `=` goes
  on over the next line (a soft line break);
- each logical line is read by the grammar the three versions share: an optional
  group (`item1.`), a name, parameters (`;TYPE=home,pref`, 2.1's bare `;PREF`,
  quoted values), `:` and the value;
- a `BEGIN:VCARD` starts a card wherever it stands outside one, after a UTF-8
  byte-order mark (two exports put end to end each start with one) or spaces; lines
  outside any card are reported, by their line numbers, never passed over silently;
- quoted-printable values are decoded in their `CHARSET`, which must name a text
  encoding (not one of Python's transforms such as `utf-7` or `unicode_escape`), and
  every decoded value must be text that UTF-8 and JSON can carry;
- text escapes are undone (RFC 6350 §3.4), `N` split into its components; 4.0's
  `PREF=1` and `tel:` URIs, 3.0's `TYPE=pref`, 2.1's bare `PREF`, Apple's grouped
  properties and `X-APPLE-OMIT-YEAR`, and the forms `BDAY` comes in are understood.

Each card is then checked with exactly the rules of `POST /api/contacts`.

The reading is plain synchronous code: `import_worker` runs it in a child process, so
that it takes no time from the event loop (see there why). `read_stream` keeps to the
import's time budget itself, counted in the CPU time of the process that reads.
"""

import codecs
import io
import quopri
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

from pydantic import ValidationError

from contacts_api.core.exceptions import ImportTooLarge
from contacts_api.core.rules import InvalidFields, check_contact_fields, search_key
from contacts_api.models import ContactCreate, ContactUpdate, RejectedCard

MAX_CARDS = 10_000
READ_CHUNK = 64 * 1024  # bytes read from the upload at a time
TICK_LINES = 128  # lines read between two looks at the clock
# More parameters than any exporter writes on a line; past it the card is unreadable,
# before a line of a million parameters is built into a million strings.
MAX_PARAMETERS = 100
# A value longer than this as written cannot hold any field once decoded (a note is at
# most 2,000 characters, each at most 14 as written: `=XX` for each of 4 bytes and a
# soft line break): it is refused unread rather than decoded.
MAX_VALUE_CHARS = 32 * 1024
# The properties the import reads; every other line is checked for its grammar only.
USED = frozenset({"FN", "N", "EMAIL", "TEL", "BDAY", "NOTE"})
# Python's codecs that are not character sets: transforms of text into other text
# (`utf-7` and `unicode_escape` turn `+2AA-` or `\ud800` into lone surrogates).
# Bytes-to-bytes codecs (base64, rot13, zlib…) are refused by `_is_text_encoding`.
NOT_CHARSETS = frozenset(
    {"utf-7", "unicode-escape", "raw-unicode-escape", "punycode", "idna", "undefined"}
)

# What ends a line of a vCard: not `str.splitlines`, which also breaks at characters a
# note may hold (U+2028, form feed, …) and would cut a card's line in two.
LINE_BREAK = re.compile(r"\r\n|\r|\n")
QP = "QUOTED-PRINTABLE"
BEGIN = re.compile(r"BEGIN:VCARD\s*$", re.IGNORECASE)
END = re.compile(r"END:VCARD\s*$", re.IGNORECASE)
# A line's group and name, then each parameter: `;NAME`, or `;NAME=value,"quoted;value"`.
LINE_NAME = re.compile(r"(?:([A-Za-z0-9_-]+)\.)?([A-Za-z0-9_-]+)")
PARAMETER = re.compile(r';([A-Za-z0-9_-]+)(?:=((?:"[^"]*"|[^";:,]*)(?:,(?:"[^"]*"|[^";:,]*))*))?')
PARAMETER_VALUE = re.compile(r'"([^"]*)"|([^";:,]+)')
SURROGATE = re.compile("[\ud800-\udfff]")
# `1990-03-08`, `19900308`, either with a time part (`T…`) that is ignored.
FULL_DATE = re.compile(r"^(\d{4})-?(\d{2})-?(\d{2})(T.*)?$")
NO_YEAR = re.compile(r"^--\d{2}-?\d{2}")
# A backslash escape in a text value; the components of `N` (escaped `;` stay inside).
ESCAPED = re.compile(r"\\(.)")
N_FIELD = re.compile(r"((?:\\.|[^;\\])*)(?:;|$)")


class NotVCards(ValueError):
    """The upload holds no vCard at all, or is not text."""


@dataclass
class Reading:
    """A file, read and checked: the contacts to import, and the cards refused."""

    accepted: list[ContactCreate]
    rejected: list[RejectedCard]


@dataclass
class Card:
    """One card of a file: where it was, who it names, and what could be read of it."""

    position: int  # 1-based, in the order of the file
    name: str
    fields: dict[str, Any]
    problems: dict[str, str] = field(default_factory=dict)  # found while reading


@dataclass
class Property:
    """One property line of a card, its value decoded from quoted-printable if need be."""

    params: dict[str, list[str]]  # upper-case names; 2.1's bare `PREF`, `CELL` as TYPE
    value: str

    def says(self, name: str, value: str) -> bool:
        return value in (v.upper() for v in self.params.get(name, []))


class Chunks(Protocol):
    """Where the bytes of a file come from: a file, or the pipe `import_worker` feeds.
    `read` answers the next chunk, at most `size` bytes, and `b""` at the end."""

    def read(self, size: int, /) -> bytes: ...


def read_stream(
    file: Chunks, *, max_bytes: int, phone_region: str, today: date, time_limit: float
) -> Reading:
    """Every card of a file, checked by the rules of `POST /api/contacts`.

    `ImportTooLarge` past `max_bytes`, `MAX_CARDS` or `time_limit` seconds of this
    process's CPU time (CPU, not the clock: a reader at a low priority on a busy machine
    waits, and waiting costs nothing); `NotVCards` for a file that is not UTF-8 or holds
    no card.
    """
    reader = _FileReader(phone_region=phone_region, today=today)
    started = time.process_time()
    for _ in reader.steps(file, max_bytes):
        if time.process_time() - started > time_limit:
            raise ImportTooLarge(
                f"Reading the file took over {time_limit:g} s, the most one import may take"
                " (IMPORT_TIME_LIMIT_SECONDS): split it"
            )
    return reader.reading()


def read(data: bytes, *, phone_region: str, today: date) -> Reading:
    """`read_stream` for a file in memory, with no time limit: for scripts and tests."""
    file = io.BytesIO(data)
    return read_stream(
        file, max_bytes=len(data), phone_region=phone_region, today=today, time_limit=float("inf")
    )


class _FileReader:
    """The state of one file's reading: the cards accepted and refused so far.

    `steps` does the work, yielding now and then (every `TICK_LINES` lines, every
    chunk read, every card checked) so that `read_stream` can look at the time spent.
    """

    def __init__(self, *, phone_region: str, today: date) -> None:
        self.phone_region = phone_region
        self.today = today
        self.accepted: list[ContactCreate] = []
        self.rejected: list[RejectedCard] = []
        self.cards = 0
        self.first_with: dict[str, int] = {}  # a folded email: the card that had it first
        self.stray: tuple[int, int] | None = None  # first and last line outside any card

    def reading(self) -> Reading:
        return Reading(accepted=self.accepted, rejected=self.rejected)

    def steps(self, file: Chunks, max_bytes: int) -> Iterator[None]:
        card: _CardReader | None = None
        number = 0
        for line in _lines(file, max_bytes):
            if line is None:
                yield
                continue
            number += 1
            if number % TICK_LINES == 0:
                yield
            if card is None:
                start = line.lstrip(" \t\ufeff")
                if BEGIN.match(start):
                    card = self._begin(number)
                elif line and not line.isspace():
                    first = self.stray[0] if self.stray else number
                    self.stray = (first, number)
                continue
            if END.match(line):
                self._check(card.card(closed=True))
                card = None
                yield
            elif BEGIN.match(line.lstrip("\ufeff")):
                self._check(card.card(closed=False))
                card = self._begin(number)
            else:
                card.add(line)
        if card is not None:
            self._check(card.card(closed=False))
        self._report_stray()
        if not self.cards:
            raise NotVCards("The file holds no vCard (no BEGIN:VCARD line)")

    def _begin(self, number: int) -> "_CardReader":
        self._report_stray()
        self.cards += 1
        if self.cards > MAX_CARDS:
            raise ImportTooLarge(f"More than {MAX_CARDS:,} cards: split the file")
        return _CardReader(self.cards)

    def _report_stray(self) -> None:
        """Lines outside any card, reported as a refusal of card `0` naming them."""
        if self.stray is None:
            return
        first, last = self.stray
        where = f"line {first}" if first == last else f"lines {first}-{last}"
        reason = f"{where} of the file: outside any BEGIN:VCARD … END:VCARD, not read"
        self.rejected.append(RejectedCard(card=0, name="", reasons=[reason]))
        self.stray = None

    def _check(self, card: Card) -> None:
        """Accept the card, or refuse it with every reason; a card whose email an earlier
        card of the file has is refused, saying which: the file does not say which of
        the two is meant."""
        result = checked(card, phone_region=self.phone_region, today=self.today)
        if isinstance(result, list):
            self.rejected.append(RejectedCard(card=card.position, name=card.name, reasons=result))
            return
        key = search_key(result.email)
        if key in self.first_with:
            reason = f"email: card {self.first_with[key]} of this file has the same email"
            self.rejected.append(RejectedCard(card=card.position, name=card.name, reasons=[reason]))
            return
        self.first_with[key] = card.position
        self.accepted.append(result)


def _lines(file: Chunks, max_bytes: int) -> Iterator[str | None]:
    """The file's lines without their line ends, and `None` after each chunk read.

    `ImportTooLarge` past `max_bytes`, `NotVCards` at the first byte that is not UTF-8.
    A line longer than a chunk is gathered in pieces and joined once.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    started: list[str] = []  # the start of a line the chunks so far have not ended
    carried_cr = False  # the last chunk ended in CR: perhaps the first half of a CRLF
    size = 0
    while True:
        chunk = file.read(READ_CHUNK)
        size += len(chunk)
        if size > max_bytes:
            raise ImportTooLarge(f"The file is over {max_bytes:,} bytes: split it")
        try:
            text = decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as exc:
            raise NotVCards("The file is not UTF-8 text") from exc
        if carried_cr:
            text = "\r" + text
        carried_cr = bool(chunk) and text.endswith("\r")
        if carried_cr:
            text = text[:-1]
        pieces = LINE_BREAK.split(text)
        if len(pieces) > 1:
            started.append(pieces[0])
            yield "".join(started)
            yield from pieces[1:-1]
            started = []
        started.append(pieces[-1])
        if not chunk:
            break
        yield None
    last = "".join(started)
    if last:
        yield last


class _CardReader:
    """One card, read line by line into its properties; the first problem makes the
    whole card unreadable (what is left of it is only looked through for its `FN`)."""

    def __init__(self, position: int) -> None:
        self.position = position
        self.properties: dict[str, list[Property]] = {}
        self.problem: str | None = None
        self.plain_fn: str | None = None  # an `FN:` line's value, to name a card unread
        self._pieces: list[str] = []  # the logical line being gathered
        self._qp: bool | None = None  # whether it is quoted-printable, once its `:` is seen
        self._soft_break = False  # it ended in a quoted-printable `=`: it goes on

    def add(self, line: str) -> None:
        if self._soft_break:
            self._pieces += ("\n", line)
            self._soft_break = False
        elif not line or line.isspace():
            self._finish()
            return
        elif line[0] in " \t":
            self._pieces.append(line[1:])
        else:
            self._finish()
            self._pieces.append(line)
        if self._qp is None and ":" in self._pieces[-1]:
            # The line's name and parameters are complete: is its value quoted-printable?
            logical = "".join(self._pieces)
            self._qp = QP in logical[: logical.index(":")].upper()
        self._soft_break = bool(self._qp) and line.endswith("=")

    def card(self, *, closed: bool) -> Card:
        """What could be read of the card, the `END:VCARD` seen or not."""
        self._finish()
        if not closed:
            self.problem = "the card is not closed by END:VCARD"
        if self.problem:
            name = (self.plain_fn or "").strip()
            return Card(self.position, name=name, fields={}, problems={"card": self.problem})
        return _card(self.position, self.properties)

    def _finish(self) -> None:
        """Read the logical line gathered so far, if there is one."""
        if not self._pieces:
            return
        line = "".join(self._pieces)
        self._pieces = []
        self._qp = None
        self._soft_break = False
        if self.plain_fn is None and line[:3].upper() == "FN:":
            self.plain_fn = line[3:]
        if self.problem:
            return
        try:
            name, prop = _property(line)
        except (ValueError, LookupError) as exc:
            self.problem = f"the card cannot be read: {exc}"
            return
        if prop is not None:
            self.properties.setdefault(name, []).append(prop)


def _property(line: str) -> tuple[str, Property | None]:
    """A logical line's upper-case name and, for the properties the import uses, its
    parameters and decoded value (`None` for the others: their grammar is checked,
    their value left as it is). `ValueError` naming what is wrong."""
    found = LINE_NAME.match(line)
    if not found:
        raise ValueError(f"a line has no property name: {line[:40]!r}")
    name = found[2].replace("_", "-").upper()
    position = found.end()
    params: dict[str, list[str]] = {}
    count = 0
    while line.startswith(";", position):
        param = PARAMETER.match(line, position)
        if not param:
            raise ValueError(f"{name} has a parameter that cannot be read")
        count += 1
        if count > MAX_PARAMETERS:
            raise ValueError(f"{name} has more than {MAX_PARAMETERS} parameters")
        key = param[1].upper()
        if param[2] is None:  # 2.1's bare parameter: `;PREF`, `;CELL`, `;QUOTED-PRINTABLE`
            key, values = "TYPE", [param[1]]
        else:
            values = [quoted or plain for quoted, plain in PARAMETER_VALUE.findall(param[2])]
        params.setdefault(key, []).extend(values)
        position = param.end()
    if not line.startswith(":", position):
        raise ValueError(f"{name} is not followed by `:` and a value")
    if name not in USED:
        return name, None
    value = line[position + 1 :]
    if len(value) > MAX_VALUE_CHARS:
        raise ValueError(f"{name} is over {MAX_VALUE_CHARS:,} characters")
    prop = Property(params=params, value=value)
    if prop.says("ENCODING", QP) or prop.says("TYPE", QP):
        charset = (params.get("CHARSET") or ["utf-8"])[0]
        prop.value = quopri.decodestring(value.encode()).decode(_text_encoding(name, charset))
    if SURROGATE.search(prop.value):
        raise ValueError(f"{name} is not text (it holds a lone surrogate)")
    return name, prop


def _text_encoding(name: str, charset: str) -> str:
    """The codec of a `CHARSET`, if it is a character set; `ValueError` saying why not."""
    try:
        codec = codecs.lookup(charset)
    except LookupError:
        raise ValueError(f"{name} has CHARSET={charset}, which is not a known charset") from None
    if not getattr(codec, "_is_text_encoding", True) or codec.name in NOT_CHARSETS:
        raise ValueError(f"{name} has CHARSET={charset}, which is not a character set")
    return codec.name


def _card(position: int, card: dict[str, list[Property]]) -> Card:
    """The contact fields of a card read whole, and the problems found in them."""
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
        except (ValueError, IndexError):
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
