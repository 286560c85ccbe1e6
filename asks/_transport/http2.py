"""One HTTP/2 connection: an ``h2`` state machine over one curio stream.

Many requests share the connection at once, each on its own stream
(:class:`HTTP2Exchange`, which quacks like an HTTP/1.1 connection to the
session: ``handle``, ``receive_data``, ``read_all``, ``abort``). Two tasks
belong to the connection, started when it opens and ended by its close:

* the **reader**: curio allows one reader per socket, so every frame is read
  here and handed to its stream (head, data, end, reset), and h2's own
  answers (SETTINGS and PING acknowledgements) are queued;
* the **writer**: every byte leaves through it, in the order h2 produced
  it. A request task that is cancelled never stops in the middle of a frame,
  so the byte stream stays whole whoever is cancelled (a cancelled
  ``sendall`` would otherwise cut a frame in two).

Flow control (RFC 9113 section 5.2) follows the caller: received DATA is
acknowledged when the caller takes it, so a slow reader slows the server
instead of filling memory; a stream closed early is reset with
``RST_STREAM(CANCEL)`` and what it held unread is given back to the
connection window (otherwise abandoned responses shrink the window until
every stream stalls). Uploads send what the peer's windows allow and wait
for its WINDOW_UPDATEs, which only the reader sees.

GOAWAY (RFC 9113 section 6.8): streams at or below ``last_stream_id`` may
still finish; those above it were never processed and are refused (the
transport sends them again, on another connection, whatever the method).
h2 moves its whole state machine to CLOSED on any GOAWAY, so the frames that
still come for the finishing streams would raise; :func:`_survive_goaway`
puts it back, and the connection takes no new stream.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import ssl
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, NoReturn

import curio
import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings
import h2.stream
import h11
import hyperframe.frame

from .._headers import ResponseHeaders
from .backend import AnyStream, closed_while_read
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
    from .sharing import SharingPool

__all__ = ["HTTP2Connection", "HTTP2Exchange"]

# Our receive windows. The RFC's 65,535 bytes per stream and per connection
# cap a download at one window per round trip; 1 MiB per stream and 16 MiB
# for the connection keep a fast link busy while bounding what one slow
# reader can leave buffered (one stream window).
_STREAM_WINDOW = 1 << 20
_CONNECTION_WINDOW = 1 << 24
# A server whose SETTINGS name no stream limit allows this many; RFC 9113
# section 6.5.2 recommends servers allow at least 100. Before its first
# SETTINGS arrive only the stream of the request that opened the connection
# goes out, so a burst of requests never opens more streams than a server
# with a lower limit allows (it would refuse the rest).
_ASSUMED_STREAMS = 100
# An upload waits while this much is queued for the writer, so a fast
# producer cannot fill memory ahead of a slow socket.
_HIGH_WATER = 1 << 20
_READ_SIZE = 65536

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


# Statuses defined to have no content (RFC 9110 sections 15.3.5, 15.4.5).
_BODILESS = frozenset({b"204", b"304"})


class _Stream(h2.stream.H2Stream):
    """h2's stream, which knows that a 204 or 304 has no content whatever its length says.

    RFC 9113 section 8.1.1: a response defined to have no content can carry
    a non-zero content-length (a 304 names the length of the representation
    it stands for, RFC 9110 section 8.6). h2 excuses only the response to
    HEAD and counts the rest against the length: a server that ends such a
    response with an empty DATA frame (hypercorn does) was an
    InvalidBodyLengthError, a ProtocolError of the whole connection, which
    failed every stream on it. Here, as for HEAD, no content is expected.
    """

    __slots__ = ()

    def _initialize_content_length(self, headers: Any) -> None:
        super()._initialize_content_length(headers)
        if self._expected_content_length:
            for name, value in headers:
                if name == b":status":
                    if value in _BODILESS:
                        self._expected_content_length = 0
                    break


class _H2Connection(h2.connection.H2Connection):
    def _begin_new_stream(
        self, stream_id: int, allowed_ids: h2.connection.AllowedStreamIDs
    ) -> h2.stream.H2Stream:
        stream = super()._begin_new_stream(stream_id, allowed_ids)
        stream.__class__ = _Stream
        return stream


def _survive_goaway(conn: h2.connection.H2Connection, keep: bytearray) -> None:
    """Let the streams a GOAWAY spares finish, whatever the h2 4.x release.

    h2 moves its state machine to CLOSED on any GOAWAY and drops what it had
    queued to send; every later frame then raises ProtocolError, even one
    read in the same ``receive_data`` call as the GOAWAY (a server's GOAWAY
    and the rest of its responses often arrive together). RFC 9113 section
    6.8 lets the streams at or below ``last_stream_id`` complete, so h2's
    GOAWAY handler is wrapped: what h2 had queued goes to *keep* (the
    writer's buffer) first, and the state machine is open again before the
    next frame. No stream is started on a connection that got a GOAWAY.
    """
    table = conn._frame_dispatch_table
    receive_goaway = table[hyperframe.frame.GoAwayFrame]

    def receive(frame: hyperframe.frame.GoAwayFrame) -> Any:
        keep.extend(conn.data_to_send())
        result = receive_goaway(frame)
        conn.state_machine.state = h2.connection.ConnectionState.CLIENT_OPEN
        return result

    table[hyperframe.frame.GoAwayFrame] = receive


class _FrameLengths:
    """Frame boundaries in what the server sends, to refuse an overlong frame early.

    h2 checks a frame's length against SETTINGS_MAX_FRAME_SIZE only once
    the whole frame is in, so garbage whose first bytes read as a header
    announcing megabytes (RFC 9113 section 4.2: a FRAME_SIZE_ERROR) would
    leave every stream waiting for bytes that never come. This follows the
    9-byte frame headers across reads and says no as soon as one is in.
    """

    __slots__ = ("_head", "_skip", "overlong")

    def __init__(self) -> None:
        self._skip = 0  # bytes of the current frame's payload still to come
        self._head = b""  # the start of a frame header split across reads
        self.overlong = 0  # the length announced by the overlong frame

    def feed(self, data: bytes, limit: int) -> bool:
        """Take the next bytes read; False when a frame header announces over *limit*."""
        size = len(data)
        at = self._skip
        if self._head:
            taken = 9 - len(self._head)
            head = self._head + data[:taken]
            if len(head) < 9:
                self._head = head
                return True
            self._head = b""
            length = int.from_bytes(head[:3], "big")
            if length > limit:
                self.overlong = length
                return False
            at = taken + length
        while at + 9 <= size:
            length = int.from_bytes(data[at : at + 3], "big")
            if length > limit:
                self.overlong = length
                return False
            at += 9 + length
        if at < size:
            self._head = data[at:]
            self._skip = 0
        else:
            self._skip = at - size
        return True


class HTTP2Connection:
    """A client HTTP/2 connection to one origin, shared by concurrent requests.

    Args:
        stream: the connected byte stream (TLS with ALPN ``h2``, or h2c).
        pool_key: what the pool files it under.
        scheme: ``b"https"`` or ``b"http"`` (the ``:scheme`` of requests).
        max_head_size: the most bytes of response headers (sent to the
            server as SETTINGS_MAX_HEADER_LIST_SIZE, enforced on receipt).
        keepalive_expiry: seconds it may sit idle and still be reused.
        pool: told when streams end (None: closed when idle, in tests).
    """

    multiplexed = True

    def __init__(
        self,
        stream: AnyStream,
        pool_key: object,
        scheme: bytes,
        max_head_size: int,
        keepalive_expiry: float = 5.0,
        pool: SharingPool[Any] | None = None,
    ) -> None:
        self._stream = stream
        self.pool_key = pool_key
        self.scheme = scheme
        self._expiry = keepalive_expiry
        self._pool = pool
        self._max_head_size = max_head_size
        config = h2.config.H2Configuration(
            client_side=True,
            header_encoding=None,
            validate_outbound_headers=False,
            normalize_outbound_headers=False,
            validate_inbound_headers=True,
        )
        self._h2 = _H2Connection(config=config)
        self._outbuf = bytearray()
        _survive_goaway(self._h2, self._outbuf)
        self._streams: dict[int, HTTP2Exchange] = {}
        # Streams handed out (claimed), open or about to be; a new connection
        # comes claimed for the request that opened it.
        self._active = 1
        self._max_streams = 1  # until the server's SETTINGS say more
        self._settings_seen = False
        self._goaway: int | None = None  # last_stream_id of a GOAWAY
        self._exhausted = False  # no stream ID left
        self._draining = False  # close once the last stream ends
        self._error: BaseException | None = None  # what ended the connection
        self._closed = False
        self._want_write = curio.Event()
        self._drained = curio.Event()
        self._window = curio.Event()  # set (and replaced) on any window change
        self._reader: curio.Task | None = None
        self._writer: curio.Task | None = None
        self.completed = 0  # streams finished: the connection counts as reused
        self.idle_since = time.monotonic()

    def __repr__(self) -> str:
        return f"<HTTP2Connection {self.pool_key!r} {self._active} streams>"

    async def start(self) -> None:
        """Send the connection preface and our settings; start the reader and writer."""
        conn = self._h2
        conn.local_settings = h2.settings.Settings(
            client=True,
            initial_values={
                h2.settings.SettingCodes.ENABLE_PUSH: 0,
                h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 100,
                h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: _STREAM_WINDOW,
                h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE: self._max_head_size,
            },
        )
        # h2 applies MAX_HEADER_LIST_SIZE to its decoder only when an ACK
        # changes it, and settings given as initial values never change: the
        # limit is set here. Our SETTINGS go first, so the server knows it
        # before it answers anything (RFC 9113 section 6.5.2).
        conn.decoder.max_header_list_size = self._max_head_size
        conn.initiate_connection()
        conn.increment_flow_control_window(_CONNECTION_WINDOW - 65535)
        await self._stream.send(conn.data_to_send())
        self._reader = await curio.spawn(self._read_loop, daemon=True)
        self._writer = await curio.spawn(self._write_loop, daemon=True)

    # -- what the pool asks -------------------------------------------------

    def is_available(self) -> bool:
        """Whether it can take one more stream now."""
        return (
            self._active < self._max_streams
            and self._goaway is None
            and self._error is None
            and not (self._exhausted or self._draining or self._closed)
        )

    def is_idle(self) -> bool:
        return self._active == 0

    def is_closed(self) -> bool:
        return self._closed

    def is_finished(self) -> bool:
        """Whether it will never take another stream (GOAWAY, failure, closing)."""
        return (
            self._goaway is not None
            or self._error is not None
            or self._exhausted
            or self._draining
            or self._closed
        )

    def has_expired(self, now: float) -> bool:
        """Finished, idle past its keep-alive expiry, idle with bytes unread,
        or idle on a server that allows it no stream.

        The reader takes every byte as soon as it runs; bytes still waiting
        on an idle connection mean the server just said something the
        reader has not seen yet - often the EOF of a connection it closed
        (then a request sent on it would fail). As for an idle HTTP/1.1
        connection, it is not reused.
        """
        if self.is_finished():
            return True
        if self._active == 0 and self._max_streams == 0:
            # The server allows no stream at all (SETTINGS_MAX_CONCURRENT_STREAMS
            # 0, RFC 9113 section 6.5.2: meant to be brief; a server that wants
            # no requests closes). Handed out, h2 would refuse the stream and
            # the request would come straight back for it, never waiting: a
            # new connection serves it instead.
            return True
        return self._active == 0 and (
            now - self.idle_since > self._expiry or self._stream.is_readable()
        )

    def claim(self) -> None:
        """One more stream is handed out (the pool checked :meth:`is_available`)."""
        self._active += 1

    def close_after_cycle(self) -> None:
        # The streams in progress finish; then the pool closes it.
        self._draining = True

    async def unclaim(self) -> None:
        """A stream handed out is given back unused (its waiter was cancelled)."""
        self._active -= 1
        if self._pool is not None:
            await self._pool.stream_released(self)

    def exchange(self) -> HTTP2Exchange:
        """The per-request side of a claimed stream."""
        return HTTP2Exchange(self)

    # -- writing -----------------------------------------------------------

    async def _flush(self) -> None:
        """Queue what h2 has to send for the writer."""
        data = self._h2.data_to_send()
        if data:
            self._outbuf += data
            await self._want_write.set()

    async def _write_loop(self) -> None:
        outbuf = self._outbuf
        try:
            while True:
                # Cleared before looking, so a flush in between is never missed.
                self._want_write.clear()
                if not outbuf:
                    await self._drained.set()
                    await self._want_write.wait()
                    continue
                self._drained.clear()
                data = bytes(outbuf)
                outbuf.clear()
                await self._stream.send(data)
        except curio.CancelledError as exc:
            self._orphaned(exc)
            raise
        except Exception as exc:
            await self._fail(exc)

    async def _wait_for_room(self) -> None:
        # Back-pressure for uploads: wait until the writer caught up. The
        # event may still be set from the last time the writer ran dry, and
        # waiting on a set event does not yield: cleared first, or an upload
        # over _HIGH_WATER spins here and the writer never gets to run.
        while len(self._outbuf) > _HIGH_WATER and self._error is None:
            self._drained.clear()
            await self._drained.wait()

    # -- reading -----------------------------------------------------------

    async def _read_loop(self) -> None:
        conn = self._h2
        stream = self._stream
        first = True
        frames = _FrameLengths()
        try:
            while True:
                try:
                    data = await stream.receive(_READ_SIZE)
                except ssl.SSLEOFError:
                    # TCP closed without a TLS close_notify, as servers drop
                    # idle connections: the server's close, as over HTTP/1.1
                    # (whose streams each tell "before their answer" apart).
                    data = b""
                if not data:
                    raise PeerClosedEarly(before_response=True)
                if first:
                    first = False
                    if data.startswith(b"HTTP/"):
                        status = data.split(b"\r\n", 1)[0][:80].decode("ascii", "replace")
                        raise ProtocolViolation(
                            f"the server answered in HTTP/1.x ({status!r}): it does not "
                            "speak HTTP/2 without TLS (http2='prior-knowledge')"
                        )
                if not frames.feed(data, conn.max_inbound_frame_size):
                    conn.close_connection(h2.errors.ErrorCodes.FRAME_SIZE_ERROR)
                    await self._flush()
                    raise ProtocolViolation(
                        f"HTTP/2 frame of {frames.overlong} bytes, over the "
                        f"{conn.max_inbound_frame_size} allowed (SETTINGS_MAX_FRAME_SIZE)"
                    )
                try:
                    events = conn.receive_data(data)
                except h2.exceptions.ProtocolError as exc:
                    # h2 queued a GOAWAY naming the error: send it on the way out.
                    await self._flush()
                    raise ProtocolViolation(f"HTTP/2 protocol error: {exc}") from exc
                for event in events:
                    await self._dispatch(event)
                await self._flush()
        except curio.CancelledError as exc:
            self._orphaned(exc)
            raise
        except Exception as exc:
            await self._fail(exc)

    async def _dispatch(self, event: Any) -> None:  # an h2.events.Event
        kind = type(event)
        if kind is h2.events.DataReceived:
            ex = self._streams.get(event.stream_id)
            if ex is None:
                # A stream we gave up on: its bytes still count against the
                # connection window; give them back.
                self._ack(event.flow_controlled_length, event.stream_id)
            else:
                await ex._on_data(event.data, event.flow_controlled_length)
        elif kind is h2.events.ResponseReceived:
            ex = self._streams.get(event.stream_id)
            if ex is not None:
                await ex._on_head(event.headers)
        elif kind is h2.events.StreamEnded:
            ex = self._streams.get(event.stream_id)
            if ex is not None:
                await ex._on_end()
                if ex._sending:
                    # RFC 9113 section 8.1: a complete response may come
                    # before the request body is all sent; an upload waiting
                    # for a window the server will now never open stops.
                    await self._wake_senders()
        elif kind is h2.events.StreamReset:
            ex = self._streams.get(event.stream_id)
            if ex is not None:
                await ex._on_reset(event.error_code)
            await self._wake_senders()
        elif kind is h2.events.WindowUpdated:
            await self._wake_senders()
        elif kind is h2.events.RemoteSettingsChanged:
            changed = event.changed_settings.get(h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS)
            if changed is not None or not self._settings_seen:
                # The first SETTINGS (RFC 9113 section 3.4: the server's
                # preface) sets the limit, named or not; later ones change it.
                self._settings_seen = True
                before = self._max_streams
                self._max_streams = _ASSUMED_STREAMS if changed is None else changed.new_value
                if self._max_streams > before and self._pool is not None:
                    await self._pool.streams_freed(self)
            if h2.settings.SettingCodes.INITIAL_WINDOW_SIZE in event.changed_settings:
                await self._wake_senders()
        elif kind is h2.events.ConnectionTerminated:
            await self._on_goaway(event.error_code, event.last_stream_id)
        # PING is acknowledged by h2 itself (the answer leaves with the next
        # flush); 1xx heads, trailers, priorities and unknown frames need
        # nothing from us.

    async def _on_goaway(self, error_code: int | None, last_stream_id: int | None) -> None:
        # What h2 had queued before the GOAWAY is in the writer's buffer.
        await self._want_write.set()
        last = last_stream_id if last_stream_id is not None else 0
        self._goaway = last
        refused = False
        for stream_id, ex in list(self._streams.items()):
            if stream_id > last:
                # Never processed (RFC 9113 section 6.8): safe to send again.
                await ex._on_refused("the server sent GOAWAY before processing the request")
                refused = True
        if refused:
            # An upload of a refused stream may be waiting for a window the
            # server will never open: it stops now and is sent again.
            await self._wake_senders()
        if self._pool is not None:
            await self._pool.connection_finished(self)
        if not self._streams:
            await self._maybe_close_idle()

    async def _wake_senders(self) -> None:
        event, self._window = self._window, curio.Event()
        await event.set()

    def _ack(self, size: int, stream_id: int) -> None:
        if size:
            self._h2.acknowledge_received_data(size, stream_id)

    async def _fail(self, exc: BaseException) -> None:
        """The connection is done for: every stream gets *exc*."""
        if self._error is None:
            self._error = exc
        for ex in list(self._streams.values()):
            # A copy per stream: one exception object raised in many tasks
            # gathers every task's traceback into one chain, which keeps all
            # their frames alive and tells each caller of the others' calls.
            await ex._on_error(copy.copy(exc))
        await self._wake_senders()
        await self._drained.set()
        if self._pool is not None:
            await self._pool.connection_finished(self)
        await self._maybe_close_idle()

    def _orphaned(self, exc: curio.CancelledError) -> None:
        # The reader or writer was cancelled: by close(), or by the end of the
        # kernel it ran in (curio cancels the tasks left at shutdown). A session
        # used by one curio.run after another would otherwise hand the next
        # kernel a connection nobody reads or writes, and its request would
        # wait forever: it is finished, and the pool retires it. It leaves the
        # shared list now (no await: the task is being cancelled), so requests
        # of its key no longer wait for a stream of it while a stream the
        # caller still holds keeps it open.
        if self._error is None:
            self._error = exc
        if self._pool is not None:
            self._pool.unshare(self)

    async def _maybe_close_idle(self) -> None:
        # A finished connection with no stream left goes: the pool files
        # it as idle (and retires it as expired) or it has none.
        if self._active == 0 and self._pool is None:
            await self.close()

    # -- streams ending ------------------------------------------------------

    async def _stream_done(self, ex: HTTP2Exchange, clean: bool) -> None:
        self._streams.pop(ex.stream_id, None)
        if clean:
            self.completed += 1
        self._active -= 1
        if self._active == 0:
            self.idle_since = time.monotonic()
        if self._pool is not None:
            await self._pool.stream_released(self)
        elif self._active == 0 and (self.is_finished() or not clean):
            await self.close()

    async def close(self) -> None:
        """Close the socket and end both tasks; safe to call twice, and under cancellation."""
        if self._closed:
            return
        self._closed = True
        async with curio.disable_cancellation():
            me = await curio.current_task()
            for task in (self._reader, self._writer):
                if task is not None and task is not me:
                    # Waited for, so no task outlives its connection; either
                    # task may be the one closing, and goes on to its end.
                    await task.cancel()
            for ex in list(self._streams.values()):
                await ex._on_error(PeerClosedEarly(before_response=not ex.response_started))
            await self._stream.close()


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

    def __init__(self, conn: HTTP2Connection) -> None:
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
        self._event = curio.Event()
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
            await conn._flush()
            if body:
                await self._send_body(body)
            elif stream is not None:
                await self._send_stream(stream)
            if has_body and not self._stream_closed_remotely():
                h2conn.end_stream(stream_id)
                self._sending = False
                await conn._flush()
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
            await conn._flush()
            await conn._wait_for_room()

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
                await conn._flush()
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
        # The one place an exchange ends. A stream that did not end cleanly
        # is reset, and whatever it received but nobody read goes back to
        # the connection window (RFC 9113 section 6.9). So is one whose
        # response came complete while its body was still going out (RFC
        # 9113 section 8.1): we never sent END_STREAM, and half-closed it
        # would count against MAX_CONCURRENT_STREAMS for good (section 5.1.2).
        if self._released:
            return
        self._released = True
        conn = self._conn
        async with curio.disable_cancellation():
            if not clean and self._error is None:
                # Another task may be waiting for the body (a watchdog closed
                # the response it reads): it wakes to an error, as over
                # HTTP/1.1, instead of waiting for data that will not come.
                self._error = closed_while_read()
                await self._wake()
            if self.stream_id:
                unfinished = self._sending or not (clean and self._ended)
                if unfinished and not conn._closed and conn._error is None:
                    # (h2 refuses if the stream or the connection ended already.)
                    with contextlib.suppress(h2.exceptions.ProtocolError):
                        conn._h2.reset_stream(self.stream_id, h2.errors.ErrorCodes.CANCEL)
                if self._unacked and conn._error is None and not conn._closed:
                    with contextlib.suppress(h2.exceptions.ProtocolError):
                        conn._h2.acknowledge_received_data(self._unacked, self.stream_id)
                    self._unacked = 0
                self._chunks.clear()
                if not conn._closed:
                    await conn._flush()
            await conn._stream_done(self, clean and self._ended)


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
