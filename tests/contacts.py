"""Helpers for the contact tests: a valid payload, and creating contacts through the API."""

from itertools import count
from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import Account

_serial = count(1)


def payload(**fields: Any) -> dict[str, Any]:
    """A valid contact; each call gets its own email unless one is given."""
    n = next(_serial)
    return {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": f"ada{n}@example.com",
        "phone": "+380671234567",
        "birthday": "1990-12-10",
        "notes": None,
    } | fields


def create(client: TestClient, account: Account, **fields: Any) -> dict[str, Any]:
    response = client.post("/api/contacts", json=payload(**fields), headers=account.headers)
    assert response.status_code == 201, response.text
    return response.json()
