"""scripts/seed.py: demo users and contacts that pass the API's own checks."""

import re
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import phonenumbers
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from contacts_api.app import create_app
from contacts_api.crud.contacts import upcoming_birthdays
from contacts_api.models import Contact, PageQuery, User
from scripts import seed
from tests.conftest import TEST_SECRET_KEY, make_settings, on_engine

REPO = Path(__file__).resolve().parent.parent
CREDENTIALS = re.compile(r"email: (\S+)  password: (\S+)")


@pytest.fixture
def run_seed(
    database_url: str, db: Session, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> Callable[..., str]:
    """Run the script in-process against the test database; return what it printed."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("SECRET_KEY", TEST_SECRET_KEY)
    monkeypatch.setenv("BCRYPT_ROUNDS", "4")

    def run(*args: str) -> str:
        capsys.readouterr()
        assert seed.main(list(args)) == 0
        return capsys.readouterr().out

    return run


def contacts_of(db: Session, email: str) -> list[Contact]:
    user = db.exec(select(User).where(User.email == email)).one()
    return list(db.exec(select(Contact).where(Contact.owner_id == user.id).order_by(Contact.id)))


def test_seed_writes_count_contacts_for_the_demo_user_and_each_extra_user(
    run_seed: Callable[..., str], db: Session
) -> None:
    run_seed("--count", "30", "--users", "2", "--seed", "1")

    for email in ["demo@example.com", "demo1@example.com", "demo2@example.com"]:
        assert len(contacts_of(db, email)) == 30


def test_seed_reports_rows_seconds_and_rate(run_seed: Callable[..., str]) -> None:
    out = run_seed("--count", "10")

    assert re.search(r"Wrote 10 contacts in [\d.]+ s \([\d,]+ rows/s\)", out)


def test_seeded_phones_are_valid_and_stored_in_e164(
    run_seed: Callable[..., str], db: Session
) -> None:
    run_seed("--count", "50", "--seed", "2")

    for contact in contacts_of(db, "demo@example.com"):
        number = phonenumbers.parse(contact.phone)
        assert phonenumbers.is_valid_number(number), contact.phone
        assert contact.phone == phonenumbers.format_number(
            number, phonenumbers.PhoneNumberFormat.E164
        )


def test_seeded_emails_are_unique_per_owner_across_runs(
    run_seed: Callable[..., str], db: Session
) -> None:
    run_seed("--count", "40", "--seed", "3")
    run_seed("--count", "40", "--seed", "3")

    keys = [c.email_key for c in contacts_of(db, "demo@example.com")]
    assert len(keys) == len(set(keys)) == 80


def test_seeded_names_include_cyrillic_and_latin(run_seed: Callable[..., str], db: Session) -> None:
    run_seed("--count", "40", "--seed", "4")

    names = [c.last_name for c in contacts_of(db, "demo@example.com")]
    assert any(re.search("[а-яіїєґ]", n, re.IGNORECASE) for n in names)
    assert any(re.fullmatch("[A-Za-z' -]+", n) for n in names)


def test_some_seeded_birthdays_fall_in_the_next_7_days(
    run_seed: Callable[..., str], db: Session, database_url: str
) -> None:
    run_seed("--count", "60")
    owner = db.exec(select(User).where(User.email == "demo@example.com")).one()

    _, total = on_engine(
        database_url,
        lambda engine: upcoming_birthdays(
            engine,
            owner_id=owner.id,
            generation=0,
            today=date.today(),
            days=7,
            page=PageQuery(limit=1),
        ),
    )

    assert total >= 1


def test_the_printed_credentials_log_in_through_the_api(
    run_seed: Callable[..., str], database_url: str
) -> None:
    out = run_seed("--count", "1", "--users", "1")
    credentials = CREDENTIALS.findall(out)

    with TestClient(create_app(make_settings(database_url))) as client:
        for email, password in credentials:
            login = client.post("/api/auth/login", json={"email": email, "password": password})
            assert login.status_code == 200

    assert [email for email, _ in credentials] == ["demo@example.com", "demo1@example.com"]


def test_email_and_password_can_be_chosen(run_seed: Callable[..., str]) -> None:
    out = run_seed("--count", "0", "--email", "Me@Example.com", "--password", "my-secret-pw")

    assert CREDENTIALS.findall(out) == [("me@example.com", "my-secret-pw")]


def test_the_same_seed_gives_the_same_contacts(run_seed: Callable[..., str], db: Session) -> None:
    def snapshot() -> list[tuple]:
        return [
            (
                c.first_name,
                c.last_name,
                re.sub(r"\.\d+@", "@", c.email),
                c.phone,
                c.birthday,
                c.notes,
            )
            for c in contacts_of(db, "demo@example.com")
        ]

    run_seed("--count", "25", "--seed", "42")
    first = snapshot()
    run_seed("--count", "25", "--seed", "42", "--reset")

    assert snapshot() == first


def test_reset_empties_the_demo_users_contacts_first(
    run_seed: Callable[..., str], db: Session
) -> None:
    run_seed("--count", "10")

    run_seed("--count", "5", "--reset")

    assert len(contacts_of(db, "demo@example.com")) == 5


def test_rerunning_reuses_the_demo_user(run_seed: Callable[..., str], db: Session) -> None:
    run_seed("--count", "1")
    run_seed("--count", "1")

    assert db.exec(select(func.count()).select_from(User)).one() == 1


@pytest.mark.parametrize(
    "args",
    [
        ["--count", "-1"],
        ["--count", "many"],
        ["--users", "-2"],
        ["--email", "not-an-email"],
        ["--password", "short"],
        ["--locale", "xx_XX"],
        ["--no-such-flag"],
    ],
)
def test_bad_flags_exit_with_code_2_and_a_message(args: list[str], tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "seed.py"), *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 2
    assert "error:" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unreachable_database_stops_with_a_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:1/nowhere")
    monkeypatch.setenv("SECRET_KEY", TEST_SECRET_KEY)

    assert seed.main(["--count", "1"]) == 1
    assert "cannot reach the database" in capsys.readouterr().err


def test_seed_migrates_an_empty_database_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/fresh.db")
    monkeypatch.setenv("SECRET_KEY", TEST_SECRET_KEY)
    monkeypatch.setenv("BCRYPT_ROUNDS", "4")

    assert seed.main(["--count", "3"]) == 0
    assert "Wrote 3 contacts" in capsys.readouterr().out


def test_rows_made_in_parallel_chunks_are_reproducible_and_in_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(seed, "CHUNK_SIZE", 7)  # several chunks, so several processes

    def rows() -> list[dict]:
        return list(
            seed.generate_rows(
                locales=["uk_UA", "en_US"],
                seed=5,
                today=date(2026, 11, 28),
                owner_id=1,
                numbers=range(1, 31),
                phone_region="UA",
                now=datetime(2026, 11, 28, tzinfo=UTC),
            )
        )

    first, second = rows(), rows()

    assert first == second
    assert [int(r["email"].split("@")[0].rsplit(".", 1)[1]) for r in first] == list(range(1, 31))


def test_generated_passwords_never_start_like_a_command_line_option() -> None:
    passwords = [seed.generated_password() for _ in range(2000)]

    assert all(password.isalnum() for password in passwords)
    assert len(set(passwords)) == len(passwords)


def test_the_printed_docs_address_is_under_public_url(
    run_seed: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PUBLIC_URL", "https://contacts.example.com")

    assert "Log in at https://contacts.example.com/docs" in run_seed("--count", "1")
