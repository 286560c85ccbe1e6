"""The connection pool of one Session.

Two numbers describe it at any moment:

* ``open``: slots taken. A slot is taken by every connection that is open
  (busy or idle) and by every connection being opened. It never exceeds
  ``limit`` - the asks meaning of ``Session(connections=N)``: the most
  sockets the session has open at once, over all hosts.
* the idle connections, filed by pool key (origin plus TLS settings, so a
  connection made under one ``ssl_context`` never serves a request made
  under another).

A request takes a connection with :meth:`ConnectionPool.checkout`:

1. an idle connection of its key, if one is still good (not expired, and its
   socket not readable - see ``HTTP11Connection.is_dropped``);
2. else a free slot, and a new connection is opened in it;
3. else, if idle connections of *other* keys hold slots, the oldest is
   closed and its slot taken;
4. else it waits, first come first served. Whoever gives a connection or a
   slot back hands it straight to a waiter (a connection of the waiter's own
   key preferred), so nothing can slip in between and a woken waiter never
   has to look again.

Every slot is given back exactly once: :meth:`checkin` after a response was
read to the end (the connection goes idle if h11 allows, else it closes), or
:meth:`discard` on any error or cancellation. A waiter cancelled after it
was handed something passes it on before the cancellation goes up.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Awaitable, Callable, Hashable

import curio
import curio.io

from ._http11 import ConnState, HTTP11Connection
from ._urls import Origin

__all__ = ["ConnectionPool"]


class _Waiter:
    __slots__ = ("conn", "done", "event", "key")

    def __init__(self, key: Hashable) -> None:
        self.key = key
        self.event = curio.Event()
        self.done = False  # granted, or given up; either way skip it in queues
        self.conn: HTTP11Connection | None = None  # None with done: a bare slot


class ConnectionPool:
    """Idle connections per key under one session-wide connection limit.

    Args:
        limit: the most connections open at once (idle ones included).
        keepalive_expiry: seconds an idle connection may wait before it is
            closed rather than reused.
        max_head_size: passed to each new connection (response head bound).
    """

    def __init__(self, limit: int, keepalive_expiry: float, max_head_size: int) -> None:
        if limit < 1:
            raise ValueError("connections must be at least 1")
        self.limit = limit
        self.keepalive_expiry = keepalive_expiry
        self.max_head_size = max_head_size
        self.open = 0
        self._idle: dict[Hashable, list[HTTP11Connection]] = {}
        self._idle_count = 0
        self._waiters: deque[_Waiter] = deque()  # everyone, in arrival order
        self._waiters_by_key: dict[Hashable, deque[_Waiter]] = {}
        self._last_sweep = time.monotonic()
        # Bumped by close(): a connection from an earlier generation was busy
        # when the pool closed, and is closed instead of pooled on return.
        self._generation = 0

    # -- introspection (tests, debugging) ----------------------------------

    @property
    def idle(self) -> int:
        """How many connections sit idle."""
        return self._idle_count

    @property
    def waiting(self) -> int:
        """How many requests wait for a slot."""
        return sum(1 for w in self._waiters if not w.done)

    # -- taking ------------------------------------------------------------

    async def checkout(
        self,
        origin: Origin,
        key: Hashable,
        open_socket: Callable[[], Awaitable[curio.io.Socket]],
        *,
        fresh: bool = False,
    ) -> HTTP11Connection:
        """A connection for *key*: a pooled one, or one opened with *open_socket*.

        Args:
            fresh: skip idle connections (used for the retry after a reused
                connection turned out dead).
        """
        now = time.monotonic()
        if now - self._last_sweep > self.keepalive_expiry:
            await self._sweep(now)
        idle = None if fresh else self._idle.get(key)
        if idle:
            conn = idle.pop()  # most recently used: the least likely to be stale
            self._idle_count -= 1
            if now - conn.idle_since <= self.keepalive_expiry and not conn.is_dropped():
                conn.state = ConnState.ACTIVE
                return conn
            await conn.close()  # its slot is ours now
        else:
            granted = await self._take_slot(key)
            if granted is not None:
                return granted
        # We hold a slot with nothing in it yet.
        try:
            sock = await open_socket()
        except BaseException:
            await self._give_back_slot()
            raise
        conn = HTTP11Connection(sock, origin, key, self.max_head_size)
        conn.generation = self._generation
        return conn

    async def _take_slot(self, key: Hashable) -> HTTP11Connection | None:
        """No idle connection of *key*: a slot (None), or a connection a waiter is handed."""
        if self.open < self.limit:
            self.open += 1
            return None
        if self._idle_count:
            await self._close_oldest_idle()
            return None  # the closed connection's slot is ours
        waiter = _Waiter(key)
        self._waiters.append(waiter)
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
                        waiter.conn.state = ConnState.IDLE
                        waiter.conn.idle_since = time.monotonic()
                        await self.checkin(waiter.conn)
                    else:
                        await self._give_back_slot()
            raise
        return waiter.conn

    # -- giving back -------------------------------------------------------

    async def checkin(self, conn: HTTP11Connection) -> None:
        """Return *conn* after its response was read to the end.

        It goes idle (or straight to a waiter) if ``finish_cycle`` made it
        IDLE; otherwise it is closed and its slot given back.
        """
        if conn.state is not ConnState.IDLE or conn.generation != self._generation:
            await self.discard(conn)
            return
        key = conn.pool_key
        if self._waiters:
            waiter = self._next_waiter(self._waiters_by_key.get(key))
            if waiter is not None:
                conn.state = ConnState.ACTIVE
                waiter.conn = conn
                await waiter.event.set()
                return
            waiter = self._next_waiter(self._waiters)
            if waiter is not None:
                # Someone waits for another origin: this slot serves them
                # better as a fresh connection of theirs.
                await conn.close()
                await waiter.event.set()
                return
        elif self._waiters_by_key:
            # Every waiter left in these was served through _waiters.
            self._waiters_by_key.clear()
        # Nobody waits (the usual case, checked with no call at all).
        idle = self._idle.get(key)
        if idle is None:
            self._idle[key] = [conn]
        else:
            idle.append(conn)
        self._idle_count += 1

    async def discard(self, conn: HTTP11Connection) -> None:
        """Close *conn* (error, cancellation, unusable) and give its slot back."""
        async with curio.disable_cancellation():
            await conn.close()
            await self._give_back_slot()

    async def _give_back_slot(self) -> None:
        waiter = self._next_waiter(self._waiters)
        if waiter is not None:
            await waiter.event.set()  # the slot passes on; ``open`` is unchanged
        else:
            self.open -= 1

    @staticmethod
    def _next_waiter(queue: deque[_Waiter] | None) -> _Waiter | None:
        while queue:
            waiter = queue.popleft()
            if not waiter.done:
                waiter.done = True
                return waiter
        return None

    # -- housekeeping ------------------------------------------------------

    async def _close_oldest_idle(self) -> None:
        oldest_key: Hashable = None
        oldest: HTTP11Connection | None = None
        for key, conns in self._idle.items():
            if conns and (oldest is None or conns[0].idle_since < oldest.idle_since):
                oldest_key, oldest = key, conns[0]
        assert oldest is not None
        self._idle[oldest_key].pop(0)
        self._idle_count -= 1
        await oldest.close()

    async def _sweep(self, now: float) -> None:
        """Close idle connections past their expiry (they still hold slots)."""
        self._last_sweep = now
        for key in list(self._idle):
            conns = self._idle[key]
            keep = [c for c in conns if now - c.idle_since <= self.keepalive_expiry]
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
        """Close every idle connection. Busy ones close when they come back."""
        async with curio.disable_cancellation():
            self._generation += 1
            idle, self._idle = self._idle, {}
            self._idle_count = 0
            for conns in idle.values():
                for conn in conns:
                    await self.discard(conn)
