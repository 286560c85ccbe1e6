"""A lean hand-over between tasks of one curio kernel: :class:`Channel`.

:func:`asks.fetch_many` passes every URL twice from one task to another (the
scheduler to a worker, the worker's result to the consumer). ``curio.Queue``
does it with join accounting and a method call per check, about 80 bytecode
instructions per item; nothing here needs ``join()``, so this channel keeps
only what a bounded FIFO hand-over is: the items and curio's own wait queues
(``curio.sched.SchedFIFO``, what ``curio.Queue`` waits on itself). About half
the instructions (docs/performance.md, "Crawling").
"""

from __future__ import annotations

from collections import deque
from typing import Generic, TypeVar

from curio.sched import SchedFIFO

__all__ = ["Channel"]

T = TypeVar("T")


class Channel(Generic[T]):
    """A FIFO of items from some tasks to others, bounded by *maxsize* (0: unbounded).

    A woken task finds the item it was woken for unless another task took it
    first; it then waits again, so no item is lost and none is handed twice.
    Cancelled while waiting, a task takes nothing and leaves nothing behind.
    """

    __slots__ = ("_getters", "_items", "_maxsize", "_putters")

    def __init__(self, maxsize: int = 0) -> None:
        self._items: deque[T] = deque()
        self._maxsize = maxsize
        self._getters = SchedFIFO()
        self._putters = SchedFIFO()

    def __len__(self) -> int:
        return len(self._items)

    async def put(self, item: T) -> None:
        """Add *item*; waits while the channel is full."""
        maxsize = self._maxsize
        while maxsize and len(self._items) >= maxsize:
            await self._putters.suspend("CHANNEL_PUT")
        self._items.append(item)
        if self._getters:
            await self._getters.wake()

    async def get(self) -> T:
        """The oldest item; waits while there is none."""
        items = self._items
        while not items:
            await self._getters.suspend("CHANNEL_GET")
        item = items.popleft()
        if self._putters:
            await self._putters.wake()
        return item
