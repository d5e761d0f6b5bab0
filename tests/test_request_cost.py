"""What a request costs: round trips to the database, layers it passes through, log work.

The throughput targets are measured by the benchmarks, never timed here; these tests
pin the properties the figures rest on, so that a change that loses one fails here.
"""

import logging
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.testclient import TestClient

from contacts_api.app import create_app
from tests.conftest import Account, make_settings
from tests.contacts import create


def test_reading_an_owned_contact_is_one_statement(
    client: TestClient, account: Account, statements: list[str]
) -> None:
    """The user check and the contact in one query: no separate look-up of the user."""
    contact_id = create(client, account)["id"]
    statements.clear()

    assert client.get(f"/api/contacts/{contact_id}", headers=account.headers).status_code == 200

    assert len(statements) == 1


@pytest.mark.parametrize(
    "path", ["/api/contacts", "/api/contacts?q=ada", "/api/contacts/birthdays"]
)
def test_a_page_with_its_count_and_the_user_check_is_one_statement(
    client: TestClient, account: Account, statements: list[str], path: str
) -> None:
    create(client, account)
    statements.clear()

    assert client.get(path, headers=account.headers).status_code == 200

    assert len(statements) == 1


def test_reads_open_no_transaction(
    client: TestClient, account: Account, statements: list[str]
) -> None:
    """Autocommit: no `BEGIN` before a read, no `ROLLBACK` after it."""
    client.get("/api/users/me", headers=account.headers)
    client.get("/api/contacts", headers=account.headers)

    assert not [s for s in statements if s.split()[0].upper() in {"BEGIN", "ROLLBACK", "COMMIT"}]


def test_no_cors_layer_without_origins(app: FastAPI) -> None:
    assert CORSMiddleware not in [m.cls for m in app.user_middleware]


def test_a_cors_layer_with_origins(database_url: str) -> None:
    app = create_app(make_settings(database_url, cors_origins=["https://a.example"]))

    assert CORSMiddleware in [m.cls for m in app.user_middleware]


@pytest.fixture
def access_log_at_warning() -> Iterator[logging.Logger]:
    access_log = logging.getLogger("contacts_api.access")
    level = access_log.level
    access_log.setLevel(logging.WARNING)
    yield access_log
    access_log.setLevel(level)


def test_no_access_line_is_built_when_info_is_off(
    client: TestClient, access_log_at_warning: logging.Logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the level above INFO, the line's fields are not even gathered."""
    built: list[object] = []
    monkeypatch.setattr(access_log_at_warning, "info", lambda *args: built.append(args))

    client.get("/api/health")

    assert built == []
