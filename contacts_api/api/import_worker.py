"""Imports take turns, and each runs in a child process, away from the event loop.

An import is CPU work from end to end. Reading a vCard file costs about 0.2 s a
megabyte; writing its contacts costs about as much again in Python (building each
statement's rows, psycopg turning placeholders into PostgreSQL's, the answers). All of
it holds Python's GIL, in a worker thread as much as on the event loop. Done on the loop
in slices of a millisecond, or in chunks of 10 rows, five 5 MB imports in a row still
made every other request's p99 four to five times longer; here, about three times
(`scripts/bench.py`, the same run's `GET /api/users/me` alone and meanwhile). A child
process has an interpreter of its own: it works on another core, at a lower priority
(`NICENESS`), and the loop only hands the file over and takes the report.

How one import goes (`import_file`):

- `ImportQueue` gives the import its turn: one at a time by default
  (`IMPORT_CONCURRENCY`), each waiting holding only its spooled upload;
- a child is forked from multiprocessing's fork server, a process started at the first
  import that has imported this module once (that first import waits about 0.7 s for
  it; each later child starts in milliseconds). The child ends with its import, and
  the memory the import took goes with it;
- a worker thread copies the upload into a pipe, 64 KB at a time, and the child reads
  it from there as it goes (`vcard_import.read_stream`): the cards it accepts, never
  the whole file, are held;
- the child writes the contacts with `crud.contacts.import_contacts` over a connection
  of its own, in one transaction, exactly as a request would;
- it answers once: the report as JSON, or the error a client can be told (a refusal
  of the file, a duplicate, a database that is down), sent back and raised here, where
  the app answers it as it answers every error. A worker thread waits for the answer;
- meanwhile the request looks every `LOOK_SECONDS` whether its client is still there,
  and stops the child if not (`ClientGone`): its transaction, never committed, is rolled
  back by the database. The child keeps to the import's time budget itself
  (`IMPORT_TIME_LIMIT_SECONDS`, counted in its own CPU time).
"""

import asyncio
import multiprocessing
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import date
from multiprocessing.connection import Connection
from typing import BinaryIO

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlmodel.ext.asyncio.session import AsyncSession

from contacts_api.core.db import create_app_engine, in_transactions, is_missing_table
from contacts_api.core.exceptions import (
    ClientGone,
    DatabaseUnavailable,
    DomainError,
    ImportsBusy,
    SchemaBehind,
)
from contacts_api.core.waiting import WaitingRoom
from contacts_api.crud import contacts
from contacts_api.formats import vcard_import
from contacts_api.formats.vcard_import import NotVCards
from contacts_api.models import ImportReport, OnConflict

NICENESS = 19  # the lowest priority: the import is the one job here that can wait
LOOK_SECONDS = 0.25  # how often a request asks whether its client is still there

# A fork server, not a plain fork of the server: forking a process that runs threads
# (the event loop's helpers, the hashing threads) may copy a lock some thread holds.
# Nor a fresh interpreter for each import ("spawn"): its start held the GIL for 0.1 s
# in a large process, and each child would import everything again (0.7 s of CPU).
# The fork server is a single-threaded process that imports this module once (about
# 50 MB, kept for the server's life) and forks each child from there.
CONTEXT = multiprocessing.get_context("forkserver")
CONTEXT.set_forkserver_preload([__name__])


class ImportQueue:
    """How many imports read and write at once, and how many may wait for their turn.

    Reading a file takes a core, and its cards are held in memory until they are
    written: five 5 MB imports at once slowed every other request fiftyfold and grew
    the server by 300 MB. So imports take turns, as password hashes do
    (`security.PasswordHasher`): a request waiting for its turn waits on an asyncio
    semaphore, holding no thread, only its spooled upload; past `queue_limit` waiting
    imports a new one is refused at once (`ImportsBusy`, a `503` with `Retry-After`).
    """

    def __init__(self, *, concurrency: int, queue_limit: int) -> None:
        self._room = WaitingRoom(concurrency)
        self._queue_limit = queue_limit

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        if self._room.full(self._queue_limit):
            raise ImportsBusy
        async with self._room.turn():
            yield


@dataclass(frozen=True)
class ImportJob:
    """What the child needs to know for one import (sent to it, so plain values)."""

    database_url: str
    database_timeout: float  # DATABASE_TIMEOUT_SECONDS
    owner_id: int
    max_bytes: int
    phone_region: str
    today: date
    time_limit: float  # IMPORT_TIME_LIMIT_SECONDS
    on_conflict: OnConflict
    dry_run: bool


async def import_file(
    file: BinaryIO, job: ImportJob, *, gone: Callable[[], Awaitable[bool]]
) -> ImportReport:
    """Import an uploaded file in a child process; its report.

    What the child raises a client can be told is raised here: `ImportTooLarge` past
    `max_bytes`, `MAX_CARDS` or `time_limit`, `NotVCards` for a file that is not
    vCards, the domain errors of `crud.contacts.import_contacts`, `DatabaseUnavailable`
    and `SchemaBehind`. `ClientGone` when `gone()` says the client went away (the
    child is stopped); `ChildFailed` if the child died without an answer (a bug).
    """
    answers, child_answers = CONTEXT.Pipe(duplex=False)
    child_source, source = CONTEXT.Pipe(duplex=False)
    child = CONTEXT.Process(
        target=_import_in_child,
        args=(child_source, child_answers, job),
        name="vcard-import",
        daemon=True,
    )
    sending = answer = None
    try:
        await asyncio.to_thread(child.start)  # the first start waits for the fork server
        child_source.close()
        child_answers.close()
        sending = asyncio.ensure_future(asyncio.to_thread(_send, file, source))
        answer = asyncio.ensure_future(asyncio.to_thread(_receive, answers))
        while not answer.done():
            await asyncio.wait({answer}, timeout=LOOK_SECONDS)
            if not answer.done() and await gone():
                raise ClientGone
        return answer.result()
    finally:
        # Ending the child ends both threads: their pipes have no other end any more.
        if child.pid is not None:
            child.kill()
            await asyncio.gather(*filter(None, (sending, answer)), return_exceptions=True)
            await asyncio.to_thread(child.join)
            child.close()
        for pipe in (source, answers, child_source, child_answers):
            pipe.close()


def _send(file: BinaryIO, pipe: Connection) -> None:
    """Copy the upload into the child's pipe; `b""` says it is all there. The child may
    stop reading first (a refusal, or it was stopped): the rest is not needed."""
    with suppress(BrokenPipeError):
        while chunk := file.read(vcard_import.READ_CHUNK):
            pipe.send_bytes(chunk)
        pipe.send_bytes(b"")


def _receive(pipe: Connection) -> ImportReport:
    """The child's answer: its report, or the error it sent, raised."""
    try:
        answer = pipe.recv()
    except EOFError:
        raise ChildFailed("the import's child ended without an answer") from None
    if isinstance(answer, Exception):
        raise answer
    return ImportReport.model_validate_json(answer)


class ChildFailed(RuntimeError):
    """The child died without answering (stopped, or a bug in the reader: its
    traceback is in the server's error output)."""


class _Pipe:
    """The upload as the child reads it: each `read` is the next chunk the server sent."""

    def __init__(self, pipe: Connection) -> None:
        self._pipe = pipe

    def read(self, _size: int, /) -> bytes:
        return self._pipe.recv_bytes()


def _import_in_child(source: Connection, answers: Connection, job: ImportJob) -> None:
    """The child's whole life: read the file from `source`, write its contacts, send
    one answer. An error no client can be told (a bug) is left to end the child with
    its traceback on the server's error output: the request then fails with a `500`."""
    os.nice(NICENESS)
    try:
        report = asyncio.run(_import(_Pipe(source), job))
    except DomainError as refusal:  # `ImportTooLarge`, a duplicate, an account gone…
        answers.send(refusal)
    except NotVCards as refusal:
        answers.send(refusal)
    except (DBAPIError, PoolTimeoutError) as error:
        answers.send(_unavailable(error))
    else:
        answers.send(report.model_dump_json())


async def _import(file: vcard_import.Chunks, job: ImportJob) -> ImportReport:
    reading = vcard_import.read_stream(
        file,
        max_bytes=job.max_bytes,
        phone_region=job.phone_region,
        today=job.today,
        time_limit=job.time_limit,
    )
    engine = create_app_engine(job.database_url, timeout=job.database_timeout)
    try:
        async with AsyncSession(in_transactions(engine), expire_on_commit=False) as session:
            return await contacts.import_contacts(
                session,
                owner_id=job.owner_id,
                contacts=reading.accepted,
                rejected=reading.rejected,
                on_conflict=job.on_conflict,
                dry_run=job.dry_run,
            )
    finally:
        await engine.dispose()


def _unavailable(error: DBAPIError | PoolTimeoutError) -> DomainError:
    """What the app answers for this database error in a request (see `app`): a schema
    not migrated yet, or a database down or busy, are `503`s; any other is a bug."""
    if isinstance(error, DBAPIError) and is_missing_table(error):
        return SchemaBehind()
    if isinstance(error, OperationalError | PoolTimeoutError):
        return DatabaseUnavailable()
    raise error
