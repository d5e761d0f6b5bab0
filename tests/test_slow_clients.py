"""The one-command run holds no connection forever, nor more of them than it can open:
idle, half-sent and trickled requests are closed, and past its cap a new connection
gets `503` while the connections it holds go on being served."""

import socket
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx2

from tests.servers import SERVER_LOG, one_command_run
from tests.smtp import eventually

GENEROUS_SECONDS = 30  # how long a test waits for the server: a bound, not a measure


def connect(base_url: str) -> socket.socket:
    host, port = base_url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)))
    sock.settimeout(GENEROUS_SECONDS)
    return sock


def read_until_closed(sock: socket.socket) -> bytes:
    """All the server sends before it closes the connection."""
    received = b""
    while chunk := sock.recv(4096):
        received += chunk
    return received


def held_open(base_url: str, count: int, stack: ExitStack) -> Iterator[socket.socket]:
    for _ in range(count):
        yield stack.enter_context(connect(base_url))


def test_idle_half_sent_and_trickled_requests_are_closed_by_the_server(tmp_path: Path) -> None:
    timeouts = {"HEADER_TIMEOUT_SECONDS": "1", "BODY_TIMEOUT_SECONDS": "1"}
    with one_command_run(tmp_path, **timeouts) as (_, url), ExitStack() as stack:
        idle, half_sent, trickled = held_open(url, 3, stack)
        half_sent.sendall(b"GET /api/health HTTP/1.1\r\nHost: localhost\r\n")
        trickled.sendall(
            b"POST /api/auth/signup HTTP/1.1\r\nHost: localhost\r\n"
            b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
        )

        received = [read_until_closed(sock) for sock in (idle, half_sent, trickled)]
        # The server's log is written by a thread of its own: read it before it stops.
        log = eventually(lambda: logged_closes(tmp_path / SERVER_LOG), GENEROUS_SECONDS)

    assert received == [b"", b"", b""]  # each closed by the server, nothing answered
    assert log.count("sent no whole request head in time") == 2
    assert log.count("sent no whole request body in time") == 1


def logged_closes(log_file: Path) -> str:
    """The server's log once it names the three closed connections; empty until then."""
    log = log_file.read_text()
    return log if log.count("sent no whole request") == 3 else ""


def test_health_answers_with_many_idle_connections_open(tmp_path: Path) -> None:
    with (
        one_command_run(tmp_path, HEADER_TIMEOUT_SECONDS="600") as (_, url),
        ExitStack() as stack,
    ):
        idle = list(held_open(url, 200, stack))

        health = httpx2.get(f"{url}/api/health", timeout=GENEROUS_SECONDS)

    assert len(idle) == 200
    assert health.status_code == 200


def test_past_the_connection_cap_a_new_one_gets_503_and_the_server_lives_on(
    tmp_path: Path,
) -> None:
    """Under `ulimit -n 400` the cap is 172 connections; 300 are opened and kept idle."""
    with (
        one_command_run(tmp_path, open_files=400, HEADER_TIMEOUT_SECONDS="600") as (_, url),
        ExitStack() as stack,
    ):
        idle = list(held_open(url, 300, stack))
        with connect(url) as one_more:
            refused = read_until_closed(one_more)
        stack.close()  # the idle clients go
        health = httpx2.get(f"{url}/api/health", timeout=GENEROUS_SECONDS)

    assert len(idle) == 300
    assert refused.startswith(b"HTTP/1.1 503 ")
    assert health.status_code == 200
    log = (tmp_path / SERVER_LOG).read_text()
    assert "at most 172 connections" in log
    assert "Too many open files" not in log
