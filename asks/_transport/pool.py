"""The connection pool of one Session.

Two numbers describe it at any moment:

* ``open``: slots taken. A slot is taken by every connection that is open
  (busy or idle) and by every connection being opened. It never exceeds
  ``limit`` - the asks meaning of ``Session(connections=N)``: the most
  sockets the session has open at once, over all hosts.
* the connections themselves, filed by pool key (origin, route and TLS
  settings, so a connection made under one ``ssl_context`` or through one
  route never serves a request made under another): every one that is open,
  and among them those available for a request now.

The pool does not build connections, and never writes their state: it asks
them (``is_available``, ``has_expired``, see ``interfaces.Connection``), and
the caller of :meth:`ConnectionPool.checkout` passes the coroutine that
opens a new one. A request takes a connection:

1. an available connection of its key, if it is still good (not expired,
   not dropped by the server);
2. else a free slot, and a new connection is opened in it;
3. else, if idle connections of *other* keys hold slots, the oldest is
   closed and its slot taken;
4. else it waits, first come first served. Whoever gives a connection or a
   slot back hands it straight to a waiter (a connection of the waiter's own
   key preferred), so nothing can slip in between and a woken waiter never
   has to look again.

A connection comes back exactly once per request, through its own release
site: :meth:`checkin` when it may be reused, :meth:`discard` otherwise. A
waiter cancelled after it was handed something passes it on before the
cancellation goes up.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, NamedTuple, TypeVar

import curio

from .interfaces import Connection

__all__ = ["ConnectionPool", "PoolStats"]

C = TypeVar("C", bound=Connection)


class PoolStats(NamedTuple):
    """A snapshot of a session's connections (``Session.pool_stats()``).

    Attributes:
        limit: ``connections=N``, the most open at once.
        open: connections open or being opened (slots taken).
        idle: open connections waiting for a request.
        busy: open connections serving a request.
        connecting: slots whose connection is still being opened.
        waiting: requests waiting for a slot or a connection.
    """

    limit: int
    open: int
    idle: int
    busy: int
    connecting: int
    waiting: int


class _Waiter(Generic[C]):
    __slots__ = ("conn", "done", "event", "fresh", "key")

    def __init__(self, key: Hashable, fresh: bool) -> None:
        self.key = key
        self.fresh = fresh  # must get a new connection: only a slot will do
        self.event = curio.Event()
        self.done = False  # granted, or given up; either way skip it in queues
        self.conn: C | None = None  # None with done: a bare slot


class ConnectionPool(Generic[C]):
    """Connections per key under one session-wide connection limit.

    Args:
        limit: the most connections open at once (idle ones included).
        keepalive_expiry: seconds an idle connection may wait before it is
            closed rather than reused (the connections know their own; the
            pool sweeps that often).
    """

    def __init__(self, limit: int, keepalive_expiry: float) -> None:
        if limit < 1:
            raise ValueError("connections must be at least 1")
        self.limit = limit
        self.keepalive_expiry = keepalive_expiry
        self.open = 0
        self._all: set[C] = set()  # every open connection, busy or idle
        self._idle: dict[Hashable, list[C]] = {}  # available ones, by key
        self._idle_count = 0
        self._waiters: deque[_Waiter[C]] = deque()  # everyone, in arrival order
        self._waiters_by_key: dict[Hashable, deque[_Waiter[C]]] = {}
        self._last_sweep = time.monotonic()

    # -- introspection -------------------------------------------------------

    @property
    def idle(self) -> int:
        """How many connections sit idle."""
        return self._idle_count

    @property
    def waiting(self) -> int:
        """How many requests wait for a slot."""
        return sum(1 for w in self._waiters if not w.done)

    def stats(self) -> PoolStats:
        """The numbers of :class:`PoolStats`, now."""
        busy = len(self._all) - self._idle_count
        return PoolStats(
            self.limit,
            self.open,
            self._idle_count,
            busy,
            self.open - len(self._all),
            self.waiting,
        )

    # -- taking ------------------------------------------------------------

    async def checkout(
        self, key: Hashable, open_connection: Callable[[], Awaitable[C]], *, fresh: bool = False
    ) -> C:
        """A connection for *key*: an available one, or one *open_connection* makes.

        Args:
            fresh: only a newly opened connection will do (the retry after a
                reused connection turned out dead).
        """
        now = time.monotonic()
        if now - self._last_sweep > self.keepalive_expiry:
            await self._sweep(now)
        idle = None if fresh else self._idle.get(key)
        if idle:
            conn = idle.pop()  # most recently used: the least likely to be stale
            self._idle_count -= 1
            if not conn.has_expired(now):
                conn.claim()
                return conn
            await self._retire(conn)  # its slot is ours now
        else:
            granted = await self._take_slot(key, fresh)
            if granted is not None:
                return granted
        # We hold a slot with nothing in it yet.
        try:
            conn = await open_connection()
        except BaseException:
            await self._give_back_slot()
            raise
        self._all.add(conn)
        return conn

    async def _take_slot(self, key: Hashable, fresh: bool) -> C | None:
        """No idle connection of *key*: a slot (None), or a connection a waiter is handed."""
        if self.open < self.limit:
            self.open += 1
            return None
        if self._idle_count:
            await self._close_oldest_idle()
            return None  # the closed connection's slot is ours
        waiter: _Waiter[C] = _Waiter(key, fresh)
        self._waiters.append(waiter)
        if not fresh:
            self._waiters_by_key.setdefault(key, deque()).append(waiter)
        try:
            await waiter.event.wait()
        except BaseException:
            if not waiter.done:
                waiter.done = True  # the queues drop it lazily
            else:
                # Handed a connection or a slot just as we were cancelled:
                # pass it on so it is not lost with us.
                async with curio.disable_cancellation():
                    if waiter.conn is not None:
                        await self.checkin(waiter.conn)
                    else:
                        await self._give_back_slot()
            raise
        conn = waiter.conn
        if conn is not None:
            conn.claim()
        return conn

    # -- giving back -------------------------------------------------------

    async def checkin(self, conn: C) -> None:
        """Take back *conn*, reusable: to a waiter of its key, or the idle list."""
        if self._waiters:
            waiter = self._next_waiter(self._waiters_by_key.get(conn.pool_key))
            if waiter is not None:
                waiter.conn = conn  # it claims the connection when it wakes
                await waiter.event.set()
                return
            waiter = self._next_waiter(self._waiters)
            if waiter is not None:
                # Someone waits for another origin (or for a fresh
                # connection): this slot serves them better as a new
                # connection of theirs.
                await self._retire(conn)
                await waiter.event.set()
                return
        elif self._waiters_by_key:
            # Every waiter left in these was served through _waiters.
            self._waiters_by_key.clear()
        # Nobody waits (the usual case, checked with no call at all).
        idle = self._idle.get(conn.pool_key)
        if idle is None:
            self._idle[conn.pool_key] = [conn]
        else:
            idle.append(conn)
        self._idle_count += 1

    async def discard(self, conn: C) -> None:
        """Close *conn* (error, cancellation, unusable) and give its slot back."""
        async with curio.disable_cancellation():
            await self._close(conn)

    async def _close(self, conn: C) -> None:
        await self._retire(conn)
        await self._give_back_slot()

    async def _retire(self, conn: C) -> None:
        # Closed, its slot kept by whoever retires it.
        self._all.discard(conn)
        await conn.close()

    async def _give_back_slot(self) -> None:
        waiter = self._next_waiter(self._waiters)
        if waiter is not None:
            await waiter.event.set()  # the slot passes on; ``open`` is unchanged
        else:
            self.open -= 1

    @staticmethod
    def _next_waiter(queue: deque[_Waiter[C]] | None) -> _Waiter[C] | None:
        while queue:
            waiter = queue.popleft()
            if not waiter.done:
                waiter.done = True
                return waiter
        return None

    # -- housekeeping ------------------------------------------------------

    async def _close_oldest_idle(self) -> None:
        # Closing another key's idle connection frees its slot for the
        # caller; the slot does not go back to the queue.
        oldest_key: Hashable = None
        oldest: C | None = None
        for key, conns in self._idle.items():
            if conns and (oldest is None or conns[0].idle_since < oldest.idle_since):
                oldest_key, oldest = key, conns[0]
        assert oldest is not None
        self._idle[oldest_key].pop(0)
        self._idle_count -= 1
        await self._retire(oldest)

    async def _sweep(self, now: float) -> None:
        """Close idle connections past their expiry (they still hold slots)."""
        self._last_sweep = now
        for key in list(self._idle):
            conns = self._idle[key]
            keep = [c for c in conns if not c.has_expired(now)]
            if len(keep) == len(conns):
                continue
            for conn in conns:
                if conn not in keep:
                    self._idle_count -= 1
                    await self.discard(conn)
            if keep:
                self._idle[key] = keep
            else:
                del self._idle[key]

    async def close(self) -> None:
        """Close every idle connection. Busy ones close when their cycle ends."""
        async with curio.disable_cancellation():
            idle, self._idle = self._idle, {}
            self._idle_count = 0
            for conns in idle.values():
                for conn in conns:
                    await self._close(conn)
            for conn in self._all:
                conn.close_after_cycle()
