"""The folders are layers, and nothing imports upward (the rule each `__init__` states).

Read from the source, not from what happens to be imported at run time: every
`import contacts_api…` and `from contacts_api… import …` of every module, including
those inside functions, is held against the layers its module may import.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "contacts_api"
# Each layer, and the layers it may import (besides itself).
MAY_IMPORT: dict[str, set[str]] = {
    "core": set(),
    "models": {"core"},
    "formats": {"core", "models"},
    "crud": {"core", "models"},
    "mail": {"core", "models", "formats", "crud"},
    "api": {"core", "models", "formats", "crud", "mail"},
    "app": {"core", "models", "formats", "crud", "mail", "api"},
}
# What `models` may take from `core`: a model declares data, so never the database
# engines, security or anything that does work.
MODELS_MAY_IMPORT = {"contacts_api.core.clock", "contacts_api.core.rules"}


def layer_of(module: str) -> str:
    """`contacts_api.core.db` → `core`; the top-level app modules are one layer, `app`."""
    parts = module.split(".")
    if len(parts) == 1 or parts[1] in {"app", "main", "__main__"}:
        return "app"
    return parts[1].removesuffix(".py")


def module_name(path: Path) -> str:
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    return ".".join(part for part in relative.parts if part != "__init__")


def imported(path: Path) -> set[str]:
    """The project modules (or packages) a file imports, by their full names."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names |= {f"{node.module}.{alias.name}" for alias in node.names} | {node.module}
    return {name for name in names if name.split(".")[0] == "contacts_api"}


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda path: module_name(path))
def test_a_module_imports_only_its_own_layer_and_those_below(path: Path) -> None:
    layer = layer_of(module_name(path))
    allowed = MAY_IMPORT[layer] | {layer}
    upward = {
        name for name in imported(path) if name != "contacts_api" and layer_of(name) not in allowed
    }
    assert upward == set()


def test_models_take_only_the_rules_and_the_clock_from_core() -> None:
    taken = {name for name in imported(PACKAGE / "models.py") if layer_of(name) == "core"}

    assert {name for name in taken if not name.startswith(tuple(MODELS_MAY_IMPORT))} == set()


def test_every_layer_is_known() -> None:
    """A new folder (CardDAV's `dav/`, say) gets its rule here before it lands."""
    assert {layer_of(module_name(path)) for path in MODULES} <= set(MAY_IMPORT)
