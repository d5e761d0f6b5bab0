"""A client generated from the schema by `openapi-python-client` builds and imports.

Generated clients are how many people will call the service; the generator breaks on
an operation whose body has two media types (its issue #1451), which the form login
once had. Every module of the generated package is imported, not just the top one.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

from contacts_api.app import create_app
from tests.conftest import make_settings

CLIENT = "contacts_api_client"


def test_a_generated_client_builds_and_every_module_imports(tmp_path: Path) -> None:
    schema = tmp_path / "openapi.json"
    schema.write_text(json.dumps(create_app(make_settings("sqlite://")).openapi()))
    bin_dir = Path(sys.executable).parent
    env = os.environ | {"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}

    generated = subprocess.run(
        [
            bin_dir / "openapi-python-client",
            "generate",
            "--path",
            schema,
            "--output-path",
            tmp_path / CLIENT,
            "--meta",
            "none",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert generated.returncode == 0, generated.stdout + generated.stderr
    assert "Warning" not in generated.stdout, generated.stdout

    every_module = (
        f"import pkgutil, importlib, {CLIENT}\n"
        f"for m in pkgutil.walk_packages({CLIENT}.__path__, '{CLIENT}.'):\n"
        "    importlib.import_module(m.name)\n"
    )
    imported = subprocess.run(
        [sys.executable, "-c", every_module],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert imported.returncode == 0, imported.stderr
