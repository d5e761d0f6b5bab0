"""Helpers for tests that run the service as a real process."""

import os
import socket
import time
from pathlib import Path

import httpx2

REPO = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT_SECONDS = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
