"""Delete expired refresh tokens and the families they leave empty.

Usage: `python scripts/purge_tokens.py`, with DATABASE_URL as for the service. Safe to
run at any time (from cron, say): an expired token is refused by its signature check
alone, so its row is no longer needed to refuse it.
"""

from sqlmodel import Session

from contacts_api.config import DatabaseSettings
from contacts_api.crud.tokens import purge_expired
from contacts_api.db import create_db_engine


def main() -> None:
    engine = create_db_engine(DatabaseSettings().database_url)
    with Session(engine) as session:
        purged = purge_expired(session)
    engine.dispose()
    print(f"purged {purged} expired refresh tokens")


if __name__ == "__main__":
    main()
