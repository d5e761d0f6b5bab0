"""Nothing blocks the event loop: every request of every route leaves it free.

One event loop serves every request, so a call that blocks it (bcrypt on the loop, a
sync database driver, a sleep) stalls every other request for as long. asyncio's debug
mode times each step the loop runs and logs a warning for any slower than
`slow_callback_duration`; the test fails on any such warning. bcrypt runs at its real
cost here (about 0.25 s a hash), so a hash on the loop could not hide.
"""

import asyncio
import logging
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from contacts_api.app import create_app
from tests.conftest import TEST_PASSWORD, make_settings
from tests.contacts import payload

SLOW_STEP_SECONDS = 0.1
REAL_BCRYPT_ROUNDS = 12


@pytest.fixture
def debug_client(database_url: str, db: Session) -> Iterator[TestClient]:
    """A client whose app runs on an event loop in asyncio's debug mode."""
    settings = make_settings(database_url, bcrypt_rounds=REAL_BCRYPT_ROUNDS)
    with TestClient(create_app(settings), backend_options={"debug": True}) as client:
        client.portal.call(_set_slow_step)
        yield client


async def _set_slow_step() -> None:
    asyncio.get_running_loop().slow_callback_duration = SLOW_STEP_SECONDS


def use_every_route(client: TestClient, email: str) -> None:
    credentials = {"email": email, "password": TEST_PASSWORD}
    client.post("/api/auth/signup", json=credentials)
    tokens = client.post("/api/auth/login", json=credentials).json()
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    tokens = client.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    client.get("/api/health")
    client.get("/api/users/me", headers=auth)
    contact = client.post("/api/contacts", json=payload(), headers=auth).json()
    client.get("/api/contacts", headers=auth)
    client.get("/api/contacts?q=ada", headers=auth)
    client.get("/api/contacts/birthdays", headers=auth)
    client.get(f"/api/contacts/{contact['id']}", headers=auth)
    client.put(f"/api/contacts/{contact['id']}", json=payload(), headers=auth)
    client.patch(f"/api/contacts/{contact['id']}", json={"notes": "n"}, headers=auth)
    client.get(f"/api/contacts/{contact['id']}/vcard", headers=auth)
    client.get("/api/contacts/export", headers=auth)
    exported = client.get("/api/contacts/export", headers=auth).content
    client.post("/api/contacts/import", files={"file": ("c.vcf", exported * 50)}, headers=auth)
    calendar = client.post("/api/users/me/calendar-link", headers=auth).json()["url"]
    client.get(calendar.removeprefix("http://127.0.0.1:8000"))
    client.delete(f"/api/contacts/{contact['id']}", headers=auth)
    client.get("/api/users/me/sessions", headers=auth)
    client.post("/api/auth/verify-email/resend", headers=auth)
    client.post("/api/auth/password-reset", json={"email": email})
    client.post("/api/auth/verify-email", json={"token": "unknown"})
    client.post("/api/auth/logout", json={"refresh_token": tokens.json()["refresh_token"]})


def slow_steps(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "asyncio" and "took" in r.msg]


def test_no_route_blocks_the_event_loop(
    debug_client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    use_every_route(debug_client, "warm-up@example.com")  # first calls import and compile
    caplog.clear()

    with caplog.at_level(logging.WARNING, logger="asyncio"):
        use_every_route(debug_client, "ada@example.com")

    assert slow_steps(caplog) == []


def test_the_check_catches_a_blocking_call(
    debug_client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    """The test above would see a blocked loop: here a hash is made on the loop itself."""
    hasher = debug_client.app.state.password_hasher
    blocking: Callable[[str], str] = hasher.hash_blocking

    async def hash_on_the_loop(password: str) -> str:
        return blocking(password)

    hasher.hash = hash_on_the_loop

    with caplog.at_level(logging.WARNING, logger="asyncio"):
        use_every_route(debug_client, "ada@example.com")

    assert slow_steps(caplog) != []
