"""The documented error responses that several routes share, for their `responses=`."""

from typing import Any

from contacts_api.models import ErrorMessage

UNAUTHORIZED: dict[int | str, dict[str, Any]] = {
    401: {
        "model": ErrorMessage,
        "description": "Missing, malformed, expired, forged or wrong-type token, or a deleted user",
        "headers": {"WWW-Authenticate": {"schema": {"type": "string"}, "example": "Bearer"}},
    }
}
SERVICE_UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"model": ErrorMessage, "description": "The database is unreachable"}
}
