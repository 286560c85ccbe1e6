"""One HTTP/1.1 connection: an ``h11.Connection`` over one curio socket.

h11 owns the protocol. It parses every response head, decides how the body
is framed, and decides keep-alive: a connection may carry another request
only when h11 reports both sides DONE, and then ``start_next_cycle()``
resets it. Anything else - an error, a partial read, the server asking to
close - ends the connection.

One shortcut, the body fast path, keeps h11's decisions and skips its
copies. When h11 has framed a body as Content-Length bytes, the body's bytes
go from the socket to the caller without passing through h11: those that
came in the same read as the head (h11 is handed the head alone), then reads
of exactly what is left. Each body event h11 builds costs more than the
whole fast path, and for a large body its buffer costs two copies of every
byte. Bytes past the end of the body are never taken: they go to h11 or
stay in the socket, and either way the connection is not reused.

The connection answers the pool's questions (see ``interfaces.Connection``)
and hands itself back through one place, :meth:`HTTP11Connection._release`,
whoever ends the cycle: the buffered read (:meth:`read_all`), a stream read
to its end (:meth:`receive_data`), a stream closed early or an error
(:meth:`abort`). h11's exceptions are turned into the transport's own
classes here, where it is known whether the bytes ran out (EOF) or broke the
protocol: nothing above has to read h11's messages.

The state is explicit (:class:`ConnState`) so the pool can reason about it::

    ACTIVE --(response read to the end, both sides DONE)--> IDLE --(reuse)--> ACTIVE
       |                                                      |
       +----------------(anything else)---> CLOSED <----------+  (expired, stale)
"""

from __future__ import annotations

import functools
import re
import ssl
import time
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, NoReturn

import h11

from .._headers import ResponseHeaders
from .backend import READ_SIZE, AnyStream, closed_while_read
from .expect_continue import wait_for_continue
from .interfaces import (
    BodyCutShort,
    BodyOverLimit,
    ConnState,
    PeerClosedEarly,
    ProtocolViolation,
    RequestNotSendable,
    next_piece,
)
from .trap_cycles import break_trap_cycle

if TYPE_CHECKING:
    from .pool import ConnectionPool

__all__ = ["HTTP11Connection"]


class _Prepared:
    """A request's h11 event, and the bytes h11 made of it once it had no body."""

    __slots__ = ("event", "wire")

    def __init__(self, event: h11.Request) -> None:
        self.event = event
        self.wire: bytes | None = None


@functools.lru_cache(maxsize=256)
def _request_event(
    method: bytes, target: bytes, headers: tuple[tuple[bytes, bytes], ...]
) -> _Prepared:
    # The event is immutable, so a client polling or benchmarking the same
    # request reuses it whole.
    return _Prepared(h11.Request(method=method, target=target, headers=_checked(headers).headers))


# One block per origin (Host is in it): sized for a crawl's thousand origins
# (asks.crawl.KEPT_CONNECTIONS), at about 1 KiB a block.
@functools.lru_cache(maxsize=1024)
def _checked(headers: tuple[tuple[bytes, bytes], ...]) -> h11.Request:
    # h11 validates every header of a new Request, which costs more than the
    # rest of building it, and a scraper sends one header block to URL after
    # URL. So a block is validated once, in the first event that carries it;
    # later events take that event's headers, which h11 accepts as they are
    # (it checks only the method and target of the new request). Were h11 to
    # stop recognising its own headers object, it would validate them again
    # and send the names in lower case: correct, just slower.
    return h11.Request(method=b"GET", target=b"/", headers=list(headers))


# Where a response head ends: the first empty line, by h11's own rule (a bare
# LF is accepted as a line end, as h11 accepts it; RFC 9112 section 2.2).
_HEAD_END = re.compile(b"\n\r?\n")


async def _close_source(stream: AsyncIterator[bytes]) -> None:
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        await aclose()


def _head_end(data: bytes, start: int) -> int | None:
    end = _HEAD_END.search(data, start)
    return None if end is None else end.end()


# h11 events are immutable, so one end-of-message event serves every request
# (building one re-validates its empty trailers each time).
_END_OF_MESSAGE = h11.EndOfMessage()


class HTTP11Connection:
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

    __slots__ = (
        "_body_held",
        "_body_left",
        "_body_seen",
        "_eof",
        "_expiry",
        "_fixed_length",
        "_h11",
        "_leased",
        "_max_head_size",
        "_method",
        "_must_close",
        "_pool",
        "_response_started",
        "_stream",
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

    async def _answered_early(self) -> bool:
        """After a failed send: did the server answer before it stopped reading?"""
        self._must_close = True
        if self._response_started:
            return True
        try:
            data = await self._read()
        except (OSError, PeerClosedEarly, h11.RemoteProtocolError):
            return False  # nothing (or nothing HTTP) came back: the send's error stands
        self._h11.receive_data(data)
        return True

    # -- sending -----------------------------------------------------------

    async def _send_request(
        self,
        method: bytes,
        target: bytes,
        headers: tuple[tuple[bytes, bytes], ...],
        body: bytes | None,
        stream: AsyncIterator[bytes] | None,
    ) -> bool:
        """Send the request; False when its body was withheld (Expect refused)."""
        conn = self._h11
        self._response_started = False
        # (_eof is False here: a cycle that met the end of the stream fails
        # finish_cycle, so its connection carries no other request.)
        self._method = method
        prepared = _request_event(method, target, headers)
        wire = prepared.wire
        if wire is not None and body is None and stream is None:
            # h11 made these bytes of this very event before (its output
            # depends on the event alone). They leave first, and h11 takes
            # note of the request while the server reads it: its
            # bookkeeping costs no wait for the answer.
            try:
                await self._stream.send(wire)
            finally:
                conn.send(prepared.event)
                conn.send(_END_OF_MESSAGE)
            return True
        data = conn.send(prepared.event)
        assert data is not None
        if conn.client_is_waiting_for_100_continue and (body or stream is not None):
            await self._stream.send(data)
            data = b""
            if not await wait_for_continue(self._read, conn.receive_data, _head_end):
                # A final answer instead of 100 Continue: the body stays
                # unsent, so this connection cannot carry another request.
                self._must_close = True
                if stream is not None:
                    await _close_source(stream)
                return False
        if body:
            # Small bodies ride in the same write as the head (one syscall,
            # one packet); large ones leave in one gathered write with it,
            # not copied into it.
            if len(body) <= 16384:
                framed = conn.send(h11.Data(data=body))
                assert framed is not None
                data += framed
            else:
                await self._send_data(body, head=data)
                data = b""
        elif stream is not None:
            await self._stream.send(data)
            data = b""
            try:
                # (The source's own failure leaves as BodySourceFailed.)
                while (piece := await next_piece(stream)) is not None:
                    await self._send_data(piece)
            finally:
                await _close_source(stream)
        end = conn.send(_END_OF_MESSAGE)
        if end:
            data += end
        if body is None and stream is None:
            prepared.wire = data  # all of it: the next time it leaves first
        if data:
            await self._stream.send(data)
        return True

    async def _send_data(self, piece: bytes, head: bytes = b"") -> None:
        # h11 counts the bytes against Content-Length (or frames a chunk)
        # without copying the payload. A request *head* given here leaves
        # in the same write as the body's pieces.
        pieces = self._h11.send_with_data_passthrough(h11.Data(data=piece))
        assert pieces is not None
        await self._stream.send_pieces([head, *pieces] if head else pieces)

    # -- receiving ---------------------------------------------------------

    async def _fill(self) -> int:
        data = await self._read()
        self._h11.receive_data(data)
        return len(data)

    async def _read(self) -> bytes:
        """The socket's next bytes; the first of a response are checked here."""
        started = self._response_started
        try:
            data = await self._stream.receive(READ_SIZE, not started)
        except ssl.SSLEOFError:
            # TCP closed without TLS close_notify (see backend). Before any
            # answer that is simply a dead connection; inside one it is a
            # truncation and must not pass for the end of the body.
            if not started:
                raise PeerClosedEarly(before_response=True) from None
            self._eof = True
            raise
        self._arrived(data, started)
        return data

    def _arrived(self, data: bytes, started: bool) -> None:
        # What a read brought, checked. Its own plain function, not part of
        # a coroutine: the head's first read calls it inline, so a request
        # waiting for its answer - the state thousands are in at once - holds
        # one coroutine less for the garbage collector to walk.
        if data:
            if not started:
                self._response_started = True
                # Every HTTP/1.x response starts with "HTTP/". Anything else
                # (an HTTP/0.9 body, TLS bytes, a banner) is refused at once
                # instead of waiting for a blank line that may never come.
                prefix = data[:5]
                if not b"HTTP/".startswith(prefix):
                    raise h11.RemoteProtocolError(
                        f"not an HTTP/1.x response: {bytes(data[:32])!r}"
                    )
        elif not started:
            # EOF before a single byte of the answer. h11 would call this a
            # protocol error; it is the one case where the request was
            # certainly not processed, so it gets its own exception.
            raise PeerClosedEarly(before_response=True)
        else:
            # EOF inside the response: h11 decides whether that ends the body
            # (HTTP/1.0 style) or cuts it short; if h11 then fails, this is
            # how we know it was for lack of bytes.
            self._eof = True

    async def receive_response_head(self) -> tuple[h11.Response, ResponseHeaders]:
        """Read up to and including the final (non-1xx) response head.

        Returns:
            h11's event and the headers as a case-insensitive mapping.
        """
        conn = self._h11
        # Bytes of the first read past the end of the first head; see below.
        held = b""
        split = False
        if self._response_started:
            head_bytes = 0
        else:
            # Before the first byte of a response h11 holds nothing (a
            # connection is reused only with an empty buffer, see
            # finish_cycle), so asking it for an event could only say
            # NEED_DATA: read first (_read, spelled out: see _arrived).
            try:
                data = await self._stream.receive(READ_SIZE, True)
            except ssl.SSLEOFError:
                raise PeerClosedEarly(before_response=True) from None
            self._arrived(data, False)
            head_bytes = len(data)
            # A small response usually arrives whole in this one read. h11
            # is given the head only, up to the empty line that ends it;
            # the rest is held back. If h11 then frames the body by its
            # Content-Length, those bytes are the body's start and go to the
            # caller as they are, without h11 (the fast path, see
            # _receive_direct): each event h11 makes of a body costs more
            # than the whole fast path. Otherwise h11 gets them at once.
            end = _HEAD_END.search(data)
            if end is not None:
                split = True
                cut = end.end()
                if cut < len(data):
                    held = data[cut:]
                    data = data[:cut]
            conn.receive_data(data)
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                if held:
                    # The head read was a 1xx one, or h11 ended it elsewhere:
                    # what followed is h11's to read after all.
                    conn.receive_data(held)
                    held = b""
                    split = False
                    continue
                # h11 bounds an incomplete event only per buffer check, so a
                # head arriving in large reads could pass its limit; count.
                if head_bytes > self._max_head_size:
                    raise h11.RemoteProtocolError(
                        f"response head larger than {self._max_head_size} bytes (max_head_size)"
                    )
                head_bytes += await self._fill()
                continue
            if type(event) is h11.Response:
                if head_bytes > self._max_head_size:
                    # The head completed within reads that held more than
                    # the limit: measure the head itself.
                    raw = event.headers.raw_items()
                    size = len(event.reason) + 15 + sum(len(n) + len(v) + 4 for n, v in raw)
                    if size > self._max_head_size:
                        raise h11.RemoteProtocolError(
                            f"response head larger than {self._max_head_size} bytes "
                            "(max_head_size)"
                        )
                if event.http_version not in (b"1.1", b"1.0"):
                    # h11 parses any digit.digit; an HTTP/2 or HTTP/3 status
                    # line on this connection means the server speaks
                    # something else.
                    raise h11.RemoteProtocolError(
                        f"unsupported HTTP version {event.http_version.decode('ascii', 'replace')}"
                    )
                headers = ResponseHeaders.from_h11(event.headers)
                self._body_left = None
                self._fixed_length = None
                self._body_seen = 0
                if headers.has(b"transfer-encoding"):
                    if headers.has(b"content-length"):
                        # RFC 9112 section 6.3: Transfer-Encoding wins, but
                        # such a message may be a smuggling attempt; read it,
                        # then never trust this connection with another request.
                        self._must_close = True
                elif self._method != b"HEAD" and event.status_code not in (204, 304):
                    length = headers.last_raw(b"content-length")
                    if length is not None:
                        # RFC 9112 section 6.3 rules 1-5 all end in "the body
                        # is Content-Length bytes" here (no CONNECT is ever
                        # sent), as h11 decided too; h11 has checked the value
                        # (digits only, copies equal) and kept one copy.
                        fixed = self._fixed_length = int(length)
                        if split and len(held) <= fixed and not conn.trailing_data[0]:
                            # h11 took every byte it was given into this
                            # head, so the held bytes are the body's first,
                            # no more than the body (bytes past its end go
                            # to h11 below, which then refuses to reuse the
                            # connection, see finish_cycle).
                            self._body_held = held
                            self._body_left = fixed - len(held)
                            return event, headers
                if held:
                    conn.receive_data(held)
                return event, headers
            if type(event) is h11.InformationalResponse:
                # 100 Continue and friends precede the real answer (RFC 9110
                # section 15.2); nothing to do with them.
                continue
            if type(event) is h11.ConnectionClosed:
                raise PeerClosedEarly(before_response=not self._response_started)
            raise h11.RemoteProtocolError(f"unexpected event before the response: {event!r}")

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

    async def _receive_h11(self) -> bytes:
        conn = self._h11
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                if self._go_direct():
                    return await self._receive_direct()
                await self._fill()
                continue
            if type(event) is h11.Data:
                data = event.data
                self._body_seen += len(data)
                # h11 may hand out a memoryview-backed bytearray slice; the
                # caller keeps what we return, so make it bytes.
                return data if type(data) is bytes else bytes(data)
            if type(event) is h11.EndOfMessage:
                return b""
            if type(event) is h11.ConnectionClosed:
                raise BodyCutShort("server closed the connection inside the body")
            raise h11.RemoteProtocolError(f"unexpected event in the body: {event!r}")

    def body_in_hand(self) -> bool:
        """Whether the rest of the body is already in memory (it came with the head).

        Then :meth:`read_all` returns it with no read from the socket.
        """
        return self._body_left == 0

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

    async def _read_body(self, limit: int | None) -> bytes:
        # _receive_h11's loop, inlined: the call per piece showed in profiles.
        conn = self._h11
        chunks = []
        total = 0
        while True:
            if self._body_left is not None:
                data = await self._receive_direct()
                if not data:
                    break
            else:
                event = conn.next_event()
                if type(event) is h11.Data:
                    data = event.data
                elif type(event) is h11.EndOfMessage:
                    break
                elif event is h11.NEED_DATA:
                    self._body_seen = total
                    if not self._go_direct():
                        await self._fill()
                    continue
                elif type(event) is h11.ConnectionClosed:
                    raise BodyCutShort("server closed the connection inside the body")
                else:
                    raise h11.RemoteProtocolError(f"unexpected event in the body: {event!r}")
            total += len(data)
            if limit is not None and total > limit:
                raise BodyOverLimit(f"response body exceeds {limit} bytes (max_body_size)")
            chunks.append(data)
        if len(chunks) == 1:
            data = chunks[0]
            return data if type(data) is bytes else bytes(data)
        return b"".join(chunks)

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

    def _classify(self, exc: BaseException) -> BaseException:
        """A failed read of the body (h11's complaint, a TLS cut) as the transport's own class."""
        if isinstance(exc, h11.RemoteProtocolError):
            if self._eof:
                # h11 refused because the bytes ran out: the body (or the
                # chunked framing) was cut short by the server closing.
                return BodyCutShort(f"server closed the connection: {exc}")
            return ProtocolViolation(str(exc))
        if isinstance(exc, ssl.SSLEOFError):
            # TCP closed inside the body without TLS close_notify: the body
            # is cut short, as far as anyone can tell (RFC 9112 section 9.8),
            # exactly as a plain close there; the handshake had long succeeded.
            return BodyCutShort(
                "server closed the connection inside the body (without a TLS close_notify)"
            )
        return exc

    def _go_direct(self) -> bool:
        """h11 wants more of a fixed-length body: read the rest directly?"""
        length = self._fixed_length
        if length is None:
            return False
        left = length - self._body_seen
        if left <= 0:
            return False
        self._body_left = left
        return True

    async def _receive_direct(self) -> bytes:
        # The body fast path. h11 decided the framing (a fixed-length body,
        # see receive_response_head) and holds no byte of the body: it was
        # given the head alone, or asked for more data with the body still
        # short. Feeding it the rest would cost two copies of every piece
        # (into its buffer, out of it) and a conversion to bytes; instead the
        # bytes that came with the head, then the socket's own, go to the
        # caller, never past the end of the body, so the next response stays
        # in the socket. finish_cycle then does what h11 would have done at
        # the end of the message.
        held = self._body_held
        if held:
            self._body_held = b""
            return held
        left = self._body_left
        assert left is not None
        if left == 0:
            return b""
        data = await self._stream.receive(left if left < READ_SIZE else READ_SIZE)
        if not data:
            raise BodyCutShort(
                f"server closed the connection with {left} bytes of the body missing "
                "(incomplete message body)"
            )
        self._body_left = left - len(data)
        return data

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

    def _nothing_left(self) -> bool:
        # Without a read: the direct path knows its count; h11 is asked for
        # its next event, which ends the message only if every byte of it
        # was already given (any other event means unread data, or data to
        # wait for: the connection is closed then, so consuming it is fine).
        if self._body_left is not None:
            return self._body_left == 0 and not self._body_held
        try:
            return type(self._h11.next_event()) is h11.EndOfMessage
        except h11.RemoteProtocolError:
            return False

    async def close(self) -> None:
        """Close the socket. Safe to call more than once, and under cancellation."""
        if self.state is ConnState.CLOSED:
            return
        self.state = ConnState.CLOSED
        await self._stream.close()
