"""The ASGI app, `contacts_api.main:app`, configured from the environment or `.env`.

`uvicorn contacts_api.main:app` serves it without touching the schema: run
`alembic upgrade head` first, or use `python -m contacts_api`, which does both.
"""

from contacts_api.app import create_app
from contacts_api.core.config import load_settings
from contacts_api.core.logs import configure_logging

settings = load_settings("contacts_api")
configure_logging(settings.log_level)
app = create_app(settings)
