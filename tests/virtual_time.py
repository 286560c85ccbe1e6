"""A clock and a sleep that the test moves: rate limits tested without waiting.

``VirtualTime.clock`` and ``VirtualTime.sleep`` stand in for
``time.monotonic`` and ``curio.sleep``. Time stands still until the test
moves it: :meth:`VirtualTime.advance` by hand, or :meth:`VirtualTime.run`,
which runs tasks and, whenever every one of them is asleep on virtual time
(or done), jumps to the next wake-up, so a schedule of minutes plays out at
once while real I/O (a loopback server) still happens for real in between.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from typing import Any

import curio


class VirtualTime:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.slept: list[float] = []  # every duration asked for, in order
        self._sleepers: dict[int, tuple[float, curio.Event]] = {}
        self._order = itertools.count()
        self._changed = curio.Event()
        self._running = 0

    def clock(self) -> float:
        return self.now

    @property
    def sleeping(self) -> int:
        return len(self._sleepers)

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        key = next(self._order)
        event = curio.Event()
        self._sleepers[key] = (self.now + seconds, event)
        await self._changed.set()
        try:
            await event.wait()
        finally:
            # Woken, or cancelled while asleep (a timeout): no longer waiting.
            self._sleepers.pop(key, None)

    async def advance(self, seconds: float) -> None:
        """Move time on by *seconds*, waking every sleeper due by then."""
        target = self.now + seconds
        for key, (wake, event) in sorted(self._sleepers.items(), key=lambda kv: kv[1][0]):
            if wake > target:
                break
            self.now = max(self.now, wake)
            del self._sleepers[key]
            await event.set()
        self.now = target

    async def wait_sleeping(self, count: int) -> None:
        """Return once *count* tasks are asleep on virtual time."""
        while self.sleeping < count:
            self._changed.clear()
            await self._changed.wait()

    async def run(self, *jobs: Callable[[], Awaitable[Any]]) -> list[Any]:
        """Run *jobs* as tasks to the end, jumping time whenever all of them sleep."""

        async def one(job: Callable[[], Awaitable[Any]]) -> Any:
            try:
                return await job()
            finally:
                self._running -= 1
                await self._changed.set()

        self._running += len(jobs)
        tasks = [await curio.spawn(one, job) for job in jobs]
        while self._running:
            if self._sleepers and self.sleeping >= self._running:
                key, (wake, event) = min(self._sleepers.items(), key=lambda kv: kv[1][0])
                self.now = max(self.now, wake)
                del self._sleepers[key]
                await event.set()
                continue
            self._changed.clear()
            if self._running and not (self._sleepers and self.sleeping >= self._running):
                await self._changed.wait()
        return [await task.join() for task in tasks]
