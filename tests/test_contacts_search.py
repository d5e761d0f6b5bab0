"""GET /api/contacts: one search box, field filters, Unicode case-folding, literal wildcards,
paging and order."""

from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Account
from tests.contacts import create


def names(client: TestClient, account: Account, **params: object) -> list[str]:
    response = client.get(f"/api/contacts?{urlencode(params)}", headers=account.headers)
    assert response.status_code == 200, response.text
    return [f"{c['first_name']} {c['last_name']}" for c in response.json()["items"]]


@pytest.fixture
def people(client: TestClient, account: Account) -> None:
    create(client, account, first_name="Олена", last_name="Коваленко", email="olena@ukr.net")
    create(client, account, first_name="Олег", last_name="Шевченко", email="oleh@gmail.com")
    create(client, account, first_name="John", last_name="Smith", email="john@gmail.com")
    create(client, account, first_name="Anna", last_name="Smithson", email="anna@example.org")
    create(client, account, first_name="Ärger", last_name="Straße", email="a.s@example.de")


@pytest.mark.usefixtures("people")
@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("оле", ["Олена Коваленко", "Олег Шевченко"]),  # Cyrillic, lower case finds upper
        ("ОЛЕНА", ["Олена Коваленко"]),  # Cyrillic, upper case finds mixed
        ("ЕНКО", ["Олена Коваленко", "Олег Шевченко"]),  # inside a word
        ("SMITH", ["John Smith", "Anna Smithson"]),  # ASCII, case-insensitive
        ("gmail", ["Олег Шевченко", "John Smith"]),  # by email
        ("ÄRGER", ["Ärger Straße"]),  # Latin beyond ASCII
        ("STRASSE", ["Ärger Straße"]),  # full case folding: ß is ss
        ("nobody", []),
    ],
)
def test_q_matches_first_name_last_name_or_email_in_any_case(
    client: TestClient, account: Account, q: str, expected: list[str]
) -> None:
    assert sorted(names(client, account, q=q)) == sorted(expected)


@pytest.mark.usefixtures("people")
def test_field_filters_match_only_their_field(client: TestClient, account: Account) -> None:
    assert names(client, account, first_name="smith") == []
    assert names(client, account, last_name="smith") == ["John Smith", "Anna Smithson"]
    assert names(client, account, email="UKR.NET") == ["Олена Коваленко"]


@pytest.mark.usefixtures("people")
def test_field_filters_combine_with_and(client: TestClient, account: Account) -> None:
    assert names(client, account, last_name="smith", email="gmail") == ["John Smith"]


@pytest.mark.usefixtures("people")
def test_q_and_field_filters_combine_with_and(client: TestClient, account: Account) -> None:
    assert names(client, account, q="gmail", first_name="олег") == ["Олег Шевченко"]


@pytest.mark.parametrize("wildcard", ["%", "_", "\\", "/"])
def test_wildcard_characters_are_matched_literally(
    client: TestClient, account: Account, wildcard: str
) -> None:
    create(client, account, first_name=f"A{wildcard}B", last_name="Literal")
    create(client, account, first_name="AxB", last_name="Plain")

    assert names(client, account, q=f"a{wildcard}b") == [f"A{wildcard}B Literal"]
    assert names(client, account, q=wildcard) == [f"A{wildcard}B Literal"]


def test_the_list_is_ordered_by_last_name_first_name_then_id(
    client: TestClient, account: Account
) -> None:
    ids = [
        create(client, account, first_name=first, last_name=last)["id"]
        for first, last in [("Bo", "Young"), ("Al", "Young"), ("Zed", "Adams"), ("Al", "Young")]
    ]

    listed = client.get("/api/contacts", headers=account.headers).json()["items"]

    assert [c["id"] for c in listed] == [ids[2], ids[1], ids[3], ids[0]]


def test_the_order_ignores_letter_case(client: TestClient, account: Account) -> None:
    for last in ["beta", "Alpha", "Gamma"]:
        create(client, account, last_name=last)

    assert [n.split()[1] for n in names(client, account)] == ["Alpha", "beta", "Gamma"]


def test_pages_cover_every_match_exactly_once(client: TestClient, account: Account) -> None:
    created = {create(client, account, last_name=f"Page{n:02}")["id"] for n in range(23)}

    seen: list[int] = []
    for offset in range(0, 30, 5):
        page = client.get(f"/api/contacts?limit=5&offset={offset}", headers=account.headers).json()
        assert (page["total"], page["limit"], page["offset"]) == (23, 5, offset)
        seen += [c["id"] for c in page["items"]]

    assert sorted(seen) == sorted(created)
    assert len(seen) == len(set(seen))


def test_total_counts_all_matches_not_the_page(client: TestClient, account: Account) -> None:
    for n in range(3):
        create(client, account, last_name=f"Match{n}")
    create(client, account, last_name="Other")

    page = client.get("/api/contacts?q=match&limit=1", headers=account.headers).json()

    assert (len(page["items"]), page["total"]) == (1, 3)


def test_the_defaults_are_limit_20_offset_0(client: TestClient, account: Account) -> None:
    page = client.get("/api/contacts", headers=account.headers).json()

    assert (page["limit"], page["offset"]) == (20, 0)


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=101",
        "limit=x",
        "offset=-1",
        f"offset={2**63}",
        "q=" + "x" * 255,
        "q=" + "x" * 5000,
        "q=a%00b",
        "email=%00",
    ],
)
def test_bad_list_parameters_are_422(client: TestClient, account: Account, query: str) -> None:
    response = client.get(f"/api/contacts?{query}", headers=account.headers)

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][0] == "query"


def test_a_page_past_the_end_is_empty_and_still_counts_every_match(
    client: TestClient, account: Account
) -> None:
    for n in range(3):
        create(client, account, last_name=f"Past{n}")

    page = client.get("/api/contacts?offset=10", headers=account.headers).json()

    assert (page["items"], page["total"]) == ([], 3)


def test_a_user_without_contacts_gets_an_empty_page(client: TestClient, account: Account) -> None:
    page = client.get("/api/contacts", headers=account.headers).json()

    assert (page["items"], page["total"]) == ([], 0)


def test_a_search_that_matches_nothing_counts_zero(client: TestClient, account: Account) -> None:
    create(client, account)

    page = client.get("/api/contacts?q=zzz", headers=account.headers).json()

    assert (page["items"], page["total"]) == ([], 0)


@pytest.mark.parametrize("limit", ["3\u00a0", " 3", "٣", "1_0", "0x3", "3.0"])
def test_a_number_in_the_query_is_written_in_plain_digits(
    client: TestClient, account: Account, limit: str
) -> None:
    response = client.get("/api/contacts", params={"limit": limit}, headers=account.headers)

    assert response.status_code == 422
