"""Safe concurrent edits: a contact's `ETag` changes with it, `If-Match` refuses a change
made on a stale copy with `412` and changes nothing, `If-None-Match` answers `304`."""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response

from contacts_api.api.etags import expected_versions, none_match
from tests.conftest import Account
from tests.contacts import create, payload


def url(contact: dict) -> str:
    return f"/api/contacts/{contact['id']}"


def etag_of(client: TestClient, account: Account, contact: dict) -> str:
    return client.get(url(contact), headers=account.headers).headers["etag"]


def patch(
    client: TestClient, account: Account, contact: dict, etag: str | None, **fields: object
) -> Response:
    headers = account.headers | ({"If-Match": etag} if etag else {})
    return client.patch(url(contact), json=fields, headers=headers)


def test_get_put_patch_and_create_answer_with_an_etag(client: TestClient, account: Account) -> None:
    created = client.post("/api/contacts", json=payload(), headers=account.headers)
    contact = created.json()

    read = client.get(url(contact), headers=account.headers)
    replaced = client.put(url(contact), json=payload(), headers=account.headers)
    patched = patch(client, account, contact, None, notes="hi")

    assert created.headers["etag"] == read.headers["etag"]
    assert replaced.headers["etag"] != read.headers["etag"]
    assert patched.headers["etag"] not in (read.headers["etag"], replaced.headers["etag"])
    assert (
        client.get(url(contact), headers=account.headers).headers["etag"]
        == (patched.headers["etag"])
    )


def test_the_etag_changes_with_every_change_even_to_the_same_values(
    client: TestClient, account: Account
) -> None:
    contact = create(client, account)
    before = etag_of(client, account, contact)

    patch(client, account, contact, None, first_name=contact["first_name"])

    assert etag_of(client, account, contact) != before


def test_a_change_with_the_current_etag_is_made(client: TestClient, account: Account) -> None:
    contact = create(client, account)

    response = patch(client, account, contact, etag_of(client, account, contact), notes="new")

    assert response.status_code == 200
    assert response.json()["notes"] == "new"


def test_a_change_with_a_stale_etag_is_412_and_changes_nothing(
    client: TestClient, account: Account
) -> None:
    contact = create(client, account)
    stale = etag_of(client, account, contact)
    patch(client, account, contact, stale, notes="the first writer's")

    second = patch(client, account, contact, stale, notes="the second writer's")
    replaced = client.put(
        url(contact), json=payload(), headers=account.headers | {"If-Match": stale}
    )

    assert second.status_code == 412
    assert replaced.status_code == 412
    now = client.get(url(contact), headers=account.headers).json()
    assert now["notes"] == "the first writer's"
    assert now["email"] == contact["email"]


def test_a_delete_with_a_stale_etag_is_412_and_deletes_nothing(
    client: TestClient, account: Account
) -> None:
    contact = create(client, account)
    stale = etag_of(client, account, contact)
    patch(client, account, contact, None, notes="changed")

    refused = client.delete(url(contact), headers=account.headers | {"If-Match": stale})
    current = etag_of(client, account, contact)
    deleted = client.delete(url(contact), headers=account.headers | {"If-Match": current})

    assert (refused.status_code, deleted.status_code) == (412, 204)


def test_if_match_star_matches_any_version(client: TestClient, account: Account) -> None:
    contact = create(client, account)

    assert patch(client, account, contact, "*", notes="x").status_code == 200


def test_someone_elses_contact_is_404_whatever_the_etag(
    client: TestClient, make_account: Callable[..., Account], account: Account
) -> None:
    contact = create(client, account)
    etag = etag_of(client, account, contact)
    stranger = make_account("eve@example.com")

    assert patch(client, stranger, contact, etag, notes="x").status_code == 404
    assert (
        client.get(url(contact), headers=stranger.headers | {"If-None-Match": etag}).status_code
        == 404
    )


def test_another_contacts_etag_does_not_match(client: TestClient, account: Account) -> None:
    first, second = create(client, account), create(client, account)

    response = patch(client, account, second, etag_of(client, account, first), notes="x")

    assert response.status_code == 412


@pytest.mark.parametrize("tag", ["garbage", 'W/"{tag}"', '"1-x"', ""])
def test_an_if_match_that_names_no_current_version_is_412(
    client: TestClient, account: Account, tag: str
) -> None:
    contact = create(client, account)
    weak_or_odd = tag.format(tag=etag_of(client, account, contact).strip('"'))

    response = client.patch(
        url(contact), json={"notes": "x"}, headers=account.headers | {"If-Match": weak_or_odd}
    )

    assert response.status_code == 412


def test_a_get_with_the_current_etag_is_304_without_a_body(
    client: TestClient, account: Account
) -> None:
    contact = create(client, account)
    etag = etag_of(client, account, contact)

    response = client.get(url(contact), headers=account.headers | {"If-None-Match": etag})

    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == etag


def test_a_get_with_a_stale_etag_is_the_contact(client: TestClient, account: Account) -> None:
    contact = create(client, account)
    stale = etag_of(client, account, contact)
    patch(client, account, contact, None, notes="changed")

    response = client.get(url(contact), headers=account.headers | {"If-None-Match": stale})

    assert response.status_code == 200
    assert response.json()["notes"] == "changed"


def test_of_two_writers_racing_with_one_etag_exactly_one_wins(
    client: TestClient, account: Account
) -> None:
    contact = create(client, account)
    etag = etag_of(client, account, contact)

    def write(n: int) -> int:
        return patch(client, account, contact, etag, notes=f"writer {n}").status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = sorted(pool.map(write, range(8)))

    assert codes == [200] + [412] * 7


def test_if_none_match_compares_weakly_and_takes_lists() -> None:
    assert none_match('W/"1-2"', '"1-2"')
    assert none_match('"1-1", "1-2"', '"1-2"')
    assert none_match("*", '"1-2"')
    assert not none_match('"1-3"', '"1-2"')


def test_if_match_reads_only_this_contacts_strong_tags() -> None:
    assert expected_versions(None, 1) is None
    assert expected_versions('"1-2", "1-5", "2-7", W/"1-9"', 1) == frozenset({2, 5})
