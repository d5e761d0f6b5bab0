"""The current user's contacts: CRUD, search and upcoming birthdays."""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from contacts_api import birthdays
from contacts_api.crud import contacts
from contacts_api.deps import (
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
    response_model=ContactPublic,
    summary="Create a contact",
    responses=EMAIL_TAKEN,
)
def create_contact(
    data: ValidContact, user: CurrentUser, session: SessionDep, request: Request, response: Response
) -> Contact:
    contact = contacts.create_contact(session, owner_id=user.id, data=data)
    response.headers["Location"] = request.app.url_path_for("read_contact", contact_id=contact.id)
    return contact


@router.get("", response_model=ContactPage, summary="List or search your contacts")
def list_contacts(
    search: Annotated[ContactSearch, Query()], user: CurrentUser, session: SessionDep
) -> ContactPage:
    items, total = contacts.search_contacts(session, owner_id=user.id, search=search)
    return ContactPage(
        items=[ContactPublic.model_validate(c) for c in items],
        total=total,
        limit=search.limit,
        offset=search.offset,
    )


# Declared before "/{contact_id}", which would otherwise take "birthdays" for an id.
@router.get(
    "/birthdays",
    response_model=BirthdayPage,
    summary="Your contacts with a birthday in the next N days",
)
def upcoming_birthdays(
    query: Annotated[BirthdayQuery, Query()],
    user: CurrentUser,
    session: SessionDep,
    today: TodayDep,
) -> BirthdayPage:
    items, total = contacts.upcoming_birthdays(
        session,
        owner_id=user.id,
        today=today,
        days=query.days,
        limit=query.limit,
        offset=query.offset,
    )
    return BirthdayPage(
        items=[_with_next_birthday(contact, today) for contact in items],
        total=total,
        limit=query.limit,
        offset=query.offset,
    )


@router.get(
    "/{contact_id}", response_model=ContactPublic, summary="Get a contact", responses=NOT_FOUND
)
def read_contact(contact: OwnedContact) -> Contact:
    return contact


@router.put(
    "/{contact_id}",
    response_model=ContactPublic,
    summary="Replace every field of a contact",
    responses=NOT_FOUND | EMAIL_TAKEN,
)
def replace_contact(contact: OwnedContact, data: ValidContact, session: SessionDep) -> Contact:
    return contacts.update_contact(session, contact=contact, changes=data.model_dump())


@router.patch(
    "/{contact_id}",
    response_model=ContactPublic,
    summary="Change some fields of a contact",
    responses=NOT_FOUND | EMAIL_TAKEN,
)
def update_contact(contact: OwnedContact, changes: ValidChanges, session: SessionDep) -> Contact:
    return contacts.update_contact(session, contact=contact, changes=changes)


@router.delete(
    "/{contact_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a contact",
    responses=NOT_FOUND,
)
def delete_contact(contact: OwnedContact, session: SessionDep) -> None:
    contacts.delete_contact(session, contact=contact)


def _with_next_birthday(contact: Contact, today: date) -> BirthdayContact:
    upcoming = birthdays.next_birthday(contact.birthday, today)
    return BirthdayContact.model_validate(
        contact, update={"next_birthday": upcoming, "turns": upcoming.year - contact.birthday.year}
    )
