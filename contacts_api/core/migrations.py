"""Run Alembic from code: what `python -m contacts_api` and the tests use."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"


def alembic_config(database_url: str) -> Config:
    """The project's Alembic config, aimed at `database_url`.

    The URL travels in `attributes` rather than the ini's `sqlalchemy.url`, where
    a `%` in a password would be read as interpolation.
    """
    config = Config(ALEMBIC_INI)
    config.attributes["database_url"] = database_url
    return config


def upgrade_to_head(database_url: str) -> None:
    command.upgrade(alembic_config(database_url), "head")


def head_revision() -> str:
    """The revision the code's migrations end at: what a database must be at to serve it."""
    head = ScriptDirectory.from_config(Config(ALEMBIC_INI)).get_current_head()
    assert head is not None, "the migrations folder has no revision"
    return head
