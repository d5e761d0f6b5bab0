"""How `python -m contacts_api` holds connections: none forever, never more than it can.

uvicorn's HTTP/1.1 server (h11) closes a connection by itself only when it sits idle
after an answer (`timeout_keep_alive`). A client that opens one and sends nothing, sends
a request's head a byte at a time, or trickles its body, is held for as long as it
likes, and each such connection holds a file descriptor: enough of them and the
process can accept nothing (`Too many open files`), health checks included.

`BoundedH11Protocol` adds what uvicorn lacks: a deadline for a request's head and one
for its body (nginx's `client_header_timeout` and `client_body_timeout`, the latter for
the whole body), and a cap on open connections, kept below the process's file limit:
a connection past the cap is answered `503` and closed at once. In production a
reverse proxy does the same in front (see `deploy/Caddyfile`).
"""

import asyncio
import logging
import resource
from typing import Any

import h11
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

logger = logging.getLogger(__name__)

# An idle connection after an answer is closed this soon (uvicorn's default): a proxy
# keeping connections to the service must close its idle ones sooner.
KEEP_ALIVE_SECONDS = 5
# A request line and headers larger than this get `400` (h11's own default, said here).
MAX_HEAD_BYTES = 16 * 1024
# Connections waiting to be accepted. asyncio accepts up to this many in one go before
# any of them is looked at (so before one past the cap is closed): they need files too.
LISTEN_BACKLOG = 128
# File descriptors kept for all but client connections: the database pool, log and
# SQLite files, the outbox, Redis, the listening socket; and one accepted batch.
RESERVED_FILES = 100 + LISTEN_BACKLOG
BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"content-length: 19\r\n"
    b"retry-after: 1\r\n"
    b"connection: close\r\n\r\n"
    b"Service Unavailable"
)


def connection_cap(wanted: int) -> int:
    """`wanted` (`MAX_CONNECTIONS`), or fewer if the process may not open that many files."""
    soft_limit, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft_limit == resource.RLIM_INFINITY or wanted <= soft_limit - RESERVED_FILES:
        return wanted
    cap = max(1, soft_limit - RESERVED_FILES)
    logger.warning(
        "MAX_CONNECTIONS=%d is more than %d open files allow: at most %d connections",
        wanted,
        soft_limit,
        cap,
    )
    return cap


class BoundedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with deadlines for a request's head and body, and a cap.

    The head must arrive within `header_timeout` seconds of the connection opening or
    of the previous answer, the whole body within `body_timeout` of the head; otherwise
    the connection is closed. Past `limit_concurrency` open connections (uvicorn's own
    setting, which answers `503` to their requests), a new one is answered `503` and
    closed before it is read, so it holds no file for long.
    """

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        header_timeout: float,
        body_timeout: float,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.timeouts = {h11.IDLE: header_timeout, h11.SEND_BODY: body_timeout}
        self.awaiting: object | None = None  # the part of a request awaited: IDLE is its head
        self.deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if self.limit_concurrency is not None and len(self.connections) > self.limit_concurrency:
            transport.write(BUSY)
            transport.close()
            return
        self._follow_the_request()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._follow_the_request()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._follow_the_request()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_deadline()
        super().connection_lost(exc)

    def _follow_the_request(self) -> None:
        """Set the deadline of the part of the request now awaited (head, body, none)."""
        state = self.conn.their_state
        awaiting = state if state in self.timeouts else None
        if awaiting is self.awaiting or self.transport.is_closing():
            return
        self._cancel_deadline()
        self.awaiting = awaiting
        if awaiting is not None:
            self.deadline = self.loop.call_later(self.timeouts[awaiting], self._too_slow)

    def _too_slow(self) -> None:
        self.deadline = None
        part = "head" if self.awaiting is h11.IDLE else "body"
        client = f"{self.client[0]}:{self.client[1]}" if self.client else "a client"
        logger.info("%s sent no whole request %s in time: connection closed", client, part)
        self.transport.close()

    def _cancel_deadline(self) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None
