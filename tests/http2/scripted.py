"""A scripted HTTP/2 server on curio, written with h2, for what real servers will not do.

Real servers refuse streams, reset them mid-body, lower their stream limit,
send GOAWAY or garbage only when they feel like it. This one does it when a
test says so. It listens on 127.0.0.1 port 0, speaks h2c (the client uses
``Session(http2="prior-knowledge")``) or TLS with ALPN ``h2``, and hands
every request to the test's handler, a coroutine that gets the request's
:class:`ServerStream` and answers, resets, or drives the connection
(:class:`ServerConnection`: GOAWAY, PING, SETTINGS, raw bytes).

Everything the server sees is recorded (requests, resets, PING
acknowledgements, settings acknowledgements, connections closed by the
client, the most streams open at once) and every change wakes
:meth:`H2Server.wait_until`, so a test waits for what it needs, never for a
length of time.

Usage::

    async def handler(stream: ServerStream) -> None:
        await stream.read_body()
        await stream.respond(200, b"hello")

    server = await h2_server(handler)            # the fixture (conftest.py)
    async with asks.Session(server.url, http2="prior-knowledge") as s:
        r = await s.get(path="/")
    await server.wait_until(lambda: server.closed_connections == 1)
"""

from __future__ import annotations

import contextlib
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import curio
import curio.io
import curio.socket
import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings
import hyperframe.frame

__all__ = ["H2Server", "Handler", "ServerConnection", "ServerStream"]

LOOPBACK = "127.0.0.1"
_READ_SIZE = 65536

Handler = Callable[["ServerStream"], Awaitable[None]]
RawHandler = Callable[[curio.io.Socket], Awaitable[None]]


class ServerStream:
    """One request as the server sees it, and the means to answer it.

    Attributes:
        conn: the connection it came on.
        stream_id: its HTTP/2 stream ID.
        headers: the request's header fields, pseudo-headers included.
        body: what arrived of the request body so far.
        ended: the client ended its side (END_STREAM).
        reset_code: the client's RST_STREAM error code, if it sent one.
    """

    def __init__(self, conn: ServerConnection, stream_id: int, headers: list[Any]) -> None:
        self.conn = conn
        self.stream_id = stream_id
        self.headers: list[tuple[bytes, bytes]] = [(bytes(n), bytes(v)) for n, v in headers]
        self.body = bytearray()
        self.ended = False
        self.reset_code: int | None = None
        self.closed = False  # both sides done or reset

    def header(self, name: bytes) -> bytes | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None

    @property
    def method(self) -> bytes:
        return self.header(b":method") or b""

    @property
    def path(self) -> bytes:
        return self.header(b":path") or b""

    async def read_body(self) -> bytes:
        """Wait for the end of the request body (or a reset); the body so far."""
        await self.conn.server.wait_until(lambda: self.ended or self.reset_code is not None)
        return bytes(self.body)

    async def wait_reset(self) -> int:
        """Wait for the client's RST_STREAM; its error code."""
        await self.conn.server.wait_until(lambda: self.reset_code is not None)
        assert self.reset_code is not None
        return self.reset_code

    async def send_headers(
        self,
        status: int = 200,
        headers: Iterable[tuple[bytes, bytes]] = (),
        end_stream: bool = False,
    ) -> None:
        fields = [(b":status", str(status).encode()), *headers]
        self.conn.h2.send_headers(self.stream_id, fields, end_stream=end_stream)
        await self.conn.flush()

    async def send_data(self, data: bytes, end_stream: bool = False) -> None:
        """Send *data* as the client's windows allow (waiting for WINDOW_UPDATEs)."""
        conn = self.conn
        h2conn = conn.h2
        view = memoryview(data)
        while view:
            window = min(h2conn.local_flow_control_window(self.stream_id), len(view))
            if window <= 0:
                await conn.wait_window()
                continue
            size = min(window, h2conn.max_outbound_frame_size)
            h2conn.send_data(self.stream_id, view[:size].tobytes())
            view = view[size:]
            await conn.flush()
        if end_stream:
            h2conn.end_stream(self.stream_id)
            await conn.flush()

    async def respond(
        self, status: int = 200, body: bytes = b"", headers: Iterable[tuple[bytes, bytes]] = ()
    ) -> None:
        """A whole response: head, body, end of stream."""
        fields = [*headers, (b"content-length", str(len(body)).encode())]
        await self.send_headers(status, fields, end_stream=not body)
        if body:
            await self.send_data(body, end_stream=True)

    async def reset(self, code: int = h2.errors.ErrorCodes.INTERNAL_ERROR) -> None:
        self.conn.h2.reset_stream(self.stream_id, code)
        await self.conn.flush()

    async def grant(self, size: int) -> None:
        """WINDOW_UPDATE of *size* for this stream (the connection's own window aside)."""
        self.conn.h2.increment_flow_control_window(size, self.stream_id)
        await self.conn.flush()


class ServerConnection:
    """One accepted connection: its h2 state machine and what it saw.

    Attributes:
        number: 0 for the first connection the server accepted, 1 for the next...
        streams: every stream the client opened, by ID.
        ping_acks: the payloads of PING acknowledgements received.
        settings_acks: SETTINGS acknowledgements received (the first two
            are for the preface's SETTINGS and the test's settings).
        goaway_received: the client's GOAWAY error code, if it sent one.
        max_open: the most streams open at once (after each new stream).
        closed_by_client: the client closed the connection (EOF or reset).
    """

    def __init__(self, server: H2Server, sock: curio.io.Socket, number: int) -> None:
        self.server = server
        self.sock = sock
        self.number = number
        config = h2.config.H2Configuration(client_side=False, header_encoding=None)
        self.h2 = h2.connection.H2Connection(config=config)
        self.streams: dict[int, ServerStream] = {}
        self.ping_acks: list[bytes] = []
        self.settings_acks = 0
        self.goaway_received: int | None = None
        self.max_open = 0
        self.goaway_sent: int | None = None  # last_stream_id of our GOAWAY
        self.ignored: list[int] = []  # streams opened above it, never handled
        # For each new stream: (its ID, streams open with it, settings_acks then).
        self.arrivals: list[tuple[int, int, int]] = []
        self.closed_by_client = False
        self.closed = False
        self._send_lock = curio.Lock()
        self._window = curio.Event()
        self._may_read = curio.Event()
        self._reading = True

    @property
    def open_streams(self) -> int:
        return sum(1 for s in self.streams.values() if not s.closed)

    async def flush(self) -> None:
        """Send what h2 has queued (writers take turns: curio allows one at a time)."""
        async with self._send_lock:
            data = self.h2.data_to_send()
            if data and not self.closed:
                await self.sock.sendall(data)

    async def send_raw(self, data: bytes) -> None:
        """Bytes outside h2 (garbage, a hand-made frame), after what h2 queued."""
        await self.flush()
        async with self._send_lock:
            await self.sock.sendall(data)

    async def goaway(
        self,
        last_stream_id: int | None = None,
        code: int = h2.errors.ErrorCodes.NO_ERROR,
        *,
        with_queued: bool = False,
    ) -> None:
        """Send GOAWAY naming *last_stream_id* (default: the highest stream seen).

        The frame is made by hand: h2's ``close_connection`` would close the
        server's own state machine, and a server that sent GOAWAY still
        finishes the streams at or below ``last_stream_id`` (RFC 9113
        section 6.8). Later streams above it are ignored, as the RFC says.

        Args:
            with_queued: what h2 has queued (responses the handler made
                without flushing) leaves in the same write, after the GOAWAY,
                so the client reads them together.
        """
        if last_stream_id is None:
            last_stream_id = max(self.streams, default=0)
        frame = hyperframe.frame.GoAwayFrame(0)
        frame.last_stream_id = last_stream_id
        frame.error_code = code
        self.goaway_sent = last_stream_id
        if not with_queued:
            await self.flush()
        async with self._send_lock:
            await self.sock.sendall(frame.serialize() + self.h2.data_to_send())

    async def ping(self, data: bytes) -> None:
        self.h2.ping(data)
        await self.flush()

    async def update_settings(self, settings: dict[int, int]) -> None:
        self.h2.update_settings(settings)
        await self.flush()

    def pause_reading(self) -> None:
        """Stop reading the socket (after the read in progress): the client's writes back up."""
        self._reading = False

    async def resume_reading(self) -> None:
        self._reading = True
        event, self._may_read = self._may_read, curio.Event()
        await event.set()

    async def wait_window(self) -> None:
        await self._window.wait()

    async def close(self) -> None:
        """Close the connection (the client sees EOF); its reader ends too.

        A shutdown rather than a close: curio never wakes a task blocked on
        a socket another task closed, and the reader is blocked on it.
        """
        if not self.closed:
            self.closed = True
            with contextlib.suppress(OSError):  # the client went first
                self.sock._socket.shutdown(socket.SHUT_RDWR)

    async def _wake_window(self) -> None:
        event, self._window = self._window, curio.Event()
        await event.set()

    async def serve(self) -> None:
        """Read frames until the client goes; requests go to the handler."""
        server = self.server
        h2conn = self.h2
        # h2's defaults in the preface, then the test's settings in a second
        # SETTINGS frame: h2 enforces those once the client acknowledged
        # them, so streams the client opened before it had read them are
        # not a protocol error (RFC 9113 section 6.5.3).
        h2conn.initiate_connection()
        h2conn.update_settings(server.settings)
        if server.connection_window > 65535:
            h2conn.increment_flow_control_window(server.connection_window - 65535)
        await self.flush()
        try:
            while not self.closed:
                if not self._reading:
                    await self._may_read.wait()
                    continue
                try:
                    data = await self.sock.recv(_READ_SIZE)
                except (ConnectionResetError, BrokenPipeError):
                    data = b""
                if not data:
                    self.closed_by_client = not self.closed
                    break
                for event in h2conn.receive_data(data):
                    await self._dispatch(event)
                await self.flush()
                await server.changed()
        finally:
            await self.close()
            await server.changed()

    async def _dispatch(self, event: Any) -> None:
        server = self.server
        if isinstance(event, h2.events.RequestReceived):
            if self.goaway_sent is not None and event.stream_id > self.goaway_sent:
                self.ignored.append(event.stream_id)
                return
            stream = ServerStream(self, event.stream_id, event.headers)
            self.streams[event.stream_id] = stream
            self.max_open = max(self.max_open, self.open_streams)
            self.arrivals.append((event.stream_id, self.open_streams, self.settings_acks))
            server.requests.append(stream)
            if event.stream_ended is not None:
                stream.ended = True
            await server.spawn_handler(stream)
        elif isinstance(event, h2.events.DataReceived):
            stream = self.streams.get(event.stream_id)
            if stream is not None:
                stream.body += event.data
            size = event.flow_controlled_length
            if size and (server.auto_ack or stream is None):
                self.h2.acknowledge_received_data(size, event.stream_id)
            elif size:
                # The stream's window is the test's (ServerStream.grant);
                # the connection's is given back at once.
                self.h2.increment_flow_control_window(size)
        elif isinstance(event, h2.events.StreamEnded):
            stream = self.streams.get(event.stream_id)
            if stream is not None:
                stream.ended = True
        elif isinstance(event, h2.events.StreamReset):
            stream = self.streams.get(event.stream_id)
            if stream is not None:
                stream.reset_code = event.error_code
                stream.closed = True
                server.resets.append((self.number, event.stream_id, event.error_code))
            await self._wake_window()
        elif isinstance(event, h2.events.WindowUpdated | h2.events.RemoteSettingsChanged):
            await self._wake_window()
        elif isinstance(event, h2.events.PingAckReceived):
            self.ping_acks.append(event.ping_data)
        elif isinstance(event, h2.events.SettingsAcknowledged):
            self.settings_acks += 1
        elif isinstance(event, h2.events.ConnectionTerminated):
            self.goaway_received = event.error_code
        # A stream is closed once both sides ended it.
        stream_id = getattr(event, "stream_id", None)
        stream = self.streams.get(stream_id) if stream_id else None
        if stream is not None and not stream.closed:
            try:
                state = self.h2._get_stream_by_id(stream_id).closed
            except h2.exceptions.StreamClosedError:
                state = True
            stream.closed = state

    def mark_closed_streams(self) -> None:
        """Streams h2 considers closed now (after the server ended its side)."""
        for stream_id, stream in self.streams.items():
            if not stream.closed:
                try:
                    stream.closed = self.h2._get_stream_by_id(stream_id).closed
                except h2.exceptions.StreamClosedError:
                    stream.closed = True


class H2Server:
    """The server: a listener, its connections, and what they saw.

    Args:
        handler: called with each request's :class:`ServerStream` in a task
            of its own (default: read the body, answer ``200`` ``b"ok"``).
        settings: the server's initial SETTINGS (h2 setting codes to values);
            by default MAX_CONCURRENT_STREAMS 100.
        ssl_context: TLS with ALPN ``h2`` instead of h2c.
        auto_ack: give back the window of request bodies as they arrive
            (False: only the connection's; the test opens each stream's
            window itself, ``ServerStream.grant``).
        raw: instead of HTTP/2, hand each accepted socket to this coroutine
            (a server that does not speak HTTP/2 at all).
        connection_window: the server's receive window for the whole
            connection (RFC 9113's initial 65,535 unless larger).
    """

    def __init__(
        self,
        handler: Handler | None = None,
        *,
        settings: dict[int, int] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        auto_ack: bool = True,
        raw: RawHandler | None = None,
        connection_window: int = 65535,
    ) -> None:
        self.handler = handler or answer_ok
        self.settings = {h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 100}
        if settings:
            self.settings.update(settings)
        self.ssl_context = ssl_context
        if ssl_context is not None:
            ssl_context.set_alpn_protocols(["h2"])
        self.auto_ack = auto_ack
        self.raw = raw
        self.connection_window = connection_window
        self.host = LOOPBACK
        self.port = 0
        self.connections: list[ServerConnection] = []
        self.requests: list[ServerStream] = []
        self.resets: list[tuple[int, int, int]] = []  # (connection, stream, code)
        self.accepted = 0
        self.errors: list[BaseException] = []  # raised by handlers or connections
        self._listener: curio.io.Socket | None = None
        self._tasks: set[curio.Task] = set()
        self._sockets: set[curio.io.Socket] = set()
        self._changed = curio.Event()

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://{self.host}:{self.port}"

    @property
    def closed_connections(self) -> int:
        return sum(1 for c in self.connections if c.closed)

    async def changed(self) -> None:
        """Wake every :meth:`wait_until` (a curio Event stays set: hand out a new one)."""
        event, self._changed = self._changed, curio.Event()
        await event.set()

    async def wait_until(self, condition: Callable[[], bool]) -> None:
        """Wait until *condition()* holds; it is looked at after every change.

        The test's deadline bounds the wait.
        """
        while not condition():
            await self._changed.wait()

    async def start(self) -> H2Server:
        listener = curio.socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.bind((LOOPBACK, 0))
            listener.listen(128)
        except BaseException:
            await listener.close()
            raise
        self._listener = listener
        self.port = listener.getsockname()[1]
        await self._spawn(self._accept_loop)
        return self

    async def _spawn(self, func: Callable[..., Awaitable[None]], *args: Any) -> None:
        task = await curio.spawn(self._run, func, *args, daemon=True)
        self._tasks.add(task)

    async def _run(self, func: Callable[..., Awaitable[None]], *args: Any) -> None:
        me = await curio.current_task()
        try:
            await func(*args)
        except curio.TaskCancelled:
            raise
        except (Exception, curio.TaskTimeout) as exc:
            self.errors.append(exc)
            await self.changed()
        finally:
            self._tasks.discard(me)

    async def spawn_handler(self, stream: ServerStream) -> None:
        await self._spawn(self._handle, stream)

    async def _handle(self, stream: ServerStream) -> None:
        try:
            await self.handler(stream)
        except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
            # The client reset the stream, or the connection went: what a
            # test provokes on purpose. Recorded, not a failure of the server.
            if not (stream.closed or stream.conn.closed):
                raise
        finally:
            stream.conn.mark_closed_streams()
            await self.changed()

    async def _accept_loop(self) -> None:
        assert self._listener is not None
        while True:
            sock, _addr = await self._listener.accept()
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._sockets.add(sock)
            self.accepted += 1
            await self._spawn(self._serve, sock)

    async def _serve(self, sock: curio.io.Socket) -> None:
        conn_sock = sock
        try:
            if self.ssl_context is not None:
                tls = self.ssl_context.wrap_socket(
                    sock._socket, server_side=True, do_handshake_on_connect=False
                )
                conn_sock = curio.io.Socket(tls)
                self._sockets.discard(sock)
                self._sockets.add(conn_sock)
                await conn_sock.do_handshake()
            if self.raw is not None:
                await self.raw(conn_sock)
                return
            conn = ServerConnection(self, conn_sock, len(self.connections))
            self.connections.append(conn)
            await self.changed()
            await conn.serve()
        finally:
            await conn_sock.close()
            self._sockets.discard(conn_sock)
            await self.changed()

    async def aclose(self) -> None:
        """Cancel every task, then close every socket."""
        for task in list(self._tasks):
            await task.cancel()
        for sock in list(self._sockets):
            await sock.close()
        self._sockets.clear()
        if self._listener is not None:
            await self._listener.close()
            self._listener = None


async def answer_ok(stream: ServerStream) -> None:
    """The default handler: read the body, answer 200 with ``ok``."""
    await stream.read_body()
    await stream.respond(200, b"ok")
