"""Protocol rules every route keeps: methods, caching, framing, hosts, valid JSON errors."""

import json

import pytest
from fastapi.testclient import TestClient

from contacts_api.app import create_app
from tests.conftest import Account, make_settings
from tests.contacts import payload


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("POST", "/api/contacts/1", "GET, PUT, PATCH, DELETE"),
        ("PUT", "/api/contacts", "GET, POST"),
        ("PUT", "/api/contacts/birthdays", "GET"),
        ("GET", "/api/auth/login", "POST"),
        ("PUT", "/api/users/me", "GET, DELETE"),
    ],
)
def test_a_405_lists_every_method_of_the_path(
    client: TestClient, account: Account, method: str, path: str, allow: str
) -> None:
    response = client.request(method, path, headers=account.headers)

    assert response.status_code == 405
    assert response.headers["allow"] == allow


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
@pytest.mark.parametrize(
    ("path", "allow"),
    [
        ("/api/auth/token", "POST"),
        ("/api/contacts/import", "POST"),
        ("/api/users/me", "GET, DELETE"),
    ],
)
@pytest.mark.parametrize("content_type", ["text/plain", "multipart/form-data; boundary=x", ""])
def test_a_405_comes_before_any_check_of_the_body(
    client: TestClient, account: Account, method: str, path: str, allow: str, content_type: str
) -> None:
    response = client.request(
        method,
        path,
        content=b"anything",
        headers={"content-type": content_type} | account.headers,
    )

    assert response.status_code == 405
    assert response.headers["allow"] == allow


@pytest.mark.parametrize("path", ["/api/health", "/api/users/me", "/api/nowhere"])
def test_api_answers_are_never_cached(client: TestClient, account: Account, path: str) -> None:
    response = client.get(path, headers=account.headers)

    assert response.headers["cache-control"] == "no-store"


def test_tokens_are_never_cached(client: TestClient, account: Account) -> None:
    response = client.post(
        "/api/auth/login", json={"email": account.email, "password": account.password}
    )

    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_the_docs_pages_carry_a_policy_and_refuse_framing(client: TestClient, path: str) -> None:
    response = client.get(path)

    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"


def test_no_redirect_is_built_from_the_host_header(client: TestClient, account: Account) -> None:
    response = client.get(
        "/api/contacts/",
        headers={"Host": "evil.example"} | account.headers,
        follow_redirects=False,
    )

    assert "evil.example" not in response.headers.get("location", "")
    assert response.status_code == 404


def test_a_422_for_a_nan_is_itself_valid_json(client: TestClient) -> None:
    response = client.post(
        "/api/auth/signup",
        content=b'{"email": NaN, "password": Infinity}',
        headers={"content-type": "application/json"},
    )

    assert response.status_code == 422
    json.loads(response.text, parse_constant=_not_json)  # no bare NaN or Infinity in it


def _not_json(constant: str) -> None:
    raise ValueError(f"{constant} is not JSON")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", ""])
def test_a_json_route_refuses_any_other_body_with_415(
    client: TestClient, account: Account, content_type: str
) -> None:
    body = b'{"first_name": "A"}'
    response = client.post(
        "/api/contacts", content=body, headers={"content-type": content_type} | account.headers
    )

    assert response.status_code == 415
    assert client.get("/api/contacts", headers=account.headers).json()["total"] == 0


def test_json_sent_as_text_plain_never_logs_in(client: TestClient, account: Account) -> None:
    """What a cross-site form could send: refused before it is read."""
    credentials = json.dumps({"email": account.email, "password": account.password})

    response = client.post(
        "/api/auth/login", content=credentials, headers={"content-type": "text/plain"}
    )

    assert response.status_code == 415


@pytest.mark.parametrize("path", ["/api/auth/login", "/api/auth/token"])
def test_both_logins_take_the_oauth2_form(client: TestClient, account: Account, path: str) -> None:
    response = client.post(path, data={"username": account.email, "password": account.password})

    assert response.status_code == 200
    assert response.json()["token_type"] == "bearer"


def test_the_form_login_refuses_json(client: TestClient, account: Account) -> None:
    response = client.post(
        "/api/auth/token", json={"email": account.email, "password": account.password}
    )

    assert response.status_code == 415


def test_a_json_type_with_a_charset_is_json(client: TestClient, account: Account) -> None:
    response = client.post(
        "/api/auth/login",
        content=json.dumps({"email": account.email, "password": account.password}),
        headers={"content-type": "application/json; charset=utf-8"},
    )

    assert response.status_code == 200


@pytest.mark.usefixtures("db")
def test_allowed_hosts_refuse_any_other_host_with_400(database_url: str) -> None:
    settings = make_settings(database_url, allowed_hosts=["api.example.com"])
    with TestClient(create_app(settings), base_url="http://api.example.com") as client:
        allowed = client.get("/api/health")
        refused = client.get("/api/health", headers={"Host": "evil.example"})

    assert (allowed.status_code, refused.status_code) == (200, 400)
    assert refused.json() == {"detail": "Unknown host"}


def test_any_host_is_answered_by_default(client: TestClient) -> None:
    assert client.get("/api/health", headers={"Host": "anything.example"}).status_code == 200


def test_a_204_carries_no_content_type(client: TestClient, account: Account) -> None:
    contact = client.post("/api/contacts", json=payload(), headers=account.headers).json()
    answers = [
        client.delete(f"/api/contacts/{contact['id']}", headers=account.headers),
        client.post("/api/auth/logout", json={"refresh_token": account.refresh_token}),
        client.post("/api/auth/logout-all", headers=account.headers),
    ]

    assert [answer.status_code for answer in answers] == [204, 204, 204]
    for answer in answers:
        assert "content-type" not in answer.headers
        assert answer.content == b""
