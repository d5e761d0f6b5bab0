"""Work that takes turns: a few at once, the others waiting without holding a thread.

Password hashes and vCard imports are both CPU work that a burst must not pile onto
the machine at once. Each goes through a `WaitingRoom`: a request waiting for its turn
waits on an asyncio semaphore (no thread, no CPU), and its owner refuses a newcomer at
once when the room is `full` for the queue it allows (a `503` beats a wait no client
would sit through).
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class WaitingRoom:
    """`concurrency` requests at work at once; the rest wait their turn, in order."""

    def __init__(self, concurrency: int) -> None:
        self._slots = asyncio.Semaphore(concurrency)
        self.waiting = 0  # requests waiting for a turn now

    @property
    def busy(self) -> bool:
        """Whether every turn is taken: a newcomer would have to wait."""
        return self._slots.locked()

    def full(self, queue_limit: int) -> bool:
        """Whether a newcomer would wait behind `queue_limit` others or more."""
        return self.busy and self.waiting >= queue_limit

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Wait for a turn, then hold it for the body of the `async with`."""
        self.waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self.waiting -= 1
        try:
            yield
        finally:
            self._slots.release()
