"""The signed-in user's own account."""

from fastapi import APIRouter

from contacts_api.deps import CurrentUser
from contacts_api.models import UserPublic
from contacts_api.routes.responses import UNAUTHORIZED

router = APIRouter(prefix="/api/users", tags=["users"])


@router.get("/me", summary="The signed-in user", responses=UNAUTHORIZED)
async def read_me(user: CurrentUser) -> UserPublic:
    return user
