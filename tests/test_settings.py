"""Settings: defaults, the generated secret key, and keys too short to use."""

import stat
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from contacts_api.app import create_app
from contacts_api.core.config import DEFAULT_DATABASE_URL, Settings
from contacts_api.core.migrations import upgrade_to_head
from tests.conftest import TEST_PASSWORD


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings as a fresh machine sees them: nothing in the environment."""
    for name in ("DATABASE_URL", "SECRET_KEY", "TIMEZONE", "PHONE_REGION", "HOST", "PORT"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.usefixtures("clean_env")
def test_defaults_follow_the_contract() -> None:
    settings = Settings(_env_file=None, secret_key="k" * 32)

    assert settings.database_url == DEFAULT_DATABASE_URL == "sqlite:///data/contacts.db"
    assert settings.access_token_expire_minutes == 15
    assert settings.refresh_token_expire_days == 7
    assert settings.timezone == "UTC"
    assert settings.phone_region == "UA"
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)


@pytest.mark.usefixtures("clean_env")
def test_settings_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_KEY", "e" * 40)
    monkeypatch.setenv("ACCESS_TOKEN_EXPIRE_MINUTES", "5")
    monkeypatch.setenv("TIMEZONE", "Europe/Kyiv")

    settings = Settings(_env_file=None)

    assert settings.secret_key.get_secret_value() == "e" * 40
    assert settings.access_token_expire_minutes == 5
    assert settings.timezone == "Europe/Kyiv"


@pytest.mark.usefixtures("clean_env")
def test_settings_are_read_from_a_dotenv_file(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(f"SECRET_KEY={'d' * 40}\nPORT=9000\n")

    settings = Settings(_env_file=env_file)

    assert settings.port == 9000


@pytest.mark.usefixtures("clean_env")
def test_a_missing_secret_key_is_generated_beside_the_sqlite_file(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, database_url=f"sqlite:///{tmp_path}/db/contacts.db")

    key_file = tmp_path / "db" / "secret_key"
    assert key_file.read_text() == settings.secret_key.get_secret_value()
    assert len(key_file.read_text()) >= 32
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


@pytest.mark.usefixtures("clean_env")
def test_the_generated_key_is_reused_on_the_next_start(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/contacts.db"

    first = Settings(_env_file=None, database_url=url)
    second = Settings(_env_file=None, database_url=url)

    assert first.secret_key == second.secret_key


@pytest.mark.usefixtures("clean_env")
def test_tokens_survive_a_restart_with_the_generated_key(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/contacts.db"
    upgrade_to_head(url)
    credentials = {"email": "ada@example.com", "password": TEST_PASSWORD}
    with TestClient(create_app(Settings(_env_file=None, database_url=url, bcrypt_rounds=4))) as c:
        c.post("/api/auth/signup", json=credentials)
        token = c.post("/api/auth/login", json=credentials).json()["access_token"]

    restarted = create_app(Settings(_env_file=None, database_url=url, bcrypt_rounds=4))
    with TestClient(restarted) as c:
        me = c.get("/api/users/me", headers={"Authorization": f"Bearer {token}"})

    assert me.status_code == 200


@pytest.mark.usefixtures("clean_env")
def test_a_secret_key_under_32_characters_is_refused_with_a_hint() -> None:
    with pytest.raises(ValidationError, match=r"at least 32 characters.*secrets\.token_urlsafe"):
        Settings(_env_file=None, secret_key="too-short")


@pytest.mark.usefixtures("clean_env")
def test_an_unknown_timezone_is_refused() -> None:
    with pytest.raises(ValidationError, match="unknown time zone"):
        Settings(_env_file=None, secret_key="k" * 32, timezone="Mars/Olympus_Mons")


def test_a_max_import_bytes_past_the_routes_body_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="max_import_bytes"):
        Settings(_env_file=None, secret_key="k" * 32, max_import_bytes=17 * 1024 * 1024)
