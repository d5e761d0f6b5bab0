"""The current user's contacts: CRUD, search and upcoming birthdays."""

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import StreamingResponse
from sqlalchemy import Row

from contacts_api.api import etags
from contacts_api.api.deps import (
    AccessClaims,
    ContactId,
    CurrentUser,
    EngineDep,
    IfMatch,
    IfNoneMatch,
    ImportQueueDep,
    OwnedContact,
    SessionDep,
    TodayDep,
    ValidChanges,
    ValidContact,
    VCardUpload,
    import_vcards,
)
from contacts_api.api.routes.responses import UNAUTHORIZED, error
from contacts_api.core.config import MAX_UPLOAD_BYTES
from contacts_api.core.exceptions import ContactChanged, ContactEmailTaken, ContactNotFound
from contacts_api.crud import birthdays, contacts
from contacts_api.formats import vcard
from contacts_api.models import (
    BirthdayContact,
    BirthdayPage,
    BirthdayQuery,
    Contact,
    ContactPage,
    ContactPublic,
    ContactSearch,
    ExportQuery,
    ImportQuery,
    ImportReport,
    VCardQuery,
    public,
)

router = APIRouter(prefix="/api/contacts", tags=["contacts"], responses=UNAUTHORIZED)

NOT_FOUND = {404: error("No such contact among yours", ContactNotFound.message)}
EMAIL_TAKEN = {409: error("You already have a contact with this email", ContactEmailTaken.message)}
CHANGED = {
    412: error(
        "`If-Match` names a version that is no longer current; nothing changed",
        ContactChanged.message,
    )
}
VCARDS: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "vCards (`text/vcard`), as a file to save",
        "content": {"text/vcard": {"schema": {"type": "string", "format": "binary"}}},
    }
}
NOT_MODIFIED = {304: {"description": "`If-None-Match` names the current version: no body"}}
# Documents the `ETag` header on the operation's success answer.
TAGGED = {
    200: {
        "headers": {
            "ETag": {
                "description": "The contact's version: send it back in `If-Match` to change"
                " it safely, or in `If-None-Match` to read it only if it changed",
                "schema": {"type": "string"},
                "example": '"7-3"',
            }
        }
    }
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
    return _tagged(response, contact)


@router.get("", summary="List or search your contacts")
async def list_contacts(
    search: Annotated[ContactSearch, Query()], claims: AccessClaims, engine: EngineDep
) -> ContactPage:
    rows, total = await contacts.search_contacts(
        engine, owner_id=claims.subject, generation=claims.generation, search=search
    )
    return ContactPage.of([public(ContactPublic, row) for row in rows], total=total, query=search)


@router.get(
    "/export",
    summary="Download your contacts as vCards (the list's filters apply)",
    response_class=StreamingResponse,
    responses=VCARDS,
)
async def export_contacts(
    query: Annotated[ExportQuery, Query()], user: CurrentUser, engine: EngineDep
) -> StreamingResponse:
    batches = contacts.all_matching(engine, owner_id=user.id, search=query)
    return StreamingResponse(
        vcard.stream(batches, query.version),
        media_type=vcard.MEDIA_TYPE,
        headers={"Content-Disposition": 'attachment; filename="contacts.vcf"'},
    )


@router.post(
    "/import",
    summary="Import a .vcf file of one or many cards (vCard 2.1, 3.0 or 4.0)",
    description=(
        "Each card goes through the checks of `POST /api/contacts`; every card refused is"
        " listed with its position, name and every reason. `201` when contacts were"
        " created, `200` otherwise. One transaction: all of it, or nothing. Lines outside"
        " any card are listed as card `0`. Imports take turns: `503` when too many wait."
    ),
    responses={
        201: {"model": ImportReport, "description": "Contacts were created"},
        413: error(
            "Over the size, the number of cards or the time one import may take",
            "More than 10,000 cards: split the file",
        ),
    },
    max_body_size=MAX_UPLOAD_BYTES,
)
async def import_contacts(
    file: VCardUpload,
    query: Annotated[ImportQuery, Query()],
    user: CurrentUser,
    imports: ImportQueueDep,
    today: TodayDep,
    request: Request,
    response: Response,
) -> ImportReport:
    async with imports.turn():
        report = await import_vcards(request, file, query, owner_id=user.id, today=today)
    if report.created and not query.dry_run:
        response.status_code = status.HTTP_201_CREATED
    return report


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


@router.get(
    "/{contact_id:int}",
    summary="Get a contact",
    response_model=ContactPublic,
    responses=NOT_FOUND | TAGGED | NOT_MODIFIED,
)
async def read_contact(
    contact: OwnedContact, response: Response, if_none_match: IfNoneMatch = None
) -> Response | ContactPublic:
    etag = etags.contact_etag(contact.id, contact.version)
    if etags.none_match(if_none_match, etag):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag})
    return _tagged(response, contact)


@router.get(
    "/{contact_id:int}/vcard",
    summary="Download one contact as a vCard",
    response_class=Response,
    responses=NOT_FOUND | VCARDS,
)
async def contact_vcard(contact: OwnedContact, query: Annotated[VCardQuery, Query()]) -> Response:
    return Response(
        vcard.card(contact, query.version),
        media_type=vcard.MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="contact-{contact.id}.vcf"'},
    )


@router.put(
    "/{contact_id:int}",
    summary="Replace every field of a contact",
    responses=NOT_FOUND | EMAIL_TAKEN | TAGGED | CHANGED,
)
async def replace_contact(
    contact_id: ContactId,
    data: ValidContact,
    user: CurrentUser,
    session: SessionDep,
    response: Response,
    if_match: IfMatch = None,
) -> ContactPublic:
    contact = await contacts.update_contact(
        session,
        owner_id=user.id,
        contact_id=contact_id,
        changes=data.model_dump(),
        expected=etags.expected_versions(if_match, contact_id),
    )
    return _tagged(response, contact)


@router.patch(
    "/{contact_id:int}",
    summary="Change some fields of a contact",
    responses=NOT_FOUND | EMAIL_TAKEN | TAGGED | CHANGED,
)
async def update_contact(
    contact_id: ContactId,
    changes: ValidChanges,
    user: CurrentUser,
    session: SessionDep,
    response: Response,
    if_match: IfMatch = None,
) -> ContactPublic:
    contact = await contacts.update_contact(
        session,
        owner_id=user.id,
        contact_id=contact_id,
        changes=changes,
        expected=etags.expected_versions(if_match, contact_id),
    )
    return _tagged(response, contact)


@router.delete(
    "/{contact_id:int}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a contact",
    responses=NOT_FOUND | CHANGED,
)
async def delete_contact(
    contact_id: ContactId, user: CurrentUser, session: SessionDep, if_match: IfMatch = None
) -> None:
    await contacts.delete_contact(
        session,
        owner_id=user.id,
        contact_id=contact_id,
        expected=etags.expected_versions(if_match, contact_id),
    )


def _tagged(response: Response, contact: Row[Any] | Contact) -> ContactPublic:
    """The contact as answered, its `ETag` set on the response."""
    response.headers["ETag"] = etags.contact_etag(contact.id, contact.version)
    return public(ContactPublic, contact)


def _with_next_birthday(row: Row[Any], today: date) -> BirthdayContact:
    upcoming = birthdays.next_birthday(row.birthday, today)
    return public(
        BirthdayContact, row, next_birthday=upcoming, turns=upcoming.year - row.birthday.year
    )
