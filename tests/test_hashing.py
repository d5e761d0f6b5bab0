"""PasswordHasher: salted bcrypt, never truncated, never on the event loop, and bounded.

Each test drives the async hasher from its own event loop with `asyncio.run`.
"""

import asyncio
import threading
import time
from collections.abc import Callable

import pytest

from contacts_api.exceptions import HashingBusy
from contacts_api.security import PasswordHasher


def make_hasher(concurrency: int = 1, queue_limit: int = 8) -> PasswordHasher:
    return PasswordHasher(rounds=4, concurrency=concurrency, queue_limit=queue_limit)


def slowed(
    hasher: PasswordHasher, seconds: float, watch: Callable[[], None] = lambda: None
) -> None:
    """Make every hash of `hasher` take `seconds` longer, calling `watch` as each starts."""
    original = hasher._context.hash

    def slow_hash(password: str) -> str:
        watch()
        time.sleep(seconds)
        return original(password)

    hasher._context.hash = slow_hash


def test_the_same_password_hashes_differently_each_time() -> None:
    hasher = make_hasher()

    first, second = hasher.hash_blocking("correct horse"), hasher.hash_blocking("correct horse")

    assert first != second
    assert first.startswith("$2b$04$")


def test_a_wrong_password_does_not_verify() -> None:
    hasher = make_hasher()

    assert not asyncio.run(hasher.verify("wrong password", hasher.hash_blocking("correct horse")))


def test_the_right_password_verifies() -> None:
    hasher = make_hasher()

    assert asyncio.run(hasher.verify("correct horse", hasher.hash_blocking("correct horse")))


def test_a_password_past_72_bytes_never_matches_its_first_72() -> None:
    hasher = make_hasher()
    hashed = hasher.hash_blocking("p" * 72)

    assert not asyncio.run(hasher.verify("p" * 72 + "tail", hashed))


def test_no_hash_verifies_nothing() -> None:
    assert not asyncio.run(make_hasher().verify("anything", None))


def test_a_password_with_a_nul_verifies_nothing_instead_of_failing() -> None:
    hasher = make_hasher()

    assert not asyncio.run(hasher.verify("pass\x00word", hasher.hash_blocking("password")))


def test_hashing_runs_off_the_event_loop_thread() -> None:
    hasher = make_hasher()
    threads: list[str] = []
    slowed(hasher, 0, watch=lambda: threads.append(threading.current_thread().name))

    async def hash_once() -> str:
        await hasher.hash("password")
        return threading.current_thread().name

    loop_thread = asyncio.run(hash_once())

    assert threads
    assert threads[0] != loop_thread


def test_no_more_hashes_run_at_once_than_the_concurrency_allows() -> None:
    hasher = make_hasher(concurrency=2, queue_limit=100)
    running, most = 0, 0
    lock = threading.Lock()
    original = hasher._context.hash

    def counted(password: str) -> str:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.02)  # long enough for the others to pile up
        with lock:
            running -= 1
        return original(password)

    hasher._context.hash = counted

    async def burst() -> None:
        await asyncio.gather(*(hasher.hash("password") for _ in range(16)))

    asyncio.run(burst())

    assert most == 2


def test_requests_waiting_for_a_hashing_slot_hold_no_thread() -> None:
    """Twenty waiting logins are twenty coroutines, not twenty blocked threads."""
    hasher = make_hasher(concurrency=1, queue_limit=100)
    slowed(hasher, 0.05)

    async def burst() -> int:
        tasks = [asyncio.create_task(hasher.hash("password")) for _ in range(20)]
        await asyncio.sleep(0.02)  # every task has started and is waiting
        busiest = threading.active_count()
        await asyncio.gather(*tasks)
        return busiest

    before = threading.active_count()
    during = asyncio.run(burst())

    assert during <= before + 1  # the one hashing thread


def test_a_hash_past_the_queue_limit_is_refused_at_once() -> None:
    hasher = make_hasher(concurrency=1, queue_limit=2)
    slowed(hasher, 0.2)

    async def burst() -> tuple[list[object], float]:
        running = [asyncio.create_task(hasher.hash("password")) for _ in range(3)]
        await asyncio.sleep(0.01)  # one hashing, two waiting: the queue is full
        started = time.monotonic()
        with pytest.raises(HashingBusy):
            await hasher.hash("password")
        refused_after = time.monotonic() - started
        return await asyncio.gather(*running, return_exceptions=True), refused_after

    results, refused_after = asyncio.run(burst())

    assert all(isinstance(result, str) for result in results)
    assert refused_after < 0.1
