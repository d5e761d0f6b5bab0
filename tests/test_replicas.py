"""Two processes behind one PostgreSQL and one Redis behave as one service.

Each replica is a real `uvicorn contacts_api.main:app` process on a port of its own,
configured only through the environment, as in production.
"""

import os
import subprocess
import sys
from collections.abc import Iterator

import httpx2
import pytest
from sqlmodel import Session

from scripts.localhost import free_port
from tests.conftest import TEST_PASSWORD, TEST_SECRET_KEY
from tests.contacts import payload
from tests.servers import REPO, wait_until_up

SIGNUP_LIMIT = 3


def start_replica(port: int, database_url: str, redis_url: str) -> subprocess.Popen:
    env = os.environ | {
        "DATABASE_URL": database_url,
        "SECRET_KEY": TEST_SECRET_KEY,
        "REDIS_URL": redis_url,
        "RATE_LIMIT_SIGNUP": f"{SIGNUP_LIMIT}/minute",
        "BCRYPT_ROUNDS": "4",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "contacts_api.main:app", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.fixture(scope="module")
def replicas(database_url: str, suite_redis_url: str) -> Iterator[tuple[str, str]]:
    """Two running replicas' base URLs."""
    if not database_url.startswith("postgresql"):
        pytest.skip("replicas share a database server; SQLite is one process's file")
    ports = [free_port(), free_port()]
    processes = [start_replica(port, database_url, suite_redis_url) for port in ports]
    urls = tuple(f"http://127.0.0.1:{port}" for port in ports)
    try:
        for url in urls:
            wait_until_up(url)
        yield urls
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)


@pytest.fixture
def a_and_b(
    replicas: tuple[str, str], db: Session, test_redis_url: str
) -> Iterator[tuple[httpx2.Client, httpx2.Client]]:
    """Clients of each replica, on an empty database and an empty rate-limit budget."""
    with httpx2.Client(base_url=replicas[0]) as a, httpx2.Client(base_url=replicas[1]) as b:
        yield a, b


def tokens(client: httpx2.Client, email: str = "ada@example.com") -> dict[str, str]:
    credentials = {"email": email, "password": TEST_PASSWORD}
    client.post("/api/auth/signup", json=credentials)
    return client.post("/api/auth/login", json=credentials).json()


def test_a_contact_created_through_one_replica_is_read_through_the_other(
    a_and_b: tuple[httpx2.Client, httpx2.Client],
) -> None:
    a, b = a_and_b
    auth = {"Authorization": f"Bearer {tokens(a)['access_token']}"}

    created = a.post("/api/contacts", json=payload(), headers=auth).json()

    assert b.get(f"/api/contacts/{created['id']}", headers=auth).json() == created


def test_a_token_from_one_replica_is_accepted_by_the_other(
    a_and_b: tuple[httpx2.Client, httpx2.Client],
) -> None:
    a, b = a_and_b

    pair = tokens(a)

    me = b.get("/api/users/me", headers={"Authorization": f"Bearer {pair['access_token']}"})
    assert me.status_code == 200


def test_a_refresh_token_spent_on_one_replica_is_caught_as_reused_on_the_other(
    a_and_b: tuple[httpx2.Client, httpx2.Client],
) -> None:
    a, b = a_and_b
    first = tokens(a)["refresh_token"]
    rotated = a.post("/api/auth/refresh", json={"refresh_token": first}).json()["refresh_token"]

    replay = b.post("/api/auth/refresh", json={"refresh_token": first})

    assert replay.status_code == 401
    assert b.post("/api/auth/refresh", json={"refresh_token": rotated}).status_code == 401


def test_the_rate_limit_budget_is_shared(a_and_b: tuple[httpx2.Client, httpx2.Client]) -> None:
    a, b = a_and_b

    statuses = [
        client.post(
            "/api/auth/signup", json={"email": f"u{n}@x.io", "password": TEST_PASSWORD}
        ).status_code
        for n, client in enumerate([a, b, a, b])
    ]

    assert statuses == [201] * SIGNUP_LIMIT + [429]
