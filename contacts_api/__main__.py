"""`python -m contacts_api`: apply migrations, then serve on HOST:PORT.

The one-command run of the README: with no settings at all it uses an SQLite file
under `./data`, so nothing but Python is needed.
"""

import sys
from functools import partial

import uvicorn
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from contacts_api.app import create_app
from contacts_api.core.config import load_settings
from contacts_api.core.db import database_problem
from contacts_api.core.logs import configure_logging
from contacts_api.core.migrations import upgrade_to_head
from contacts_api.core.serving import (
    KEEP_ALIVE_SECONDS,
    LISTEN_BACKLOG,
    MAX_HEAD_BYTES,
    BoundedH11Protocol,
    connection_cap,
)


def main() -> None:
    settings = load_settings("contacts_api")
    try:
        upgrade_to_head(settings.database_url)
    except (DBAPIError, NoSuchModuleError, ArgumentError) as exc:
        sys.exit(f"contacts_api: {database_problem(settings.database_url, exc)}")
    configure_logging(settings.log_level)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        access_log=False,  # our middleware writes one richer line a request
        server_header=False,  # no need to tell the world what serves it
        # A client's X-Forwarded-For is trusted only from the proxies named here; by
        # default from none, so no client can pick the address its limits count on.
        proxy_headers=bool(settings.forwarded_allow_ips),
        forwarded_allow_ips=settings.forwarded_allow_ips,
        # No connection is held forever, nor more of them than the process can open.
        http=partial(
            BoundedH11Protocol,
            header_timeout=settings.header_timeout_seconds,
            body_timeout=settings.body_timeout_seconds,
        ),
        limit_concurrency=connection_cap(settings.max_connections),
        backlog=LISTEN_BACKLOG,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        h11_max_incomplete_event_size=MAX_HEAD_BYTES,
    )


if __name__ == "__main__":
    main()
