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
# FastAPI answers a body it cannot even decode (not UTF-8, say) with 400, not 422.
BAD_REQUEST: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorMessage, "description": "The request body could not be decoded"}
}
# For a route that reads its body itself, so FastAPI does not add its `422` on its own.
VALIDATION_ERROR: dict[int | str, dict[str, Any]] = {
    422: {
        "description": "Validation Error",
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}
        },
    }
}
TOO_MANY_REQUESTS: dict[int | str, dict[str, Any]] = {
    429: {
        "model": ErrorMessage,
        "description": "Rate limit reached; `Retry-After` says in how many seconds to retry",
        "headers": {"Retry-After": {"schema": {"type": "integer"}, "example": 42}},
    }
}
BUSY: dict[int | str, dict[str, Any]] = {
    503: {
        "model": ErrorMessage,
        "description": (
            "The database is unreachable, or too many logins are waiting for a password"
            " check; `Retry-After` says when to retry"
        ),
        "headers": {"Retry-After": {"schema": {"type": "integer"}, "example": 1}},
    }
}
