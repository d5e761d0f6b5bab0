"""The current user's contacts: CRUD, search and upcoming birthdays."""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from contacts_api import birthdays
from contacts_api.crud import contacts
from contacts_api.deps import (
    ContactId,
    CurrentUser,
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
    Contact,
    ContactPage,
    ContactPublic,
    ContactSearch,
    ErrorMessage,
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
    return ContactPublic.model_validate(contact)


@router.get("", summary="List or search your contacts")
async def list_contacts(
    search: Annotated[ContactSearch, Query()], user: CurrentUser, session: SessionDep
) -> ContactPage:
    items, total = await contacts.search_contacts(session, owner_id=user.id, search=search)
    public = [ContactPublic.model_validate(contact) for contact in items]
    return ContactPage.of(public, total=total, query=search)


# Declared before "/{contact_id}", which would otherwise take "birthdays" for an id.
@router.get("/birthdays", summary="Your contacts with a birthday in the next N days")
async def upcoming_birthdays(
    query: Annotated[BirthdayQuery, Query()],
    user: CurrentUser,
    session: SessionDep,
    today: TodayDep,
) -> BirthdayPage:
    items, total = await contacts.upcoming_birthdays(
        session, owner_id=user.id, today=today, days=query.days, page=query
    )
    return BirthdayPage.of(
        [_with_next_birthday(contact, today) for contact in items], total=total, query=query
    )


@router.get("/{contact_id}", summary="Get a contact", responses=NOT_FOUND)
async def read_contact(contact: OwnedContact) -> ContactPublic:
    return ContactPublic.model_validate(contact)


@router.put(
    "/{contact_id}",
    summary="Replace every field of a contact",
    responses=NOT_FOUND | EMAIL_TAKEN,
)
async def replace_contact(
    contact_id: ContactId, data: ValidContact, user: CurrentUser, session: SessionDep
) -> ContactPublic:
    contact = await contacts.update_contact(
        session, owner_id=user.id, contact_id=contact_id, changes=data.model_dump()
    )
    return ContactPublic.model_validate(contact)


@router.patch(
    "/{contact_id}",
    summary="Change some fields of a contact",
    responses=NOT_FOUND | EMAIL_TAKEN,
)
async def update_contact(
    contact_id: ContactId, changes: ValidChanges, user: CurrentUser, session: SessionDep
) -> ContactPublic:
    contact = await contacts.update_contact(
        session, owner_id=user.id, contact_id=contact_id, changes=changes
    )
    return ContactPublic.model_validate(contact)


@router.delete(
    "/{contact_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a contact",
    responses=NOT_FOUND,
)
async def delete_contact(contact_id: ContactId, user: CurrentUser, session: SessionDep) -> None:
    await contacts.delete_contact(session, owner_id=user.id, contact_id=contact_id)


def _with_next_birthday(contact: Contact, today: date) -> BirthdayContact:
    upcoming = birthdays.next_birthday(contact.birthday, today)
    return BirthdayContact.model_validate(
        contact, update={"next_birthday": upcoming, "turns": upcoming.year - contact.birthday.year}
    )
