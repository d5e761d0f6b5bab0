"""`python -m contacts_api`: apply migrations, then serve on HOST:PORT.

The one-command run of the README: with no settings at all it uses an SQLite file
under `./data`, so nothing but Python is needed.
"""

import sys

import uvicorn
from pydantic import ValidationError

from contacts_api.app import create_app
from contacts_api.config import Settings
from contacts_api.logs import configure_logging
from contacts_api.migrations import upgrade_to_head


def main() -> None:
    try:
        settings = Settings()
    except ValidationError as exc:
        sys.exit(f"contacts_api: invalid settings\n{exc}")
    upgrade_to_head(settings.database_url)
    configure_logging(settings.log_level)
    # Our middleware writes one richer line a request, so uvicorn's own is left off.
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, access_log=False)


if __name__ == "__main__":
    main()
