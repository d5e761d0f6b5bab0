"""The import, attacked: reading that stays linear in the bytes whatever a card holds,
a budget and a stop when the client goes, charsets that are not text, imports racing
each other, imports taking turns, and no reading before the sender is known.

Also what a refused write means: a duplicate email is a `409`, an account deleted
while its request ran a `401`, and anything else is not called a duplicate.
"""

import asyncio
import io
import multiprocessing
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select
from sqlmodel.ext.asyncio.session import AsyncSession

from contacts_api.api import import_worker
from contacts_api.api.deps import AccessClaims, get_current_user
from contacts_api.app import create_app
from contacts_api.core.config import Settings
from contacts_api.core.db import in_transactions
from contacts_api.core.exceptions import ClientGone, ImportsBusy
from contacts_api.crud import contacts as contacts_crud
from contacts_api.formats import vcard_import
from contacts_api.models import Contact, ContactCreate, OnConflict, User, UserPublic
from tests.conftest import Account, make_settings, on_engine
from tests.contacts import create, payload
from tests.imports import TODAY, import_file, import_in_this_process


def upload(client: TestClient, account: Account | None, content: bytes, **params: str) -> object:
    return client.post(
        "/api/contacts/import",
        params=params,
        files={"file": ("contacts.vcf", content, "text/vcard")},
        headers=account.headers if account else {},
    )


def cards(count: int, *, note: str = "", start: int = 0) -> bytes:
    """`count` valid 3.0 cards, each with an email of its own."""
    return "".join(
        f"BEGIN:VCARD\r\nVERSION:3.0\r\nN:Doe{n};John;;;\r\nFN:John Doe{n}\r\n"
        f"EMAIL:john{n}@example.com\r\nTEL:+380671234567\r\nBDAY:1990-01-02\r\n"
        f"NOTE:{note}{n}\r\nEND:VCARD\r\n"
        for n in range(start, start + count)
    ).encode()


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Three imports may run at once here, so that imports racing each other do race."""
    return make_settings(database_url, import_concurrency=3)


# --- 8. Reading is linear in the bytes ------------------------------------------


SIZE = 1_000_000  # vobject's reader took about 60 s on the first of these at this size
HEAD = "BEGIN:VCARD\r\nVERSION:2.1\r\nN:Doe;Jane\r\nEMAIL:jane@example.com\r\n"


def ordinary_file(size: int) -> bytes:
    content = b""
    count = 100
    while len(content) < size:
        count *= 2
        content = cards(count, note="An ordinary note of an ordinary card, ")
    return content[: content.rindex(b"BEGIN:VCARD", 0, size)]


PATHOLOGICAL = {
    # One quoted-printable NOTE continued over a soft line break every character.
    "soft line breaks": lambda size: (
        HEAD + "NOTE;ENCODING=QUOTED-PRINTABLE:" + "a=\r\n" * (size // 4) + "b\r\nEND:VCARD\r\n"
    ).encode(),
    # One NOTE folded into one-character lines.
    "folded lines": lambda size: (
        HEAD + "NOTE:" + "\r\n x" * (size // 4) + "\r\nEND:VCARD\r\n"
    ).encode(),
    # One line with a parameter every four bytes.
    "parameters": lambda size: (
        HEAD + "NOTE" + ";X=1" * (size // 4) + ":x\r\nEND:VCARD\r\n"
    ).encode(),
}


def seconds_to_read(content: bytes) -> float:
    started = time.perf_counter()
    vcard_import.read(content, phone_region="UA", today=TODAY)
    return time.perf_counter() - started


@pytest.mark.parametrize("kind", PATHOLOGICAL)
def test_a_pathological_card_costs_what_an_ordinary_file_of_its_size_costs(kind: str) -> None:
    """A ratio within one run: quadratic reading made it over 100 at this size."""
    ordinary = ordinary_file(SIZE)
    pathological = PATHOLOGICAL[kind](len(ordinary))

    ratio = seconds_to_read(pathological) / seconds_to_read(ordinary)

    assert ratio < 5


def test_a_pathological_card_is_refused_with_a_reason() -> None:
    content = cards(1) + PATHOLOGICAL["soft line breaks"](100_000)

    reading = vcard_import.read(content, phone_region="UA", today=TODAY)

    assert len(reading.accepted) == 1
    (refused,) = reading.rejected
    assert refused.card == 2
    assert refused.reasons == ["the card cannot be read: NOTE is over 32,768 characters"]


def test_an_import_over_its_time_limit_is_413_naming_the_limit(
    database_url: str, db: Session
) -> None:
    settings = make_settings(database_url, import_time_limit_seconds=0.000_001)
    with TestClient(create_app(settings)) as client:
        account = sign_up(client)
        response = upload(client, account, cards(2000))

    assert response.status_code == 413
    assert "IMPORT_TIME_LIMIT_SECONDS" in response.json()["detail"]
    assert db.exec(select(Contact)).all() == []


def test_an_import_stops_when_the_client_goes(
    database_url: str, account: Account, db: Session
) -> None:
    content = cards(30_000)  # about 5 MB: far more than its child reads in a look's time
    file = io.BytesIO(content)

    async def gone() -> bool:
        return True

    with pytest.raises(ClientGone):
        import_file(database_url, content, owner_id=account.id, gone=gone, file=file)

    assert file.tell() < len(content)  # the rest of the file was never read
    assert multiprocessing.active_children() == []  # the child was stopped
    assert db.exec(select(Contact)).all() == []


# --- 9. Charsets that are not text ------------------------------------------------


@pytest.mark.parametrize("charset", ["utf-7", "unicode_escape", "rot13", "base64", "nonsense"])
def test_a_charset_that_is_not_a_character_set_refuses_its_card_only(
    client: TestClient, account: Account, charset: str
) -> None:
    bad = (
        "BEGIN:VCARD\r\nVERSION:2.1\r\nN:Surrogate;Sam\r\nEMAIL:sam@example.com\r\n"
        "TEL:+380671234567\r\nBDAY:1990-01-02\r\n"
        f"NOTE;CHARSET={charset};ENCODING=QUOTED-PRINTABLE:+2AA-\r\nEND:VCARD\r\n"
    ).encode()

    response = upload(client, account, cards(1) + bad)

    assert response.status_code == 201
    report = response.json()
    assert report["created"] == 1
    (refused,) = report["rejected"]
    assert refused["card"] == 2
    assert f"CHARSET={charset}" in refused["reasons"][0]
    emails = [
        c["email"] for c in client.get("/api/contacts", headers=account.headers).json()["items"]
    ]
    assert emails == ["john0@example.com"]


def test_a_real_charset_is_read(client: TestClient, account: Account) -> None:
    card = (
        b"BEGIN:VCARD\r\nVERSION:2.1\r\nN:Doe;Jane\r\nEMAIL:jane@example.com\r\n"
        b"TEL:+380671234567\r\nBDAY:1990-01-02\r\n"
        b"NOTE;CHARSET=windows-1251;ENCODING=QUOTED-PRINTABLE:=CF=F0=E8=E2=B3=F2\r\nEND:VCARD\r\n"
    )

    assert upload(client, account, card).json()["rejected"] == []
    (jane,) = client.get("/api/contacts", headers=account.headers).json()["items"]
    assert jane["notes"] == "Привіт"


def test_the_report_is_built_before_anything_is_committed(
    database_url: str, account: Account, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An answer that cannot be built is an error, and then nothing was written.

    Called in the test's own process: an import through the API runs in a child
    process (`import_worker`), which a monkeypatch here does not reach."""

    def unwritable(**_fields: object) -> None:
        raise ValueError("an answer that cannot be written")

    monkeypatch.setattr(contacts_crud, "ImportReport", unwritable)
    reading = vcard_import.read(cards(3), phone_region="UA", today=TODAY)

    with pytest.raises(ValueError, match="cannot be written"):
        import_in_this_process(database_url, account.id, reading.accepted)

    assert len(reading.accepted) == 3
    assert db.exec(select(Contact)).all() == []


# --- 7. Imports racing each other -------------------------------------------------


def test_three_imports_of_one_file_at_once_create_each_contact_once(
    client: TestClient, account: Account
) -> None:
    """A phone retrying an upload that timed out: each import answers, none with 409."""
    content = cards(300)

    with ThreadPoolExecutor(3) as pool:
        answers = list(pool.map(lambda _: upload(client, account, content), range(3)))

    assert sorted(answer.status_code for answer in answers) in (
        [200, 200, 201],
        [200, 201, 201],
        [201, 201, 201],
    )
    reports = [answer.json() for answer in answers]
    assert sum(report["created"] for report in reports) == 300
    assert sum(report["unchanged"] for report in reports) == 600
    assert client.get("/api/contacts", headers=account.headers).json()["total"] == 300


def test_concurrent_updating_imports_update_the_contacts_that_raced_in(
    database_url: str, account: Account
) -> None:
    """Three versions of one address book, imported at once with `on_conflict=update`:
    each contact is created by one import and updated by the two others."""
    versions = [
        [
            ContactCreate.model_validate(payload(email=f"p{n}@example.com", notes=f"v{v}"))
            for n in range(100)
        ]
        for v in range(3)
    ]

    async def three_at_once(engine: object) -> list:
        transactions = in_transactions(engine)

        async def one(contacts: list[ContactCreate]) -> object:
            async with AsyncSession(transactions, expire_on_commit=False) as session:
                return await contacts_crud.import_contacts(
                    session,
                    owner_id=account.id,
                    contacts=contacts,
                    rejected=[],
                    on_conflict=OnConflict.UPDATE,
                    dry_run=False,
                )

        return await asyncio.gather(*(one(contacts) for contacts in versions))

    reports = on_engine(database_url, three_at_once)

    assert sum(report.created for report in reports) == 100
    assert sum(report.updated for report in reports) == 200


# --- 10. Imports take turns -------------------------------------------------------


def test_imports_take_turns_and_too_many_waiting_are_refused() -> None:
    async def scenario() -> list[str]:
        queue = import_worker.ImportQueue(concurrency=1, queue_limit=1)
        events: list[str] = []
        release = asyncio.Event()

        async def first() -> None:
            async with queue.turn():
                events.append("first reads")
                await release.wait()
            events.append("first done")

        async def second() -> None:
            async with queue.turn():
                events.append("second reads")

        tasks = [asyncio.create_task(first()), asyncio.create_task(second())]
        await asyncio.sleep(0.01)
        with pytest.raises(ImportsBusy):
            async with queue.turn():
                pass
        events.append("third refused")
        release.set()
        await asyncio.gather(*tasks)
        return events

    assert asyncio.run(scenario()) == ["first reads", "third refused", "first done", "second reads"]


def test_an_import_refused_for_the_queue_is_503_with_retry_after(
    client: TestClient, account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def busy(*_args: object, **_kwargs: object) -> None:
        raise ImportsBusy

    monkeypatch.setattr(import_worker, "import_file", busy)

    response = upload(client, account, cards(1))

    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0


# --- 16. No reading before the sender is known ------------------------------------


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer junk"}])
def test_an_anonymous_upload_is_refused_unread(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, headers: dict[str, str]
) -> None:
    reads: list[object] = []

    async def count_reads(*args: object, **kwargs: object) -> None:
        reads.append(args)

    monkeypatch.setattr(import_worker, "import_file", count_reads)
    content = cards(6000)  # about 1 MB

    response = client.post(
        "/api/contacts/import",
        files={"file": ("contacts.vcf", content, "text/vcard")},
        headers=headers,
    )

    assert response.status_code == 401
    assert reads == []


# --- 4. What a refused write means ----------------------------------------------


@pytest.fixture
def deleted_after_the_token_check(app: FastAPI, engine: Engine) -> None:
    """The signed-in user's account is deleted just after their token was checked."""

    async def then_deleted(request: Request, claims: AccessClaims) -> UserPublic:
        user = await get_current_user(request, claims)
        with Session(engine) as session:
            session.exec(delete(User).where(User.id == user.id))
            session.commit()
        return user

    app.dependency_overrides[get_current_user] = then_deleted


@pytest.mark.usefixtures("deleted_after_the_token_check")
def test_a_contact_of_an_account_deleted_meanwhile_is_401_not_a_duplicate(
    client: TestClient, account: Account
) -> None:
    response = client.post("/api/contacts", json=payload(), headers=account.headers)

    assert response.status_code == 401
    assert response.json()["detail"] == "Could not validate credentials"


@pytest.mark.usefixtures("deleted_after_the_token_check")
def test_an_import_of_an_account_deleted_meanwhile_is_401(
    client: TestClient, account: Account, db: Session
) -> None:
    response = upload(client, account, cards(3))

    assert response.status_code == 401
    assert db.exec(select(Contact)).all() == []


def test_a_duplicate_email_is_still_409(client: TestClient, account: Account) -> None:
    create(client, account, email="twin@example.com")

    response = client.post(
        "/api/contacts", json=payload(email="TWIN@example.com"), headers=account.headers
    )

    assert response.status_code == 409


def test_a_refusal_that_is_not_a_duplicate_stays_an_error(
    database_url: str, client: TestClient, account: Account
) -> None:
    """A `NOT NULL` refusal is a bug, not "you already have a contact with this email"."""
    contact = create(client, account)

    async def without_a_phone(engine: object) -> None:
        async with AsyncSession(engine, expire_on_commit=False) as session:
            await contacts_crud.update_contact(
                session, owner_id=account.id, contact_id=contact["id"], changes={"phone": None}
            )

    with pytest.raises(IntegrityError):
        on_engine(database_url, without_a_phone)


# --- helpers -----------------------------------------------------------------------


def sign_up(client: TestClient) -> Account:
    credentials = {"email": "ada@example.com", "password": "correct horse battery"}
    created = client.post("/api/auth/signup", json=credentials)
    tokens = client.post("/api/auth/login", json=credentials).json()
    return Account(
        id=created.json()["id"],
        email=credentials["email"],
        password=credentials["password"],
        access_token=tokens["access_token"],
        refresh_token=tokens["refresh_token"],
    )
