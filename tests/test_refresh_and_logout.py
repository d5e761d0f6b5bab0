"""POST /api/auth/refresh and /api/auth/logout: rotation, reuse detection, revocation."""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlmodel import Session, select

from contacts_api.core.clock import utcnow
from contacts_api.core.security import TokenType
from contacts_api.crud.tokens import purge_expired
from contacts_api.models import RefreshToken, RefreshTokenFamily, User
from tests.conftest import Account, on_engine
from tests.tokens import claims_of, expired, forged, signed, unsigned


def refresh(client: TestClient, token: str) -> Response:
    return client.post("/api/auth/refresh", json={"refresh_token": token})


def logout(client: TestClient, token: str) -> Response:
    return client.post("/api/auth/logout", json={"refresh_token": token})


def test_refresh_returns_a_new_pair(client: TestClient, account: Account) -> None:
    response = refresh(client, account.refresh_token)

    assert response.status_code == 200
    pair = response.json()
    assert pair["token_type"] == "bearer"
    assert pair["refresh_token"] != account.refresh_token
    assert claims_of(pair["access_token"])["sub"] == str(account.id)


def test_the_new_access_token_works(client: TestClient, account: Account) -> None:
    access_token = refresh(client, account.refresh_token).json()["access_token"]

    me = client.get("/api/users/me", headers={"Authorization": f"Bearer {access_token}"})

    assert me.status_code == 200


def test_a_refresh_token_is_spent_by_its_first_use(client: TestClient, account: Account) -> None:
    refresh(client, account.refresh_token)

    again = refresh(client, account.refresh_token)

    assert again.status_code == 401
    assert again.headers["www-authenticate"] == "Bearer"


def test_reusing_a_spent_token_revokes_every_token_of_that_login(
    client: TestClient, account: Account
) -> None:
    rotated = refresh(client, account.refresh_token).json()["refresh_token"]

    refresh(client, account.refresh_token)  # the replay: a stolen copy, or the owner's

    assert refresh(client, rotated).status_code == 401


def test_reuse_in_one_login_leaves_other_logins_working(
    client: TestClient, account: Account
) -> None:
    other_login = client.post(
        "/api/auth/login", json={"email": account.email, "password": account.password}
    ).json()["refresh_token"]
    refresh(client, account.refresh_token)
    refresh(client, account.refresh_token)

    assert refresh(client, other_login).status_code == 200


def test_concurrent_refreshes_with_one_token_let_exactly_one_through(
    client: TestClient, account: Account
) -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = sorted(
            r.status_code
            for r in pool.map(lambda _: refresh(client, account.refresh_token), range(4))
        )

    assert statuses == [200, 401, 401, 401]


def test_an_access_token_is_refused_as_a_refresh_token(
    client: TestClient, account: Account
) -> None:
    response = refresh(client, account.access_token)

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("make_token", [expired, forged, unsigned], ids=lambda f: f.__name__)
def test_a_bad_refresh_token_is_401(
    client: TestClient, account: Account, make_token: Callable[[int, TokenType], str]
) -> None:
    response = refresh(client, make_token(account.id, TokenType.REFRESH))

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_a_validly_signed_refresh_token_the_server_never_issued_is_401(
    client: TestClient, account: Account
) -> None:
    assert refresh(client, signed(account.id, TokenType.REFRESH)).status_code == 401


def test_a_refresh_token_of_a_deleted_user_is_401(
    client: TestClient, account: Account, db: Session
) -> None:
    db.delete(db.get(User, account.id))
    db.commit()

    assert refresh(client, account.refresh_token).status_code == 401


def test_a_malformed_refresh_request_is_422(client: TestClient) -> None:
    assert client.post("/api/auth/refresh", json={}).status_code == 422


def test_logout_is_204(client: TestClient, account: Account) -> None:
    response = logout(client, account.refresh_token)

    assert response.status_code == 204
    assert response.content == b""


def test_after_logout_the_refresh_token_is_refused(client: TestClient, account: Account) -> None:
    logout(client, account.refresh_token)

    assert refresh(client, account.refresh_token).status_code == 401


def test_logout_revokes_tokens_rotated_from_the_same_login(
    client: TestClient, account: Account
) -> None:
    rotated = refresh(client, account.refresh_token).json()["refresh_token"]
    newest = refresh(client, rotated).json()["refresh_token"]

    logout(client, newest)

    assert refresh(client, newest).status_code == 401
    assert logout(client, newest).status_code == 401


def test_logout_with_a_spent_token_is_401_and_revokes_the_login(
    client: TestClient, account: Account
) -> None:
    rotated = refresh(client, account.refresh_token).json()["refresh_token"]

    assert logout(client, account.refresh_token).status_code == 401
    assert refresh(client, rotated).status_code == 401


def test_logout_with_an_access_token_is_401(client: TestClient, account: Account) -> None:
    response = logout(client, account.access_token)

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_purge_deletes_expired_tokens_and_their_empty_families(
    client: TestClient, account: Account, db: Session, database_url: str
) -> None:
    refresh(client, account.refresh_token)  # the family now holds two tokens
    later = utcnow() + timedelta(days=8)

    purged = on_engine(database_url, lambda engine: purge_expired(engine, now=later))

    assert purged == 2
    assert db.exec(select(RefreshToken)).all() == []
    assert db.exec(select(RefreshTokenFamily)).all() == []


def test_purge_keeps_tokens_that_can_still_be_used(
    client: TestClient, account: Account, database_url: str
) -> None:
    assert on_engine(database_url, purge_expired) == 0

    assert refresh(client, account.refresh_token).status_code == 200
