"""Rate limits for sign-up, login and refresh, with the maintained `limits` library.

Each limit is a moving window ("10/minute": at most 10 hits in any 60 seconds) kept
per key: a client address, or for login also the account, so that guessing one
account's password from many addresses is slowed as well. The counts live in process
memory by default; with `REDIS_URL` they live in Redis, and every replica of the
service draws on one budget.
"""

import time

from limits import RateLimitItem, parse
from limits.storage import Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from contacts_api.exceptions import DomainError

REDIS_KEY_PREFIX = "contacts_api"


class RateLimited(DomainError):
    message = "Too many requests, try again later"

    def __init__(self, retry_after: int) -> None:
        super().__init__()
        self.retry_after = retry_after


class RateLimiter:
    """Counts hits per key and refuses the one over the limit with `RateLimited`.

    A storage failure (Redis down) raises `limits.errors.StorageError`, which the app
    answers with `503`: an auth route is not served unlimited while its limits cannot
    be counted.
    """

    def __init__(self, *, enabled: bool, redis_url: str | None) -> None:
        self.enabled = enabled
        self.storage: Storage = (
            storage_from_string(redis_url, key_prefix=REDIS_KEY_PREFIX, wrap_exceptions=True)
            if redis_url
            else storage_from_string("memory://")
        )
        self._strategy = MovingWindowRateLimiter(self.storage)

    def hit(self, limit: RateLimitItem, *key: str) -> None:
        if not self.enabled or self._strategy.hit(limit, *key):
            return
        reset_at = self._strategy.get_window_stats(limit, *key).reset_time
        raise RateLimited(retry_after=max(1, round(reset_at - time.time())))


def parse_limit(text: str) -> RateLimitItem:
    """`"10/minute"` and the like; `ValueError` for anything `limits` cannot read."""
    return parse(text)
