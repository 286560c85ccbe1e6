"""One HTTP/2 connection: an ``h2`` state machine over one curio stream.

Many requests share the connection at once, each on its own stream
(:class:`~.http2_exchange.HTTP2Exchange`, which quacks like an HTTP/1.1
connection to the session: ``handle``, ``receive_data``, ``read_all``,
``abort``). The h2 state machine itself, as asks configures and corrects
it, is :mod:`.http2_engine`. Two tasks belong to the connection, started
when it opens and ended by its close:

* the **reader** (:mod:`.http2_reader`): curio allows one reader per
  socket, so every frame is read there and handed here to its stream (head,
  data, end, reset), and h2's own answers (SETTINGS and PING
  acknowledgements) are queued;
* the **writer** (:mod:`.http2_writer`): every byte leaves through it, in
  the order h2 produced it. A request task that is cancelled never stops in
  the middle of a frame, so the byte stream stays whole whoever is cancelled
  (a cancelled ``sendall`` would otherwise cut a frame in two).

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
still come for the finishing streams would raise; :func:`~.http2_engine.survive_goaway`
puts it back, and the connection takes no new stream.
"""

from __future__ import annotations

import contextlib
import copy
import time
from typing import TYPE_CHECKING, Any

import curio
import h2.errors
import h2.events
import h2.exceptions
import h2.settings

from .backend import AnyStream, closed_while_read
from .http2_engine import ASSUMED_STREAMS, new_engine, preface, survive_goaway
from .http2_exchange import HTTP2Exchange
from .http2_reader import FrameReader
from .http2_writer import FrameWriter
from .interfaces import PeerClosedEarly

if TYPE_CHECKING:
    from .sharing import SharingPool

__all__ = ["HTTP2Connection"]


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
        self._h2 = new_engine()
        self._out = FrameWriter(stream, self._h2, lambda: self._error is not None)
        survive_goaway(self._h2, self._out.buffer)
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
        self._window = curio.Event()  # set (and replaced) on any window change
        self._reader: curio.Task | None = None
        self._writer_task: curio.Task | None = None
        self.completed = 0  # streams finished: the connection counts as reused
        self.idle_since = time.monotonic()

    def __repr__(self) -> str:
        return f"<HTTP2Connection {self.pool_key!r} {self._active} streams>"

    async def start(self) -> None:
        """Send the connection preface and our settings; start the reader and writer."""
        await self._stream.send(preface(self._h2, self._max_head_size))
        self._reader = await curio.spawn(self._read_loop, daemon=True)
        self._writer_task = await curio.spawn(self._write_loop, daemon=True)

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
        return HTTP2Exchange(self, curio.Event())

    # -- writing -----------------------------------------------------------

    async def _write_loop(self) -> None:
        try:
            await self._out.run()
        except curio.CancelledError as exc:
            self._orphaned(exc)
            raise
        except Exception as exc:
            await self._fail(exc)

    # -- reading -----------------------------------------------------------

    async def _read_loop(self) -> None:
        reader = FrameReader(self._stream, self._h2, self._out)
        try:
            while True:
                for event in await reader.receive():
                    await self._dispatch(event)
                await self._out.flush()
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
                self._max_streams = ASSUMED_STREAMS if changed is None else changed.new_value
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
        await self._out.wake()
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
        await self._out.release_waiters()
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

    async def _end_stream(self, ex: HTTP2Exchange, clean: bool) -> None:
        """End the stream of *ex*: called once, by ``HTTP2Exchange._release``."""
        # A stream that did not end cleanly is reset, and whatever it
        # received but nobody read goes back to the connection window (RFC
        # 9113 section 6.9). So is one whose response came complete while
        # its body was still going out (RFC 9113 section 8.1): we never sent
        # END_STREAM, and half-closed it would count against
        # MAX_CONCURRENT_STREAMS for good (section 5.1.2).
        async with curio.disable_cancellation():
            if not clean and ex._error is None:
                # Another task may be waiting for the body (a watchdog closed
                # the response it reads): it wakes to an error, as over
                # HTTP/1.1, instead of waiting for data that will not come.
                ex._error = closed_while_read()
                await ex._wake()
            if ex.stream_id:
                unfinished = ex._sending or not (clean and ex._ended)
                if unfinished and not self._closed and self._error is None:
                    # (h2 refuses if the stream or the connection ended already.)
                    with contextlib.suppress(h2.exceptions.ProtocolError):
                        self._h2.reset_stream(ex.stream_id, h2.errors.ErrorCodes.CANCEL)
                if ex._unacked and self._error is None and not self._closed:
                    with contextlib.suppress(h2.exceptions.ProtocolError):
                        self._h2.acknowledge_received_data(ex._unacked, ex.stream_id)
                    ex._unacked = 0
                ex._chunks.clear()
                if not self._closed:
                    await self._out.flush()
            await self._stream_done(ex, clean and ex._ended)

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
            for task in (self._reader, self._writer_task):
                if task is not None and task is not me:
                    # Waited for, so no task outlives its connection; either
                    # task may be the one closing, and goes on to its end.
                    await task.cancel()
            for ex in list(self._streams.values()):
                await ex._on_error(PeerClosedEarly(before_response=not ex.response_started))
            await self._stream.close()
