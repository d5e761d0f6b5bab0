"""Domain errors become HTTP answers in one place, each with its status and headers."""

from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from contacts_api.core.exceptions import DomainError, HashingBusy, RateLimited


def answer_to(app: FastAPI, error: DomainError) -> tuple[int, dict[str, str], dict[str, str]]:
    router = APIRouter()

    @router.get("/raise")
    async def raise_it() -> None:
        raise error

    app.include_router(router)
    with TestClient(app) as client:
        response = client.get("/raise")
    return response.status_code, dict(response.headers), response.json()


def test_an_error_without_a_status_of_its_own_is_a_400_never_a_500(app: FastAPI) -> None:
    class SomethingNew(DomainError):
        message = "Something new went wrong"

    status, _, body = answer_to(app, SomethingNew())

    assert (status, body) == (400, {"detail": "Something new went wrong"})


def test_an_error_takes_the_status_of_the_kind_it_is(app: FastAPI) -> None:
    class StricterLimit(RateLimited):
        pass

    status, headers, _ = answer_to(app, StricterLimit(retry_after=7))

    assert (status, headers["retry-after"]) == (429, "7")


def test_busy_hashing_is_503_with_retry_after(app: FastAPI) -> None:
    status, headers, body = answer_to(app, HashingBusy())

    assert (status, headers["retry-after"]) == (503, "1")
    assert body == {"detail": "Too many logins at once, try again shortly"}
