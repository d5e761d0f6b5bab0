"""The birthday calendar, served at its private address to calendar apps.

No bearer token: a calendar app cannot send one. The address's secret is the
credential; its owner makes, replaces and revokes it under `/api/users/me/calendar-link`.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response, status
from starlette.concurrency import run_in_threadpool

from contacts_api.api import etags
from contacts_api.api.deps import EngineDep, IfNoneMatch, RateLimiterDep, client_address
from contacts_api.api.routes.responses import TOO_MANY_REQUESTS, error
from contacts_api.core.exceptions import CalendarNotFound
from contacts_api.core.ratelimit import Limit
from contacts_api.crud import calendar_links
from contacts_api.formats import calendar_feed

router = APIRouter(prefix=calendar_feed.PATH, tags=["calendar"])
# The secret as the service makes it (URL-safe base64); anything else is a `422`.
CalendarSecret = Annotated[str, Path(pattern="^[A-Za-z0-9_-]{1,128}$")]


async def limit_calendar(request: Request, limiter: RateLimiterDep) -> None:
    await limiter.hit(Limit.CALENDAR, client_address(request))


@router.get(
    "/{secret}.ics",
    summary="Your birthday calendar (iCalendar), for calendar apps to subscribe to",
    response_class=Response,
    responses={
        200: {
            "description": "One all-day yearly event a contact; `ETag` for polling",
            "content": {"text/calendar": {"schema": {"type": "string"}}},
        },
        304: {"description": "`If-None-Match` names the current calendar: no body"},
        404: error("No calendar has this address (any more)", CalendarNotFound.message),
        **TOO_MANY_REQUESTS,
    },
    dependencies=[Depends(limit_calendar)],
)
async def birthday_calendar(
    secret: CalendarSecret, engine: EngineDep, if_none_match: IfNoneMatch = None
) -> Response:
    found = await calendar_links.state(engine, secret=secret)
    etag = calendar_feed.feed_etag(found.user_id, found.contacts, found.newest, found.changed)
    # Calendar apps may keep a copy, but must ask whether it is current: a `304` then.
    headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
    if etags.none_match(if_none_match, etag):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    contacts = await calendar_links.birthdays(engine, owner_id=found.user_id)
    # Writing thousands of events is CPU work: off the event loop.
    body = await run_in_threadpool(calendar_feed.feed, contacts)
    return Response(body, media_type=calendar_feed.MEDIA_TYPE, headers=headers)
