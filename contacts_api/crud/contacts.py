"""Contacts, always as seen by their owner.

Every query here starts from `owned(owner_id)`, so no function can reach another
user's row: for them it does not exist, and the routes answer `404`.
"""

from datetime import date
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, delete, func, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from contacts_api import birthdays
from contacts_api.db import utcnow
from contacts_api.exceptions import ContactEmailTaken, ContactNotFound
from contacts_api.models import Contact, ContactCreate, ContactSearch, derived_columns, search_key

T = TypeVar("T")

LIST_ORDER = (col(Contact.last_name_key), col(Contact.first_name_key), col(Contact.id))


def owned(owner_id: int) -> SelectOfScalar[Contact]:
    """The one place ownership is decided: `WHERE owner_id = :owner_id`."""
    return select(Contact).where(Contact.owner_id == owner_id)


def get_contact(session: Session, *, owner_id: int, contact_id: int) -> Contact:
    contact = session.exec(owned(owner_id).where(Contact.id == contact_id)).first()
    if contact is None:
        raise ContactNotFound
    return contact


def create_contact(session: Session, *, owner_id: int, data: ContactCreate) -> Contact:
    values = data.model_dump()
    contact = Contact(owner_id=owner_id, **values, **derived_columns(values))
    session.add(contact)
    _commit(session)
    session.refresh(contact)
    return contact


def update_contact(session: Session, *, contact: Contact, changes: dict[str, Any]) -> Contact:
    """Apply `changes` (all fields for `PUT`, those sent for `PATCH`) to an owned contact."""
    for field, value in (changes | derived_columns(changes)).items():
        setattr(contact, field, value)
    contact.updated_at = utcnow()
    _commit(session)
    session.refresh(contact)
    return contact


def delete_contact(session: Session, *, contact: Contact) -> None:
    session.delete(contact)
    session.commit()


def delete_all_contacts(session: Session, *, owner_id: int) -> int:
    """Delete every contact of `owner_id` in one statement; return how many."""
    deleted = session.exec(delete(Contact).where(owned(owner_id).whereclause)).rowcount
    session.commit()
    return deleted


def search_contacts(
    session: Session, *, owner_id: int, search: ContactSearch
) -> tuple[list[Contact], int]:
    """A page of the owner's contacts matching every given term, and how many match in all.

    Terms are matched against the folded `*_key` columns as literal substrings:
    `autoescape` makes `%`, `_` and the escape character plain characters.
    """
    terms: list[ColumnElement[bool]] = []
    if search.q:
        terms.append(
            or_(
                _contains(col(Contact.first_name_key), search.q),
                _contains(col(Contact.last_name_key), search.q),
                _contains(col(Contact.email_key), search.q),
            )
        )
    for field in ("first_name", "last_name", "email"):
        term = getattr(search, field)
        if term:
            terms.append(_contains(getattr(Contact, f"{field}_key"), term))
    statement = owned(owner_id).where(*terms)
    return _page(session, statement, LIST_ORDER, limit=search.limit, offset=search.offset)


def upcoming_birthdays(
    session: Session, *, owner_id: int, today: date, days: int, limit: int, offset: int
) -> tuple[list[Contact], int]:
    """A page of the owner's contacts whose next birthday is within `days` days of `today`."""
    key = col(Contact.birthday_key)
    in_window = or_(*(key.between(low, high) for low, high in birthdays.key_ranges(today, days)))
    order = (birthdays.days_order(key, today), *LIST_ORDER)
    return _page(session, owned(owner_id).where(in_window), order, limit=limit, offset=offset)


def _contains(column: ColumnElement[str], term: str) -> ColumnElement[bool]:
    return column.contains(search_key(term), autoescape=True)


def _page(
    session: Session,
    statement: SelectOfScalar[T],
    order: tuple[ColumnElement[Any], ...],
    *,
    limit: int,
    offset: int,
) -> tuple[list[T], int]:
    """One page of `statement` in `order`, and the count of all its rows: two queries."""
    total = session.exec(select(func.count()).select_from(statement.subquery())).one()
    items = session.exec(statement.order_by(*order).limit(limit).offset(offset)).all()
    return list(items), total


def _commit(session: Session) -> None:
    """Commit, turning a clash on the unique `(owner_id, email_key)` into `ContactEmailTaken`.

    It is the only constraint a request can break: the owner exists, they are signed in.
    """
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise ContactEmailTaken from exc
