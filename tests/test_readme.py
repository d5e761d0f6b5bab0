"""The README is for people who clone the repository: it stands alone, and its commands
work as written."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from contacts_api.core.config import Settings
from tests.servers import REPO, one_command_run

README = (REPO / "README.md").read_text()
BASH = shutil.which("bash") or "/bin/bash"
SHELL_BLOCKS = re.findall(r"```sh\n(.*?)```", README, re.DOTALL)


def test_the_readme_points_at_nothing_outside_the_repository() -> None:
    assert "../" not in README


def test_every_python_command_in_the_readme_uses_the_projects_venv() -> None:
    commands = [line for block in SHELL_BLOCKS for line in block.splitlines()]
    bare = [line for line in commands if re.search(r"(^|[\s$(])python3? (?!-m venv)", line)]

    assert bare == []


def test_every_setting_is_in_the_readme_and_the_env_example() -> None:
    env_example = (REPO / ".env.example").read_text()

    for name in (field.upper() for field in Settings.model_fields):
        assert f"`{name}`" in README, name
        assert f"# {name}=" in env_example, name


def test_the_license_is_mit() -> None:
    assert (REPO / "LICENSE").read_text().startswith("MIT License")


@pytest.mark.parametrize("script", ["seed.py", "bench.py", "purge_tokens.py"])
def test_every_script_answers_help(script: str) -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / script), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0
    assert result.stdout.startswith("usage:")


def test_the_curl_walk_throughs_run_as_written(tmp_path: Path) -> None:
    """The accounts, contacts and mail walk-throughs, in order, against a fresh service."""
    accounts = next(block for block in SHELL_BLOCKS if "/auth/signup" in block)
    contacts = next(block for block in SHELL_BLOCKS if 'AUTH="Authorization' in block)
    mail = next(block for block in SHELL_BLOCKS if "OUTBOX=data/outbox" in block)
    with one_command_run(tmp_path, BCRYPT_ROUNDS="4") as (_, base_url):
        script = (accounts + contacts + mail).replace(
            "OUTBOX=data/outbox", f"OUTBOX={tmp_path / 'data' / 'outbox'}"
        )
        result = subprocess.run(
            [BASH, "-euo", "pipefail", "-c", f"cd {REPO}\n{script}"],
            cwd=tmp_path,
            env=os.environ | {"PORT": base_url.rpartition(":")[2]},  # as the service's own
            capture_output=True,
            text=True,
            timeout=60,
        )
    (REPO / "tokens.json").unlink(missing_ok=True)

    assert result.returncode == 0, result.stderr
    assert '"first_name":"Олена"' in result.stdout  # found by the Cyrillic search
    assert "HTTP/1.1 204" in result.stdout  # the contact, deleted through its Location
    assert "Invalid HTTP request" not in result.stdout
    assert result.stdout.count("HTTP/1.1 204") == 4  # logout, delete, reset, verification
    assert '"email_verified":true' in result.stdout


def test_the_walk_throughs_reach_the_service_through_one_variable() -> None:
    """A port written into a command is a port someone forgets to change."""
    curl_lines = [line for block in SHELL_BLOCKS for line in block.splitlines() if "curl" in line]

    assert curl_lines
    assert [line for line in curl_lines if "127.0.0.1" in line or ":8000" in line] == []


def test_no_example_writes_over_a_file_an_earlier_line_reads() -> None:
    """Following the import lines, then the export, must never destroy the phone's file."""
    commands = "\n".join(SHELL_BLOCKS)
    read = set(re.findall(r"@([\w.-]+)", commands))
    written = set(re.findall(r"(?:-o|>)\s*([\w.-]+\.\w+)", commands))

    assert read
    assert read & written == set()
