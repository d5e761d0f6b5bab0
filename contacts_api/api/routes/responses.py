"""The documented error responses that several routes share, for their `responses=`.

Every error answer is documented with `error`, which gives it an example of its own:
Swagger UI would otherwise show one example, the model's, under every status.
"""

from typing import Any

from contacts_api.core.exceptions import DatabaseUnavailable, HashingBusy, InvalidToken, RateLimited
from contacts_api.models import ErrorMessage

UNAVAILABLE = DatabaseUnavailable.message


def error(description: str, example: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    """One documented error answer: what it means, and an example `detail` of its own."""
    response: dict[str, Any] = {
        "model": ErrorMessage,
        "description": description,
        "content": {"application/json": {"example": {"detail": example}}},
    }
    if headers:
        response["headers"] = headers
    return response


UNAUTHORIZED: dict[int | str, dict[str, Any]] = {
    401: error(
        "Missing, malformed, expired, forged or wrong-type token, or a deleted user",
        InvalidToken.message,
        headers={"WWW-Authenticate": {"schema": {"type": "string"}, "example": "Bearer"}},
    )
}
SERVICE_UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: error("The database is unreachable", UNAVAILABLE)
}
# FastAPI answers a body it cannot even decode (not UTF-8, say) with 400, not 422.
BAD_REQUEST: dict[int | str, dict[str, Any]] = {
    400: error("The request body could not be decoded", "There was an error parsing the body")
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
    429: error(
        "Rate limit reached; `Retry-After` says in how many seconds to retry",
        RateLimited.message,
        headers={"Retry-After": {"schema": {"type": "integer"}, "example": 42}},
    )
}
BUSY: dict[int | str, dict[str, Any]] = {
    503: error(
        "The database is unreachable, or too many logins are waiting for a password"
        " check; `Retry-After` says when to retry",
        HashingBusy.message,
        headers={"Retry-After": {"schema": {"type": "integer"}, "example": 1}},
    )
}
