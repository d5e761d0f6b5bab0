"""Control characters: no vCard or iCalendar text value may hold one (RFC 6350 §3.3,
RFC 5545 §3.1), so the API refuses them in a contact, and an export or the birthday
calendar drops any stored before that rule; a note keeps its tabs and line breaks."""

import pytest
import vobject
from fastapi.testclient import TestClient
from icalendar import Calendar
from sqlmodel import Session, update

from contacts_api.models import Contact
from tests.conftest import Account
from tests.contacts import create, payload

# VT, FF, ESC, DEL, NEL (U+0085) and CSI (U+009B): C0, DEL and C1 alike.
CONTROLS = ["\x0b", "\x0c", "\x1b", "\x7f", "\x85", "\x9b"]


@pytest.mark.parametrize("control", CONTROLS)
@pytest.mark.parametrize("field", ["first_name", "last_name", "notes"])
def test_a_contact_field_with_a_control_character_is_422_naming_it(
    client: TestClient, account: Account, field: str, control: str
) -> None:
    body = payload(**{field: f"Ada{control}Byron"})

    response = client.post("/api/contacts", json=body, headers=account.headers)

    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", field]
    assert f"U+{ord(control):04X}" in error["msg"]


def test_a_change_with_a_control_character_is_422_and_changes_nothing(
    client: TestClient, account: Account
) -> None:
    contact = create(client, account, last_name="Lovelace")
    url = f"/api/contacts/{contact['id']}"

    response = client.patch(url, json={"last_name": "Love\x1b[2Jlace"}, headers=account.headers)

    assert response.status_code == 422
    assert client.get(url, headers=account.headers).json()["last_name"] == "Lovelace"


def test_a_note_keeps_its_tabs_and_line_breaks(client: TestClient, account: Account) -> None:
    notes = "first\tcolumn\nsecond line\nthird"
    create(client, account, notes=notes)

    text = client.get("/api/contacts/export", headers=account.headers).text

    assert vobject.readOne(text).note.value == notes


def test_an_imported_card_with_a_control_character_is_reported_not_kept(
    client: TestClient, account: Account
) -> None:
    card = (
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ada Lovelace\r\nN:Lovelace;Ada;;;\r\n"
        "EMAIL:ada@example.com\r\nTEL:+380671234567\r\nBDAY:1990-12-10\r\nNOTE:a\x1bb\r\n"
        "END:VCARD\r\n"
    )

    report = client.post(
        "/api/contacts/import",
        files={"file": ("a.vcf", card.encode(), "text/vcard")},
        headers=account.headers,
    ).json()

    assert report["created"] == 0
    (rejected,) = report["rejected"]
    assert rejected["reasons"] == ["notes: must not hold control characters (U+001B here)"]


@pytest.fixture
def stored_with_controls(client: TestClient, account: Account, db: Session) -> None:
    """A contact whose name and note got control characters before the API refused them."""
    contact = create(client, account)
    db.exec(
        update(Contact)
        .where(Contact.id == contact["id"])
        .values(first_name="A\x0bda", last_name="Love\x85lace", notes="x\x1b[31my\x7f\tz")
    )
    db.commit()


@pytest.mark.usefixtures("stored_with_controls")
@pytest.mark.parametrize("version", ["4.0", "3.0"])
def test_an_export_drops_the_control_characters_stored_before(
    client: TestClient, account: Account, version: str
) -> None:
    response = client.get(
        "/api/contacts/export", params={"version": version}, headers=account.headers
    )

    assert not any(character in response.text for character in CONTROLS)
    card = vobject.readOne(response.text)
    assert (card.fn.value, card.note.value) == ("Ada Lovelace", "x[31my\tz")


@pytest.mark.usefixtures("stored_with_controls")
def test_the_birthday_calendar_drops_the_control_characters_stored_before(
    client: TestClient, account: Account
) -> None:
    url = client.post("/api/users/me/calendar-link", headers=account.headers).json()["url"]

    response = client.get("/api/calendar/" + url.rsplit("/", 1)[1])

    assert not any(character in response.text for character in CONTROLS)
    (event,) = Calendar.from_ical(response.content).walk("VEVENT")
    assert str(event["SUMMARY"]) == "Birthday: Ada Lovelace"
