"""Export: every contact (the list's filters apply) or one, as vCard 4.0 or 3.0, streamed;
read back here with `vobject`, an outside parser."""

from collections.abc import Callable

import pytest
import vobject
from fastapi.testclient import TestClient

from contacts_api.crud import contacts as contacts_crud
from contacts_api.formats.vcard import fold
from tests.conftest import Account
from tests.contacts import create

VERSIONS = ["4.0", "3.0"]


def export(client: TestClient, account: Account, **params: str) -> str:
    response = client.get("/api/contacts/export", params=params, headers=account.headers)
    assert response.status_code == 200, response.text
    return response.text


def parsed(text: str) -> list:
    return list(vobject.readComponents(text))


def test_the_export_is_a_vcard_file_to_save(client: TestClient, account: Account) -> None:
    create(client, account)

    response = client.get("/api/contacts/export", headers=account.headers)

    assert response.headers["content-type"] == "text/vcard; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="contacts.vcf"'


@pytest.mark.parametrize("version", VERSIONS)
def test_each_card_carries_every_field(client: TestClient, account: Account, version: str) -> None:
    contact = create(
        client,
        account,
        first_name="Олена",
        last_name="Коваленко",
        email="olena@example.com",
        phone="067 123 45 67",
        birthday="1990-03-08",
        notes="Met at the Kyiv meetup",
    )

    (card,) = parsed(export(client, account, version=version))

    assert card.version.value == version
    assert card.fn.value == "Олена Коваленко"
    assert (card.n.value.given, card.n.value.family) == ("Олена", "Коваленко")
    assert card.email.value == "olena@example.com"
    assert card.tel.value.removeprefix("tel:") == "+380671234567"
    assert card.bday.value.replace("-", "") == "19900308"
    assert card.note.value == "Met at the Kyiv meetup"
    assert card.uid.value.startswith("urn:uuid:")
    assert card.rev.value.replace("-", "").replace(":", "") == (
        contact["updated_at"].replace("-", "").replace(":", "").split(".")[0].rstrip("Z") + "Z"
    )


def test_a_contact_without_notes_has_no_note(client: TestClient, account: Account) -> None:
    create(client, account, notes=None)

    assert "NOTE" not in export(client, account)


def test_uids_are_stable_and_one_per_contact(client: TestClient, account: Account) -> None:
    first = create(client, account)
    create(client, account)
    before = [card.uid.value for card in parsed(export(client, account))]

    client.patch(f"/api/contacts/{first['id']}", json={"notes": "x"}, headers=account.headers)
    after = [card.uid.value for card in parsed(export(client, account))]

    assert len(set(before)) == 2
    assert sorted(after) == sorted(before)


def test_rev_moves_when_the_contact_changes(client: TestClient, account: Account) -> None:
    contact = create(client, account)
    before = parsed(export(client, account))[0].rev.value

    client.patch(f"/api/contacts/{contact['id']}", json={"notes": "x"}, headers=account.headers)

    assert parsed(export(client, account))[0].rev.value >= before


def test_the_lists_filters_apply_and_there_is_no_paging(
    client: TestClient, account: Account
) -> None:
    for n in range(25):
        create(client, account, last_name=f"Shevchenko{n}" if n % 5 else f"Franko{n}")

    everyone = parsed(export(client, account))
    frankos = parsed(export(client, account, q="franko"))

    assert len(everyone) == 25
    assert sorted(card.n.value.family for card in frankos) == [
        f"Franko{n}" for n in (0, 10, 15, 20, 5)
    ]


def test_a_large_export_comes_in_batches_in_list_order_with_nothing_lost(
    client: TestClient, account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(contacts_crud, "EXPORT_BATCH", 4)
    for _ in range(10):
        create(client, account, first_name="Same", last_name="Name")  # ties: the id decides
    listed = client.get("/api/contacts", params={"limit": 100}, headers=account.headers).json()

    exported = [card.email.value for card in parsed(export(client, account))]

    assert exported == [contact["email"] for contact in listed["items"]]


def test_the_export_holds_only_your_contacts(
    client: TestClient, account: Account, make_account: Callable[..., Account]
) -> None:
    create(client, account, email="mine@example.com")
    other = make_account("eve@example.com")
    create(client, other, email="theirs@example.com")

    assert [card.email.value for card in parsed(export(client, account))] == ["mine@example.com"]


def test_an_empty_address_book_exports_an_empty_file(client: TestClient, account: Account) -> None:
    assert export(client, account) == ""


@pytest.mark.parametrize("version", VERSIONS)
def test_one_contact_as_a_card(client: TestClient, account: Account, version: str) -> None:
    contact = create(client, account)

    response = client.get(
        f"/api/contacts/{contact['id']}/vcard", params={"version": version}, headers=account.headers
    )

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/vcard; charset=utf-8"
    (card,) = parsed(response.text)
    assert card.email.value == contact["email"]


def test_someone_elses_card_is_404(
    client: TestClient, account: Account, make_account: Callable[..., Account]
) -> None:
    contact = create(client, account)
    other = make_account("eve@example.com")

    response = client.get(f"/api/contacts/{contact['id']}/vcard", headers=other.headers)

    assert response.status_code == 404


@pytest.mark.parametrize("path", ["/api/contacts/export", "/api/contacts/1/vcard"])
def test_export_needs_a_token(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 401


@pytest.mark.parametrize("version", ["2.1", "4", ""])
def test_an_unknown_version_is_422(client: TestClient, account: Account, version: str) -> None:
    response = client.get(
        "/api/contacts/export", params={"version": version}, headers=account.headers
    )

    assert response.status_code == 422


def test_text_is_escaped_and_long_lines_folded_without_splitting_a_character(
    client: TestClient, account: Account
) -> None:
    notes = "Коротко; довго, дуже\\довго\n" + "ї" * 300
    create(client, account, notes=notes)

    text = export(client, account)

    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))
    assert parsed(text)[0].note.value == notes


def test_folding_counts_octets_not_characters() -> None:
    folded = fold("NOTE:" + "é" * 100)

    lines = folded.removesuffix("\r\n").split("\r\n")
    assert all(len(line.encode()) <= 75 for line in lines)
    assert "".join(line.removeprefix(" ") for line in lines) == "NOTE:" + "é" * 100


@pytest.mark.parametrize(("version", "written"), [("4.0", "09990228"), ("3.0", "0999-02-28")])
def test_a_birthday_before_the_year_1000_is_written_with_four_digits(
    client: TestClient, account: Account, version: str, written: str
) -> None:
    create(client, account, birthday="0999-02-28")

    text = export(client, account, version=version)

    assert f"\r\nBDAY:{written}\r\n" in text


@pytest.mark.parametrize("version", VERSIONS)
def test_a_birthday_before_the_year_1000_comes_back_from_its_export(
    client: TestClient, account: Account, make_account: Callable[..., Account], version: str
) -> None:
    create(client, account, birthday="0999-02-28", email="old@example.com")
    exported = export(client, account, version=version).encode()
    other = make_account("grace@example.com")

    response = client.post(
        "/api/contacts/import",
        files={"file": ("contacts.vcf", exported, "text/vcard")},
        headers=other.headers,
    )

    assert response.json()["created"] == 1, response.text
    (contact,) = client.get("/api/contacts", headers=other.headers).json()["items"]
    assert contact["birthday"] == "0999-02-28"
