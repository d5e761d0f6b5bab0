"""The birthday calendar: a private address its owner makes, replaces and revokes; an
iCalendar feed of yearly all-day events that calendar apps poll for nothing (`ETag`)."""

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from dateutil.rrule import rrulestr
from fastapi.testclient import TestClient
from icalendar import Calendar
from sqlmodel import Session, select, update

from contacts_api.api.middleware import loggable_path
from contacts_api.app import create_app
from contacts_api.core.clock import utcnow
from contacts_api.core.config import Settings
from contacts_api.crud import links
from contacts_api.models import CalendarLink, LinkPurpose
from scripts.localhost import free_port
from tests.conftest import TEST_PASSWORD, Account, make_settings, on_engine
from tests.contacts import create

PUBLIC_URL = "https://contacts.example.com"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url, public_url=PUBLIC_URL)


def make_link(client: TestClient, account: Account) -> str:
    """The calendar's path, from the URL the API answers."""
    response = client.post("/api/users/me/calendar-link", headers=account.headers)
    assert response.status_code == 201, response.text
    return response.json()["url"].removeprefix(PUBLIC_URL)


def events(client: TestClient, path: str) -> list:
    response = client.get(path)
    assert response.status_code == 200, response.text
    return Calendar.from_ical(response.content).walk("VEVENT")


def test_the_link_is_a_private_ics_address(client: TestClient, account: Account) -> None:
    response = client.post("/api/users/me/calendar-link", headers=account.headers)

    url = response.json()["url"]
    assert url.startswith(f"{PUBLIC_URL}/api/calendar/")
    assert url.endswith(".ics")
    assert len(url.removeprefix(f"{PUBLIC_URL}/api/calendar/").removesuffix(".ics")) >= 43


def test_the_calendar_is_read_without_a_token(client: TestClient, account: Account) -> None:
    create(client, account)
    path = make_link(client, account)

    response = client.get(path)

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"


def test_one_yearly_all_day_event_per_contact(client: TestClient, account: Account) -> None:
    create(client, account, first_name="Олена", last_name="Коваленко", birthday="1990-03-08")
    create(client, account, first_name="Taras", last_name="Shevchenko", birthday="1984-12-10")
    path = make_link(client, account)

    found = {str(e["SUMMARY"]): e for e in events(client, path)}

    assert set(found) == {"Birthday: Олена Коваленко", "Birthday: Taras Shevchenko"}
    olena = found["Birthday: Олена Коваленко"]
    assert olena.decoded("DTSTART") == date(1990, 3, 8)  # a date: an all-day event
    assert olena["RRULE"]["FREQ"] == ["YEARLY"]


def test_uids_are_stable_and_one_per_contact(client: TestClient, account: Account) -> None:
    create(client, account)
    create(client, account)
    path = make_link(client, account)

    first = [str(e["UID"]) for e in events(client, path)]
    again = [str(e["UID"]) for e in events(client, make_link(client, account))]

    assert len(set(first)) == 2
    assert sorted(again) == sorted(first)


def occurrences(vevent: object, year: int) -> list[date]:
    """The dates the event's rule gives in `year`, expanded by dateutil."""
    start = vevent.decoded("DTSTART")
    rule = rrulestr(
        vevent["RRULE"].to_ical().decode(), dtstart=datetime(start.year, start.month, start.day)
    )
    window = rule.between(datetime(year, 1, 1), datetime(year, 12, 31, 23, 59), inc=True)
    return [moment.date() for moment in window]


def test_a_29_february_birthday_falls_on_28_february_in_common_years(
    client: TestClient, account: Account
) -> None:
    create(client, account, birthday="2000-02-29")
    (vevent,) = events(client, make_link(client, account))

    assert occurrences(vevent, 2027) == [date(2027, 2, 28)]
    assert occurrences(vevent, 2028) == [date(2028, 2, 29)]
    assert occurrences(vevent, 2100) == [date(2100, 2, 28)]  # not a leap year either


def test_any_other_birthday_falls_on_its_day_every_year(
    client: TestClient, account: Account
) -> None:
    create(client, account, birthday="1990-03-08")
    (vevent,) = events(client, make_link(client, account))

    assert [occurrences(vevent, year) for year in (2027, 2028)] == [
        [date(2027, 3, 8)],
        [date(2028, 3, 8)],
    ]


def test_a_new_link_replaces_the_old_one(client: TestClient, account: Account) -> None:
    old = make_link(client, account)
    new = make_link(client, account)

    assert client.get(old).status_code == 404
    assert client.get(new).status_code == 200


def test_a_revoked_link_is_404(client: TestClient, account: Account) -> None:
    path = make_link(client, account)

    response = client.delete("/api/users/me/calendar-link", headers=account.headers)

    assert response.status_code == 204
    assert client.get(path).status_code == 404


@pytest.mark.parametrize("secret", ["nothing-we-made", "x" * 43])
def test_an_unknown_address_is_404(client: TestClient, secret: str) -> None:
    assert client.get(f"/api/calendar/{secret}.ics").status_code == 404


@pytest.mark.parametrize("secret", ["x" * 500, "%00", "a.b"])
def test_an_address_the_service_could_not_have_made_is_422(client: TestClient, secret: str) -> None:
    assert client.get(f"/api/calendar/{secret}.ics").status_code == 422


@pytest.mark.parametrize("method", ["POST", "GET", "DELETE"])
def test_the_link_routes_need_a_token(client: TestClient, method: str) -> None:
    assert client.request(method, "/api/users/me/calendar-link").status_code == 401


def test_the_calendar_holds_only_its_owners_contacts(
    client: TestClient, account: Account, make_account: Callable[..., Account]
) -> None:
    create(client, account, first_name="Mine")
    other = make_account("eve@example.com")
    create(client, other, first_name="Theirs")

    (vevent,) = events(client, make_link(client, account))

    assert str(vevent["SUMMARY"]).startswith("Birthday: Mine")


def test_only_a_hash_of_the_secret_is_stored(
    client: TestClient, account: Account, db: Session
) -> None:
    secret = make_link(client, account).removeprefix("/api/calendar/").removesuffix(".ics")

    (link,) = db.exec(select(CalendarLink)).all()
    assert secret not in link.secret_hash


def test_the_account_gone_takes_its_calendar_with_it(client: TestClient, account: Account) -> None:
    path = make_link(client, account)

    client.request(
        "DELETE", "/api/users/me", json={"password": account.password}, headers=account.headers
    )

    assert client.get(path).status_code == 404


# --- Polling: ETag and 304 ---------------------------------------------------


def poll(client: TestClient, path: str, etag: str) -> int:
    return client.get(path, headers={"If-None-Match": etag}).status_code


def test_an_unchanged_calendar_is_304(client: TestClient, account: Account) -> None:
    create(client, account)
    path = make_link(client, account)
    first = client.get(path)

    assert first.headers["cache-control"] == "private, no-cache"
    assert poll(client, path, first.headers["etag"]) == 304


@pytest.mark.parametrize("change", ["create", "update", "delete"])
def test_any_change_to_the_contacts_changes_the_etag(
    client: TestClient, account: Account, change: str
) -> None:
    contact = create(client, account)
    create(client, account)
    path = make_link(client, account)
    etag = client.get(path).headers["etag"]

    url = f"/api/contacts/{contact['id']}"
    if change == "create":
        create(client, account)
    elif change == "update":
        client.patch(url, json={"birthday": "1991-01-01"}, headers=account.headers)
    else:
        client.delete(url, headers=account.headers)

    assert poll(client, path, etag) == 200


def test_a_poll_answered_304_costs_one_statement_and_reads_no_event(
    client: TestClient, account: Account, statements: list[str]
) -> None:
    for _ in range(3):
        create(client, account)
    path = make_link(client, account)
    etag = client.get(path).headers["etag"]
    statements.clear()

    assert poll(client, path, etag) == 304
    assert len(statements) == 1
    assert "birthday" not in statements[0]


def test_the_address_never_reaches_the_log(
    client: TestClient, account: Account, caplog: pytest.LogCaptureFixture
) -> None:
    path = make_link(client, account)
    secret = path.removeprefix("/api/calendar/").removesuffix(".ics")

    with caplog.at_level(logging.INFO, logger="contacts_api.access"):
        client.get(path)

    assert "path=/api/calendar/<secret>" in caplog.text
    assert secret not in caplog.text


def test_downloads_are_rate_limited_per_address(database_url: str, db: Session) -> None:
    settings = make_settings(database_url, rate_limit_enabled=True, rate_limit_calendar="2/minute")
    with TestClient(create_app(settings)) as client:
        credentials = {"email": "ada@example.com", "password": "correct horse battery"}
        client.post("/api/auth/signup", json=credentials)
        tokens = client.post("/api/auth/login", json=credentials).json()
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        url = client.post("/api/users/me/calendar-link", headers=headers).json()["url"]
        codes = [client.get(urlsplit(url).path).status_code for _ in range(3)]

    assert codes == [200, 200, 429]


def test_links_made_at_once_leave_exactly_one_working_link(
    client: TestClient, account: Account
) -> None:
    def make(_: int) -> object:
        return client.post("/api/users/me/calendar-link", headers=account.headers)

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(make, range(8)))

    assert [answer.status_code for answer in answers] == [201] * 8
    working = [a for a in answers if client.get(urlsplit(a.json()["url"]).path).status_code == 200]
    assert len(working) == 1


def test_a_calendar_request_during_an_outage_logs_no_secret(
    database_url: str, db: Session, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(
        database_url, rate_limit_enabled=True, redis_url=f"redis://127.0.0.1:{free_port()}/0"
    )
    secret = "s3cretcalendarkey" * 3
    with TestClient(create_app(settings)) as client, caplog.at_level(logging.WARNING):
        response = client.get(f"/api/calendar/{secret}.ics")

    assert response.status_code == 503
    assert "/api/calendar/<secret>" in caplog.text
    assert secret not in caplog.text


# --- What the calendar's text looks like ---------------------------------------------


def test_a_backslash_n_in_a_name_stays_a_backslash_and_an_n(
    client: TestClient, account: Account
) -> None:
    create(client, account, first_name="Back\\Nslash", last_name="Smith")
    path = make_link(client, account)

    text = client.get(path).text

    assert "\r\nSUMMARY:Birthday: Back\\\\Nslash Smith\r\n" in text
    (vevent,) = Calendar.from_ical(text).walk("VEVENT")
    assert str(vevent["SUMMARY"]) == "Birthday: Back\\Nslash Smith"


def test_the_published_ttl_is_a_duration(client: TestClient, account: Account) -> None:
    text = client.get(make_link(client, account)).text

    assert "\r\nX-PUBLISHED-TTL:PT1H\r\n" in text
    assert "\r\nREFRESH-INTERVAL;VALUE=DURATION:PT1H\r\n" in text


# --- What ends a link, and what may make one ---------------------------------------


def log_in(client: TestClient, account: Account, password: str = TEST_PASSWORD) -> dict:
    """A new login's headers."""
    login = {"email": account.email, "password": password}
    tokens = client.post("/api/auth/login", json=login).json()
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def log_out_everywhere(client: TestClient, account: Account, database_url: str) -> str:
    assert client.post("/api/auth/logout-all", headers=account.headers).status_code == 204
    return TEST_PASSWORD


def change_password(client: TestClient, account: Account, database_url: str) -> str:
    change = {"current_password": TEST_PASSWORD, "new_password": "a brand new passphrase"}
    response = client.post("/api/users/me/password", json=change, headers=account.headers)
    assert response.status_code == 200, response.text
    return change["new_password"]


def reset_password(client: TestClient, account: Account, database_url: str) -> str:
    token = on_engine(
        database_url,
        lambda engine: links.issue(
            engine,
            user_id=account.id,
            purpose=LinkPurpose.PASSWORD_RESET,
            lifetime=timedelta(minutes=30),
        ),
    )
    confirm = {"token": token, "new_password": "a brand new passphrase"}
    response = client.post("/api/auth/password-reset/confirm", json=confirm)
    assert response.status_code == 204, response.text
    return confirm["new_password"]


@pytest.mark.parametrize("end_every_login", [log_out_everywhere, change_password, reset_password])
def test_the_link_ends_with_every_login(
    client: TestClient,
    account: Account,
    database_url: str,
    end_every_login: Callable[[TestClient, Account, str], str],
) -> None:
    path = make_link(client, account)
    assert client.get(path).status_code == 200

    password = end_every_login(client, account, database_url)

    assert client.get(path).status_code == 404
    headers = log_in(client, account, password)
    assert client.get("/api/users/me/calendar-link", headers=headers).status_code == 404
    # A new link, made from the new login, works.
    url = client.post("/api/users/me/calendar-link", headers=headers).json()["url"]
    assert client.get(urlsplit(url).path).status_code == 200


def test_logging_out_one_login_leaves_the_link(client: TestClient, account: Account) -> None:
    path = make_link(client, account)

    client.post("/api/auth/logout", json={"refresh_token": account.refresh_token})

    assert client.get(path).status_code == 200


def end_by_logout(client: TestClient, account: Account) -> None:
    response = client.post("/api/auth/logout", json={"refresh_token": account.refresh_token})
    assert response.status_code == 204


def end_by_revoking_the_session(client: TestClient, account: Account) -> None:
    # From another login of the same user, as a person does from a second device.
    other = log_in(client, account)
    (current,) = [
        s
        for s in client.get("/api/users/me/sessions", headers=account.headers).json()
        if s["current"]
    ]
    response = client.delete(f"/api/users/me/sessions/{current['id']}", headers=other)
    assert response.status_code == 204


@pytest.mark.parametrize("end_session", [end_by_logout, end_by_revoking_the_session])
def test_an_access_token_of_an_ended_login_cannot_make_a_link(
    client: TestClient, account: Account, end_session: Callable[[TestClient, Account], None]
) -> None:
    end_session(client, account)
    # The access token itself lives out its minutes: it still reads.
    assert client.get("/api/users/me", headers=account.headers).status_code == 200

    response = client.post("/api/users/me/calendar-link", headers=account.headers)

    assert response.status_code == 401
    status = client.get("/api/users/me/calendar-link", headers=account.headers).status_code
    assert status == 404


# --- Whether a link exists, and when it was used -----------------------------------


def test_without_a_link_its_status_is_404(client: TestClient, account: Account) -> None:
    response = client.get("/api/users/me/calendar-link", headers=account.headers)

    assert response.status_code == 404


def test_the_status_says_when_the_link_was_made_and_never_its_address(
    client: TestClient, account: Account
) -> None:
    before = utcnow()
    path = make_link(client, account)
    secret = path.removeprefix("/api/calendar/").removesuffix(".ics")

    response = client.get("/api/users/me/calendar-link", headers=account.headers)

    assert response.status_code == 200
    assert response.json().keys() == {"created_at", "last_used_at"}
    assert datetime.fromisoformat(response.json()["created_at"]) >= before - timedelta(seconds=1)
    assert response.json()["last_used_at"] is None
    assert secret not in response.text


def test_the_status_says_when_a_calendar_app_last_fetched_it(
    client: TestClient, account: Account
) -> None:
    path = make_link(client, account)
    before = utcnow()

    client.get(path)

    used = client.get("/api/users/me/calendar-link", headers=account.headers).json()
    assert datetime.fromisoformat(used["last_used_at"]) >= before - timedelta(seconds=1)


def test_a_revoked_link_has_no_status(client: TestClient, account: Account) -> None:
    make_link(client, account)
    client.delete("/api/users/me/calendar-link", headers=account.headers)

    response = client.get("/api/users/me/calendar-link", headers=account.headers)

    assert response.status_code == 404


def updates(statements: list[str]) -> list[str]:
    return [s for s in statements if s.lstrip().upper().startswith("UPDATE")]


def test_fetches_within_a_minute_write_the_use_once(
    client: TestClient, account: Account, statements: list[str]
) -> None:
    path = make_link(client, account)
    statements.clear()

    for _ in range(3):
        client.get(path)

    assert len(updates(statements)) == 1


def test_a_fetch_a_minute_after_the_last_writes_the_use_again(
    client: TestClient, account: Account, db: Session, statements: list[str]
) -> None:
    path = make_link(client, account)
    client.get(path)
    long_ago = utcnow() - timedelta(minutes=2)
    db.exec(update(CalendarLink).values(last_used_at=long_ago))
    db.commit()
    statements.clear()

    client.get(path)

    assert len(updates(statements)) == 1
    used = client.get("/api/users/me/calendar-link", headers=account.headers).json()
    assert datetime.fromisoformat(used["last_used_at"]) > long_ago


# --- The secret never reaches the log ------------------------------------------------


@pytest.mark.parametrize(
    "template",
    [
        "/api/calendar//{secret}.ics",
        "/API/calendar/{secret}.ics",
        "/api/Calendar/{secret}.ics",
        "/api/CALENDAR/{secret}.ics",
        "/api/%63alendar/{secret}.ics",
        "/api/calendar%2F{secret}.ics",
        "/api/calendar/{secret}.ics/more",
        "/api/calendar/x/{secret}.ics",
        "/api/calendar/{secret}",
        "/other/calendar/{secret}.ics",
    ],
)
def test_no_spelling_of_the_address_brings_the_secret_to_the_log(
    client: TestClient, account: Account, caplog: pytest.LogCaptureFixture, template: str
) -> None:
    secret = make_link(client, account).removeprefix("/api/calendar/").removesuffix(".ics")

    with caplog.at_level(logging.INFO, logger="contacts_api.access"):
        client.get(template.format(secret=secret))

    (line,) = [r.getMessage() for r in caplog.records if r.name == "contacts_api.access"]
    assert "/<secret> status=" in line
    assert secret not in caplog.text


@pytest.mark.parametrize(
    "path",
    [
        "/api/%63alendar/SECRET.ics",
        "/api/%2563alendar/SECRET.ics",
        "/api/calendar%2FSECRET.ics",
        "/api/calendar%5CSECRET.ics",
        "/api/calendar\\SECRET.ics",
        "/api/calendar/%0aSECRET",
    ],
)
def test_a_path_still_encoded_after_the_servers_decoding_is_logged_without_its_secret(
    path: str,
) -> None:
    """What a client encoded twice reaches the app still encoded once (the test client
    decodes twice, so these are checked on the function every log line uses)."""
    assert loggable_path(path) == "/api/calendar/<secret>"


def test_a_path_with_nothing_after_calendar_is_logged_as_it_is() -> None:
    assert loggable_path("/api/users/me/calendar-link") == "/api/users/me/calendar-link"
