"""One request over the pool: a connection, the request sent, the response head.

This is where the transport's own retry lives, the one the caller never
sees: a reused connection that died while idle (the server's keep-alive
timeout, a restart) fails the request before a single response byte, and
then the server certainly did not process it. Such a request is sent again,
at most once, on a newly opened connection (never another reused one, which
may be just as dead), and only when sending it again cannot change what it
does (RFC 9110 section 9.2.2: an idempotent method, a body that can be
replayed). Everything else goes up to the session's policy (``retries``).

A connection the pool picked that cannot take the request after all
(:class:`ConnectionNotAvailable`) sends it back to the pool; that is neither
a failure nor a retry.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Hashable
from functools import partial
from typing import TYPE_CHECKING

import h11

from .._headers import ResponseHeaders
from .connect import Dialer
from .http11 import HTTP11Connection
from .interfaces import ConnectionNotAvailable, PeerClosedEarly, StreamRefused
from .pool import ConnectionPool

if TYPE_CHECKING:
    from .._request import Call
    from .._urls import Origin
    from .routes import ProxyChoice, Router

__all__ = ["Transport"]

# For response.elapsed: monotonic, and the finest clock there is.
_clock = time.perf_counter
# Sending a refused HTTP/2 request again, at most this many times.
_MAX_REFUSED = 3
# Openers kept (see Transport.send), about one per origin, as the dialler
# keeps pool keys.
_MAX_OPENERS = 256

Opener = Callable[[], Awaitable[HTTP11Connection]]


class Transport:
    """The pool and the dialler of one session.

    Args:
        pool: the session's connections.
        dialer: how new ones are opened.
        router: picks each request's proxy route; None (a session without
            proxies, nor any in its environment): every request goes direct.
    """

    def __init__(
        self,
        pool: ConnectionPool[HTTP11Connection],
        dialer: Dialer,
        router: Router | None = None,
    ) -> None:
        self.pool = pool
        self.dialer = dialer
        self.router = router
        self._openers: dict[tuple[Origin, Hashable, float | None], Opener] = {}

    async def send(
        self,
        call: Call,
        wire: tuple[tuple[bytes, bytes], ...],
        connection_timeout: float | None,
        proxy: ProxyChoice = None,
        pool_timeout: float | None = None,
    ) -> tuple[HTTP11Connection, h11.Response, ResponseHeaders, float]:
        """Send *call*'s request with header block *wire*; its response head.

        *proxy* is the call's own ``proxy=`` (None: the session's route);
        *pool_timeout* bounds each wait for a connection from the pool.

        The connection stays the caller's until the body is read or the
        response closed (it then releases itself).

        Returns:
            the connection, h11's response head and its headers, and the
            seconds from the start of sending to the end of the head
            (``response.elapsed``; the connection was ready by then).

        Raises:
            the transport's exceptions (``interfaces``), ``OSError`` and
            ``ssl.SSLError``: the session translates them.
        """
        url = call.url
        origin = url.origin
        pool = self.pool
        dialer = self.dialer
        # The key of each origin is made once (the dialler keeps them); the
        # lookup costs less than making it (see benchmarks/opcodes.py),
        # which pays for response.elapsed's two clock reads.
        # A session without proxies has no router: the direct route costs
        # one test.
        if self.router is None:
            key = dialer.keys.get(origin)
            if key is None:
                key = dialer.pool_key(origin)
            target = url.target_bytes
        else:
            key, target, wire = self.router.route(call, wire, proxy)

        # How the pool opens a new connection if it must: made once per
        # origin, route and timeout, not per request. Whatever a request
        # makes and keeps until its answer comes is, at thousands in flight,
        # promoted through every generation of the garbage collector and
        # walked again by each (docs/performance.md, "Cost as concurrency
        # grows"); a kept opener is walked only by the rare full collection.
        openers = self._openers
        open_connection = openers.get((origin, key, connection_timeout))
        if open_connection is None:
            if len(openers) >= _MAX_OPENERS:
                openers.clear()  # a scraper over many hosts just makes them again
            open_connection = openers[origin, key, connection_timeout] = partial(
                dialer.connect, origin, key, connection_timeout, pool
            )

        method = call.method.encode("ascii")
        body = call.body
        fresh = False
        refused = 0
        while True:
            conn = await pool.checkout(
                key, open_connection, fresh=fresh, pool_timeout=pool_timeout
            )
            try:
                sent = _clock()
                if body is None:
                    head, headers = await conn.handle(method, target, wire, None)
                else:
                    stream = body.stream() if body.stream is not None else None
                    head, headers = await conn.handle(method, target, wire, body.content, stream)
                return conn, head, headers, _clock() - sent
            except ConnectionNotAvailable:
                # The connection gave itself back; another one will do.
                continue
            except StreamRefused:
                # HTTP/2: the server did not process it (REFUSED_STREAM, or
                # above a GOAWAY's last stream): sent again on a new
                # connection whatever the method (RFC 9113 section 8.7),
                # a bounded number of times, when the body can be replayed.
                await conn.abort()
                refused += 1
                if refused > _MAX_REFUSED or not call.can_resend:
                    raise
                fresh = True
            except (PeerClosedEarly, OSError):
                # Only when not one byte of a response came back: then the
                # server never processed the request.
                silent = (
                    conn.reused
                    and not conn.response_started
                    and not call.resent
                    and call.resendable
                )
                await conn.abort()
                if not silent:
                    raise
                call.resent = True
                fresh = True
            except BaseException:
                await conn.abort()
                raise
