"""Delete expired refresh tokens and the families they leave empty.

Usage: `python scripts/purge_tokens.py`, with DATABASE_URL as for the service. Safe to
run at any time (from cron, say): an expired token is refused by its signature check
alone, so its row is no longer needed to refuse it.
"""

import argparse
import asyncio

from contacts_api.config import DatabaseSettings
from contacts_api.crud.tokens import purge_expired
from contacts_api.db import create_app_engine

TIMEOUT_SECONDS = 60


async def purge(database_url: str) -> int:
    """The service's own CRUD function, on an engine of the script's own."""
    engine = create_app_engine(database_url, timeout=TIMEOUT_SECONDS)
    try:
        return await purge_expired(engine)
    finally:
        await engine.dispose()


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    purged = asyncio.run(purge(DatabaseSettings().database_url))
    print(f"purged {purged} expired refresh tokens")


if __name__ == "__main__":
    main()
