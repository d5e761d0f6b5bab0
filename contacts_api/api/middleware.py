"""The service's own middleware: what every response gets, and what is refused early.

Every response gets a request id, `nosniff`, caching and framing rules, and one log
line (`RequestContextMiddleware`); a body that is not JSON (`JsonBodiesOnly`) and, when
`ALLOWED_HOSTS` is set, an unknown host (`KnownHostsOnly`) are refused before the app.

Plain ASGI middleware rather than Starlette's `BaseHTTPMiddleware`, which would buffer
each response and run the app in a separate task.
"""

import json
import logging
import re
import time
import uuid
from collections.abc import Sequence
from urllib.parse import unquote

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "X-Request-ID"
# A client's id is echoed only if it is short and plain, so it cannot forge log lines.
CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")

# Answers that never have a body, so never a `Content-Type` either (RFC 9110 §8.3).
BODILESS = frozenset({204, 304})
# A path holding a secret (the birthday calendar's address) is logged without it:
# whatever follows a `calendar` segment, however the client spelled or mistyped it
# (`/API/Calendar//…`, `%63alendar`, a trailing segment), is the secret's place.
CALENDAR_SEGMENT = "calendar"
REDACTED = "<secret>"
SEPARATORS = re.compile(r"[/\\]")
# How many layers of percent-encoding a segment is read through (`%2563` is `%63` is `c`).
ENCODINGS_READ = 3

access_log = logging.getLogger("contacts_api.access")

DOCS_PAGES = frozenset({"/docs", "/redoc", "/docs/oauth2-redirect"})
# The docs pages load their scripts and styles from the service itself (ReDoc also
# runs a worker from a blob), and are framed by no one.
DOCS_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src 'self' blob:; frame-ancestors 'none'"
)


class RequestContextMiddleware:
    """Tags each request with an id and logs it once it has been answered.

    The id is the client's `X-Request-ID` when it sent a usable one, a new one
    otherwise; it is returned in the same header and written in the log line, so a
    client's report can be matched with the server's log. The line holds the method,
    the path (no query string), the status, the duration, the id and, when the request
    was authenticated, the user id: never a header, a body or a token. The duration is
    the answer's: up to its last body message, before any background task runs.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        sent = _header(scope, b"x-request-id")
        request_id = sent if CLIENT_REQUEST_ID.fullmatch(sent) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        path = scope["path"]
        status = 500  # what the client gets if the app fails before answering
        started = time.perf_counter()
        logged = False

        def log_answer() -> None:
            """The access line, written once the answer is out: what runs after it (a
            background task sending mail) is no part of the request's duration."""
            nonlocal logged
            logged = True
            if access_log.isEnabledFor(logging.INFO):
                access_log.info(
                    "method=%s path=%s status=%d duration_ms=%.1f request_id=%s user_id=%s",
                    printable(scope["method"]),
                    loggable_path(path),
                    status,
                    (time.perf_counter() - started) * 1000,
                    request_id,
                    scope["state"].get("user_id", "-"),
                )

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                if status in BODILESS:
                    # FastAPI labels a route's empty `204` as JSON all the same.
                    del headers["Content-Type"]
                headers[REQUEST_ID_HEADER] = request_id
                headers["X-Content-Type-Options"] = "nosniff"
                if path.startswith("/api/"):
                    # Tokens, personal data; a route may allow a private copy (the calendar).
                    headers.setdefault("Cache-Control", "no-store")
                elif path in DOCS_PAGES:
                    headers["Content-Security-Policy"] = DOCS_POLICY
                    headers["X-Frame-Options"] = "DENY"
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                log_answer()

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            if not logged:  # the app failed, or the client left, before the last of the body
                log_answer()


def loggable_path(path: str) -> str:
    """A request's path as every log line writes it: printable, and with no secret in it
    (the birthday calendar's address is its own key): everything after the first
    `calendar` segment is `<secret>`."""
    segments = path.split("/")
    for index, segment in enumerate(segments):
        # A separator may hide in the segment itself, encoded (`calendar%2F…`).
        name, *inside = SEPARATORS.split(_decoded(segment), maxsplit=1)
        if name.casefold() == CALENDAR_SEGMENT and any([*inside, *segments[index + 1 :]]):
            return printable("/".join([*segments[:index], name, REDACTED]))
    return printable(path)


def _decoded(segment: str) -> str:
    """`segment` read through a few layers of percent-encoding; only a short one, since
    `calendar` written in any of them is short (linear time whatever the path)."""
    if len(segment) > len(CALENDAR_SEGMENT) * 3**ENCODINGS_READ:
        return segment
    for _ in range(ENCODINGS_READ):
        segment = unquote(segment)
    return segment


def printable(text: str) -> str:
    """`text` with control characters escaped: a `%0a` in a path cannot start a forged line."""
    if text.isprintable():
        return text
    return text.encode("unicode_escape").decode("ascii")


JSON = "application/json"
FORM = ("application/x-www-form-urlencoded", "multipart/form-data")
# The bodies each path may carry, where they are not JSON alone.
BODY_TYPES: dict[str, tuple[str, ...]] = {
    "/api/auth/login": (JSON, *FORM),
    "/api/auth/token": FORM,
    "/api/contacts/import": ("multipart/form-data",),
}
METHODS_WITH_BODIES = frozenset({"POST", "PUT", "PATCH"})
UNSUPPORTED = json.dumps({"detail": "Send the body as application/json"}).encode()


class JsonBodiesOnly:
    """`415` for a body under `/api` that is not `application/json` (see `BODY_TYPES`).

    A browser lets any page post a form or `text/plain` to any site without asking
    it first, but never `application/json`: refusing the rest means no page of another
    site can make a signed-in browser change anything here, whatever it sends.
    """

    def __init__(self, app: ASGIApp, routes: Sequence[tuple[re.Pattern[str], set[str]]]) -> None:
        self.app = app
        self.routes = routes  # each route's path pattern and methods

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] in METHODS_WITH_BODIES
            and scope["path"].startswith("/api/")
            and _has_body(scope)
            and self._route_takes(scope["method"], scope["path"])
        ):
            media_type = _header(scope, b"content-type").split(";")[0].strip().lower()
            if media_type not in BODY_TYPES.get(scope["path"], (JSON,)):
                await _answer(send, 415, UNSUPPORTED)
                return
        await self.app(scope, receive, send)

    def _route_takes(self, method: str, path: str) -> bool:
        """Whether some route answers `method` on `path`: if none does, the router's `405`
        (or `404`) is the answer, whatever the body is."""
        return any(method in methods and regex.match(path) for regex, methods in self.routes)


UNKNOWN_HOST = json.dumps({"detail": "Unknown host"}).encode()


class KnownHostsOnly:
    """`400` for a request whose `Host` is none of `hosts` (the `ALLOWED_HOSTS` setting).

    Installed only when the setting names hosts; no response is ever built from the
    `Host` header either way (no redirects), this only narrows what is answered at all.
    """

    def __init__(self, app: ASGIApp, hosts: list[str]) -> None:
        self.app = app
        self.hosts = frozenset(host.lower() for host in hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            host = _header(scope, b"host").rsplit(":", 1)[0].lower()
            if host not in self.hosts:
                await _answer(send, 400, UNKNOWN_HOST)
                return
        await self.app(scope, receive, send)


def _header(scope: Scope, name: bytes) -> str:
    return next((v.decode("latin-1") for k, v in scope["headers"] if k == name), "")


def _has_body(scope: Scope) -> bool:
    length = _header(scope, b"content-length")
    return (length not in ("", "0")) or bool(_header(scope, b"transfer-encoding"))


async def _answer(send: Send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
