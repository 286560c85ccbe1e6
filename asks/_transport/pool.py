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
waiter cancelled (or past its ``pool_timeout``) after it was handed
something passes it on before the cancellation goes up.

:class:`HostLimitedPool` adds a second limit, per host
(``Session(connections_per_host=N)``); a plain session never pays for it.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, NamedTuple, TypeVar

import curio

from .interfaces import Connection, PoolWaitTimeout
from .trap_cycles import break_trap_cycle

__all__ = ["ConnectionPool", "HostLimitedPool", "PoolStats"]

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


async def wait_within(event: curio.Event, pool_timeout: float | None) -> None:
    """Wait for *event*, at most *pool_timeout* seconds (None: as long as it takes).

    Raises:
        PoolWaitTimeout: *pool_timeout* passed first. Only this deadline: an
            outer one (the call's timeout) reaches the wait as
            TimeoutCancellationError, not TaskTimeout, and goes on as it came.
    """
    if pool_timeout is None:
        await event.wait()
        return
    try:
        await curio.timeout_after(pool_timeout, event.wait)
    except curio.TaskTimeout as exc:
        break_trap_cycle(exc)
        raise PoolWaitTimeout(f"no connection free within pool_timeout={pool_timeout} s") from None


class _Waiter(Generic[C]):
    __slots__ = ("conn", "done", "event", "fresh", "key", "seq")

    def __init__(self, key: Hashable, fresh: bool, seq: int) -> None:
        self.key = key
        self.seq = seq  # arrival order, for the per-host queues
        self.fresh = fresh  # must get a new connection: only a slot will do
        self.event = curio.Event()
        self.done = False  # granted, or given up; either way skip it in queues
        self.conn: C | None = None  # None with done: a bare slot


def _drop_done_heads(queue: deque[_Waiter[C]]) -> None:
    while queue and queue[0].done:
        queue.popleft()


def _compaction_due(length: int) -> bool:
    """Whether a queue of waiters this long should drop its done ones now.

    Done waiters can pile up behind one that waits long (a waiter of
    another key, while every connection given back goes to a waiter of its
    own key; waiters that gave up while a host stays busy): filtering at
    lengths 64, 128, 256... costs O(1) per waiter over time and keeps a
    queue within twice its live waiters.
    """
    return length >= 64 and not length & (length - 1)


def _enqueue(queue: deque[_Waiter[C]], waiter: _Waiter[C]) -> None:
    """Append *waiter*, dropping the done ones first when due (see _compaction_due)."""
    if _compaction_due(len(queue)):
        live = [w for w in queue if not w.done]
        queue.clear()
        queue.extend(live)
    queue.append(waiter)


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
        self._idle: dict[Hashable, list[C]] = {}  # available ones, by key (none: no entry)
        # The same connections, oldest checked in first: the one to close
        # for another key's request is found without scanning every key (a
        # crawl keeps a thousand origins idle). Dicts keep insertion order.
        # Its length is the idle count.
        self._idle_order: dict[C, None] = {}
        # Everyone, in arrival order, and the same (but fresh ones) by key.
        # Served and cancelled waiters are dropped lazily, but dropped: a
        # session that is never out of waiters (more tasks than connections,
        # a host per URL) must not keep a queue per host it ever waited
        # for, nor every waiter served from its key's queue (see _enqueue,
        # _forget).
        self._waiters: deque[_Waiter[C]] = deque()
        self._waiters_by_key: dict[Hashable, deque[_Waiter[C]]] = {}
        self._arrivals = itertools.count()
        self._last_sweep = time.monotonic()
        self._closes = 0  # calls of close(), for connections opened meanwhile

    # -- introspection -------------------------------------------------------

    @property
    def idle(self) -> int:
        """How many connections sit idle."""
        return len(self._idle_order)

    @property
    def waiting(self) -> int:
        """How many requests wait for a slot."""
        return sum(1 for w in self._waiters if not w.done)

    def stats(self) -> PoolStats:
        """The numbers of :class:`PoolStats`, now."""
        idle = len(self._idle_order)
        busy = len(self._all) - idle
        return PoolStats(
            self.limit,
            self.open,
            idle,
            busy,
            self.open - len(self._all),
            self.waiting,
        )

    # -- taking ------------------------------------------------------------

    async def checkout(
        self,
        key: Hashable,
        open_connection: Callable[[], Awaitable[C]],
        *,
        fresh: bool = False,
        pool_timeout: float | None = None,
    ) -> C:
        """A connection for *key*: an available one, or one *open_connection* makes.

        Args:
            fresh: only a newly opened connection will do (the retry after a
                reused connection turned out dead).
            pool_timeout: the most seconds to wait for a connection or a
                slot (None: as long as it takes).

        Raises:
            PoolWaitTimeout: nothing was free within *pool_timeout*.
        """
        now = time.monotonic()
        if now - self._last_sweep > self.keepalive_expiry:
            await self._sweep(now)
        idle = None if fresh else self._idle.get(key)
        if idle:
            conn = idle.pop()  # most recently used: the least likely to be stale
            if not idle:
                del self._idle[key]  # a crawl's hosts do not pile up here
            del self._idle_order[conn]
            if not conn.has_expired(now):
                conn.claim()
                return conn
            await self._retire(conn)  # its slot is ours now
        else:
            granted = await self._take_slot(key, fresh, pool_timeout)
            if granted is not None:
                return granted
        # We hold a slot with nothing in it yet.
        closes = self._closes
        try:
            conn = await open_connection()
        except BaseException:
            await self._give_back_slot(key)
            raise
        self._all.add(conn)
        if self._closes != closes:
            # The pool was closed while this one was being opened: it is one
            # of the busy connections close() asked to close after their
            # cycle, not a connection to keep idle after the close.
            conn.close_after_cycle()
        return conn

    async def _take_slot(self, key: Hashable, fresh: bool, pool_timeout: float | None) -> C | None:
        """No idle connection of *key*: a slot (None), or a connection a waiter is handed."""
        if self.open < self.limit:
            self.open += 1
            return None
        if self._idle_order:
            await self._close_oldest_idle()
            return None  # the closed connection's slot is ours
        waiter = self._new_waiter(key, fresh)
        _enqueue(self._waiters, waiter)
        return await self._wait(waiter, pool_timeout)

    def _new_waiter(self, key: Hashable, fresh: bool) -> _Waiter[C]:
        waiter: _Waiter[C] = _Waiter(key, fresh, next(self._arrivals))
        if not fresh:
            queue = self._waiters_by_key.get(key)
            if queue is None:
                self._waiters_by_key[key] = deque((waiter,))
            else:
                _enqueue(queue, waiter)
        return waiter

    def _forget(self, waiter: _Waiter[C]) -> None:
        """*waiter* is done (served or gone): the queues drop what they can now.

        Its key's queue loses the done waiters at its head, and the entry
        when it empties; so does the shared queue. A done waiter behind
        one still waiting stays until that one is done too (or the next
        compaction, see _enqueue): the queues stay FIFO at no scan's cost.
        """
        if not waiter.fresh:
            queues = self._waiters_by_key
            queue = queues.get(waiter.key)
            if queue is not None:
                _drop_done_heads(queue)
                if not queue:
                    del queues[waiter.key]
        _drop_done_heads(self._waiters)

    async def _wait(self, waiter: _Waiter[C], pool_timeout: float | None) -> C | None:
        """Wait for *waiter* to be handed a connection (returned, claimed) or a slot (None)."""
        try:
            await wait_within(waiter.event, pool_timeout)
        except BaseException:
            if not waiter.done:
                waiter.done = True
                self._forget(waiter)
            else:
                # Handed a connection or a slot just as we were cancelled or
                # timed out: pass it on so it is not lost with us.
                async with curio.disable_cancellation():
                    if waiter.conn is not None:
                        await self.checkin(waiter.conn)
                    else:
                        await self._give_back_slot(waiter.key)
            raise
        conn = waiter.conn
        if conn is not None:
            conn.claim()
        return conn

    # -- giving back -------------------------------------------------------

    async def checkin(self, conn: C) -> None:
        """Take back *conn*, reusable: to a waiter of its key, or the idle list."""
        if self._waiters:
            waiter = self._next_of_key(conn.pool_key)
            if waiter is not None:
                await self._hand(conn, waiter)
                return
            waiter = self._next_in_line()
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
        self._add_idle(conn)

    async def _hand(self, conn: C, waiter: _Waiter[C]) -> None:
        """Give *conn* to a waiter of its key, unless it went stale since its cycle ended."""
        if conn.has_expired(time.monotonic()):
            # The check a checkout makes of an idle connection: bytes came
            # past the end of its response (an answer to no request, which
            # the waiter would take for its own), or the server closed it.
            # The waiter gets its slot instead, for a new connection.
            await self._retire(conn)
        else:
            waiter.conn = conn  # it claims the connection when it wakes
        await waiter.event.set()

    def _add_idle(self, conn: C) -> None:
        idle = self._idle.get(conn.pool_key)
        if idle is None:
            self._idle[conn.pool_key] = [conn]
        else:
            idle.append(conn)
        self._idle_order[conn] = None

    def _remove_idle(self, conn: C) -> None:
        # *conn* leaves the idle list of its key (the oldest usually: index 0).
        idle = self._idle[conn.pool_key]
        idle.remove(conn)
        if not idle:
            del self._idle[conn.pool_key]
        del self._idle_order[conn]

    async def discard(self, conn: C) -> None:
        """Close *conn* (error, cancellation, unusable) and give its slot back."""
        async with curio.disable_cancellation():
            await self._close(conn)

    async def _close(self, conn: C) -> None:
        await self._retire(conn)
        await self._give_back_slot(conn.pool_key)

    async def _retire(self, conn: C) -> None:
        # Closed, its slot kept by whoever retires it.
        self._all.discard(conn)
        await conn.close()

    async def _give_back_slot(self, key: Hashable) -> None:
        # *key*: whose slot it was (the per-host pool counts slots by host).
        waiter = self._next_in_line()
        if waiter is not None:
            await waiter.event.set()  # the slot passes on; ``open`` is unchanged
        else:
            self.open -= 1

    def _next_of_key(self, key: Hashable) -> _Waiter[C] | None:
        """The next waiter of *key* (marked done), if any."""
        waiter = self._next_waiter(self._waiters_by_key.get(key))
        if waiter is not None:
            self._forget(waiter)
        return waiter

    def _next_in_line(self) -> _Waiter[C] | None:
        """The next waiter of any key (marked done), if any."""
        waiter = self._next_waiter(self._waiters)
        if waiter is not None:
            self._forget(waiter)
        return waiter

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
        await self._retire(self._pop_oldest_idle())

    def _pop_oldest_idle(self) -> C:
        oldest = next(iter(self._idle_order))
        self._remove_idle(oldest)
        return oldest

    async def _sweep(self, now: float) -> None:
        """Close idle connections past their expiry (they still hold slots)."""
        self._last_sweep = now
        expired = [c for c in self._idle_order if c.has_expired(now)]
        for conn in expired:
            self._remove_idle(conn)
        for conn in expired:
            await self.discard(conn)

    async def close(self) -> None:
        """Close every idle connection. Busy ones, and those being opened, close
        when their cycle ends."""
        self._closes += 1
        async with curio.disable_cancellation():
            idle, self._idle_order = self._idle_order, {}
            self._idle = {}
            for conn in idle:
                await self._close(conn)
            for conn in self._all:
                conn.close_after_cycle()


class HostLimitedPool(ConnectionPool[C]):
    """A :class:`ConnectionPool` that also holds each host to *per_host* slots.

    A host is what *host_of* makes of a pool key (``connect.pool_host``: the
    origin), so connections of one host under different keys (another TLS
    context, say) share its limit.

    Waiters are where they can be served. The shared queue holds those only
    the session-wide limit holds back; a waiter whose host is at its limit
    is parked with its host, since only a slot or a connection of its own
    host can serve it. A waiter that reaches the head of the shared queue
    after its host filled up moves to its host then, once, so a release
    never scans the waiters of saturated hosts again and again: waiters for
    a saturated host never hold up requests to other hosts. Whatever a host
    gives back goes to its own parked waiters first (as a connection goes
    to a waiter of its own key first), so a host with parked waiters stays
    at its limit and they are never forgotten.

    Args:
        limit: the most connections open at once, over all hosts.
        keepalive_expiry: as for :class:`ConnectionPool`.
        per_host: the most connections open at once to one host.
        host_of: the host of a pool key.
    """

    def __init__(
        self,
        limit: int,
        keepalive_expiry: float,
        per_host: int,
        host_of: Callable[[Hashable], Hashable],
    ) -> None:
        super().__init__(limit, keepalive_expiry)
        if per_host < 1:
            raise ValueError("connections_per_host must be at least 1")
        self.per_host = per_host
        self.host_of = host_of
        self._host_open: dict[Hashable, int] = {}  # slots taken, by host (none: 0)
        # Waiters of hosts at their limit, by host, in arrival order (a heap
        # of (seq, waiter): one moved from the shared queue may have arrived
        # before some parked when they came).
        self._parked: dict[Hashable, list[tuple[int, _Waiter[C]]]] = {}

    @property
    def waiting(self) -> int:
        """How many requests wait for a slot, their host's included."""
        parked = sum(1 for heap in self._parked.values() for _, w in heap if not w.done)
        return super().waiting + parked

    def host_open(self, host: Hashable) -> int:
        """Slots *host* takes now (connections open or being opened)."""
        return self._host_open.get(host, 0)

    # -- taking ------------------------------------------------------------

    async def _take_slot(self, key: Hashable, fresh: bool, pool_timeout: float | None) -> C | None:
        host = self.host_of(key)
        taken = self._host_open.get(host, 0)
        if taken < self.per_host:
            if self.open < self.limit:
                self.open += 1
                self._host_open[host] = taken + 1
                return None
            if self._idle_order:
                oldest = self._pop_oldest_idle()
                # Counted before the close can let another task in.
                self._move_slot(self.host_of(oldest.pool_key), host)
                await self._retire(oldest)
                return None
            waiter = self._new_waiter(key, fresh)
            _enqueue(self._waiters, waiter)
        else:
            # The host is at its limit: only one of its own slots will do.
            # An idle connection of the host under another key (or of this
            # key, for a fresh one) gives up its slot; else nobody might.
            for idle_key, conns in self._idle.items():
                if self.host_of(idle_key) == host:
                    conn = conns[0]  # the oldest
                    self._remove_idle(conn)
                    await self._retire(conn)
                    return None
            waiter = self._new_waiter(key, fresh)
            self._park(host, waiter)
        return await self._wait(waiter, pool_timeout)

    def _park(self, host: Hashable, waiter: _Waiter[C]) -> None:
        heap = self._parked.get(host)
        if heap is None:
            self._parked[host] = [(waiter.seq, waiter)]
            return
        if _compaction_due(len(heap)):
            # Waiters that gave up (timed out, cancelled) while the host's
            # connections stay busy (long streams) leave here too, not only
            # once a slot frees.
            heap[:] = [entry for entry in heap if not entry[1].done]
            heapq.heapify(heap)
        heapq.heappush(heap, (waiter.seq, waiter))

    # -- giving back -------------------------------------------------------

    async def checkin(self, conn: C) -> None:
        """Take back *conn*, reusable: to a waiter of its key or host, or the idle list."""
        key = conn.pool_key
        if self._waiters or self._parked:
            waiter = self._next_of_key(key)
            if waiter is not None:
                await self._hand(conn, waiter)
                return
            host = self.host_of(key)
            waiter = self._slot_taker(host)
            if waiter is not None:
                # Its slot serves them better as a new connection of theirs
                # (counted theirs before the close can let another task in).
                self._move_slot(host, self.host_of(waiter.key))
                await self._retire(conn)
                await waiter.event.set()
                return
        elif self._waiters_by_key:
            self._waiters_by_key.clear()
        self._add_idle(conn)

    async def _give_back_slot(self, key: Hashable) -> None:
        host = self.host_of(key)
        waiter = self._slot_taker(host)
        if waiter is not None:
            self._move_slot(host, self.host_of(waiter.key))
            await waiter.event.set()  # ``open`` is unchanged
        else:
            self.open -= 1
            self._move_slot(host, None)

    def _slot_taker(self, host: Hashable) -> _Waiter[C] | None:
        """A slot of *host* is free: the waiter it goes to (marked done), if any."""
        heap = self._parked.get(host)
        while heap:
            waiter = heapq.heappop(heap)[1]
            if not waiter.done:
                if not heap:
                    del self._parked[host]
                waiter.done = True
                self._forget(waiter)
                return waiter
        if heap is not None:
            del self._parked[host]
        queue = self._waiters
        while queue:
            waiter = queue.popleft()
            if waiter.done:
                continue
            waiter_host = self.host_of(waiter.key)
            if waiter_host != host and self._host_open.get(waiter_host, 0) >= self.per_host:
                # Its host filled up since it came: it waits with its host now.
                self._park(waiter_host, waiter)
                continue
            waiter.done = True
            self._forget(waiter)
            return waiter
        return None

    def _move_slot(self, from_host: Hashable, to_host: Hashable | None) -> None:
        # A slot changes hands (to_host None: it is given back).
        if from_host == to_host:
            return
        counts = self._host_open
        left = counts[from_host] - 1
        if left:
            counts[from_host] = left
        else:
            del counts[from_host]  # a crawler's hosts do not pile up here
        if to_host is not None:
            counts[to_host] = counts.get(to_host, 0) + 1
