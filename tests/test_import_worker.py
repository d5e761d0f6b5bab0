"""An import runs in a child process: the server's event loop only hands the file over
and takes the report (`import_worker`), and what the child cannot do it says in words
the app answers as it answers a request's own errors."""

import pickle
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from contacts_api.core.exceptions import DatabaseUnavailable, ImportsBusy, SchemaBehind
from contacts_api.formats import vcard_import
from tests.conftest import Account
from tests.imports import import_file
from tests.test_import_hardening import cards, upload


def test_an_import_is_read_and_written_outside_the_servers_process(
    client: TestClient, account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reading here would fail; the child, a process of its own, reads and writes."""

    def not_here(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the file was read in the server's process")

    monkeypatch.setattr(vcard_import, "read_stream", not_here)

    response = upload(client, account, cards(3))

    assert response.status_code == 201
    assert response.json()["created"] == 3
    assert client.get("/api/contacts", headers=account.headers).json()["total"] == 3


def test_a_database_never_migrated_is_said_by_the_child(tmp_path: Path) -> None:
    empty = f"sqlite:///{tmp_path / 'empty.db'}"

    with pytest.raises(SchemaBehind):
        import_file(empty, cards(1))


def test_a_database_down_is_said_by_the_child() -> None:
    nobody_listens = "postgresql+psycopg://postgres@127.0.0.1:9/contacts"

    with pytest.raises(DatabaseUnavailable):
        import_file(nobody_listens, cards(1))


@pytest.mark.parametrize("error", [ImportsBusy(), SchemaBehind(), DatabaseUnavailable()])
def test_an_error_the_child_sends_arrives_whole(error: Exception) -> None:
    """Python's default pickling calls `__init__` with the message, which `ImportsBusy`
    does not take and `RetryLater` would read as its `retry_after`."""
    arrived = pickle.loads(pickle.dumps(error))  # noqa: S301 (our own bytes)

    assert type(arrived) is type(error)
    assert str(arrived) == str(error)
    assert arrived.__dict__ == error.__dict__
