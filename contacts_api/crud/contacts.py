"""Contacts, always as seen by their owner.

Every query here is scoped by `is_owner(owner_id)`, so no function can reach another
user's row: for them it does not exist, and the routes answer `404`.

Reads borrow a connection from the engine for their one statement; changes go
through the request's session. Changes are single statements (`UPDATE … RETURNING`,
`DELETE`) rather than read-modify-write: the database decides a race between two
requests, so of a `PATCH` and a `DELETE` of one contact, or of two `DELETE`s, one
wins and the other finds nothing (`404`), never a half-applied change.
"""

from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import asynccontextmanager
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Row,
    Select,
    and_,
    bindparam,
    delete,
    func,
    or_,
    text,
    true,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from contacts_api.core.clock import utcnow
from contacts_api.core.exceptions import (
    ContactChanged,
    ContactEmailTaken,
    ContactNotFound,
    DomainError,
    InvalidToken,
)
from contacts_api.core.rules import SEARCH_KEY_COLUMNS, derived_columns, search_key
from contacts_api.crud import birthdays
from contacts_api.models import (
    Contact,
    ContactCreate,
    ContactFilter,
    ContactPublic,
    ContactSearch,
    ImportReport,
    OnConflict,
    PageQuery,
    RejectedCard,
    User,
)

CONTACTS = Contact.__table__
USERS = User.__table__
LIST_ORDER = (CONTACTS.c.last_name_key, CONTACTS.c.first_name_key, CONTACTS.c.id)
SEARCH_KEYS = {field: CONTACTS.c[column] for field, column in SEARCH_KEY_COLUMNS.items()}
# Statements name the table's columns, not the class's attributes, and select the
# columns a client sees: rows come back as plain rows, without the ORM's machinery
# for turning them into objects, and the answer is built straight from them
# (`models.public`).
PUBLIC_COLUMNS = tuple(CONTACTS.c[name] for name in ContactPublic.model_fields)
EXPORT_BATCH = 500
IMPORT_CHUNK = 100  # contacts a statement: a statement's size stays bounded
# The constraints a contact's write can break, as each database names them.
EMAIL_UNIQUE = "uq_contacts_owner_id_email_key"
OWNER_FOREIGN_KEY = "fk_contacts_owner_id_users"
SQLITE_EMAIL_UNIQUE = "UNIQUE constraint failed: contacts.owner_id, contacts.email_key"
SQLITE_FOREIGN_KEY = "FOREIGN KEY constraint failed"
# `INSERT … ON CONFLICT`, which each dialect builds with its own `insert`.
INSERT_BY_DIALECT = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}
# The fields a card sets, compared to tell an updated contact from an unchanged one.
COMPARED = tuple(CONTACTS.c[name] for name in ContactCreate.model_fields)


def is_owner(owner_id: int | BindParameter[int]) -> ColumnElement[bool]:
    """The one place ownership is decided: `owner_id = :owner_id`."""
    return CONTACTS.c.owner_id == owner_id


# The user's row, if the token's generation is still theirs: what every read checks.
MY_ACCOUNT = and_(
    USERS.c.id == bindparam("owner_id"), USERS.c.token_generation == bindparam("generation")
)

# The statements every request of their kind runs, built once; values are bound
# parameters. Building a statement costs more than running it.
OWNED_CONTACT = (
    select(USERS.c.id.label("user_id"), *PUBLIC_COLUMNS, CONTACTS.c.version)
    .select_from(USERS)
    .outerjoin(
        CONTACTS, and_(is_owner(bindparam("owner_id")), CONTACTS.c.id == bindparam("contact_id"))
    )
    .where(MY_ACCOUNT)
)


def paged(*matching: ColumnElement[bool], order: Sequence[ColumnElement[Any]]) -> Select[Any]:
    """One page of the owner's contacts `matching`, their count, and the user check: one query.

    `users × (count of the matches) LEFT JOIN (the page)`, for the user in
    `:owner_id`. Each part is a query the database answers from an index on its own:
    the page reads only its own rows off the `(owner_id, name…)` index, and the count
    only the index. The result holds one row per contact on the page, or a single row
    with the count and `NULL`s for a page with nothing on it, or no row at all when the
    account is gone: the check that it still exists costs no query of its own.
    """
    matches = and_(is_owner(bindparam("owner_id")), *matching)
    count = select(func.count().label("total")).where(matches).subquery("matching")
    sort_keys = [key.label(f"sort_{n}") for n, key in enumerate(order)]
    page = (
        select(*PUBLIC_COLUMNS, *sort_keys)
        .where(matches)
        .order_by(*order)
        .limit(bindparam("limit"))
        .offset(bindparam("offset"))
        .subquery("page")
    )
    return (
        select(count.c.total, *(page.c[column.name] for column in PUBLIC_COLUMNS))
        .select_from(USERS.join(count, true()).outerjoin(page, true()))
        .where(MY_ACCOUNT)
        .order_by(*(page.c[key.name] for key in sort_keys))  # a join keeps no order by itself
    )


# The list without filters: built once, like `OWNED_CONTACT`.
LIST = paged(order=LIST_ORDER)


async def get_as_owner(
    engine: AsyncEngine, *, owner_id: int, generation: int, contact_id: int
) -> Row[Any]:
    """The contact, read together with the check that its owner's account still exists.

    One query: the user row, joined to the contact when it is theirs. No user row
    means the token outlived its account (`InvalidToken`, a `401`); a user without
    the contact means it is not theirs (`ContactNotFound`, a `404`).
    """
    params = {"owner_id": owner_id, "generation": generation, "contact_id": contact_id}
    async with engine.connect() as connection:
        row = (await connection.execute(OWNED_CONTACT, params)).first()
    if row is None:
        raise InvalidToken
    if row.id is None:
        raise ContactNotFound
    return row


async def create_contact(session: AsyncSession, *, owner_id: int, data: ContactCreate) -> Contact:
    values = data.model_dump()
    contact = Contact(owner_id=owner_id, **values, **derived_columns(values))
    session.add(contact)
    await _commit(session)
    return contact


async def import_contacts(
    session: AsyncSession,
    *,
    owner_id: int,
    contacts: Sequence[ContactCreate],
    rejected: list[RejectedCard],
    on_conflict: OnConflict,
    dry_run: bool,
) -> ImportReport:
    """Create the contacts whose email the owner has no contact with; for the others,
    `skip` leaves the contact and `update` overwrites its fields. One transaction: all
    of it is written, or (`dry_run`, or any error) none. The answer is built before the
    commit: once anything is written, the answer is this report, never an error.

    `contacts` have distinct emails (see `vcard_import`). The new ones are inserted
    with `INSERT … ON CONFLICT DO NOTHING RETURNING`: a contact created meanwhile with
    one of these emails (by a request, or by the same file sent again at the same
    time, as a phone retrying an upload does) is simply not inserted, and counts as
    already there. The database decides each race: no check-then-insert, no `409`.

    The contacts go `IMPORT_CHUNK` at a time (insert, then with `update` read and
    overwrite those already there), so that no statement grows with the file. An
    import through the API calls this in a child process (`import_worker`).
    """
    created = updated = 0
    async with _refusals(session):
        if not dry_run:
            await _lock_for_writing(session)
        now = utcnow()
        for start in range(0, len(contacts), IMPORT_CHUNK):
            chunk = contacts[start : start + IMPORT_CHUNK]
            by_key = {search_key(contact.email): contact.model_dump() for contact in chunk}
            if dry_run:
                existing = await _with_email_keys(session, owner_id, list(by_key))
                created += len(by_key) - len(existing)
            else:
                inserted = await _insert_new(session, owner_id, by_key, now)
                created += len(inserted)
                there = [key for key in by_key if key not in inserted]
                existing = {}
                if there and on_conflict is OnConflict.UPDATE:
                    existing = await _with_email_keys(session, owner_id, there)
            changed = _changed(existing, by_key) if on_conflict is OnConflict.UPDATE else []
            updated += len(changed)
            if not dry_run:
                await _update_all(session, owner_id, changed, now)
    report = ImportReport(
        created=created,
        updated=updated,
        unchanged=len(contacts) - created - updated,
        rejected=rejected,
    )
    if not dry_run:
        await _commit(session)
    return report


async def _lock_for_writing(session: AsyncSession) -> None:
    """On SQLite, take the database's write lock now, waiting for it if need be.

    A transaction SQLite begins deferred takes the lock at its first write; if another
    writer committed since the transaction's first read, SQLite cannot let it write
    (its snapshot is stale) and fails at once with "database is locked", without
    waiting. `BEGIN IMMEDIATE` takes the lock first, so a concurrent import waits its
    turn (up to `DATABASE_TIMEOUT_SECONDS`) and then succeeds. PostgreSQL locks rows,
    not the database: nothing to do.
    """
    if session.bind.dialect.name == "sqlite":
        await session.exec(text("BEGIN IMMEDIATE"))


async def _insert_new(
    session: AsyncSession, owner_id: int, by_key: dict[str, dict[str, Any]], now: datetime
) -> set[str]:
    """Insert every contact the owner has no contact with the email of; the folded
    emails of those inserted. One `executemany`, which SQLAlchemy sends as multi-row
    `INSERT … ON CONFLICT (owner_id, email_key) DO NOTHING RETURNING email_key`."""
    if not by_key:
        return set()
    dialect_insert = INSERT_BY_DIALECT[session.bind.dialect.name]
    statement = (
        dialect_insert(CONTACTS)
        .values(updated_at=now, version=1)
        .on_conflict_do_nothing(index_elements=[CONTACTS.c.owner_id, CONTACTS.c.email_key])
        .returning(CONTACTS.c.email_key)
    )
    rows = [
        values | derived_columns(values) | {"owner_id": owner_id, "created_at": now}
        for values in by_key.values()
    ]
    return set((await session.exec(statement, params=rows)).scalars())


def _changed(
    existing: dict[str, Row[Any]], by_key: dict[str, dict[str, Any]]
) -> list[tuple[int, dict[str, Any]]]:
    """The existing contacts a card would change: their ids and the card's fields."""
    return [
        (row.id, by_key[key])
        for key, row in existing.items()
        if any(getattr(row, name) != value for name, value in by_key[key].items())
    ]


async def _update_all(
    session: AsyncSession, owner_id: int, changed: list[tuple[int, dict[str, Any]]], now: datetime
) -> None:
    """Overwrite each contact's fields from its card: one `executemany`."""
    if not changed:
        return
    rows = [
        {"target": contact_id} | values | derived_columns(values) for contact_id, values in changed
    ]
    await session.exec(
        update(CONTACTS)
        .where(is_owner(owner_id), CONTACTS.c.id == bindparam("target"))
        .values(updated_at=now, version=CONTACTS.c.version + 1),
        params=rows,
    )


async def _with_email_keys(
    session: AsyncSession, owner_id: int, keys: list[str]
) -> dict[str, Row[Any]]:
    """The owner's contacts with these folded emails (at most `IMPORT_CHUNK`), by key."""
    found = await session.exec(
        select(CONTACTS.c.id, CONTACTS.c.email_key, *COMPARED).where(
            is_owner(owner_id), CONTACTS.c.email_key.in_(keys)
        )
    )
    return {row.email_key: row for row in found}


async def update_contact(
    session: AsyncSession,
    *,
    owner_id: int,
    contact_id: int,
    changes: dict[str, Any],
    expected: Collection[int] | None = None,
) -> Row[Any]:
    """Apply `changes` (all fields for `PUT`, those sent for `PATCH`) in one statement,
    and move the version on; with `expected` versions, only if the contact is at one of
    them (`ContactChanged` otherwise, and nothing changes)."""
    statement = (
        update(CONTACTS)
        .where(*_the_contact(owner_id, contact_id, expected))
        .values(
            **changes,
            **derived_columns(changes),
            updated_at=utcnow(),
            version=CONTACTS.c.version + 1,
        )
        .returning(*PUBLIC_COLUMNS, CONTACTS.c.version)
    )
    async with _refusals(session):
        contact = (await session.exec(statement)).first()
    await session.commit()
    if contact is None:
        raise await _missing_or_changed(session, owner_id, contact_id, expected)
    return contact


async def delete_contact(
    session: AsyncSession,
    *,
    owner_id: int,
    contact_id: int,
    expected: Collection[int] | None = None,
) -> None:
    """Delete the contact; with `expected` versions, only if it is at one of them."""
    statement = delete(CONTACTS).where(*_the_contact(owner_id, contact_id, expected))
    deleted = (await session.exec(statement)).rowcount
    await session.commit()
    if deleted == 0:
        raise await _missing_or_changed(session, owner_id, contact_id, expected)


def _the_contact(
    owner_id: int, contact_id: int, expected: Collection[int] | None
) -> list[ColumnElement[bool]]:
    """The owner's contact by id, and at one of the `expected` versions if there are any."""
    conditions = [is_owner(owner_id), CONTACTS.c.id == contact_id]
    if expected is not None:
        conditions.append(CONTACTS.c.version.in_(expected))
    return conditions


async def _missing_or_changed(
    session: AsyncSession, owner_id: int, contact_id: int, expected: Collection[int] | None
) -> ContactNotFound | ContactChanged:
    """Why a change found no row: no such contact of the owner's, or (asked only when a
    version was expected, so the common path costs nothing) one at another version."""
    if expected is None:
        return ContactNotFound()
    there = await session.exec(
        select(CONTACTS.c.id).where(*_the_contact(owner_id, contact_id, None))
    )
    return ContactChanged() if there.first() else ContactNotFound()


async def search_contacts(
    engine: AsyncEngine, *, owner_id: int, generation: int, search: ContactSearch
) -> tuple[Sequence[Row[Any]], int]:
    """A page of the owner's contacts matching every given term, and how many match in all."""
    terms = _terms(search)
    query = paged(*terms, order=LIST_ORDER) if terms else LIST
    return await _page(engine, query, owner_id=owner_id, generation=generation, page=search)


async def all_matching(
    engine: AsyncEngine, *, owner_id: int, search: ContactFilter
) -> AsyncIterator[Sequence[Row[Any]]]:
    """Every one of the owner's contacts the terms match, in list order, a batch at a time.

    Each batch is one short query on its own connection, starting after the last row
    of the batch before (keyset paging along the list's index): an export of any size
    holds one batch in memory, and no connection while the client reads.
    """
    statement = (
        select(*PUBLIC_COLUMNS, *LIST_ORDER[:2])
        .where(is_owner(owner_id), *_terms(search))
        .order_by(*LIST_ORDER)
        .limit(EXPORT_BATCH)
    )
    batch: Sequence[Row[Any]] = ()
    while True:
        query = statement
        if batch:
            last = batch[-1]
            query = statement.where(
                tuple_(*LIST_ORDER) > tuple_(last.last_name_key, last.first_name_key, last.id)
            )
        async with engine.connect() as connection:
            batch = (await connection.execute(query)).all()
        if batch:
            yield batch
        if len(batch) < EXPORT_BATCH:
            return


async def upcoming_birthdays(
    engine: AsyncEngine,
    *,
    owner_id: int,
    generation: int,
    today: date,
    days: int,
    page: PageQuery,
) -> tuple[Sequence[Row[Any]], int]:
    """A page of the owner's contacts whose next birthday is within `days` days of `today`."""
    key = CONTACTS.c.birthday_key
    in_window = or_(*(key.between(low, high) for low, high in birthdays.key_ranges(today, days)))
    query = paged(in_window, order=(birthdays.days_order(key, today), *LIST_ORDER))
    return await _page(engine, query, owner_id=owner_id, generation=generation, page=page)


def _terms(search: ContactFilter) -> list[ColumnElement[bool]]:
    """The conditions of a search. Terms are matched against the folded `*_key` columns
    as literal substrings: `autoescape` makes `%`, `_` and the escape character plain."""
    terms: list[ColumnElement[bool]] = []
    if search.q:
        terms.append(or_(*(_contains(key, search.q) for key in SEARCH_KEYS.values())))
    for field, key in SEARCH_KEYS.items():
        term = getattr(search, field)
        if term:
            terms.append(_contains(key, term))
    return terms


def _contains(column: ColumnElement[str], term: str) -> ColumnElement[bool]:
    return column.contains(search_key(term), autoescape=True)


async def _page(
    engine: AsyncEngine, query: Select[Any], *, owner_id: int, generation: int, page: PageQuery
) -> tuple[Sequence[Row[Any]], int]:
    """One page of a `paged` query and the count of all matches; `InvalidToken` if the
    account is gone."""
    params = {
        "owner_id": owner_id,
        "generation": generation,
        "limit": page.limit,
        "offset": page.offset,
    }
    async with engine.connect() as connection:
        rows = (await connection.execute(query, params)).all()
    if not rows:
        raise InvalidToken
    items = rows if rows[0].id is not None else ()
    return items, rows[0].total


async def _commit(session: AsyncSession) -> None:
    """Commit, turning what the constraints refuse into what it means (`_refusals`)."""
    async with _refusals(session):
        await session.commit()


@asynccontextmanager
async def _refusals(session: AsyncSession) -> AsyncIterator[None]:
    """Roll back a write the database refused, and raise what the refusal means.

    Two constraints can refuse a contact's write: the unique `(owner_id, email_key)`,
    when the owner already has a contact with this email (`ContactEmailTaken`, a
    `409`), and the owner's foreign key, when the account was deleted while the request
    ran: the token is then a deleted user's (`InvalidToken`, a `401`, as for any token
    of a deleted user). Any other refusal is a bug, and is raised as it is.
    """
    try:
        yield
    except IntegrityError as exc:
        await session.rollback()
        refusal = _refusal(exc)
        if refusal is None:
            raise
        raise refusal from exc


def _refusal(exc: IntegrityError) -> DomainError | None:
    """The domain error a refused write means, if it is one a client can cause.

    PostgreSQL names the constraint (`diag.constraint_name`); SQLite's message names
    the unique constraint's columns, and says only "FOREIGN KEY" for a foreign key
    (the owner's is the contacts table's only one).
    """
    original = exc.orig
    diagnosis = getattr(original, "diag", None)
    if diagnosis is not None:
        constraint = diagnosis.constraint_name
        if constraint == EMAIL_UNIQUE:
            return ContactEmailTaken()
        if constraint == OWNER_FOREIGN_KEY:
            return InvalidToken()
        return None
    message = str(original)
    if message == SQLITE_EMAIL_UNIQUE:
        return ContactEmailTaken()
    if message == SQLITE_FOREIGN_KEY:
        return InvalidToken()
    return None
