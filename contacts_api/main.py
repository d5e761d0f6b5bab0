"""The ASGI app, `contacts_api.main:app`, configured from the environment or `.env`.

`uvicorn contacts_api.main:app` serves it without touching the schema: run
`alembic upgrade head` first, or use `python -m contacts_api`, which does both.
"""

from contacts_api.app import create_app
from contacts_api.logs import configure_logging

configure_logging()
app = create_app()
