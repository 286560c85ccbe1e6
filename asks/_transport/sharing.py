"""The pool of a session that speaks HTTP/2: connections shared by many requests.

An HTTP/2 connection takes one of ``connections=N``'s slots; its streams do
not. A request for a key takes, in this order (each step only when the one
before has nothing):

1. a stream of a busy HTTP/2 connection of its key that has one free;
2. a stream of a full one, waiting for it, rather than a second connection
   (the server's MAX_CONCURRENT_STREAMS is the limit it asked for);
3. if a connection of its key is being opened and might turn out HTTP/2
   (ALPN has not answered yet), that connection: it waits for the answer,
   and if the connection could not be made, it fails with the same error
   (one dial to a host that does not answer, not one after another) -
   unless that was a timeout and its own connection_timeout differs;
4. the plain pool's order (an idle connection of either protocol, a free
   slot, another key's idle connection closed, the queue).

A busy HTTP/2 connection is listed in ``_shared`` beside the plain pool's
bookkeeping; once its last stream ends it goes back to the plain pool like
an HTTP/1.1 connection at the end of its cycle (idle, to a waiter, or
closed). Only a session made with ``http2=`` has this pool, so HTTP/1.1
sessions never pay for it.
"""

from __future__ import annotations

import copy
import time
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

import curio

from .interfaces import ConnectTimeout, PoolWaitTimeout
from .pool import C, ConnectionPool, HostLimitedPool, _enqueue, _Waiter, wait_within

__all__ = ["HostLimitedSharingPool", "SharingPool"]


class _Opening:
    """A connection of a key being opened, which the key's requests wait for."""

    __slots__ = ("error", "event", "open_connection")

    def __init__(self, open_connection: Callable[[], Awaitable[Any]]) -> None:
        self.event = curio.Event()  # set once it is open, or failed
        self.error: Exception | None = None  # why it could not be opened
        # How it is being opened. The transport makes one opener per origin,
        # route and connection_timeout, so a waiter with the same one would
        # have dialled exactly this way: the failure is its answer too.
        self.open_connection = open_connection


class SharingPool(ConnectionPool[C]):
    """A :class:`ConnectionPool` that also shares HTTP/2 connections.

    Args:
        may_share: whether a new connection of a key might be HTTP/2 (an
            origin that answered ALPN with ``http/1.1`` is not waited for).
        the rest: as for the pool it extends.
    """

    def __init__(self, *args: Any, may_share: Callable[[Hashable], bool], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.may_share = may_share
        self._shared: dict[Hashable, list[Any]] = {}  # busy h2 connections, by key
        # Requests waiting for a stream of a full connection, by key; a key
        # leaves when its queue empties (an HTTP/2 crawl meets many hosts).
        self._stream_waiters: dict[Hashable, deque[_Waiter[Any]]] = {}
        self._opening: dict[Hashable, _Opening] = {}  # keys whose ALPN answer is awaited
        self._awaiting_alpn = 0

    @property
    def waiting(self) -> int:
        streams = sum(1 for q in self._stream_waiters.values() for w in q if not w.done)
        return super().waiting + streams + self._awaiting_alpn

    async def checkout(
        self,
        key: Hashable,
        open_connection: Callable[[], Awaitable[C]],
        *,
        fresh: bool = False,
        pool_timeout: float | None = None,
    ) -> Any:
        """A connection for *key*, or a stream of a shared HTTP/2 one (its exchange).

        Raises:
            PoolWaitTimeout: nothing was free within *pool_timeout*, which
                bounds the whole checkout, however many waits it takes.
            what opening the connection raised, also for the requests that
                waited for that connection.
        """
        if pool_timeout is None:
            return await self._checkout(key, open_connection, fresh, None)
        try:
            return await self._checkout(
                key, open_connection, fresh, time.monotonic() + pool_timeout
            )
        except PoolWaitTimeout:
            raise PoolWaitTimeout(
                f"no connection free within pool_timeout={pool_timeout} s"
            ) from None

    async def _checkout(
        self,
        key: Hashable,
        open_connection: Callable[[], Awaitable[C]],
        fresh: bool,
        deadline: float | None,
    ) -> Any:
        while True:
            if not fresh:
                shared = self._shared.get(key)
                if shared:
                    for conn in shared:
                        if conn.is_available():
                            conn.claim()
                            return conn.exchange()
                    if not self._idle.get(key):
                        granted = await self._wait_for_stream(key, _left(deadline))
                        if granted is not None:
                            return granted.exchange()
                        continue  # that connection finished: look again
                    # Every shared connection is full, but another one of the
                    # origin sits idle (a second connection, opened for a
                    # refused stream): it serves, below, rather than waiting.
                else:
                    opening = self._opening.get(key)
                    if opening is not None:
                        await self._await_alpn(opening, open_connection, _left(deadline))
                        continue
            if self.may_share(key) and key not in self._opening:
                opening = _Opening(open_connection)
                self._opening[key] = opening
                try:
                    conn = await super().checkout(
                        key, open_connection, fresh=fresh, pool_timeout=_left(deadline)
                    )
                except PoolWaitTimeout:
                    raise  # this request's own wait, not the origin's failure
                except Exception as exc:
                    # The origin did not answer (refused, timed out, TLS
                    # failed...): the requests waiting for this connection
                    # fail with it now, rather than each dial and wait
                    # one after another.
                    opening.error = exc
                    raise
                finally:
                    if self._opening.get(key) is opening:
                        del self._opening[key]
                    await opening.event.set()
                    # The error's traceback holds this frame: were the frame
                    # to hold the opening (and so the error) too, each
                    # failure would be a cycle only the collector frees.
                    opening = None
            else:
                conn = await super().checkout(
                    key, open_connection, fresh=fresh, pool_timeout=_left(deadline)
                )
            if getattr(conn, "multiplexed", False):
                # Claimed for this request (a new connection comes claimed).
                # One the pool was closed while it opened takes no other
                # stream: shared, it would hold its key's requests waiting.
                if not conn.is_finished():  # type: ignore[attr-defined]
                    self._shared.setdefault(key, []).append(conn)
                return conn.exchange()  # type: ignore[attr-defined]
            return conn

    async def _await_alpn(
        self,
        opening: _Opening,
        open_connection: Callable[[], Awaitable[Any]],
        pool_timeout: float | None,
    ) -> None:
        self._awaiting_alpn += 1
        try:
            await wait_within(opening.event, pool_timeout)
        finally:
            self._awaiting_alpn -= 1
        error = opening.error
        if error is not None and (
            opening.open_connection is open_connection or not isinstance(error, ConnectTimeout)
        ):
            # Shared: what the origin said (refused, no such name, a TLS
            # failure), or a timeout this request's own connection_timeout
            # would have met too; with another timeout it dials itself. A
            # copy per request: one exception object raised in many tasks
            # would pile up all their tracebacks.
            raise copy.copy(error) from error

    async def _wait_for_stream(self, key: Hashable, pool_timeout: float | None) -> Any:
        """Wait for a stream of *key*'s full connection: it (claimed), or None to look again."""
        waiter: _Waiter[Any] = _Waiter(key, False, next(self._arrivals))
        queue = self._stream_waiters.get(key)
        if queue is None:
            self._stream_waiters[key] = deque((waiter,))
        else:
            _enqueue(queue, waiter)
        try:
            await wait_within(waiter.event, pool_timeout)
        except BaseException:
            if not waiter.done:
                waiter.done = True
                self._drop_stream_waiters(key)
            elif waiter.conn is not None:
                # Handed a stream just as we gave up: give it back.
                async with curio.disable_cancellation():
                    await waiter.conn.unclaim()
            raise
        return waiter.conn

    async def close(self) -> None:
        """Close every idle connection; busy HTTP/2 ones take no new stream."""
        await super().close()
        # Why: a busy HTTP/2 connection now closes once its streams end, so
        # it takes no new stream. Left shared, the requests of its key made
        # after close() (the session stays usable) would wait for it - as
        # long as its longest stream, maybe forever - instead of opening a
        # new connection.
        for conns in list(self._shared.values()):
            for conn in list(conns):
                await self.connection_finished(conn)

    # -- what HTTP/2 connections tell the pool -----------------------------

    async def stream_released(self, conn: Any) -> None:
        """A stream of *conn* ended: to a waiter, or the connection goes back."""
        key = conn.pool_key
        if conn.is_available():
            waiter = self._next_waiter(self._stream_waiters.get(key))
            self._drop_stream_waiters(key)
            if waiter is not None:
                conn.claim()
                waiter.conn = conn
                await waiter.event.set()
                return
        elif conn.is_finished() or conn.is_idle():
            # Finished, or idle and still taking no stream (the server
            # lowered its limit to 0, RFC 9113 section 6.5.2): idle, it
            # leaves _shared, and nothing would hand its waiters a stream;
            # they look again (another connection, or a new one).
            await self._wake_stream_waiters(key)
        if conn.is_idle():
            self.unshare(conn)
            if conn.is_finished():
                await self.discard(conn)
            else:
                await self.checkin(conn)

    async def streams_freed(self, conn: Any) -> None:
        """*conn* can take more streams (the server raised its limit)."""
        key = conn.pool_key
        queue = self._stream_waiters.get(key)
        while queue and conn.is_available():
            waiter = self._next_waiter(queue)
            self._drop_stream_waiters(key)
            if waiter is None:
                break
            if conn in self._idle_order:
                # An idle connection (a second one of the origin) takes the
                # waiter's stream: it leaves the idle list and is shared, as a
                # checkout would make it. Left in the list too, it would be
                # filed twice, and handed out while busy.
                self._remove_idle(conn)
                self._shared.setdefault(key, []).append(conn)
            conn.claim()
            waiter.conn = conn
            await waiter.event.set()

    async def connection_finished(self, conn: Any) -> None:
        """*conn* takes no new stream (GOAWAY, failure): its waiters look elsewhere."""
        self.unshare(conn)
        await self._wake_stream_waiters(conn.pool_key)

    def unshare(self, conn: Any) -> None:
        """*conn* is no longer handed streams (nothing awaited: safe from a cancelled task)."""
        shared = self._shared.get(conn.pool_key)
        if shared and conn in shared:
            shared.remove(conn)
            if not shared:
                del self._shared[conn.pool_key]

    def _drop_stream_waiters(self, key: Hashable) -> None:
        """Drop the done waiters at the head of *key*'s stream queue, and the queue once empty."""
        queue = self._stream_waiters.get(key)
        if queue is None:
            return
        while queue and queue[0].done:
            queue.popleft()
        if not queue:
            del self._stream_waiters[key]

    async def _wake_stream_waiters(self, key: Hashable) -> None:
        queue = self._stream_waiters.pop(key, None)
        while queue:
            waiter = queue.popleft()
            if not waiter.done:
                waiter.done = True  # with no connection: it looks again
                await waiter.event.set()


def _left(deadline: float | None) -> float | None:
    """Seconds until *deadline* (never below 0), or None for no deadline."""
    if deadline is None:
        return None
    return max(0.0, deadline - time.monotonic())


class HostLimitedSharingPool(SharingPool[C], HostLimitedPool[C]):
    """:class:`SharingPool` with :class:`HostLimitedPool`'s per-host limit."""
