"""Contacts, always as seen by their owner.

Every query here is scoped by `is_owner(owner_id)`, so no function can reach another
user's row: for them it does not exist, and the routes answer `404`.

Changes are single statements (`UPDATE … RETURNING`, `DELETE`) rather than
read-modify-write through the session: the database decides a race between two
requests, so of a `PATCH` and a `DELETE` of one contact, or of two `DELETE`s, one
wins and the other finds nothing (`404`), never a half-applied change.
"""

from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from contacts_api import birthdays
from contacts_api.db import utcnow
from contacts_api.exceptions import ContactEmailTaken, ContactNotFound, InvalidToken
from contacts_api.models import Contact, ContactCreate, ContactSearch, PageQuery, User
from contacts_api.rules import SEARCH_KEY_COLUMNS, derived_columns, search_key

LIST_ORDER = (col(Contact.last_name_key), col(Contact.first_name_key), col(Contact.id))
SEARCH_KEYS = {field: col(getattr(Contact, column)) for field, column in SEARCH_KEY_COLUMNS.items()}


def is_owner(owner_id: int) -> ColumnElement[bool]:
    """The one place ownership is decided: `owner_id = :owner_id`."""
    return col(Contact.owner_id) == owner_id


async def get_as_owner(session: AsyncSession, *, owner_id: int, contact_id: int) -> Contact:
    """The contact, read together with the check that its owner's account still exists.

    One query: the user row, joined to the contact when it is theirs. No user row
    means the token outlived its account (`InvalidToken`, a `401`); a user without
    the contact means it is not theirs (`ContactNotFound`, a `404`).
    """
    statement = (
        select(User.id, Contact)
        .outerjoin(Contact, and_(is_owner(owner_id), col(Contact.id) == contact_id))
        .where(User.id == owner_id)
    )
    row = (await session.exec(statement)).first()
    if row is None:
        raise InvalidToken
    if row[1] is None:
        raise ContactNotFound
    return row[1]


async def create_contact(session: AsyncSession, *, owner_id: int, data: ContactCreate) -> Contact:
    values = data.model_dump()
    contact = Contact(owner_id=owner_id, **values, **derived_columns(values))
    session.add(contact)
    await _commit(session)
    return contact


async def update_contact(
    session: AsyncSession, *, owner_id: int, contact_id: int, changes: dict[str, Any]
) -> Contact:
    """Apply `changes` (all fields for `PUT`, those sent for `PATCH`) in one statement."""
    statement = (
        update(Contact)
        .where(is_owner(owner_id), col(Contact.id) == contact_id)
        .values(**changes, **derived_columns(changes), updated_at=utcnow())
        .returning(Contact)
    )
    try:
        contact = (await session.exec(statement)).scalar_one_or_none()
    except IntegrityError as exc:
        await session.rollback()
        raise ContactEmailTaken from exc
    if contact is None:
        raise ContactNotFound
    await _commit(session)
    return contact


async def delete_contact(session: AsyncSession, *, owner_id: int, contact_id: int) -> None:
    statement = delete(Contact).where(is_owner(owner_id), col(Contact.id) == contact_id)
    deleted = (await session.exec(statement)).rowcount
    await session.commit()
    if deleted == 0:
        raise ContactNotFound


async def search_contacts(
    session: AsyncSession, *, owner_id: int, search: ContactSearch
) -> tuple[list[Contact], int]:
    """A page of the owner's contacts matching every given term, and how many match in all.

    Terms are matched against the folded `*_key` columns as literal substrings:
    `autoescape` makes `%`, `_` and the escape character plain characters.
    """
    terms: list[ColumnElement[bool]] = []
    if search.q:
        terms.append(or_(*(_contains(key, search.q) for key in SEARCH_KEYS.values())))
    for field, key in SEARCH_KEYS.items():
        term = getattr(search, field)
        if term:
            terms.append(_contains(key, term))
    return await _page(session, and_(is_owner(owner_id), *terms), LIST_ORDER, page=search)


async def upcoming_birthdays(
    session: AsyncSession, *, owner_id: int, today: date, days: int, page: PageQuery
) -> tuple[list[Contact], int]:
    """A page of the owner's contacts whose next birthday is within `days` days of `today`."""
    key = col(Contact.birthday_key)
    in_window = or_(*(key.between(low, high) for low, high in birthdays.key_ranges(today, days)))
    order = (birthdays.days_order(key, today), *LIST_ORDER)
    return await _page(session, and_(is_owner(owner_id), in_window), order, page=page)


def _contains(column: ColumnElement[str], term: str) -> ColumnElement[bool]:
    return column.contains(search_key(term), autoescape=True)


async def _page(
    session: AsyncSession,
    matching: ColumnElement[bool],
    order: tuple[ColumnElement[Any], ...],
    *,
    page: PageQuery,
) -> tuple[list[Contact], int]:
    """One page of the contacts `matching`, in `order`, and how many match in all.

    One query: `count(*) OVER ()` puts the total on every row of the page. Only a page
    past the end (no rows, so no total) needs a second query for the count.
    """
    statement = (
        select(Contact, func.count().over().label("total"))
        .where(matching)
        .order_by(*order)
        .limit(page.limit)
        .offset(page.offset)
    )
    rows = (await session.exec(statement)).all()
    if rows:
        return [contact for contact, _ in rows], rows[0].total
    if page.offset == 0:
        return [], 0
    total = (await session.exec(select(func.count()).select_from(Contact).where(matching))).one()
    return [], total


async def _commit(session: AsyncSession) -> None:
    """Commit, turning a clash on the unique `(owner_id, email_key)` into `ContactEmailTaken`.

    It is the only constraint a request can break: the owner exists, they are signed in.
    """
    try:
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        raise ContactEmailTaken from exc
