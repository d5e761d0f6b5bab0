"""Delete expired refresh tokens, the families they leave empty, and expired mailed links.

Usage: `python scripts/purge_tokens.py`, with DATABASE_URL as for the service. Safe to
run at any time (from cron, say): an expired token is refused by its signature check
alone, and an expired link by its expiry, so their rows are no longer needed.
"""

import argparse
import asyncio

from contacts_api.core.config import DatabaseSettings
from contacts_api.core.db import create_app_engine
from contacts_api.crud import links, tokens

TIMEOUT_SECONDS = 60


async def purge(database_url: str) -> tuple[int, int]:
    """The service's own CRUD functions, on an engine of the script's own: how many
    refresh tokens and how many links were deleted."""
    engine = create_app_engine(database_url, timeout=TIMEOUT_SECONDS)
    try:
        return await tokens.purge_expired(engine), await links.purge_expired(engine)
    finally:
        await engine.dispose()


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    refresh_tokens, mailed_links = asyncio.run(purge(DatabaseSettings().database_url))
    print(f"purged {refresh_tokens} expired refresh tokens and {mailed_links} expired links")


if __name__ == "__main__":
    main()
