"""Helpers for tests that run the service as a real process."""

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2

from scripts.localhost import free_port

REPO = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT_SECONDS = 60
SERVER_LOG = "server.log"


def fresh_env(**extra: str) -> dict[str, str]:
    """The environment of a fresh machine: no settings, only the project importable."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "SECRET_KEY"}}
    return env | {"PYTHONPATH": str(REPO)} | extra


def wait_until_up(base_url: str) -> None:
    """Return once `base_url` answers at all; fail the test if it never does."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        try:
            httpx2.get(f"{base_url}/api/health")
            return
        except httpx2.TransportError:
            time.sleep(0.2)
    raise TimeoutError(f"{base_url} did not start in {STARTUP_TIMEOUT_SECONDS} s")


@contextmanager
def one_command_run(
    cwd: Path, *, open_files: int | None = None, **env: str
) -> Iterator[tuple[subprocess.Popen, str]]:
    """`python -m contacts_api` started in `cwd`, up and answering: (process, base URL).

    `open_files` lowers how many files the process may open (`ulimit -n`). Its log goes
    to `cwd / SERVER_LOG`; the process is stopped on exit.
    """
    port = free_port()
    command = [sys.executable, "-m", "contacts_api"]
    if open_files is not None:
        command = ["sh", "-c", f'ulimit -n {open_files} && exec "$@"', "sh", *command]
    with (cwd / SERVER_LOG).open("w") as log:
        process = subprocess.Popen(
            command, cwd=cwd, env=fresh_env(PORT=str(port), **env), stdout=log, stderr=log
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base_url)
        yield process, base_url
    finally:
        process.kill()
        process.wait(timeout=10)
