"""Rate limits for sign-up, login, refresh and the messages an account can ask for,
with the maintained `limits` library.

Each limit is a moving window ("10/minute": at most 10 hits in any 60 seconds) kept
per key, such as a client address. The counts live in process memory by default;
with `REDIS_URL` they live in Redis, and every replica of the service draws on one
budget. The async flavour of `limits` is used, so counting never blocks the loop.
"""

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from enum import StrEnum

from limits import RateLimitItem, parse
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from limits.storage import storage_from_string

from contacts_api.core.exceptions import InvalidCredentials, RateLimited

REDIS_KEY_PREFIX = "contacts_api"


class Limit(StrEnum):
    """What is counted; the value is also the first part of each count's key."""

    SIGNUP = "signup"  # sign-ups, per address
    LOGIN_FAILURES = "login-failures"  # wrong passwords, per address
    ACCOUNT_LOGIN_FAILURES = "account-login-failures"  # wrong passwords, per account + address
    REFRESH = "refresh"  # refreshes, per address
    PASSWORD_RESET = "password-reset"  # noqa: S105 (reset requests, per address)
    PASSWORD_RESET_EMAIL = "password-reset-email"  # noqa: S105 (per email asked for)
    VERIFICATION_RESEND = "verification-resend"  # new verification messages, per account
    CALENDAR = "calendar"  # birthday-calendar downloads, per address


def parse_limit(text: str) -> RateLimitItem:
    """`"10/minute"` and the like; `ValueError` for anything `limits` cannot read."""
    return parse(text)


class RateLimiter:
    """Counts hits per key and refuses the one over the limit with `RateLimited`.

    The limits are parsed once, when the app is built. A storage failure (Redis
    down) raises `limits.errors.StorageError`, which the app answers with `503`: an
    auth route is not served unlimited while its limits cannot be counted.
    """

    def __init__(
        self, *, limits: dict[Limit, RateLimitItem], enabled: bool, redis_url: str | None
    ) -> None:
        self.enabled = enabled
        self._limits = limits
        self.storage: Storage = (
            storage_from_string(
                f"async+{redis_url}",
                implementation="redispy",
                key_prefix=REDIS_KEY_PREFIX,
                wrap_exceptions=True,
            )
            if redis_url
            else storage_from_string("async+memory://")
        )
        self._strategy = MovingWindowRateLimiter(self.storage)

    async def close(self) -> None:
        """Close the connections to Redis, if the counts live there.

        `limits` has no public way to; its Redis storage keeps the `redis` client on its
        bridge. Left open, the sockets would be closed only when the garbage collector
        finds them, with a `ResourceWarning`.
        """
        bridge = getattr(self.storage, "bridge", None)
        if bridge is not None:
            await bridge.get_connection().aclose()

    async def storage_answers(self) -> bool:
        """Whether the counts can be reached (always, in memory)."""
        try:
            return await self.storage.check()
        except StorageError:
            return False

    async def hit(self, limit: Limit, *key: str) -> None:
        """Count one hit; `RateLimited` if it is over the limit."""
        if self.enabled and not await self._count(limit, *key):
            raise await self._refusal(limit, *key)

    async def check(self, limit: Limit, *key: str) -> None:
        """`RateLimited` if the next hit would be over the limit; counts nothing.

        For counts of failures: a login is refused while its failures are used up,
        and only a failed one is then counted.
        """
        if self.enabled and not await self._strategy.test(self._limits[limit], limit, *key):
            raise await self._refusal(limit, *key)

    @asynccontextmanager
    async def login_attempt(self, *, address: str, account: str) -> AsyncIterator[None]:
        """Refuse a login whose failures are used up; count it if its password is wrong.

        Wrong passwords are counted per address, and per account *and* address: a
        stranger guessing at an account slows only their own address, and the owner,
        from theirs, still logs in. Only failures count, so a login refused before its
        password was checked (`429`, or `503` while hashing is busy) costs nothing.
        """
        await self.check(Limit.LOGIN_FAILURES, address)
        await self.check(Limit.ACCOUNT_LOGIN_FAILURES, account, address)
        try:
            yield
        except InvalidCredentials:
            if self.enabled:
                await self._count(Limit.LOGIN_FAILURES, address)
                await self._count(Limit.ACCOUNT_LOGIN_FAILURES, account, address)
            raise

    async def _count(self, limit: Limit, *key: str) -> bool:
        """Count one hit; whether it was within the limit."""
        return await self._strategy.hit(self._limits[limit], limit, *key)

    async def _refusal(self, limit: Limit, *key: str) -> RateLimited:
        stats = await self._strategy.get_window_stats(self._limits[limit], limit, *key)
        return RateLimited(retry_after=max(1, round(stats.reset_time - time.time())))
