"""One request on one stream of an HTTP/2 connection: :class:`HTTP2Exchange`.

The exchange answers what the transport and the session ask an HTTP/1.1
connection for one cycle (``handle``, ``receive_data``, ``read_all``,
``abort``): it turns the session's header block into HTTP/2 fields, sends
the body as the peer's windows allow, waits for what the connection's
reader hands it (head, data, end, reset), and acknowledges received DATA as
the caller takes it (RFC 9113 section 5.2), so a slow reader slows the
server instead of filling memory.

It runs no curio of its own: the event it waits on comes from its
connection (:mod:`.http2`), which also does the frame work of ending its
stream, shielded from cancellation.
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, NoReturn, Protocol

import h2.errors
import h2.exceptions
import h11

from .._headers import ResponseHeaders
from .interfaces import (
    BodyCutShort,
    BodyOverLimit,
    ConnectionNotAvailable,
    PeerClosedEarly,
    ProtocolViolation,
    RequestNotSendable,
    StreamRefused,
    next_piece,
)
from .trap_cycles import break_trap_cycle

if TYPE_CHECKING:
    from .http2 import HTTP2Connection

__all__ = ["HTTP2Exchange"]


class _Event(Protocol):
    """What an exchange waits on: a ``curio.Event`` its connection made."""

    def clear(self) -> None: ...
    async def set(self) -> None: ...
    async def wait(self) -> None: ...


# RFC 9113 section 8.2.2: connection-specific header fields are not sent
# over HTTP/2 (h2 would drop them silently); Host becomes :authority
# (section 8.3.1). TE may only say "trailers".
_NOT_FORWARDED = frozenset(
    {b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade", b"host"}
)

_EMPTY_HEADERS: list[tuple[bytes, bytes]] = []


@functools.lru_cache(maxsize=256)
def _h2_headers(
    method: bytes, scheme: bytes, target: bytes, wire: tuple[tuple[bytes, bytes], ...]
) -> tuple[tuple[bytes, bytes], ...]:
    # The session's header block, for HTTP/2: pseudo-headers first (RFC 9113
    # section 8.3), names in lower case (section 8.2.1), the connection's
    # own headers out. Values were checked (no CR, LF, NUL) when the block
    # was built, so h2's own validation is off; one block serves URL after
    # URL, so the work is cached.
    authority = b""
    rest = []
    for name, value in wire:
        lower = name.lower()
        if lower in _NOT_FORWARDED:
            if lower == b"host":
                authority = value
            continue
        if lower == b"te" and value.strip().lower() != b"trailers":
            continue
        rest.append((lower, value))
    head = [(b":method", method), (b":scheme", scheme), (b":authority", authority)]
    if method != b"CONNECT":
        head.append((b":path", target))
    return tuple(head + rest)


class HTTP2Exchange:
    """One request and its response on a stream of an :class:`HTTP2Connection`.

    It answers what the transport and the session ask an HTTP/1.1
    connection for one cycle, and ends the stream exactly once, through
    :meth:`_release`, whoever finishes it.
    """

    __slots__ = (
        "_chunks",
        "_conn",
        "_ended",
        "_error",
        "_event",
        "_head",
        "_released",
        "_sending",
        "_unacked",
        "pool_key",
        "response_started",
        "reused",
        "stream_id",
    )

    def __init__(self, conn: HTTP2Connection, event: _Event) -> None:
        self._conn = conn
        self.pool_key = conn.pool_key
        self.reused = conn.completed > 0
        self.response_started = False
        self.stream_id = 0
        self._head: list[tuple[bytes, bytes]] | None = None
        self._chunks: deque[tuple[bytes, int]] = deque()
        self._unacked = 0  # flow-controlled bytes received and not yet taken
        self._ended = False
        self._error: BaseException | None = None
        self._event = event  # set by the reader's news, and by _release
        self._released = False
        self._sending = False  # our side of the stream is open (body going out)

    # -- events from the reader ---------------------------------------------

    async def _wake(self) -> None:
        await self._event.set()

    async def _on_head(self, headers: list[tuple[bytes, bytes]]) -> None:
        self.response_started = True
        self._head = headers
        await self._wake()

    async def _on_data(self, data: bytes, size: int) -> None:
        self.response_started = True
        self._chunks.append((data, size))
        self._unacked += size
        await self._wake()

    async def _on_end(self) -> None:
        self._ended = True
        await self._wake()

    async def _on_reset(self, code: int) -> None:
        if code == h2.errors.ErrorCodes.REFUSED_STREAM:
            await self._on_refused("the server refused the stream (REFUSED_STREAM)")
            return
        if self._ended:
            # RFC 9113 section 8.1: a complete response, then the server
            # wants no more of the request body. Nothing is lost.
            await self._wake()
            return
        name = _code_name(code)
        if self._head is None:
            # As a connection reset before the response over HTTP/1.1: the
            # server may have processed it, so only retries= may resend it
            # (idempotent methods), not the transport.
            await self._on_error(
                BodyCutShort(f"the server reset the stream before the response head ({name})")
            )
        else:
            await self._on_error(
                BodyCutShort(f"the server reset the stream inside the body ({name})")
            )

    async def _on_refused(self, why: str) -> None:
        if self._error is None:
            self._error = StreamRefused(why)
        await self._wake()

    async def _on_error(self, exc: BaseException) -> None:
        if self._error is None:
            self._error = exc
        await self._wake()

    # -- one exchange ----------------------------------------------------------

    async def handle(
        self,
        method: bytes,
        target: bytes,
        headers: tuple[tuple[bytes, bytes], ...],
        body: bytes | None,
        stream: AsyncIterator[bytes] | None = None,
    ) -> tuple[h11.Response, ResponseHeaders]:
        """Open a stream, send the request, wait for the response head.

        Raises:
            ConnectionNotAvailable: the connection can take no new stream
                after all (a GOAWAY came, the stream IDs ran out); nothing
                was sent.
            StreamRefused: the server will not process it (REFUSED_STREAM,
                or a GOAWAY below its stream).
            PeerClosedEarly, BodyCutShort, ProtocolViolation, OSError.
        """
        conn = self._conn
        h2conn = conn._h2
        if conn.is_finished():
            await self._release(False)
            raise ConnectionNotAvailable("the HTTP/2 connection takes no new stream")
        try:
            stream_id = h2conn.get_next_available_stream_id()
        except h2.exceptions.NoAvailableStreamIDError:
            conn._exhausted = True
            if conn._pool is not None:
                await conn._pool.connection_finished(conn)
            await self._release(False)
            raise ConnectionNotAvailable("the HTTP/2 connection ran out of stream IDs") from None
        fields = _h2_headers(method, conn.scheme, target, headers)
        has_body = bool(body) or stream is not None
        try:
            try:
                h2conn.send_headers(stream_id, fields, end_stream=not has_body)
            except h2.exceptions.TooManyStreamsError:
                # The server lowered its stream limit after this stream was
                # handed out: nothing was sent; the pool finds another.
                raise ConnectionNotAvailable("the server lowered its stream limit") from None
            self.stream_id = stream_id
            self._sending = has_body
            conn._streams[stream_id] = self
            await conn._out.flush()
            if body:
                await self._send_body(body)
            elif stream is not None:
                await self._send_stream(stream)
            if has_body and not self._stream_closed_remotely():
                h2conn.end_stream(stream_id)
                self._sending = False
                await conn._out.flush()
            while self._head is None:
                if self._error is not None:
                    raise self._error
                self._event.clear()
                await self._event.wait()
            return _response_head(self._head)
        except h2.exceptions.ProtocolError as exc:
            await self._release(False)
            raise RequestNotSendable(str(exc)) from exc
        except BaseException:
            await self._release(False)
            raise

    async def _send_stream(self, stream: AsyncIterator[bytes]) -> None:
        try:
            # (The source's own failure leaves as BodySourceFailed.)
            while (piece := await next_piece(stream)) is not None:
                if piece:
                    await self._send_body(piece)
                if self._stream_closed_remotely():
                    break  # answered already (or failed): the rest is not wanted
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()

    def _stream_closed_remotely(self) -> bool:
        return self._ended or self._error is not None

    async def _send_body(self, data: bytes) -> None:
        # What the peer's windows allow, in frames it accepts; then wait for
        # its WINDOW_UPDATE (which the reader sees and wakes us for).
        conn = self._conn
        h2conn = conn._h2
        stream_id = self.stream_id
        view = memoryview(data)
        while view:
            if self._error is not None:
                if isinstance(self._error, StreamRefused | PeerClosedEarly):
                    raise self._error
                if self._head is not None:
                    return  # the answer came; the rest of the body is not wanted
                raise self._error
            if self._ended or (self._head is not None and self._stream_reset()):
                return
            try:
                window = h2conn.local_flow_control_window(stream_id)
            except h2.exceptions.StreamClosedError:
                return  # the server ended the stream: its answer is what counts
            if window <= 0:
                waiter = conn._window
                await waiter.wait()
                continue
            size = min(window, h2conn.max_outbound_frame_size, len(view))
            h2conn.send_data(stream_id, view[:size].tobytes())
            view = view[size:]
            await conn._out.flush()
            await conn._out.wait_for_room()

    def _stream_reset(self) -> bool:
        try:
            self._conn._h2.local_flow_control_window(self.stream_id)
        except h2.exceptions.StreamClosedError:
            return True
        return False

    # -- the body ----------------------------------------------------------

    async def _next_chunk(self) -> bytes:
        while True:
            chunks = self._chunks
            if chunks:
                data, size = chunks.popleft()
                self._unacked -= size
                conn = self._conn
                conn._ack(size, self.stream_id)
                await conn._out.flush()
                if data:
                    return data
                continue
            if self._ended:
                return b""
            if self._error is not None:
                raise self._error
            self._event.clear()
            await self._event.wait()

    async def receive_data(self, at_end: Callable[[], object] | None = None) -> bytes:
        """The next piece of the body, or ``b""`` once the response is complete.

        At the end the stream is released; on any failure or cancellation it
        is reset (and its unread bytes given back to the connection window).
        """
        try:
            data = await self._next_chunk()
            if not data and at_end is not None:
                at_end()
        except BaseException as exc:
            await self._fail(exc)
        if not data:
            await self._release(True)
        return data

    def body_in_hand(self) -> bool:
        """Whether the stream has ended: what is left of the body is in memory."""
        return self._ended

    async def read_all(self, limit: int | None = None) -> bytes:
        """The rest of the body, at most *limit* bytes; then the stream is released."""
        chunks = []
        total = 0
        try:
            while True:
                data = await self._next_chunk()
                if not data:
                    break
                total += len(data)
                if limit is not None and total > limit:
                    raise BodyOverLimit(f"response body exceeds {limit} bytes (max_body_size)")
                chunks.append(data)
        except BaseException as exc:
            await self._fail(exc)
        await self._release(True)
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def _fail(self, exc: BaseException) -> NoReturn:
        break_trap_cycle(exc)  # a cancellation mid-body: see trap_cycles
        await self._release(False)
        try:
            raise exc
        finally:
            del exc  # see _boundary.reraise

    async def abort(self) -> None:
        """End the exchange without reading further (the stream is reset)."""
        await self._release(False)

    async def stop_reading(self) -> None:
        """As :meth:`abort`: a stream costs nothing to reset, its connection lives on."""
        await self._release(False)

    async def _release(self, clean: bool) -> None:
        # The one place an exchange ends; the connection does what that
        # takes of it (HTTP2Connection._end_stream).
        if self._released:
            return
        self._released = True
        await self._conn._end_stream(self, clean)


def _response_head(fields: list[tuple[bytes, bytes]]) -> tuple[h11.Response, ResponseHeaders]:
    status = b""
    triples = []
    for name, value in fields:
        if name[:1] == b":":
            if name == b":status":
                status = value
            continue
        triples.append((name, name, value))
    if not (len(status) == 3 and status.isdigit()):
        raise ProtocolViolation(f"bad :status {status!r}")
    head = h11.Response(
        status_code=int(status), headers=_EMPTY_HEADERS, reason=b"", http_version=b"2"
    )
    return head, ResponseHeaders._lazy(triples)


def _code_name(code: int) -> str:
    try:
        return h2.errors.ErrorCodes(code).name
    except ValueError:
        return f"error code {code}"
