"""A real browser on Swagger UI: Authorize with email and password, create and list
contacts, import a .vcf file through the file picker.

Debian's Chromium, driven by Playwright (no browser download). Skipped, with the
reason, where Chromium is not installed; `.ci/run` installs it.
"""

from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from tests.browser import browser_page, needs_chromium
from tests.conftest import TEST_PASSWORD
from tests.servers import REPO, one_command_run

VCARDS = REPO / "tests" / "vcards"

pytestmark = needs_chromium


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """`python -m contacts_api` on an empty SQLite file, with one account."""
    with one_command_run(tmp_path, BCRYPT_ROUNDS="4", RATE_LIMIT_ENABLED="false") as (
        _,
        base_url,
    ):
        credentials = {"email": "ada@example.com", "password": TEST_PASSWORD}
        httpx2.post(f"{base_url}/api/auth/signup", json=credentials).raise_for_status()
        yield base_url


def test_swagger_ui_authorizes_with_email_and_password_and_runs_contact_routes(
    server: str,
) -> None:
    from playwright.sync_api import expect

    with browser_page("swagger-ui.png") as page:
        page.goto(f"{server}/docs")

        page.locator(".auth-wrapper .btn.authorize").click()
        page.locator("#oauth_username").fill("ada@example.com")
        page.locator("#oauth_password").fill(TEST_PASSWORD)
        page.locator(".auth-btn-wrapper .btn.modal-btn.authorize").click()
        buttons = page.locator(".auth-btn-wrapper button")
        expect(buttons.filter(has_text="Logout")).to_be_visible()  # logged in
        buttons.filter(has_text="Close").click()

        create = page.locator("#operations-contacts-create_contact_api_contacts_post")
        create.locator(".opblock-summary").click()
        create.locator(".try-out__btn").click()
        create.locator("textarea.body-param__text").fill(
            '{"first_name": "Олена", "last_name": "Коваленко", "email": "o@example.com",'
            ' "phone": "067 123 45 67", "birthday": "1990-03-08"}'
        )
        create.locator(".execute").click()
        expect(
            create.locator(".live-responses-table td.response-col_status:not(.col_header)")
        ).to_have_text("201")

        listing = page.locator("#operations-contacts-list_contacts_api_contacts_get")
        listing.locator(".opblock-summary").click()
        listing.locator(".try-out__btn").click()
        listing.locator(".execute").click()
        expect(
            listing.locator(".live-responses-table td.response-col_status:not(.col_header)")
        ).to_have_text("200")
        expect(listing.locator(".live-responses-table .microlight").first).to_contain_text(
            "Коваленко"
        )

        importer = page.locator("#operations-contacts-import_contacts_api_contacts_import_post")
        importer.locator(".opblock-summary").click()
        importer.locator(".try-out__btn").click()
        importer.locator('input[type="file"]').set_input_files(VCARDS / "google-3.0.vcf")
        importer.locator(".execute").click()
        expect(
            importer.locator(".live-responses-table td.response-col_status:not(.col_header)")
        ).to_have_text("201")
