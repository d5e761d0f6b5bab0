"""Liveness and database reachability, for load balancers and `docker-compose`."""

from fastapi import APIRouter
from sqlalchemy import text

from contacts_api.deps import SessionDep
from contacts_api.models import HealthStatus

router = APIRouter(prefix="/api", tags=["health"])


@router.get("/health", summary="Is the service and its database up")
async def health(session: SessionDep) -> HealthStatus:
    """Runs `SELECT 1`; an unreachable database becomes `503` in `app.py`'s handler."""
    await session.exec(text("SELECT 1"))
    return HealthStatus(status="ok", database="ok")
