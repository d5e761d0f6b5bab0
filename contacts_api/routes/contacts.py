"""The current user's contacts: CRUD, search and upcoming birthdays."""

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from sqlalchemy import Row

from contacts_api import birthdays
from contacts_api.crud import contacts
from contacts_api.deps import (
    AccessClaims,
    ContactId,
    CurrentUser,
    EngineDep,
    OwnedContact,
    SessionDep,
    TodayDep,
    ValidChanges,
    ValidContact,
)
from contacts_api.models import (
    BirthdayContact,
    BirthdayPage,
    BirthdayQuery,
    ContactPage,
    ContactPublic,
    ContactSearch,
    ErrorMessage,
    public,
)
from contacts_api.routes.responses import UNAUTHORIZED

router = APIRouter(prefix="/api/contacts", tags=["contacts"], responses=UNAUTHORIZED)

NOT_FOUND = {404: {"model": ErrorMessage, "description": "No such contact among yours"}}
EMAIL_TAKEN = {
    409: {"model": ErrorMessage, "description": "You already have a contact with this email"}
}


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a contact",
    responses=EMAIL_TAKEN,
)
async def create_contact(
    data: ValidContact, user: CurrentUser, session: SessionDep, request: Request, response: Response
) -> ContactPublic:
    contact = await contacts.create_contact(session, owner_id=user.id, data=data)
    response.headers["Location"] = request.app.url_path_for("read_contact", contact_id=contact.id)
    return public(ContactPublic, contact)


@router.get("", summary="List or search your contacts")
async def list_contacts(
    search: Annotated[ContactSearch, Query()], claims: AccessClaims, engine: EngineDep
) -> ContactPage:
    rows, total = await contacts.search_contacts(
        engine, owner_id=claims.subject, generation=claims.generation, search=search
    )
    return ContactPage.of([public(ContactPublic, row) for row in rows], total=total, query=search)


# The id routes take only digits (`:int`), so "birthdays" can never be read as an id.
@router.get("/birthdays", summary="Your contacts with a birthday in the next N days")
async def upcoming_birthdays(
    query: Annotated[BirthdayQuery, Query()],
    claims: AccessClaims,
    engine: EngineDep,
    today: TodayDep,
) -> BirthdayPage:
    rows, total = await contacts.upcoming_birthdays(
        engine,
        owner_id=claims.subject,
        generation=claims.generation,
        today=today,
        days=query.days,
        page=query,
    )
    return BirthdayPage.of(
        [_with_next_birthday(row, today) for row in rows], total=total, query=query
    )


@router.get("/{contact_id:int}", summary="Get a contact", responses=NOT_FOUND)
async def read_contact(contact: OwnedContact) -> ContactPublic:
    return contact


@router.put(
    "/{contact_id:int}",
    summary="Replace every field of a contact",
    responses=NOT_FOUND | EMAIL_TAKEN,
)
async def replace_contact(
    contact_id: ContactId, data: ValidContact, user: CurrentUser, session: SessionDep
) -> ContactPublic:
    contact = await contacts.update_contact(
        session, owner_id=user.id, contact_id=contact_id, changes=data.model_dump()
    )
    return public(ContactPublic, contact)


@router.patch(
    "/{contact_id:int}",
    summary="Change some fields of a contact",
    responses=NOT_FOUND | EMAIL_TAKEN,
)
async def update_contact(
    contact_id: ContactId, changes: ValidChanges, user: CurrentUser, session: SessionDep
) -> ContactPublic:
    contact = await contacts.update_contact(
        session, owner_id=user.id, contact_id=contact_id, changes=changes
    )
    return public(ContactPublic, contact)


@router.delete(
    "/{contact_id:int}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a contact",
    responses=NOT_FOUND,
)
async def delete_contact(contact_id: ContactId, user: CurrentUser, session: SessionDep) -> None:
    await contacts.delete_contact(session, owner_id=user.id, contact_id=contact_id)


def _with_next_birthday(row: Row[Any], today: date) -> BirthdayContact:
    upcoming = birthdays.next_birthday(row.birthday, today)
    return public(
        BirthdayContact, row, next_birthday=upcoming, turns=upcoming.year - row.birthday.year
    )
