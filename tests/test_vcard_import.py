"""Import: `.vcf` files as real exporters write them (fixtures in `tests/vcards/`), each
card through the checks of `POST /api/contacts`, every refusal reported, one
transaction; and the round trip: export, import into another account, field for field.

The fixtures, and what each proves:
- `android-2.1.vcf`: vCard 2.1, `QUOTED-PRINTABLE` UTF-8 with soft line breaks, a
  `PREF` phone, CRLF;
- `apple-3.0.vcf`: grouped `item1.EMAIL` with `X-ABLabel`, `type=pref`, a folded base64
  `PHOTO` (ignored), and a birthday without a year (`X-APPLE-OMIT-YEAR`, refused);
- `google-3.0.vcf`: a UTF-8 BOM, LF line ends, several `EMAIL`/`TEL` (the first wins),
  `BDAY` as `YYYYMMDD`, an escaped `NOTE`;
- `outlook-3.0.vcf`: `TYPE=PREF` on the second email and phone, `BDAY` with a time part;
- `rfc6350-4.0.vcf`: `PREF=1` over `PREF=2`, `tel:` URIs, and `BDAY:--0322` (refused);
- `broken-3.0.vcf`: no email; every rule broken at once; a twin of an earlier card's
  email; a card never closed.
"""

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from contacts_api.app import create_app
from contacts_api.core.config import MAX_UPLOAD_BYTES
from contacts_api.core.exceptions import ContactEmailTaken
from contacts_api.crud import contacts as contacts_crud
from contacts_api.formats import vcard_import
from contacts_api.models import Contact
from tests.conftest import Account, make_settings
from tests.contacts import create
from tests.imports import TODAY, import_in_this_process

FIXTURES = Path(__file__).parent / "vcards"
FIELDS = ("first_name", "last_name", "email", "phone", "birthday", "notes")


def upload(
    client: TestClient, account: Account, content: bytes, name: str = "contacts.vcf", **params: str
) -> object:
    return client.post(
        "/api/contacts/import",
        params=params,
        files={"file": (name, content, "text/vcard")},
        headers=account.headers,
    )


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def listed(client: TestClient, account: Account) -> dict[str, dict]:
    """The account's contacts, by email."""
    page = client.get("/api/contacts", params={"limit": 100}, headers=account.headers).json()
    return {contact["email"]: contact for contact in page["items"]}


def test_android_quoted_printable_with_soft_line_breaks(
    client: TestClient, account: Account
) -> None:
    response = upload(client, account, fixture("android-2.1.vcf"))

    assert response.status_code == 201
    assert response.json() == {"created": 2, "updated": 0, "unchanged": 0, "rejected": []}
    olena = listed(client, account)["olena@example.com"]
    assert (olena["first_name"], olena["last_name"]) == ("Олена", "Коваленко")
    assert olena["notes"] == "Зустрілися у Києві"  # a soft break in the middle of a word
    assert olena["phone"] == "+380671234567"  # the PREF one
    assert listed(client, account)["taras@example.com"]["phone"] == "+380677654321"


def test_apple_grouped_properties_the_preferred_email_and_a_year_less_birthday(
    client: TestClient, account: Account
) -> None:
    report = upload(client, account, fixture("apple-3.0.vcf")).json()

    ivan = listed(client, account)["ivan@example.com"]  # item2, the `type=pref` one
    assert (ivan["first_name"], ivan["birthday"], ivan["phone"]) == (
        "Ivan",
        "1956-08-27",
        "+380501234567",
    )
    assert report["created"] == 1
    assert report["rejected"] == [
        {
            "card": 2,
            "name": "Lesya Ukrainka",
            "reasons": ["birthday: has no year (X-APPLE-OMIT-YEAR): the year is needed"],
        }
    ]


def test_google_bom_lf_several_emails_and_a_compact_birthday(
    client: TestClient, account: Account
) -> None:
    assert upload(client, account, fixture("google-3.0.vcf")).status_code == 201

    (marko,) = listed(client, account).values()
    assert marko["email"] == "marko.home@example.com"  # none preferred: the first
    assert marko["phone"] == "+380935556677"
    assert marko["birthday"] == "1933-12-22"
    assert marko["notes"] == "Writer, translator; also: \\ a backslash\nand a second line"


def test_outlook_type_pref_and_a_birthday_with_a_time(client: TestClient, account: Account) -> None:
    upload(client, account, fixture("outlook-3.0.vcf"))

    (hryhorii,) = listed(client, account).values()
    assert hryhorii["email"] == "hryhorii@example.com"
    assert hryhorii["phone"] == "+380667001122"
    assert hryhorii["birthday"] == "1922-12-03"


def test_vcard_4_pref_numbers_tel_uris_and_a_birthday_without_a_year(
    client: TestClient, account: Account
) -> None:
    report = upload(client, account, fixture("rfc6350-4.0.vcf")).json()

    (lina,) = listed(client, account).values()
    assert (lina["email"], lina["phone"], lina["notes"]) == (
        "lina@example.com",
        "+380509998877",
        "Poet",
    )
    assert report["rejected"] == [
        {
            "card": 2,
            "name": "Mykola Lysenko",
            "reasons": ["birthday: '--0322' has no year: the year is needed"],
        }
    ]


def test_every_refused_card_is_reported_with_every_reason(
    client: TestClient, account: Account
) -> None:
    report = upload(client, account, fixture("broken-3.0.vcf")).json()

    assert report["created"] == 1  # "Good Card"
    rejected = {card["card"]: card for card in report["rejected"]}
    assert sorted(rejected) == [1, 2, 4, 5]
    assert rejected[1]["reasons"] == ["email: Field required"]
    fields = [reason.split(":")[0] for reason in rejected[2]["reasons"]]
    assert fields == ["last_name", "email", "phone", "birthday"]
    assert rejected[4] == {
        "card": 4,
        "name": "Twin Card",
        "reasons": ["email: card 3 of this file has the same email"],
    }
    assert rejected[5]["name"] == "Never Closed"
    assert rejected[5]["reasons"] == ["the card is not closed by END:VCARD"]


def test_a_file_with_nothing_accepted_is_200(client: TestClient, account: Account) -> None:
    content = fixture("broken-3.0.vcf").split(b"BEGIN:VCARD")[1]

    response = upload(client, account, b"BEGIN:VCARD" + content)

    assert response.status_code == 200
    assert response.json()["created"] == 0


def test_on_conflict_skip_leaves_the_contact(client: TestClient, account: Account) -> None:
    create(client, account, email="lina@example.com", first_name="Old")

    report = upload(client, account, fixture("rfc6350-4.0.vcf")).json()

    assert (report["created"], report["updated"], report["unchanged"]) == (0, 0, 1)
    assert listed(client, account)["lina@example.com"]["first_name"] == "Old"


def test_on_conflict_update_overwrites_from_the_card(client: TestClient, account: Account) -> None:
    old = create(client, account, email="LINA@example.com", first_name="Old")

    report = upload(client, account, fixture("rfc6350-4.0.vcf"), on_conflict="update").json()

    assert (report["created"], report["updated"], report["unchanged"]) == (0, 1, 0)
    lina = listed(client, account)["lina@example.com"]
    assert (lina["id"], lina["first_name"], lina["notes"]) == (old["id"], "Lina", "Poet")
    assert lina["updated_at"] > old["updated_at"]


def test_an_update_that_changes_nothing_counts_as_unchanged(
    client: TestClient, account: Account
) -> None:
    upload(client, account, fixture("outlook-3.0.vcf"))

    report = upload(client, account, fixture("outlook-3.0.vcf"), on_conflict="update").json()

    assert (report["created"], report["updated"], report["unchanged"]) == (0, 0, 1)


def test_a_dry_run_answers_the_same_numbers_and_writes_nothing(
    client: TestClient, account: Account
) -> None:
    create(client, account, email="taras@example.com")
    dry = upload(client, account, fixture("android-2.1.vcf"), dry_run="true")

    assert dry.status_code == 200
    assert list(listed(client, account)) == ["taras@example.com"]
    real = upload(client, account, fixture("android-2.1.vcf"))
    assert real.json() == dry.json()


def test_an_import_is_one_transaction(
    database_url: str, account: Account, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fail at the commit, after every row was written: none of them may remain.

    Called in the test's own process: an import through the API runs in a child
    process (`import_worker`), which a monkeypatch here does not reach."""

    async def fail(_session: object) -> None:
        raise ContactEmailTaken

    monkeypatch.setattr(contacts_crud, "_commit", fail)
    reading = vcard_import.read(fixture("android-2.1.vcf"), phone_region="UA", today=TODAY)

    with pytest.raises(ContactEmailTaken):
        import_in_this_process(database_url, account.id, reading.accepted)

    assert reading.accepted
    assert db.exec(select(Contact)).all() == []


def test_not_a_vcard_file_is_422(client: TestClient, account: Account) -> None:
    for content in (b"hello, world\n", b"\xff\xfe\x00B\x00E", b""):
        response = upload(client, account, content, name="notes.txt")
        assert response.status_code == 422, content
        assert response.json()["detail"][0]["loc"] == ["body", "file"]


def test_no_file_is_422(client: TestClient, account: Account) -> None:
    response = client.post(
        "/api/contacts/import",
        files={"other": ("a.vcf", b"BEGIN:VCARD", "text/vcard")},
        headers=account.headers,
    )

    assert response.status_code == 422


def test_json_is_not_an_upload(client: TestClient, account: Account) -> None:
    response = client.post("/api/contacts/import", json={"file": "x"}, headers=account.headers)

    assert response.status_code == 415


def test_import_needs_a_token(client: TestClient) -> None:
    files = {"file": ("c.vcf", fixture("google-3.0.vcf"), "text/vcard")}

    assert client.post("/api/contacts/import", files=files).status_code == 401


def test_a_file_over_max_import_bytes_is_413(database_url: str, db: Session) -> None:
    settings = make_settings(database_url, max_import_bytes=1024)
    with TestClient(create_app(settings)) as client:
        credentials = {"email": "ada@example.com", "password": "correct horse battery"}
        client.post("/api/auth/signup", json=credentials)
        token = client.post("/api/auth/login", json=credentials).json()["access_token"]
        response = client.post(
            "/api/contacts/import",
            files={"file": ("big.vcf", fixture("apple-3.0.vcf") + b" " * 1024, "text/vcard")},
            headers={"Authorization": f"Bearer {token}"},
        )

    assert response.status_code == 413
    assert db.exec(select(Contact)).all() == []


def test_more_than_ten_thousand_cards_is_413(client: TestClient, account: Account) -> None:
    card = b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:A B\r\nEND:VCARD\r\n"

    response = upload(client, account, card * 10_001)

    assert response.status_code == 413


def test_the_largest_upload_the_route_takes_is_bounded(
    client: TestClient, account: Account
) -> None:
    """Past `MAX_UPLOAD_BYTES` the body is refused before it is read to the end."""
    response = upload(client, account, b"x" * (MAX_UPLOAD_BYTES + 1))

    assert response.status_code == 413


# --- Round trip ---------------------------------------------------------------


TRICKY = {
    "first_name": "Ґанна-Марія",
    "last_name": "O'Brien; Jr, \\ III",
    "email": "hanna@example.com",
    "phone": "+380671234567",
    "birthday": "2000-02-29",
    "notes": "Line one, with; punctuation \\ and a backslash\nLine two: " + "довгий " * 40,
}


@pytest.mark.parametrize("version", ["4.0", "3.0"])
def test_export_then_import_into_another_account_is_field_for_field_equal(
    client: TestClient, account: Account, make_account: Callable[..., Account], version: str
) -> None:
    create(client, account, **TRICKY)
    for n in range(5):
        create(client, account, notes=None if n % 2 else f"note {n}")
    exported = client.get(
        "/api/contacts/export", params={"version": version}, headers=account.headers
    ).content
    other = make_account("grace@example.com")

    report = upload(client, other, exported).json()

    assert (report["created"], report["rejected"]) == (6, [])
    mine, theirs = listed(client, account), listed(client, other)
    assert {email: [c[f] for f in FIELDS] for email, c in mine.items()} == {
        email: [c[f] for f in FIELDS] for email, c in theirs.items()
    }


def test_characters_that_python_would_split_lines_at_survive_the_round_trip(
    client: TestClient, account: Account, make_account: Callable[..., Account]
) -> None:
    # Line and paragraph separators; the control characters Python also splits at (VT,
    # FF, U+001C…U+001E, U+0085) no contact holds: see tests/test_control_characters.py.
    notes = "a\u2028b\u2029c"
    create(client, account, notes=notes, email="odd@example.com")
    exported = client.get("/api/contacts/export", headers=account.headers).content
    other = make_account("grace@example.com")

    report = upload(client, other, exported).json()

    assert report["rejected"] == []
    assert listed(client, other)["odd@example.com"]["notes"] == notes


# --- Every card created or reported -------------------------------------------------


def test_two_exports_put_end_to_end_each_with_a_byte_order_mark_are_both_read(
    client: TestClient, account: Account
) -> None:
    content = (
        b"\xef\xbb\xbf" + fixture("rfc6350-4.0.vcf") + b"\xef\xbb\xbf" + fixture("outlook-3.0.vcf")
    )

    report = upload(client, account, content).json()

    assert report["created"] == 2
    assert [card["card"] for card in report["rejected"]] == [2]  # Lysenko's year-less BDAY
    assert sorted(listed(client, account)) == ["hryhorii@example.com", "lina@example.com"]


def test_a_begin_with_leading_spaces_starts_a_card(client: TestClient, account: Account) -> None:
    content = fixture("outlook-3.0.vcf") + b"  " + fixture("android-2.1.vcf")

    report = upload(client, account, content).json()

    assert (report["created"], report["rejected"]) == (3, [])


def test_lines_outside_any_card_are_reported_by_their_numbers(
    client: TestClient, account: Account
) -> None:
    card = fixture("outlook-3.0.vcf").replace(b"\r\n", b"\n")
    lines = card.count(b"\n")
    content = b"Exported by Example\n\n" + card + b"stray one\nstray two\n"

    report = upload(client, account, content).json()

    assert report["created"] == 1
    assert report["rejected"] == [
        {
            "card": 0,
            "name": "",
            "reasons": ["line 1 of the file: outside any BEGIN:VCARD … END:VCARD, not read"],
        },
        {
            "card": 0,
            "name": "",
            "reasons": [
                f"lines {lines + 3}-{lines + 4} of the file: outside any BEGIN:VCARD … END:VCARD,"
                " not read"
            ],
        },
    ]


# --- The region of numbers without a country code ------------------------------------


def test_an_import_reads_numbers_without_a_country_code_in_its_region(
    client: TestClient, account: Account
) -> None:
    card = (
        b"BEGIN:VCARD\r\nVERSION:3.0\r\nN:Doe;Jane\r\nEMAIL:jane@example.com\r\n"
        b"TEL:(415) 555-0188\r\nBDAY:1990-01-02\r\nEND:VCARD\r\n"
    )

    report = upload(client, account, card, region="us").json()

    assert (report["created"], report["rejected"]) == (1, [])
    assert listed(client, account)["jane@example.com"]["phone"] == "+14155550188"


def test_an_import_in_the_default_region_reads_them_in_phone_region(
    client: TestClient, account: Account
) -> None:
    report = upload(client, account, fixture("android-2.1.vcf")).json()  # `067 765 43 21`

    assert report["created"] == 2
    assert listed(client, account)["taras@example.com"]["phone"] == "+380677654321"


@pytest.mark.parametrize("region", ["ZZ", "USA", "1"])
def test_an_unknown_region_is_422(client: TestClient, account: Account, region: str) -> None:
    response = upload(client, account, fixture("android-2.1.vcf"), region=region)

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "region"]
