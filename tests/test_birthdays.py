"""GET /api/contacts/birthdays: the window, the new year, 29 February, order and paging.

"Today" is frozen through the `get_today` dependency, so every case is a fixed date.
"""

import asyncio
from calendar import isleap
from collections.abc import Callable
from datetime import date, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from contacts_api.api.deps import get_today
from tests.conftest import Account, make_settings
from tests.contacts import create

SetToday = Callable[[date], None]


@pytest.fixture
def set_today(app: FastAPI) -> SetToday:
    def freeze(today: date) -> None:
        app.dependency_overrides[get_today] = lambda: today

    return freeze


def upcoming(client: TestClient, account: Account, days: int | None = None, **params: int) -> dict:
    query = {"days": days, **params} if days is not None else params
    response = client.get("/api/contacts/birthdays", params=query, headers=account.headers)
    assert response.status_code == 200, response.text
    return response.json()


def birthdays_in(page: dict) -> list[str]:
    return [c["birthday"] for c in page["items"]]


def test_the_window_is_today_to_today_plus_days_minus_one(
    client: TestClient, account: Account, set_today: SetToday
) -> None:
    for birthday in ["1990-06-09", "1990-06-10", "1990-06-16", "1990-06-17"]:
        create(client, account, birthday=birthday)
    set_today(date(2026, 6, 10))

    assert birthdays_in(upcoming(client, account, days=7)) == ["1990-06-10", "1990-06-16"]


def test_the_window_is_7_days_by_default(
    client: TestClient, account: Account, set_today: SetToday
) -> None:
    for birthday in ["1990-06-16", "1990-06-17"]:
        create(client, account, birthday=birthday)
    set_today(date(2026, 6, 10))

    assert birthdays_in(upcoming(client, account)) == ["1990-06-16"]


def test_the_window_crosses_the_new_year(
    client: TestClient, account: Account, set_today: SetToday
) -> None:
    for birthday in ["1990-01-02", "1990-12-27", "1990-12-28", "1990-12-31", "1990-01-04"]:
        create(client, account, birthday=birthday)
    set_today(date(2026, 12, 28))

    page = upcoming(client, account, days=7)

    assert birthdays_in(page) == ["1990-12-28", "1990-12-31", "1990-01-02"]
    assert [c["next_birthday"] for c in page["items"]] == ["2026-12-28", "2026-12-31", "2027-01-02"]


def test_items_carry_next_birthday_and_the_age_turned(
    client: TestClient, account: Account, set_today: SetToday
) -> None:
    contact = create(client, account, birthday="1990-01-02")
    set_today(date(2026, 12, 28))

    (item,) = upcoming(client, account, days=7)["items"]

    assert item == contact | {"next_birthday": "2027-01-02", "turns": 37}


def test_a_29_february_birthday_falls_on_28_february_in_a_common_year(
    client: TestClient, account: Account, set_today: SetToday
) -> None:
    create(client, account, birthday="1992-02-29")
    set_today(date(2027, 2, 28))

    (item,) = upcoming(client, account, days=1)["items"]

    assert (item["next_birthday"], item["turns"]) == ("2027-02-28", 35)


def test_a_29_february_birthday_falls_on_29_february_in_a_leap_year(
    client: TestClient, account: Account, set_today: SetToday
) -> None:
    create(client, account, birthday="1992-02-29")
    set_today(date(2028, 2, 28))

    assert upcoming(client, account, days=1)["items"] == []
    (item,) = upcoming(client, account, days=2)["items"]
    assert item["next_birthday"] == "2028-02-29"


def test_a_29_february_birthday_celebrated_yesterday_waits_a_year(
    client: TestClient, account: Account, set_today: SetToday
) -> None:
    create(client, account, birthday="1992-02-29")
    set_today(date(2027, 3, 1))

    assert upcoming(client, account, days=365)["items"] == []
    (item,) = upcoming(client, account, days=366)["items"]
    assert item["next_birthday"] == "2028-02-29"


def test_items_are_ordered_by_next_birthday_then_name_then_id(
    client: TestClient, account: Account, set_today: SetToday
) -> None:
    later = create(client, account, last_name="Aaron", birthday="1990-12-30")["id"]
    second = create(client, account, last_name="Young", birthday="1985-12-29")["id"]
    first = create(client, account, last_name="Adams", birthday="1970-12-29")["id"]
    third = create(client, account, last_name="Young", birthday="1999-12-29")["id"]
    set_today(date(2026, 12, 28))

    items = upcoming(client, account, days=7)["items"]

    assert [c["id"] for c in items] == [first, second, third, later]


def test_birthdays_are_paged_like_the_list(
    client: TestClient, account: Account, set_today: SetToday
) -> None:
    for day in range(1, 8):
        create(client, account, birthday=f"1990-03-0{day}")
    set_today(date(2026, 3, 1))

    pages = [upcoming(client, account, days=7, limit=3, offset=o) for o in (0, 3, 6)]

    assert [p["total"] for p in pages] == [7, 7, 7]
    assert [b for p in pages for b in birthdays_in(p)] == [f"1990-03-0{d}" for d in range(1, 8)]


@pytest.mark.parametrize("query", ["days=0", "days=367", "days=x", "limit=0", "offset=-1"])
def test_bad_birthday_parameters_are_422(client: TestClient, account: Account, query: str) -> None:
    response = client.get(f"/api/contacts/birthdays?{query}", headers=account.headers)

    assert response.status_code == 422


def celebrated(birthday: date, year: int) -> date:
    if (birthday.month, birthday.day) == (2, 29) and not isleap(year):
        return date(year, 2, 28)
    return birthday.replace(year=year)


def expected_window(birthdays: list[date], today: date, days: int) -> list[tuple[date, date]]:
    """The answer worked out day by day: (next birthday, birthday), in order."""
    window = [today + timedelta(days=n) for n in range(days)]
    found = []
    for birthday in birthdays:
        hits = [day for day in window if celebrated(birthday, day.year) == day]
        if hits:
            found.append((hits[0], birthday))
    return sorted(found)


SPECIAL_BIRTHDAYS = [
    date(1990, 1, 1),
    date(1990, 1, 2),
    date(1990, 2, 28),
    date(1992, 2, 29),
    date(1990, 3, 1),
    date(1990, 6, 15),
    date(1990, 12, 27),
    date(1990, 12, 28),
    date(1990, 12, 31),
]
TODAYS = [
    date(2026, 12, 28),
    date(2026, 12, 31),
    date(2027, 1, 1),
    date(2027, 2, 27),
    date(2027, 2, 28),
    date(2027, 3, 1),
    date(2027, 6, 15),
    date(2028, 2, 27),
    date(2028, 2, 28),
    date(2028, 2, 29),
]


def test_the_sql_window_agrees_with_counting_day_by_day(
    client: TestClient, account: Account, set_today: SetToday
) -> None:
    for n, birthday in enumerate(SPECIAL_BIRTHDAYS):
        create(client, account, last_name=f"N{n}", birthday=birthday.isoformat())

    for today in TODAYS:
        set_today(today)
        for days in (1, 2, 3, 7, 60, 365, 366):
            page = upcoming(client, account, days=days, limit=100)
            got = [
                (date.fromisoformat(c["next_birthday"]), date.fromisoformat(c["birthday"]))
                for c in page["items"]
            ]
            assert got == expected_window(SPECIAL_BIRTHDAYS, today, days), (today, days)


def test_today_is_the_date_in_the_timezone_setting() -> None:
    ahead = make_settings("sqlite://", timezone="Pacific/Kiritimati")  # UTC+14
    behind = make_settings("sqlite://", timezone="Etc/GMT+12")  # UTC-12

    assert (asyncio.run(get_today(ahead)) - asyncio.run(get_today(behind))).days in (1, 2)
