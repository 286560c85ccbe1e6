"""Which URL goes next: the bounded scheduler behind :func:`asks.fetch_many`.

A crawl's input can be any size and any order, and a host with many URLs
must neither hog the workers nor make the reader buffer without bound. So
the scheduler holds three limits at once:

- at most ``concurrency`` URLs handed out (queued for a worker or being
  fetched), over all hosts;
- at most ``per_host`` of them for one host, the session's
  ``connections_per_host``: a worker is never given a URL it would only
  wait with in the pool while other hosts' URLs sit idle;
- at most ``lookahead`` URLs read but not yet handed out, over all hosts: when
  that many wait (say the input is one host's million URLs), the reader
  stops reading until one is handed out. Memory is then bounded by the
  lookahead whatever the input, at the price that a host's backlog can
  hold up the hosts behind it in the input by that much. The reader, once
  stopped, waits for the backlog to halve before it reads on, so it wakes
  once per half lookahead, not once per URL.

URLs of one host go out in input order; hosts take turns in the order their
URLs became ready, so a host that just got a URL goes to the back.

Everything here runs in one curio kernel between awaits, so the counts need
no lock; only the queue hand-over and the reader's wait for space suspend.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import curio

from ._channel import Channel

__all__ = ["Scheduler"]

_END: Any = None  # what a worker gets when there is nothing more to fetch


class Scheduler:
    """Hands URLs to workers within the concurrency, per-host and lookahead limits.

    Args:
        concurrency: the most URLs handed out at once.
        per_host: the most of them for one host (None: only ``concurrency``).
        lookahead: the most URLs read but not yet handed out.
    """

    def __init__(self, concurrency: int, per_host: int | None, lookahead: int) -> None:
        self._concurrency = concurrency
        self._per_host = per_host if per_host is not None else concurrency
        self._lookahead = lookahead
        self._low_water = lookahead // 2
        self._pending: dict[str, deque[str]] = {}  # by host, in input order
        self._waiting = 0  # URLs in _pending
        self._active: dict[str, int] = {}  # by host: handed out and not done
        self._out = 0  # handed out and not done, over all hosts
        self._ready: deque[str] = deque()  # hosts with a URL waiting and a slot free
        self._is_ready: set[str] = set()
        self._closed = False
        self._ended = False
        self._work: Channel[tuple[str, str] | None] = Channel()  # (url, host), or _END
        self._space = curio.Event()

    @property
    def waiting(self) -> int:
        """URLs read and not handed out yet."""
        return self._waiting

    @property
    def out(self) -> int:
        """URLs handed out and not done yet."""
        return self._out

    async def add(self, url: str, host: str) -> None:
        """Queue *url* (of *host*); returns once the lookahead has room for more."""
        active = self._active.get(host, 0)
        if self._out < self._concurrency and active < self._per_host and host not in self._pending:
            # A slot is free, so no host is ready and waiting (the invariant
            # _dispatch keeps): this URL goes straight to a worker.
            self._active[host] = active + 1
            self._out += 1
            await self._work.put((url, host))
            return
        queue = self._pending.get(host)
        if queue is None:
            queue = self._pending[host] = deque()
        queue.append(url)
        self._waiting += 1
        self._mark_ready(host)
        if self._out < self._concurrency:
            await self._dispatch()
        if self._waiting >= self._lookahead:
            # Wait for the backlog to halve, not for one place: the reader
            # then wakes once per lookahead / 2 URLs, not once per URL.
            self._space.clear()
            while self._waiting > self._low_water:
                await self._space.wait()

    async def close(self) -> None:
        """No more URLs: the workers end once every queued one is done."""
        self._closed = True
        await self._finish_if_done()

    async def next(self) -> tuple[str, str] | None:
        """The next ``(url, host)`` for a worker, or None when the run is over."""
        item: tuple[str, str] | None = await self._work.get()
        if item is _END:
            await self._work.put(_END)  # for the next worker
        return item

    async def done(self, host: str) -> None:
        """A worker finished a URL of *host*: its slot goes to the next one."""
        self._release(host)
        await self._pass_on(host)

    async def swap(self, host: str) -> tuple[str, str] | None:
        """:meth:`done` for *host*, then :meth:`next`, in one step.

        In a crawl with a backlog, the slot a worker frees is the one its
        next URL takes. That URL is then handed to the worker directly, not
        through the channel the other workers wait on (no task is waiting
        there: every slot is taken), which saves a put, a get and two
        awaits per URL. Otherwise, as ``done`` then ``next``.
        """
        self._release(host)
        if self._waiting and not self._work:
            self._mark_ready(host)
            if self._ready:
                # A slot is free (this one) and a host is ready: the URL
                # _dispatch would put in the channel for this very worker.
                item = self._hand_out()
                if self._waiting <= self._low_water:
                    await self._space.set()
                return item
        await self._pass_on(host)
        return await self.next()

    def _release(self, host: str) -> None:
        self._out -= 1
        left = self._active[host] - 1
        if left:
            self._active[host] = left
        else:
            del self._active[host]

    async def _pass_on(self, host: str) -> None:
        if self._waiting:
            self._mark_ready(host)
            await self._dispatch()
        elif self._closed and self._out == 0:
            await self._finish_if_done()

    def _mark_ready(self, host: str) -> None:
        if (
            host not in self._is_ready
            and host in self._pending
            and self._active.get(host, 0) < self._per_host
        ):
            self._is_ready.add(host)
            self._ready.append(host)

    async def _dispatch(self) -> None:
        """Hand out waiting URLs while a slot is free, hosts taking turns."""
        ready = self._ready
        handed = False
        while ready and self._out < self._concurrency:
            await self._work.put(self._hand_out())
            handed = True
        if handed and self._waiting <= self._low_water:
            await self._space.set()

    def _hand_out(self) -> tuple[str, str]:
        """The next URL of the host whose turn it is, counted as out."""
        host = self._ready.popleft()
        self._is_ready.discard(host)
        queue = self._pending[host]
        url = queue.popleft()
        if not queue:
            del self._pending[host]
        self._waiting -= 1
        self._out += 1
        self._active[host] = self._active.get(host, 0) + 1
        self._mark_ready(host)
        return url, host

    async def _finish_if_done(self) -> None:
        if self._closed and not self._ended and self._waiting == 0 and self._out == 0:
            self._ended = True
            await self._work.put(_END)
