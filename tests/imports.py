"""Helpers for the import tests: an import as the API starts it (`import_worker`), and
as its child runs it, here in the test's own process where a monkeypatch reaches it."""

import asyncio
import io
from collections.abc import Awaitable, Callable
from datetime import date

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from contacts_api.api import import_worker
from contacts_api.api.import_worker import ImportJob
from contacts_api.core.db import in_transactions
from contacts_api.crud import contacts as contacts_crud
from contacts_api.models import ContactCreate, ImportReport, OnConflict
from tests.conftest import on_engine

TODAY = date(2026, 12, 1)


def job(database_url: str, content: bytes, *, owner_id: int = 1) -> ImportJob:
    """An import of `content` for `owner_id`, with the default options."""
    return ImportJob(
        database_url=database_url,
        database_timeout=2,
        owner_id=owner_id,
        max_bytes=len(content),
        phone_region="UA",
        today=TODAY,
        time_limit=60,
        on_conflict=OnConflict.SKIP,
        dry_run=False,
    )


def import_file(
    database_url: str,
    content: bytes,
    *,
    owner_id: int = 1,
    gone: Callable[[], Awaitable[bool]] | None = None,
    file: io.BytesIO | None = None,
) -> ImportReport:
    """`import_worker.import_file` on `content` (or `file`), its client there throughout
    unless `gone` says otherwise."""

    async def never_gone() -> bool:
        return False

    upload = file or io.BytesIO(content)
    return asyncio.run(
        import_worker.import_file(
            upload, job(database_url, content, owner_id=owner_id), gone=gone or never_gone
        )
    )


def import_in_this_process(
    database_url: str, owner_id: int, accepted: list[ContactCreate]
) -> ImportReport:
    """What an import's child does with the cards it accepted, done here."""

    async def import_them(engine: AsyncEngine) -> ImportReport:
        async with AsyncSession(in_transactions(engine), expire_on_commit=False) as session:
            return await contacts_crud.import_contacts(
                session,
                owner_id=owner_id,
                contacts=accepted,
                rejected=[],
                on_conflict=OnConflict.SKIP,
                dry_run=False,
            )

    return on_engine(database_url, import_them)
