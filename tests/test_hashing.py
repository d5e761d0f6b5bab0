"""PasswordHasher: salted bcrypt, never truncated, and never more hashes at once than allowed."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from contacts_api.security import PasswordHasher


def test_the_same_password_hashes_differently_each_time() -> None:
    hasher = PasswordHasher(rounds=4, concurrency=1)

    first, second = hasher.hash("correct horse battery"), hasher.hash("correct horse battery")

    assert first != second
    assert hasher.verify("correct horse battery", first)
    assert hasher.verify("correct horse battery", second)


def test_a_wrong_password_does_not_verify() -> None:
    hasher = PasswordHasher(rounds=4, concurrency=1)

    assert not hasher.verify("wrong password", hasher.hash("correct horse battery"))


def test_a_password_over_72_bytes_never_matches_its_first_72() -> None:
    hasher = PasswordHasher(rounds=4, concurrency=1)
    hashed = hasher.hash("p" * 72)

    assert not hasher.verify("p" * 72 + "tail", hashed)


def test_no_hash_verifies_nothing() -> None:
    assert not PasswordHasher(rounds=4, concurrency=1).verify("anything", None)


def test_no_more_hashes_run_at_once_than_the_concurrency_allows() -> None:
    hasher = PasswordHasher(rounds=4, concurrency=2)
    running, most = 0, 0
    lock = threading.Lock()
    original = hasher._context.hash

    def watched(password: str) -> str:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.02)  # long enough for the other threads to pile up
        with lock:
            running -= 1
        return original(password)

    hasher._context.hash = watched
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(hasher.hash, ["password"] * 16))

    assert most == 2


def test_a_password_with_a_nul_verifies_nothing_instead_of_failing() -> None:
    hasher = PasswordHasher(rounds=4, concurrency=1)

    assert not hasher.verify("pass\x00word", hasher.hash("password"))
