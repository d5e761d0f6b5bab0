"""Whether the service can serve: for load balancers, `docker-compose` and people."""

from fastapi import APIRouter, Request

from contacts_api.api.deps import EngineDep, RateLimiterDep
from contacts_api.core.db import schema_revision
from contacts_api.core.exceptions import RateLimitStorageUnavailable, SchemaBehind
from contacts_api.models import HealthStatus

router = APIRouter(prefix="/api", tags=["health"])


@router.get("/health", summary="Is the service up, with its database and Redis")
async def health(request: Request, engine: EngineDep, limiter: RateLimiterDep) -> HealthStatus:
    """`200` only when every request could be served: the database answers, at the
    migration the code expects, and Redis answers when the rate limits live there.
    Each failure is a `503` that says which."""
    if await schema_revision(engine) != request.app.state.schema_head:
        raise SchemaBehind
    if not await limiter.storage_answers():
        raise RateLimitStorageUnavailable
    return HealthStatus(status="ok", database="ok")
