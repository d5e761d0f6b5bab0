"""Field rules: how emails, names, phones, birthdays and passwords are normalised and
checked.

Kept apart from `models.py` (which only declares data) because the API, the seed
script and the login all apply them, and must apply them the same way.
"""

import re
import unicodedata
from contextlib import suppress
from datetime import date
from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email


def normalize_email(address: str) -> str:
    """The one form an email is stored and looked up in.

    Surrounding spaces dropped, Unicode NFC, the domain in its Unicode form (an IDNA
    `xn--` domain and its Unicode spelling are one domain), then lower case, so that
    `A@x.io` and `a@x.io` are one account. Sign-up and login both call this, so
    whatever signed up always logs in. A string that is not an address at all (a
    login may send anything) is still folded the same way, and simply matches no one.
    """
    address = unicodedata.normalize("NFC", address.strip())
    with suppress(EmailNotValidError):  # not an address: it matches no one, folded or not
        address = validate_email(address, check_deliverability=False).normalized
    return address.lower()


def search_key(text: str) -> str:
    """The form a name or email is matched in: compatibility-normalised and case-folded.

    SQLite's `lower()` and `LIKE` fold only ASCII, and PostgreSQL's depend on the
    database's locale, so neither can be trusted to match `оле` in "Олена". Folding in
    Python, once on write and once for each query, gives the same answer on both.
    """
    return unicodedata.normalize("NFKC", text).casefold()


def birthday_key(birthday: date) -> int:
    """Month and day as one number, `MMDD` (1 March is 301): what the birthday query needs.

    "Birthdays in the next N days" compares month and day and ignores the year, which a
    `date` column cannot do with an index. With this key the window is one or two
    ranges of integers, which the `(owner_id, birthday_key)` index serves directly.
    """
    return birthday.month * 100 + birthday.day


# Why a number that parses is still not one, by `is_possible_number_with_reason`.
LENGTH_PROBLEMS = {
    phonenumbers.ValidationResult.TOO_SHORT: "too short",
    phonenumbers.ValidationResult.TOO_LONG: "too long",
    phonenumbers.ValidationResult.INVALID_LENGTH: "of a length no number there has",
    phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY: "too short (a local number?)",
}
NOT_ASSIGNED = "no such numbers are in use"


def normalize_phone(raw: str, region: str) -> str:
    """A phone number in E.164 (`+380671234567`), or `ValueError` saying what is wrong.

    A number written without a country code is read as a number of `region`, and its
    error says so, since that is often the mistake (`(415) 555-0188` typed into a
    service whose region is UA); a number written with one is judged in its own
    country, and its error names that country instead.
    """
    try:
        number = phonenumbers.parse(raw, region, keep_raw_input=True)
    except phonenumbers.NumberParseException as exc:
        raise ValueError("not a phone number") from exc
    if phonenumbers.is_valid_number(number):
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    reason = phonenumbers.is_possible_number_with_reason(number)
    problem = LENGTH_PROBLEMS.get(reason, NOT_ASSIGNED)
    source = number.country_code_source
    if source == phonenumbers.CountryCodeSource.FROM_DEFAULT_COUNTRY:
        raise ValueError(
            f"not a valid {region} number ({problem}): a number without a country code is"
            f" read as a {region} number; write it with its country code (e.g. +1 415 555 2671)"
        )
    if reason == phonenumbers.ValidationResult.INVALID_COUNTRY_CODE:
        raise ValueError(f"+{number.country_code} is not a country code")
    country = phonenumbers.region_code_for_country_code(number.country_code)
    where = country if country.isalpha() else "a non-geographic service"  # `001`: +800, +888
    raise ValueError(f"not a valid number of {where} (+{number.country_code}): {problem}")


class InvalidFields(ValueError):
    """Checks that need settings or the calendar failed; `problems` maps field to message."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("; ".join(f"{field}: {message}" for field, message in problems.items()))
        self.problems = problems


def check_contact_fields(
    values: dict[str, Any], *, phone_region: str, today: date
) -> dict[str, Any]:
    """The checks a Pydantic model cannot make alone, since they need settings or the date.

    Returns `values` with the phone in E.164, read in `phone_region` when it has no
    country code; refuses a birthday after `today`. Raises `InvalidFields` naming each
    field that failed. The API and the seed script both check contacts through here.
    """
    checked = dict(values)
    problems: dict[str, str] = {}
    if values.get("phone") is not None:
        try:
            checked["phone"] = normalize_phone(values["phone"], phone_region)
        except ValueError as exc:
            problems["phone"] = str(exc)
    if values.get("birthday") is not None and values["birthday"] > today:
        problems["birthday"] = "must not be in the future"
    problems |= control_character_problems(values)
    if problems:
        raise InvalidFields(problems)
    return checked


# The control characters each text field refuses: every one in a name (C0, DEL, C1);
# in a note all but a tab and line breaks. No vCard or iCalendar text value may hold
# them (RFC 6350 §3.3, RFC 5545 §3.1), and a terminal or log would run them.
CONTROL_CHARACTERS = {
    "first_name": re.compile(r"[\x00-\x1f\x7f-\x9f]"),
    "last_name": re.compile(r"[\x00-\x1f\x7f-\x9f]"),
    "notes": re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]"),
}


def control_character_problems(values: dict[str, Any]) -> dict[str, str]:
    """The text fields of `values` that hold a control character, each naming the first."""
    problems: dict[str, str] = {}
    for field, controls in CONTROL_CHARACTERS.items():
        found = controls.search(values.get(field) or "")
        if found:
            problems[field] = f"must not hold control characters (U+{ord(found[0]):04X} here)"
    return problems


# Each searchable field, and the column its folded form is stored in.
SEARCH_KEY_COLUMNS = {
    "first_name": "first_name_key",
    "last_name": "last_name_key",
    "email": "email_key",
}


def derived_columns(values: dict[str, Any]) -> dict[str, Any]:
    """The search and birthday keys for whichever of their source fields `values` holds."""
    derived = {
        column: search_key(values[field])
        for field, column in SEARCH_KEY_COLUMNS.items()
        if field in values
    }
    if "birthday" in values:
        derived["birthday_key"] = birthday_key(values["birthday"])
    return derived


# bcrypt reads at most this many bytes of a password (see `bcrypt_can_hash`).
BCRYPT_MAX_BYTES = 72


def normalize_password(password: str) -> str:
    """The form a password is hashed and checked in: Unicode NFKC.

    One password can be typed as different code points (a precomposed `é` or `e` and
    a combining accent; a full-width digit): NFKC makes them one, so whatever signed
    up always logs in, from any keyboard.
    """
    return unicodedata.normalize("NFKC", password)


def bcrypt_can_hash(password: str) -> bool:
    """Whether bcrypt reads all of `password` (normalised): at most 72 bytes, no NUL.

    bcrypt reads only the first 72 bytes of a password and ignores the rest. Hashing
    a longer one would let any password with the same first 72 bytes open the
    account, so such a password is refused instead. Pre-hashing would lift the limit,
    but would also make our hashes unlike every other bcrypt's.
    """
    password = normalize_password(password)
    return len(password.encode()) <= BCRYPT_MAX_BYTES and "\x00" not in password
