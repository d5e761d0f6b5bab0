"""Password hashing, JSON Web Tokens and the tokens of mailed links.

The only module that imports passlib or jose: either library could be swapped in
one place.
"""

import asyncio
import hashlib
import math
import os
import re
import secrets
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import TypeVar

from jose import jwt
from jose.exceptions import JOSEError
from passlib.context import CryptContext

from contacts_api.core.clock import utcnow
from contacts_api.core.exceptions import HashingBusy, InvalidToken
from contacts_api.core.rules import bcrypt_can_hash, normalize_password
from contacts_api.core.waiting import WaitingRoom

R = TypeVar("R")

JWT_ALGORITHM = "HS256"
# A user id as the token's `sub`: plain ASCII digits, no sign, spaces or leading zero,
# and small enough for the id column (`int()` alone would take " 2 ", "1_0" and "١").
SUBJECT = re.compile(r"[1-9][0-9]{0,9}")
MAX_SUBJECT = 2**31 - 1
# How far ahead of our clock a token's `iat` may be: clocks of replicas drift a little.
CLOCK_SKEW = timedelta(seconds=30)
# How much lower than the rest of the process a hashing thread runs (nice, 0 to 19);
# `_yield_cpu` says why this value, with the figures it was chosen on.
HASHING_NICENESS = 5
# The weight of the newest hash in the running estimate of one hash's time.
HASH_TIME_SMOOTHING = 0.2
# Verified tokens remembered: about one per active session of the last few minutes.
VERIFIED_TOKENS_KEPT = 4096


class TokenType(StrEnum):
    ACCESS = "access"
    REFRESH = "refresh"


class PasswordHasher:
    """bcrypt through passlib, at a cost the settings choose (tests lower it).

    Every hash costs a few hundred milliseconds of CPU by design, so it never runs on
    the event loop: it runs in a pool of `concurrency` threads of its own (bcrypt
    releases the GIL while it works). A request waiting for one of those threads waits
    on an asyncio semaphore, which holds no thread at all, so a burst of logins slows
    only the logins.

    The queue is sized by time, not by a count: as many requests may wait as the
    threads hash within `queue_seconds`, so a burst the machine serves in a few seconds
    is served, on a small machine as on a big one. One hash's time is measured on the
    dummy hash made here at start-up, then kept up to date from every hash as it runs
    (a busy machine hashes slower, and so queues fewer). One request more is refused at
    once with `HashingBusy` (a `503`): it would wait longer than a client should. Its
    `retry_after` is when the requests hashing and waiting then have all been served.
    """

    def __init__(self, *, rounds: int, concurrency: int, queue_seconds: float) -> None:
        self._context = CryptContext(
            schemes=["bcrypt"], bcrypt__rounds=rounds, bcrypt__truncate_error=True
        )
        self._threads = ThreadPoolExecutor(
            max_workers=concurrency, thread_name_prefix="bcrypt", initializer=_yield_cpu
        )
        self._concurrency = concurrency
        self._room = WaitingRoom(concurrency)
        self._queue_seconds = queue_seconds
        started = time.perf_counter()
        self._dummy_hash = self.hash_blocking(uuid.uuid4().hex)
        self._hash_seconds = time.perf_counter() - started

    @property
    def hash_seconds(self) -> float:
        """How long one hash takes now, from start to end (a running average)."""
        return self._hash_seconds

    @property
    def queue_limit(self) -> int:
        """How many requests may wait for a thread: what the threads hash in `queue_seconds`."""
        return math.floor(self._queue_seconds * self._concurrency / self._hash_seconds)

    def refuse_if_busy(self) -> None:
        """`HashingBusy` now if a hash would be refused: lets a login that is going to be
        refused anyway skip its work before the hash (the real gate is `_run`)."""
        if self._room.full(self.queue_limit):
            raise HashingBusy(retry_after=self._seconds_to_drain())

    def _seconds_to_drain(self) -> int:
        """Whole seconds until the requests hashing and waiting now have all been served:
        (waiting ÷ threads + 1) × one hash's time, at least 1. A client told this comes
        back when the queue it found full has room again, not in one wave a second later."""
        rounds_of_hashes = self._room.waiting / self._concurrency + 1
        return max(1, math.ceil(rounds_of_hashes * self._hash_seconds))

    def hash_blocking(self, password: str) -> str:
        """Hash in the calling thread: for scripts, which have no event loop to keep free."""
        return self._context.hash(normalize_password(password))

    async def hash(self, password: str) -> str:
        return await self._run(self._context.hash, normalize_password(password))

    async def verify(self, password: str, hashed: str | None) -> bool:
        """Check a password; with no hash (an unknown email), check a dummy one.

        Both paths cost one bcrypt run, so the time a login takes does not tell
        whether the email is registered. A password bcrypt cannot read whole (over 72
        bytes, or with a NUL) can never have been stored, so it fails without a hash.
        """
        if not bcrypt_can_hash(password):
            return False
        matches = await self._run(
            self._context.verify, normalize_password(password), hashed or self._dummy_hash
        )
        return matches and hashed is not None

    def close(self) -> None:
        self._threads.shutdown(wait=True)

    async def _run(self, work: Callable[..., R], *args: str) -> R:
        self.refuse_if_busy()
        async with self._room.turn():
            started = time.perf_counter()
            result = await asyncio.get_running_loop().run_in_executor(self._threads, work, *args)
            took = time.perf_counter() - started
            self._hash_seconds += HASH_TIME_SMOOTHING * (took - self._hash_seconds)
            return result


def _yield_cpu() -> None:
    """Give the calling (hashing) thread a lower CPU priority than the event loop's.

    A hash is background work next to the requests the loop serves: when both want a
    CPU, the loop gets most of it, so a burst of logins slows the logins and not the
    rest. Linux schedules threads one by one, so this touches only the thread it runs in.

    Why `HASHING_NICENESS` is 5: too high and the hashing threads get almost no CPU
    while the loop is busy (logins shed, not served); too low and they take it from the
    loop (every request slows). Measured with `scripts/bench.py`'s login storm (100
    login clients, the server on one CPU, 8 s; logins served as a share of what one
    hashing thread serves alone, target >= 0.5; p99 of `/users/me` during the storm vs
    alone, target <= 3), on a 2-CPU machine shared with other work (load 4 to 11, so
    each figure is a range over 8 to 10 runs, interleaved, median in brackets):
    nice 0: served 0.26-0.89 (0.75), p99 x1.5-12 (x3.5), both met in 2 runs of 8;
    nice 3: served 0.20-2.7 (0.76), p99 x1.3-31 (x2.6), both met in 6 of 8;
    nice 5: served 0.13-2.1 (0.67), p99 x1.0-4.2 (x2.1), both met in 7 of 10;
    nice 10: served 0.36-1.1 (0.53), p99 x0.8-3.3 (x1.7), both met in 5 of 9 (a third
    of the runs served under half; the issue's 0.29 was at nice 10 with `Retry-After: 1`).
    """
    if sys.platform == "linux":
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASHING_NICENESS)


@dataclass(frozen=True)
class TokenPolicy:
    """What signing needs: the key and each type's lifetime, read once from the settings."""

    key: str
    access_lifetime: timedelta
    refresh_lifetime: timedelta


@dataclass(frozen=True)
class TokenClaims:
    subject: int
    type: TokenType
    jti: str
    expires_at: datetime
    # Access tokens only: the user's token generation when issued (see `User`), and the
    # login (refresh-token family) they were issued to.
    generation: int = 0
    session_id: str | None = None


def _generation(value: object) -> int:
    if type(value) is not int or not 0 <= value <= MAX_SUBJECT:
        raise ValueError("not a token generation")
    return value


def _session_id(value: object) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ValueError("not a session id")
    return value


def new_link_token() -> str:
    """A token for a mailed link: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def link_token_hash(token: str) -> str:
    """What is stored of a link token: its SHA-256, in hex. (A real token is ASCII;
    anything else a client sends only needs to hash to no token at all.)"""
    return hashlib.sha256(token.encode(errors="replace")).hexdigest()


def new_token_id() -> str:
    return uuid.uuid4().hex


def create_token(
    *,
    subject: int,
    token_type: TokenType,
    lifetime: timedelta,
    key: str,
    jti: str | None = None,
    generation: int = 0,
    session_id: str | None = None,
) -> tuple[str, TokenClaims]:
    """Sign a token of one type; `jti` names it, so the server can track refresh tokens."""
    now = utcnow()
    claims = TokenClaims(
        subject=subject,
        type=token_type,
        jti=jti or new_token_id(),
        expires_at=now + lifetime,
        generation=generation,
        session_id=session_id,
    )
    payload = {
        "sub": str(subject),
        "type": token_type.value,
        "jti": claims.jti,
        "iat": now,
        "exp": claims.expires_at,
    }
    if token_type is TokenType.ACCESS:
        payload |= {"gen": generation, "sid": session_id}
    return jwt.encode(payload, key, algorithm=JWT_ALGORITHM), claims


def decode_token(token: str, *, expected_type: TokenType, key: str) -> TokenClaims:
    """Verify a token and return its claims, or raise `InvalidToken`.

    The algorithm is pinned (RFC 8725): a token signed with `none`, another
    algorithm or another key is refused. A token of the other type is refused too,
    so a long-lived refresh token can never stand in for an access token. Even a
    token signed with our key is read strictly: a `crit` header we do not implement
    (RFC 7515 §4.1.11), a subject that is not a plain id, an issue time in the future
    or an expiry no clock can hold are all refused, never guessed at.
    """
    claims = _verified(token, key)
    if claims.type is not expected_type or claims.expires_at <= utcnow():
        raise InvalidToken
    return claims


@lru_cache(maxsize=VERIFIED_TOKENS_KEPT)
def _verified(token: str, key: str) -> TokenClaims:
    """The claims of a token whose signature and claims check out, remembered.

    A client sends the same access token with every request for its whole lifetime;
    checking the signature and parsing the claims again each time costs more than
    the rest of the request's own work. What is remembered can only be a token that
    passed every check (a failure raises, and `lru_cache` keeps no exceptions), and
    what changes with time, its expiry, is checked again at each use by the caller.
    """
    try:
        if "crit" in jwt.get_unverified_header(token):
            raise InvalidToken
        payload = jwt.decode(
            token,
            key,
            algorithms=[JWT_ALGORITHM],
            options={"require_exp": True, "require_iat": True, "require_sub": True},
        )
        subject = payload["sub"]
        if not isinstance(subject, str) or not SUBJECT.fullmatch(subject):
            raise InvalidToken
        token_type = TokenType(payload["type"])
        access = token_type is TokenType.ACCESS
        claims = TokenClaims(
            subject=int(subject),
            type=token_type,
            jti=str(payload["jti"]),
            expires_at=datetime.fromtimestamp(payload["exp"], tz=UTC),
            generation=_generation(payload["gen"]) if access else 0,
            session_id=_session_id(payload.get("sid")) if access else None,
        )
        issued_at = datetime.fromtimestamp(payload["iat"], tz=UTC)
    except (JOSEError, KeyError, TypeError, ValueError, OverflowError, OSError) as exc:
        raise InvalidToken from exc
    if claims.subject > MAX_SUBJECT or issued_at > utcnow() + CLOCK_SKEW:
        raise InvalidToken
    return claims
