"""Debian's Chromium, driven by Playwright (no browser download), for the end-to-end
tests: one page, its screenshot kept whatever happens, and nothing Playwright leaves
behind reaching another test.

Playwright's sync API talks to its driver, a Node.js process, through an asyncio
subprocess transport on an event loop of its own, which it closes on the way out. On a
busy machine the driver's pipes and exit may be noticed only after that loop closed:
the transport, its stream and its pipes are then garbage collected unclosed, and each
says so with a `ResourceWarning` (or "Event loop is closed") from its `__del__`,
whenever the collection happens to run: in a later test, which this suite, where every
warning is an error, then fails. `leftovers_collected` waits for the driver's exit to be
seen, collects what it left while the session is still the one running, and keeps only
those complaints out of the report.
"""

import gc
import os
import shutil
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.servers import REPO

if TYPE_CHECKING:
    from playwright.sync_api import Page

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = REPO / "artifacts" / "e2e"
# Off: the background services that a closed network would only refuse.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# asyncio names the thread that waits for a child process to exit this way.
WAITPID_THREAD = "asyncio-waitpid-"
WAITPID_SECONDS = 30

needs_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"
)


@contextmanager
def browser_page(screenshot: str) -> Iterator["Page"]:
    """A page of a headless Chromium; its screenshot is saved as `screenshot` at the end."""
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with leftovers_collected(), sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        try:
            yield page
        finally:
            page.screenshot(path=SCREENSHOTS / screenshot, full_page=True)
            browser.close()


@contextmanager
def leftovers_collected() -> Iterator[None]:
    """Run a Playwright session; at its end, collect the asyncio objects its driver left
    unclosed, without their complaints (any other unraisable error is reported)."""
    reported = sys.unraisablehook

    def report_all_but_leftovers(unraisable: "sys.UnraisableHookArgs") -> None:
        if not _a_leftovers_complaint(unraisable.exc_value):
            reported(unraisable)

    sys.unraisablehook = report_all_but_leftovers
    try:
        yield
    finally:
        for thread in threading.enumerate():
            if thread.name.startswith(WAITPID_THREAD):
                thread.join(WAITPID_SECONDS)
        gc.collect()
        sys.unraisablehook = reported


def _a_leftovers_complaint(error: BaseException | None) -> bool:
    """What an unclosed transport, stream or pipe says when it is collected."""
    if isinstance(error, ResourceWarning):
        return str(error).startswith(("unclosed", "loop is closed", "subprocess "))
    return isinstance(error, RuntimeError) and str(error) == "Event loop is closed"
