"""Protocol rules every route keeps: methods, caching, framing, hosts, valid JSON errors."""

import json

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Account


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("POST", "/api/contacts/1", "GET, PUT, PATCH, DELETE"),
        ("PUT", "/api/contacts", "GET, POST"),
        ("PUT", "/api/contacts/birthdays", "GET"),
        ("GET", "/api/auth/login", "POST"),
        ("DELETE", "/api/users/me", "GET"),
    ],
)
def test_a_405_lists_every_method_of_the_path(
    client: TestClient, account: Account, method: str, path: str, allow: str
) -> None:
    response = client.request(method, path, headers=account.headers)

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
