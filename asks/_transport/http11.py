"""One HTTP/1.1 connection: an ``h11.Connection`` over one curio socket.

h11 owns the protocol. It parses every response head, decides how the body
is framed, and decides keep-alive: a connection may carry another request
only when h11 reports both sides DONE, and then ``start_next_cycle()``
resets it. Anything else - an error, a partial read, the server asking to
close - ends the connection.

The connection is built in four layers, one concern each:
:mod:`.http11_send` sends a request (h11's events, the body, ``Expect:
100-continue``, an answer that comes before the upload ends), on top of
:mod:`.http11_body`, which reads the response body (with the body fast
path, which keeps h11's decisions and skips its copies), on top of
:mod:`.http11_receive`, which reads the socket and the response head; this
module holds the connection's state and its cycle.

The connection answers the pool's questions (see ``interfaces.Connection``)
and hands itself back through one place, :meth:`HTTP11Connection._release`,
whoever ends the cycle: the buffered read (:meth:`read_all`), a stream read
to its end (:meth:`receive_data`), a stream closed early or an error
(:meth:`abort`). h11's exceptions are turned into the transport's own
classes in these layers (:meth:`handle`, ``BodyPath._classify``), where it
is known whether the bytes ran out (EOF) or broke the protocol: nothing above
has to read h11's messages.

The state is explicit (:class:`ConnState`) so the pool can reason about it::

    ACTIVE --(response read to the end, both sides DONE)--> IDLE --(reuse)--> ACTIVE
       |                                                      |
       +----------------(anything else)---> CLOSED <----------+  (expired, stale)
"""

from __future__ import annotations

import ssl
import time
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, NoReturn

import h11

from .._headers import ResponseHeaders
from .backend import AnyStream, closed_while_read
from .http11_send import SendPath
from .interfaces import ConnState, ProtocolViolation, RequestNotSendable
from .trap_cycles import break_trap_cycle

if TYPE_CHECKING:
    from .pool import ConnectionPool

__all__ = ["HTTP11Connection"]


class HTTP11Connection(SendPath):
    """A client connection to one origin.

    Args:
        stream: the connected byte stream (TLS already negotiated).
        pool_key: what the pool files it under.
        max_head_size: the most bytes a response head may take (h11 raises
            past it, which becomes ``BadHttpResponse``).
        keepalive_expiry: seconds it may sit idle and still be reused.
        pool: where it goes back after each cycle (None: it is closed
            instead, as a connection used on its own in tests).
    """

    # (The state the send and receive paths share is in ReceivePath's slots.)
    __slots__ = (
        "_expiry",
        "_leased",
        "_pool",
        "cycles",
        "idle_since",
        "pool_key",
        "state",
    )

    def __init__(
        self,
        stream: AnyStream,
        pool_key: object,
        max_head_size: int,
        keepalive_expiry: float = 5.0,
        pool: ConnectionPool[HTTP11Connection] | None = None,
    ) -> None:
        self._stream = stream
        self._h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=max_head_size)
        self._max_head_size = max_head_size
        self._expiry = keepalive_expiry
        self._pool = pool
        self._must_close = False
        self._response_started = False
        self._eof = False  # the stream ended inside the current response
        self._method = b""
        # The body fast path (see _receive_direct): the body's length if it
        # is Content-Length bytes, the body bytes h11 has handed over, and -
        # once the rest is read straight from the socket - how much of it is
        # left (None while h11 reads the body) and the bytes that came in
        # with the head, to be handed out first.
        self._fixed_length: int | None = None
        self._body_seen = 0
        self._body_left: int | None = None
        self._body_held = b""
        self.pool_key = pool_key
        self.state = ConnState.ACTIVE
        self._leased = True  # a new connection is made for the request that opened it
        self.cycles = 0  # completed request/response cycles
        self.idle_since = 0.0

    def __repr__(self) -> str:
        return f"<HTTP11Connection {self.pool_key!r} {self.state.value}, {self.cycles} cycles>"

    # -- what the pool asks -------------------------------------------------

    def is_available(self) -> bool:
        return self.state is ConnState.IDLE

    def is_idle(self) -> bool:
        return self.state is ConnState.IDLE

    def is_closed(self) -> bool:
        return self.state is ConnState.CLOSED

    def has_expired(self, now: float) -> bool:
        """Idle too long, or dropped: its socket is readable.

        An idle HTTP/1.1 connection has nothing to say: if its socket is
        readable, the server closed it (EOF), reset it, or sent bytes that
        belong to no request. Any of those means it must not be reused.
        """
        return now - self.idle_since > self._expiry or self._stream.is_readable()

    def claim(self) -> None:
        self.state = ConnState.ACTIVE
        self._leased = True

    def close_after_cycle(self) -> None:
        self._must_close = True

    @property
    def reused(self) -> bool:
        """Whether an earlier cycle finished on this connection."""
        return self.cycles > 0

    @property
    def response_started(self) -> bool:
        """Whether any byte of the current response has arrived."""
        return self._response_started

    # -- one exchange ----------------------------------------------------------

    async def handle(
        self,
        method: bytes,
        target: bytes,
        headers: tuple[tuple[bytes, bytes], ...],
        body: bytes | None,
        stream: AsyncIterator[bytes] | None = None,
    ) -> tuple[h11.Response, ResponseHeaders]:
        """Send a request and read its response head; the body is read next.

        The headers must already carry the framing. A server may answer
        before it has read the whole body and then close (RFC 9112 section
        9.5, RFC 9110 section 15.5.14: a 413, a 401): the send then fails,
        and that answer, already in the socket, is the response. The
        connection is closed after it.

        Raises:
            PeerClosedEarly, BodyCutShort, ProtocolViolation,
            RequestNotSendable, BodySourceFailed, OSError: see ``interfaces``.
        """
        try:
            try:
                await self._send_request(method, target, headers, body, stream)
            except OSError:
                if not await self._answered_early():
                    raise
                return await self.receive_response_head()
            return await self.receive_response_head()
        except h11.RemoteProtocolError as exc:
            if self._eof:
                # h11 refused for lack of bytes, in words about its own
                # state ("role=SERVER and state=SEND_RESPONSE" after a 1xx).
                raise ProtocolViolation(
                    "server closed the connection before the response head was complete"
                ) from exc
            raise ProtocolViolation(str(exc)) from exc
        except ssl.SSLEOFError as exc:
            if not self._eof:
                raise  # not a read inside the response (see _read)
            # The server's close cut the head short, as a plain close there
            # would; the missing close_notify is not a TLS failure of ours.
            raise ProtocolViolation(
                "server closed the connection before the response head was complete "
                "(without a TLS close_notify)"
            ) from exc
        except h11.LocalProtocolError as exc:
            raise RequestNotSendable(str(exc)) from exc

    # -- the body: read, then the connection goes back by itself -------------

    async def receive_data(self, at_end: Callable[[], object] | None = None) -> bytes:
        """The next piece of the body, or ``b""`` once the response is complete.

        At the end the connection goes back to its pool (or closes); on any
        failure or cancellation it closes. The caller never releases it.

        Args:
            at_end: called at the end of the body, before the connection goes
                back; if it raises, the connection is closed instead (a body
                that fails its decoder's last check was not what it claimed).
        """
        try:
            if self._body_left is not None:
                data = await self._receive_direct()
            else:
                data = await self._receive_h11()
            if not data and at_end is not None:
                at_end()
        except BaseException as exc:
            await self._fail(exc)
        if not data:
            await self._release(self.finish_cycle())
        return data

    async def read_all(self, limit: int | None = None) -> bytes:
        """Read the rest of the body into memory, at most *limit* bytes of it.

        Then the connection goes back to its pool (or closes); on any failure
        or cancellation it closes.
        """
        held = self._body_held
        if held and self._body_left == 0 and (limit is None or len(held) <= limit):
            # The whole body came in with the head (the usual small one).
            # Anything else takes the loop, where _receive_direct hands
            # these bytes out first.
            self._body_held = b""
            await self._release(self.finish_cycle())
            return held
        try:
            data = await self._read_body(limit)
        except BaseException as exc:
            await self._fail(exc)
        await self._release(self.finish_cycle())
        return data

    async def _fail(self, exc: BaseException) -> NoReturn:
        """A read of the body failed (or was cancelled): close, then raise it sorted."""
        break_trap_cycle(exc)
        # Closed before this read failed: by another task (a watchdog), whose
        # close woke this read to a dead socket (backend._wake_the_others).
        closed_under_it = self.state is ConnState.CLOSED and isinstance(exc, OSError)
        await self._release(False)
        new = closed_while_read() if closed_under_it else self._classify(exc)
        try:
            if new is exc:
                raise exc
            raise new from exc
        finally:
            del exc, new  # see _boundary.reraise

    # -- life cycle --------------------------------------------------------

    def finish_cycle(self) -> bool:
        """After the response was read to the end: may this connection be reused?

        True (and the connection is IDLE, ready for the next request) only if
        h11 says both sides are DONE; otherwise it must be closed.
        """
        conn = self._h11
        if self._must_close:
            # A smuggling-shaped head, an early answer to an upload, or the
            # pool closed while this cycle ran.
            return False
        if self._body_left is not None:
            # The body came straight from the socket (_receive_direct), so
            # h11 never saw its end and cannot start the next cycle. Whether
            # the connection may carry another request was h11's call,
            # made when the response head arrived: keep-alive off ("close",
            # HTTP/1.0) turned our DONE into MUST_CLOSE. If it is still DONE,
            # a new h11 connection is exactly what start_next_cycle() leaves:
            # both sides IDLE, nothing buffered (h11 held no bytes; anything
            # the server sent past the body is still in the socket, where
            # the stale check before reuse finds it).
            if self._body_left != 0 or self._body_held or conn.our_state is not h11.DONE:
                return False
            self._h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=self._max_head_size)
            self._body_left = None
        else:
            if conn.trailing_data[0] or self._eof:
                # Bytes after the end of the response (a body on a HEAD or
                # 204, a second unasked-for response, junk): they would be
                # read as the answer to the next request. Or the stream
                # ended (a body delimited by the server's close), which h11
                # would let start a next cycle on the dead connection. (The
                # direct body path above never reads past its body's end,
                # so it never meets the end of the stream.) Never reuse.
                return False
            try:
                # h11 itself refuses unless both sides are DONE (a response
                # that said "Connection: close", an HTTP/1.0 one, a body cut
                # short).
                conn.start_next_cycle()
            except h11.LocalProtocolError:
                return False
        self.cycles += 1
        self.state = ConnState.IDLE
        self.idle_since = time.monotonic()
        return True

    async def _release(self, reuse: bool) -> None:
        # The one place a cycle ends, whoever ends it. Once per cycle: a
        # stream closed after it was read to the end, or an error after the
        # connection went back, must not give it back a second time.
        if not self._leased:
            return
        self._leased = False
        pool = self._pool
        if pool is None:
            if not reuse:
                await self.close()
        elif reuse:
            await pool.checkin(self)
        else:
            await pool.discard(self)

    async def abort(self) -> None:
        """End the cycle without reading further: the connection is closed."""
        await self._release(False)

    async def stop_reading(self) -> None:
        """End the cycle for a reader that wants no more of the body.

        When nothing of the response is left to read (a body read to its
        last byte but not past it, an empty one, the answer to a HEAD), the
        connection goes back to its pool as if the end had been read: a
        ``break`` after the last chunk, or a stream closed after its status
        was checked, costs no connection. Otherwise it is closed
        (:meth:`abort`): reading the rest could take any time.
        """
        if self._leased and self._nothing_left():
            await self._release(self.finish_cycle())
        else:
            await self._release(False)

    async def close(self) -> None:
        """Close the socket. Safe to call more than once, and under cancellation."""
        if self.state is ConnState.CLOSED:
            return
        self.state = ConnState.CLOSED
        await self._stream.close()
