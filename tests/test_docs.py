"""The API docs: served with their own assets, and describing every route fully."""

import gc
import weakref

import pytest
from fastapi.testclient import TestClient

from contacts_api.app import create_app
from tests.conftest import make_settings

ANY_URL = "sqlite://"  # the docs never touch the database


@pytest.fixture(scope="module")
def docs_client() -> TestClient:
    return TestClient(create_app(make_settings(ANY_URL)))


@pytest.fixture(scope="module")
def openapi(docs_client: TestClient) -> dict:
    return docs_client.get("/openapi.json").json()


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_load_every_asset_from_the_service_itself(
    docs_client: TestClient, page: str
) -> None:
    html = docs_client.get(page).text
    assets = [part.split('"')[0] for part in html.split('src="')[1:]]
    assets += [part.split('"')[0] for part in html.split('href="')[1:]]

    assert assets, "the page should load scripts"
    assert "cdn" not in html.lower()
    for asset in assets:
        assert asset.startswith("/"), asset
        assert docs_client.get(asset).status_code == 200, asset


def test_swagger_authorize_logs_in_through_the_form_login_route(openapi: dict) -> None:
    (scheme,) = openapi["components"]["securitySchemes"].values()

    assert scheme["type"] == "oauth2"
    assert scheme["flows"]["password"]["tokenUrl"] == "/api/auth/token"


@pytest.mark.parametrize(
    ("path", "media_type"),
    [
        ("/api/auth/login", "application/json"),
        ("/api/auth/token", "application/x-www-form-urlencoded"),
    ],
)
def test_each_login_documents_one_media_type(openapi: dict, path: str, media_type: str) -> None:
    """Generated clients (openapi-python-client) break on an operation with two."""
    assert set(openapi["paths"][path]["post"]["requestBody"]["content"]) == {media_type}


def test_no_operation_documents_two_request_media_types(openapi: dict) -> None:
    for name, operation in operations(openapi):
        assert len(operation.get("requestBody", {}).get("content", {})) <= 1, name


def test_login_documents_its_422(openapi: dict) -> None:
    assert "422" in openapi["paths"]["/api/auth/login"]["post"]["responses"]


def operations(openapi: dict) -> list[tuple[str, dict]]:
    return [
        (f"{method.upper()} {path}", operation)
        for path, methods in openapi["paths"].items()
        for method, operation in methods.items()
    ]


def test_every_route_has_a_summary_and_a_success_response_schema(openapi: dict) -> None:
    for name, operation in operations(openapi):
        assert operation.get("summary"), name
        success = [code for code in operation["responses"] if code.startswith("2")]
        assert success, name
        if success != ["204"]:
            (content,) = operation["responses"][success[0]]["content"].values()
            assert "schema" in content, name


def test_every_protected_route_documents_its_401(openapi: dict) -> None:
    for name, operation in operations(openapi):
        if operation.get("security"):
            assert "401" in operation["responses"], name


def test_every_route_documents_503(openapi: dict) -> None:
    for name, operation in operations(openapi):
        assert "503" in operation["responses"], name


CONTACT_ROUTES = {
    ("post", "/api/contacts"): {"201", "400", "401", "409", "422", "503"},
    ("get", "/api/contacts"): {"200", "400", "401", "422", "503"},
    ("get", "/api/contacts/birthdays"): {"200", "400", "401", "422", "503"},
    ("get", "/api/contacts/{contact_id}"): {"200", "304", "400", "401", "404", "422", "503"},
    ("put", "/api/contacts/{contact_id}"): {
        *("200", "400", "401", "404", "409", "412", "422", "503")
    },
    ("patch", "/api/contacts/{contact_id}"): {
        *("200", "400", "401", "404", "409", "412", "422", "503")
    },
    ("delete", "/api/contacts/{contact_id}"): {"204", "400", "401", "404", "412", "422", "503"},
    ("get", "/api/contacts/export"): {"200", "400", "401", "422", "503"},
    ("get", "/api/contacts/{contact_id}/vcard"): {"200", "400", "401", "404", "422", "503"},
}


@pytest.mark.parametrize(("method", "path"), list(CONTACT_ROUTES))
def test_contact_routes_document_every_status_they_answer(
    openapi: dict, method: str, path: str
) -> None:
    assert set(openapi["paths"][path][method]["responses"]) == CONTACT_ROUTES[(method, path)]


@pytest.mark.parametrize("method", ["get", "put", "patch"])
def test_a_contacts_answer_documents_its_etag(openapi: dict, method: str) -> None:
    answer = openapi["paths"]["/api/contacts/{contact_id}"][method]["responses"]["200"]

    assert "ETag" in answer["headers"]


@pytest.mark.parametrize("path", ["/api/contacts/export", "/api/contacts/{contact_id}/vcard"])
def test_exports_are_documented_as_vcard_files(openapi: dict, path: str) -> None:
    assert list(openapi["paths"][path]["get"]["responses"]["200"]["content"]) == ["text/vcard"]


@pytest.mark.parametrize("method", ["post", "put", "patch"])
def test_contact_bodies_come_with_an_example(openapi: dict, method: str) -> None:
    path = "/api/contacts" if method == "post" else "/api/contacts/{contact_id}"
    ref = openapi["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
    schema = openapi["components"]["schemas"][ref["$ref"].rsplit("/", 1)[1]]

    assert schema["examples"]


# The account routes' codes, as the contract's lifecycle table gives them (plus the
# 400 and 503 every route may answer).
ACCOUNT_ROUTES = {
    ("post", "/api/users/me/password"): {"200", "400", "401", "403", "422", "503"},
    ("post", "/api/auth/logout-all"): {"204", "400", "401", "503"},
    ("get", "/api/users/me/sessions"): {"200", "400", "401", "503"},
    ("delete", "/api/users/me/sessions/{session_id}"): {"204", "400", "401", "404", "422", "503"},
    ("delete", "/api/users/me"): {"204", "400", "401", "403", "422", "503"},
    ("post", "/api/auth/password-reset"): {"202", "400", "422", "429", "503"},
    ("post", "/api/auth/password-reset/confirm"): {"204", "400", "422", "503"},
    ("post", "/api/auth/verify-email"): {"204", "400", "422", "503"},
    ("post", "/api/auth/verify-email/resend"): {"202", "400", "401", "409", "429", "503"},
    ("post", "/api/auth/login"): {"200", "400", "401", "403", "422", "429", "503"},
    ("post", "/api/users/me/calendar-link"): {"201", "400", "401", "503"},
    ("delete", "/api/users/me/calendar-link"): {"204", "400", "401", "503"},
    ("get", "/api/calendar/{secret}.ics"): {"200", "304", "400", "404", "422", "429", "503"},
    ("post", "/api/contacts/import"): {"200", "201", "400", "401", "413", "422", "503"},
}


@pytest.mark.parametrize(("method", "path"), list(ACCOUNT_ROUTES))
def test_account_routes_document_every_status_they_answer(
    openapi: dict, method: str, path: str
) -> None:
    assert set(openapi["paths"][path][method]["responses"]) == ACCOUNT_ROUTES[(method, path)]


def test_users_show_whether_their_email_is_verified(openapi: dict) -> None:
    assert "email_verified" in openapi["components"]["schemas"]["UserPublic"]["required"]


def test_import_is_a_file_picker_in_swagger_ui(openapi: dict) -> None:
    body = openapi["paths"]["/api/contacts/import"]["post"]["requestBody"]["content"]
    (media_type,) = body
    schema = openapi["components"]["schemas"][body[media_type]["schema"]["$ref"].split("/")[-1]]

    assert media_type == "multipart/form-data"
    assert schema["properties"]["file"]["contentMediaType"] == "application/octet-stream"


def test_the_calendar_needs_no_token(openapi: dict) -> None:
    assert not openapi["paths"]["/api/calendar/{secret}.ics"]["get"].get("security")


def test_each_error_status_has_an_example_of_its_own(openapi: dict) -> None:
    """Swagger UI shows the model's one example under every status unless each has its own."""
    for name, operation in operations(openapi):
        examples = {
            status: answer["content"]["application/json"].get("example")
            for status, answer in operation["responses"].items()
            if status[0] in "45" and status != "422"
        }
        assert all(examples.values()), f"{name}: {examples}"
        details = [example["detail"] for example in examples.values()]
        assert len(set(details)) == len(details), f"{name}: {examples}"


def schemas_answered(openapi: dict) -> set[str]:
    """The component schemas a success answer returns, and the ones they contain."""
    names: set[str] = set()
    pending = [
        answer["content"]["application/json"]["schema"]
        for _, operation in operations(openapi)
        for status, answer in operation["responses"].items()
        if status.startswith("2") and "application/json" in answer.get("content", {})
    ]
    while pending:
        schema = pending.pop()
        if isinstance(schema, dict):
            ref = schema.get("$ref", "").removeprefix("#/components/schemas/")
            if ref and ref not in names:
                names.add(ref)
                pending.append(openapi["components"]["schemas"][ref])
            pending.extend(schema.values())
        elif isinstance(schema, list):
            pending.extend(schema)
    return names


def test_no_answer_example_is_made_up_from_a_pattern(openapi: dict) -> None:
    """A schema whose fields carry a `pattern` gets a whole example, or Swagger UI fills the
    fields with text generated from the regex."""
    for name in schemas_answered(openapi):
        schema = openapi["components"]["schemas"][name]
        patterned = [
            field for field, spec in schema.get("properties", {}).items() if "pattern" in spec
        ]
        if patterned:
            assert schema.get("examples"), f"{name}: {patterned}"


def test_an_app_that_served_its_docs_is_freed_once_dropped() -> None:
    """No process-wide cache keeps an app alive (the suite builds one a test)."""
    with TestClient(create_app(make_settings(ANY_URL))) as client:
        for page in ("/docs", "/redoc", "/docs/oauth2-redirect", "/api/health"):
            client.get(page)
        app = weakref.ref(client.app)

    del client
    gc.collect()

    assert app() is None
