"""The contract's "Running it": one command from an empty folder, and the ASGI app path."""

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2
import pytest
from sqlalchemy.engine import make_url

from contacts_api.core.migrations import upgrade_to_head
from tests.conftest import TEST_DATABASE_URL, TEST_PASSWORD
from tests.servers import REPO, SERVER_LOG, fresh_env, one_command_run


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    """`python -m contacts_api` started in an empty folder; yields its base URL."""
    with one_command_run(tmp_path, BCRYPT_ROUNDS="4") as (_, base_url):
        yield base_url


def test_one_command_migrates_an_empty_sqlite_file_and_serves(served: str, tmp_path: Path) -> None:
    credentials = {"email": "ada@example.com", "password": TEST_PASSWORD}

    health = httpx2.get(f"{served}/api/health")
    signup = httpx2.post(f"{served}/api/auth/signup", json=credentials)

    assert health.json() == {"status": "ok", "database": "ok"}
    assert signup.status_code == 201
    assert (tmp_path / "data" / "contacts.db").is_file()
    assert (tmp_path / "data" / "secret_key").is_file()


def test_the_asgi_app_imports_as_contacts_api_main_app(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", "from contacts_api.main import app; print(type(app).__name__)"],
        cwd=tmp_path,
        env=fresh_env(),
        capture_output=True,
        text=True,
        check=True,
    )

    assert result.stdout.strip() == "FastAPI"


def test_an_invalid_setting_stops_the_one_command_run_with_a_message(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "contacts_api"],
        cwd=tmp_path,
        env=fresh_env(SECRET_KEY="short"),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode != 0
    assert "secrets.token_urlsafe" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_purge_script_deletes_expired_tokens_from_the_configured_database(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path}/contacts.db"
    upgrade_to_head(url)

    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "purge_tokens.py")],
        cwd=tmp_path,
        env=fresh_env(DATABASE_URL=url),
        capture_output=True,
        text=True,
        check=True,
    )

    assert result.stdout.strip() == "purged 0 expired refresh tokens and 0 expired links"


def test_sigterm_lets_requests_in_flight_finish_then_closes_the_pool(tmp_path: Path) -> None:
    credentials = {"email": "ada@example.com", "password": TEST_PASSWORD}
    # A slow hash makes a login that is still running when SIGTERM arrives.
    with one_command_run(tmp_path, BCRYPT_ROUNDS="15", RATE_LIMIT_ENABLED="false") as (
        process,
        base_url,
    ):
        httpx2.post(f"{base_url}/api/auth/signup", json=credentials, timeout=60)
        with ThreadPoolExecutor(max_workers=1) as pool:
            login = pool.submit(
                httpx2.post, f"{base_url}/api/auth/login", json=credentials, timeout=60
            )
            time.sleep(0.5)  # the login is hashing now
            process.send_signal(signal.SIGTERM)
            response = login.result()
            process.wait(timeout=60)

    assert response.status_code == 200
    assert "database pool closed" in (tmp_path / SERVER_LOG).read_text()
    assert process.returncode in (0, -signal.SIGTERM)  # uvicorn re-raises it after shutdown


def test_the_one_command_run_sends_no_server_header(served: str) -> None:
    assert "server" not in httpx2.get(f"{served}/api/health").headers


def signups_from_rotating_forwarded_addresses(base_url: str, count: int) -> list[int]:
    return [
        httpx2.post(
            f"{base_url}/api/auth/signup",
            json={"email": f"u{n}@x.io", "password": TEST_PASSWORD},
            headers={"X-Forwarded-For": f"203.0.113.{n}"},
        ).status_code
        for n in range(count)
    ]


def test_a_forged_x_forwarded_for_cannot_dodge_the_rate_limit(tmp_path: Path) -> None:
    """uvicorn would trust it from 127.0.0.1 by default: every sign-up a new 'address'."""
    with one_command_run(tmp_path, BCRYPT_ROUNDS="4", RATE_LIMIT_SIGNUP="3/minute") as (_, url):
        statuses = signups_from_rotating_forwarded_addresses(url, 4)

    assert statuses == [201, 201, 201, 429]


def test_x_forwarded_for_is_believed_from_a_proxy_named_in_the_setting(tmp_path: Path) -> None:
    with one_command_run(
        tmp_path, BCRYPT_ROUNDS="4", RATE_LIMIT_SIGNUP="3/minute", FORWARDED_ALLOW_IPS="127.0.0.1"
    ) as (_, url):
        statuses = signups_from_rotating_forwarded_addresses(url, 4)

    assert statuses == [201, 201, 201, 201]


def run_once(cwd: Path, command: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    """`command` started the way a user would, ended if it serves instead of stopping."""
    return subprocess.run(
        command, cwd=cwd, env=fresh_env(**env), capture_output=True, text=True, timeout=60
    )


# Asking for a database a server does not have needs a server: the suite's own when
# TEST_DATABASE_URL names one, else the usual local one; without it the case is skipped.
POSTGRES_SERVER = make_url(TEST_DATABASE_URL or "postgresql://postgres@127.0.0.1:5432/postgres")
POSTGRES_ADDRESS = (POSTGRES_SERVER.host or "127.0.0.1", POSTGRES_SERVER.port or 5432)


def listening(address: tuple[str, int]) -> bool:
    """Whether anything accepts connections at `address`."""
    try:
        socket.create_connection(address, timeout=5).close()
    except OSError:
        return False
    return True


NO_SUCH_DATABASE = pytest.param(
    POSTGRES_SERVER.set(drivername="postgresql", database="no_such_database_here").render_as_string(
        hide_password=False
    ),
    "does not exist",
    id="no_such_database_here",
    marks=pytest.mark.skipif(
        not listening(POSTGRES_ADDRESS),
        reason="no PostgreSQL server at {}:{} to ask for a database".format(*POSTGRES_ADDRESS),
    ),
)


@pytest.mark.parametrize(
    ("database_url", "says"),
    [
        ("postgresql://u@nosuchhost.invalid/db", "nosuchhost.invalid"),
        NO_SUCH_DATABASE,
        ("postgresql://postgres@127.0.0.1:1/db", "refused"),
        ("mysql2://x/y", "names no database"),
        ("not a url", "not a database URL"),
    ],
)
def test_a_database_mistake_stops_the_one_command_run_with_one_line(
    tmp_path: Path, database_url: str, says: str
) -> None:
    result = run_once(
        tmp_path, [sys.executable, "-m", "contacts_api"], DATABASE_URL=database_url, PORT="1"
    )

    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert says in result.stderr


@pytest.mark.parametrize(
    ("setting", "value", "says"),
    [
        ("SECRET_KEY", "too-short-but-secret", "at least 32 characters"),
        ("SECRET_KEY", " " * 40, "must not contain spaces"),
        ("PHONE_REGION", "XX", "unknown region"),
    ],
)
@pytest.mark.parametrize(
    "command",
    [
        [sys.executable, "-m", "contacts_api"],
        [sys.executable, "-m", "uvicorn", "contacts_api.main:app", "--port", "1"],
        [sys.executable, str(REPO / "scripts" / "seed.py")],
    ],
    ids=["one-command", "uvicorn", "seed"],
)
def test_a_wrong_setting_is_one_line_that_never_shows_the_key(
    tmp_path: Path, command: list[str], setting: str, value: str, says: str
) -> None:
    result = run_once(tmp_path, command, **{setting: value})

    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert says in result.stderr
    assert "too-short-but-secret" not in result.stderr


@pytest.mark.usefixtures("db")
def test_a_postgres_url_as_hosting_services_write_it_works(
    database_url: str, tmp_path: Path
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("a PostgreSQL URL needs a PostgreSQL database")
    url = database_url.replace("postgresql+psycopg://", "postgres://")
    with one_command_run(tmp_path, BCRYPT_ROUNDS="4", DATABASE_URL=url) as (_, base_url):
        assert httpx2.get(f"{base_url}/api/health").json() == {"status": "ok", "database": "ok"}


@pytest.mark.parametrize(
    ("database_url", "says"),
    [
        ("postgresql://u@nosuchhost.invalid/db", "nosuchhost.invalid"),
        ("postgresql://postgres@127.0.0.1:1/db", "refused"),
        ("mysql2://x/y", "names no database"),
        ("not a url", "not a database URL"),
    ],
)
def test_a_database_mistake_stops_alembic_with_one_line(
    tmp_path: Path, database_url: str, says: str
) -> None:
    command = [sys.executable, "-m", "alembic", "-c", str(REPO / "alembic.ini"), "upgrade", "head"]

    result = run_once(tmp_path, command, DATABASE_URL=database_url)

    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert says in result.stderr
