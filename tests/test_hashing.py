"""PasswordHasher: salted bcrypt, never truncated, never on the event loop, and bounded.

Each test drives the async hasher from its own event loop with `asyncio.run`.
"""

import asyncio
import math
import threading
import time
from collections.abc import Callable

import pytest

from contacts_api.core.exceptions import HashingBusy
from contacts_api.core.security import PasswordHasher


def make_hasher(
    concurrency: int = 1, queue_seconds: float = 60, hash_seconds: float | None = None
) -> PasswordHasher:
    """A hasher at the cheapest cost; given `hash_seconds`, one that counts a hash as
    taking that long (until it times one), however fast this machine is."""
    hasher = PasswordHasher(rounds=4, concurrency=concurrency, queue_seconds=queue_seconds)
    if hash_seconds is not None:
        hasher._hash_seconds = hash_seconds
    return hasher


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


def held(hasher: PasswordHasher) -> threading.Event:
    """Make every hash of `hasher` wait until the returned event is set."""
    release = threading.Event()
    original = hasher._context.hash

    def held_hash(password: str) -> str:
        release.wait(5)
        return original(password)

    hasher._context.hash = held_hash
    return release


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
    hasher = make_hasher(concurrency=2)
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
    hasher = make_hasher(concurrency=1)
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
    hasher = make_hasher(concurrency=1, queue_seconds=0.5, hash_seconds=0.25)  # two wait
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


@pytest.mark.parametrize(
    ("concurrency", "hash_seconds", "waiting"), [(1, 0.25, 20), (2, 0.25, 40), (1, 0.5, 10)]
)
def test_the_queue_holds_what_the_threads_hash_within_the_queue_seconds(
    concurrency: int, hash_seconds: float, waiting: int
) -> None:
    hasher = make_hasher(concurrency, queue_seconds=5, hash_seconds=hash_seconds)

    assert hasher.queue_limit == waiting


def test_a_slower_hash_shortens_the_queue() -> None:
    """One hash's time is measured as hashes run, not only once at start-up."""
    hasher = make_hasher(concurrency=1, queue_seconds=1)
    at_start = hasher.queue_limit
    slowed(hasher, 0.05)

    async def hash_ten_times() -> None:
        for _ in range(10):
            await hasher.hash("password")

    asyncio.run(hash_ten_times())

    assert hasher.hash_seconds > 0.05 * (1 - 0.8**10)  # the running average, from below
    assert hasher.queue_limit < at_start
    assert hasher.queue_limit <= 1 / (0.05 * (1 - 0.8**10))


def test_a_refusal_says_when_the_queue_it_found_will_have_drained() -> None:
    """Four waiting behind one hashing, at 0.25 s a hash: room again in 1.25 s, said as 2."""
    hasher = make_hasher(concurrency=1, queue_seconds=1, hash_seconds=0.25)
    release = held(hasher)

    async def burst() -> int:
        admitted = [asyncio.create_task(hasher.hash("password")) for _ in range(5)]
        await asyncio.sleep(0.01)  # one hashing, four waiting: the queue is full
        try:
            await hasher.hash("password")
        except HashingBusy as refused:
            return refused.retry_after
        finally:
            release.set()
            await asyncio.gather(*admitted)
        raise AssertionError("not refused")

    assert asyncio.run(burst()) == math.ceil((4 + 1) * 0.25)
