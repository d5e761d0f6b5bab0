"""Upcoming birthdays: which month-day keys a window covers, and in what order they come.

A contact stores `birthday_key = MMDD` (see `rules.birthday_key`). For a window of
`days` days from `today`, the matching keys form one range of integers, or two when
the window crosses the new year, so the `(owner_id, birthday_key)` index finds the
rows; the SQL below then orders them by how soon the birthday comes.

29 February is celebrated on 28 February in a year without it.
"""

from calendar import isleap
from datetime import date, timedelta

from sqlalchemy import ColumnElement, case, literal

from contacts_api.core.rules import birthday_key

LEAP_DAY_KEY = 229
EVE_OF_LEAP_DAY_KEY = 228
NEXT_YEAR = 10_000  # added to a key in next year's part of the window: sorts after this year's


def key_ranges(today: date, days: int) -> list[tuple[int, int]]:
    """The inclusive `birthday_key` ranges of the dates `today … today + days - 1`."""
    end = today + timedelta(days=days - 1)
    low, high = birthday_key(today), birthday_key(end)
    if (end.month, end.day) == (2, 28) and not isleap(end.year):
        high = LEAP_DAY_KEY  # the window's last day is also the leap-day birthdays' day
    if end.year == today.year:
        return [(low, high)]
    return [(low, 1231), (101, high)]


def days_order(key: ColumnElement[int], today: date) -> ColumnElement[int]:
    """An SQL sort key: smaller for a sooner birthday, counted from `today`.

    A key still ahead this year sorts as itself; one already past this year comes
    round next year and sorts after all of this year's. Leap-day birthdays sort as
    28 February in a year without a 29th.
    """
    this_year = _celebrated(key, today.year)
    next_year = _celebrated(key, today.year + 1)
    return case((this_year >= birthday_key(today), this_year), else_=next_year + NEXT_YEAR)


def next_birthday(birthday: date, today: date) -> date:
    """The first day from `today` on (today included) that is this birthday."""
    this_year = _in_year(birthday, today.year)
    return this_year if this_year >= today else _in_year(birthday, today.year + 1)


def _in_year(birthday: date, year: int) -> date:
    if (birthday.month, birthday.day) == (2, 29) and not isleap(year):
        return date(year, 2, 28)
    return birthday.replace(year=year)


def _celebrated(key: ColumnElement[int], year: int) -> ColumnElement[int]:
    if isleap(year):
        return key
    return case((key == LEAP_DAY_KEY, literal(EVE_OF_LEAP_DAY_KEY)), else_=key)
