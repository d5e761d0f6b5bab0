"""The account's lifecycle: change the password, log out everywhere, see and end logins,
leave. Each way a login ends also ends the access tokens issued before it, where the
contract says so."""

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from contacts_api.models import Contact, RefreshTokenFamily, User
from tests.conftest import TEST_PASSWORD, Account
from tests.contacts import create

NEW_PASSWORD = "a brand new passphrase"


def log_in(client: TestClient, email: str, password: str = TEST_PASSWORD, **headers: str) -> dict:
    response = client.post(
        "/api/auth/login", json={"email": email, "password": password}, headers=headers
    )
    assert response.status_code == 200, response.text
    return response.json()


def bearer(tokens: dict) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def refresh(client: TestClient, tokens: dict) -> int:
    return client.post(
        "/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    ).status_code


def change_password(client: TestClient, account: Account, current: str, new: str) -> object:
    return client.post(
        "/api/users/me/password",
        json={"current_password": current, "new_password": new},
        headers=account.headers,
    )


def test_a_password_change_answers_a_new_pair_that_works(
    client: TestClient, account: Account
) -> None:
    response = change_password(client, account, TEST_PASSWORD, NEW_PASSWORD)

    assert response.status_code == 200
    tokens = response.json()
    assert client.get("/api/users/me", headers=bearer(tokens)).status_code == 200
    assert refresh(client, tokens) == 200


def test_after_a_password_change_only_the_new_password_logs_in(
    client: TestClient, account: Account
) -> None:
    change_password(client, account, TEST_PASSWORD, NEW_PASSWORD)

    old = client.post("/api/auth/login", json={"email": account.email, "password": TEST_PASSWORD})
    new = client.post("/api/auth/login", json={"email": account.email, "password": NEW_PASSWORD})

    assert (old.status_code, new.status_code) == (401, 200)


def test_a_password_change_ends_every_other_login_and_earlier_access_token(
    client: TestClient, account: Account
) -> None:
    other_login = log_in(client, account.email)

    change_password(client, account, TEST_PASSWORD, NEW_PASSWORD)

    assert refresh(client, other_login) == 401
    assert client.get("/api/users/me", headers=bearer(other_login)).status_code == 401
    assert client.get("/api/users/me", headers=account.headers).status_code == 401
    assert client.get("/api/contacts", headers=account.headers).status_code == 401


def test_a_wrong_current_password_is_403_and_changes_nothing(
    client: TestClient, account: Account
) -> None:
    response = change_password(client, account, "not my password", NEW_PASSWORD)

    assert response.status_code == 403
    assert client.get("/api/users/me", headers=account.headers).status_code == 200
    assert log_in(client, account.email)


@pytest.mark.parametrize("new", ["x7#q", "p" * 73, "nul\x00inside"])
def test_a_new_password_that_breaks_the_rules_is_422(
    client: TestClient, account: Account, new: str
) -> None:
    response = change_password(client, account, TEST_PASSWORD, new)

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "new_password"]
    assert new not in response.text


def test_logout_everywhere_ends_every_login_and_access_token(
    client: TestClient, account: Account
) -> None:
    other_login = log_in(client, account.email)

    response = client.post("/api/auth/logout-all", headers=account.headers)

    assert response.status_code == 204
    assert refresh(client, other_login) == 401
    assert client.get("/api/users/me", headers=bearer(other_login)).status_code == 401
    assert client.get("/api/users/me", headers=account.headers).status_code == 401


def test_after_logout_everywhere_a_new_login_works(client: TestClient, account: Account) -> None:
    client.post("/api/auth/logout-all", headers=account.headers)

    tokens = log_in(client, account.email)

    assert client.get("/api/users/me", headers=bearer(tokens)).status_code == 200


def test_logout_everywhere_needs_a_bearer_token(client: TestClient) -> None:
    assert client.post("/api/auth/logout-all").status_code == 401


def sessions(client: TestClient, tokens: dict) -> list[dict]:
    response = client.get("/api/users/me/sessions", headers=bearer(tokens))
    assert response.status_code == 200, response.text
    return response.json()


def test_the_sessions_list_each_live_login_and_mark_the_callers(
    client: TestClient, account: Account
) -> None:
    phone = log_in(client, account.email, **{"User-Agent": "Phone/1.0"})

    listed = sessions(client, phone)

    assert len(listed) == 2
    current = [s for s in listed if s["current"]]
    assert len(current) == 1
    assert current[0]["user_agent"] == "Phone/1.0"
    assert set(listed[0]) == {"id", "created_at", "last_used_at", "user_agent", "current"}


def test_a_logged_out_login_is_no_longer_a_session(client: TestClient, account: Account) -> None:
    other = log_in(client, account.email)
    client.post("/api/auth/logout", json={"refresh_token": account.refresh_token})

    assert len(sessions(client, other)) == 1


def test_ending_one_session_stops_its_refresh_tokens_only(
    client: TestClient, account: Account
) -> None:
    other = log_in(client, account.email, **{"User-Agent": "Other"})
    (target,) = [s for s in sessions(client, other) if s["current"]]

    response = client.delete(f"/api/users/me/sessions/{target['id']}", headers=account.headers)

    assert response.status_code == 204
    assert refresh(client, other) == 401
    assert refresh(client, {"refresh_token": account.refresh_token}) == 200


def test_someone_elses_session_is_404_and_stays(
    client: TestClient, make_account: Callable[..., Account]
) -> None:
    ada, bob = make_account("ada@example.com"), make_account("bob@example.com")
    (bobs,) = sessions(client, {"access_token": bob.access_token})

    response = client.delete(f"/api/users/me/sessions/{bobs['id']}", headers=ada.headers)

    assert response.status_code == 404
    assert refresh(client, {"refresh_token": bob.refresh_token}) == 200


def test_an_unknown_session_is_404(client: TestClient, account: Account) -> None:
    response = client.delete(f"/api/users/me/sessions/{'0' * 32}", headers=account.headers)

    assert response.status_code == 404


def test_a_session_id_that_cannot_be_one_is_422(client: TestClient, account: Account) -> None:
    response = client.delete("/api/users/me/sessions/not-an-id", headers=account.headers)

    assert response.status_code == 422


def delete_me(client: TestClient, account: Account, password: str) -> int:
    return client.request(
        "DELETE", "/api/users/me", json={"password": password}, headers=account.headers
    ).status_code


def test_deleting_the_account_removes_the_user_contacts_and_logins(
    client: TestClient, account: Account, db: Session
) -> None:
    create(client, account)

    assert delete_me(client, account, TEST_PASSWORD) == 204

    assert db.exec(select(User)).all() == []
    assert db.exec(select(Contact)).all() == []
    assert db.exec(select(RefreshTokenFamily)).all() == []
    assert client.get("/api/users/me", headers=account.headers).status_code == 401
    assert refresh(client, {"refresh_token": account.refresh_token}) == 401


def test_a_deleted_accounts_email_signs_up_again_as_a_new_empty_account(
    client: TestClient, account: Account, make_account: Callable[..., Account]
) -> None:
    create(client, account)
    delete_me(client, account, TEST_PASSWORD)

    again = make_account(account.email)

    assert again.id != account.id
    assert client.get("/api/contacts", headers=again.headers).json()["total"] == 0


def test_a_wrong_password_deletes_nothing(client: TestClient, account: Account) -> None:
    create(client, account)

    assert delete_me(client, account, "not my password") == 403
    assert client.get("/api/contacts", headers=account.headers).json()["total"] == 1


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/users/me/password", {"current_password": "x", "new_password": "y" * 8}),
        ("GET", "/api/users/me/sessions", None),
        ("DELETE", f"/api/users/me/sessions/{'0' * 32}", None),
        ("DELETE", "/api/users/me", {"password": "x"}),
        ("POST", "/api/auth/logout-all", None),
    ],
)
def test_every_account_route_needs_a_bearer_token(
    client: TestClient, method: str, path: str, body: dict | None
) -> None:
    response = client.request(method, path, json=body)

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
