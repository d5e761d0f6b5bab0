"""Liveness and database reachability, for load balancers and `docker-compose`."""

from fastapi import APIRouter

from contacts_api.db import check_reachable
from contacts_api.deps import EngineDep
from contacts_api.models import HealthStatus

router = APIRouter(prefix="/api", tags=["health"])


@router.get("/health", summary="Is the service and its database up")
async def health(engine: EngineDep) -> HealthStatus:
    """An unreachable database becomes `503` in `app.py`'s handler."""
    await check_reachable(engine)
    return HealthStatus(status="ok", database="ok")
