"""A worker limit that counts its own use (``job.httpWorkers``, ``job.grpcWorkers``, ``job.shell.workers``).

The node asks how many calls hold a slot and how many wait for one (its backlog, the kill tests); those counts
are kept here rather than read from ``asyncio.Semaphore``'s private fields, which may change between releases.
"""
from __future__ import annotations

import asyncio


class Slots:
    """``async with slots:`` holds one of ``size`` slots; ``in_use`` and ``waiting`` say how many calls hold
    one and how many wait. A call cancelled while waiting (a kill) leaves both counts as they were."""

    __slots__ = ("_semaphore", "in_use", "size", "waiting")

    def __init__(self, size: int):
        if size < 1:
            raise ValueError("a worker limit must be at least 1")
        self.size = size
        self.in_use = 0
        self.waiting = 0
        self._semaphore = asyncio.Semaphore(size)

    async def __aenter__(self) -> None:
        if self._semaphore.locked():
            self.waiting += 1
            try:
                await self._semaphore.acquire()
            finally:
                self.waiting -= 1
        else:
            await self._semaphore.acquire()  # a slot is free: returns at once
        self.in_use += 1

    async def __aexit__(self, *exc_info: object) -> None:
        self.in_use -= 1
        self._semaphore.release()
