"""The birthday calendar as iCalendar (RFC 5545), written with `icalendar`.

One all-day event a contact, repeating every year from the birth date. A birthday on
29 February repeats on the last day of February (`BYMONTH=2;BYMONTHDAY=-1`): the 29th
in leap years, the 28th in the others, as the birthdays list counts it.
"""

import hashlib
import uuid
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Protocol

from icalendar import Calendar, Event, vDuration, vText

from contacts_api.formats.vcard import UID_NAMESPACE, escape

MEDIA_TYPE = "text/calendar; charset=utf-8"
PATH = "/api/calendar"
# Part of every `ETag`: moved on when the way a calendar is written changes, so that a
# calendar app's copy from the older code is not answered `304`.
FORMAT = 2
# How often calendar apps are asked to look again; an unchanged calendar costs a `304`.
REFRESH_INTERVAL = timedelta(hours=1)


class BirthdayContact(Protocol):
    id: int
    first_name: str
    last_name: str
    birthday: date
    updated_at: datetime


class Text(vText):
    """A TEXT value escaped as RFC 5545 §3.3.11 says, every backslash doubled.

    `icalendar`'s own escaping first reads a literal `\\N` as a line break, so a name
    holding one would be cut in two in a calendar app; this one writes it as `\\\\N`,
    and drops the control characters no text value may hold (see `vcard.escape`).
    """

    def to_ical(self) -> bytes:
        return escape(self).encode(self.encoding)


def event_uid(contact_id: int) -> str:
    """The contact's birthday event, the same in every download of the calendar."""
    return f"{uuid.uuid5(UID_NAMESPACE, f'birthday/{contact_id}')}@contacts-api"


def yearly_rule(birthday: date) -> dict[str, object]:
    if (birthday.month, birthday.day) == (2, 29):
        return {"FREQ": "YEARLY", "BYMONTH": 2, "BYMONTHDAY": -1}
    return {"FREQ": "YEARLY"}


def feed(contacts: Iterable[BirthdayContact]) -> bytes:
    calendar = Calendar()
    calendar.add("PRODID", "-//contacts_api//Birthdays//EN")
    calendar.add("VERSION", "2.0")
    calendar.add("CALSCALE", "GREGORIAN")
    calendar.add("NAME", "Birthdays")
    calendar.add("X-WR-CALNAME", "Birthdays")
    calendar.add("REFRESH-INTERVAL", REFRESH_INTERVAL, parameters={"VALUE": "DURATION"})
    # Outlook's name for the same; a duration (`PT1H`), which `icalendar` writes only
    # when told: an `X-` property's value is text to it.
    calendar.add("X-PUBLISHED-TTL", vDuration(REFRESH_INTERVAL))
    for contact in contacts:
        event = Event()
        event.add("UID", event_uid(contact.id))
        event.add("DTSTAMP", contact.updated_at)
        event.add("DTSTART", contact.birthday)
        event.add("RRULE", yearly_rule(contact.birthday))
        event.add("SUMMARY", Text(f"Birthday: {contact.first_name} {contact.last_name}"))
        event.add("TRANSP", "TRANSPARENT")
        calendar.add_component(event)
    return calendar.to_ical()


def feed_url(public_url: str, secret: str) -> str:
    return f"{public_url}{PATH}/{secret}.ics"


def feed_etag(*state: object) -> str:
    """A calendar's `ETag`, from what decides its content (see `crud.calendar_links`)."""
    return '"' + hashlib.sha256(repr((FORMAT, *state)).encode()).hexdigest()[:32] + '"'
