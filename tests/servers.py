"""Local servers for the tests: loopback only, port 0, no sleeps.

``RawServer`` runs inside the test's curio kernel and lets a test script the
server side byte for byte. ``HttpbinProcess`` runs httpbin under hypercorn in
a child process, so that the test process only owns the client side of every
connection and the file-descriptor leak check stays exact.
"""

from __future__ import annotations

import os
import selectors
import socket
import ssl
import subprocess
import sys
import time
import weakref
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import curio
import curio.io
import curio.socket
import h11

from tests.real.process import Running

Handler = Callable[[curio.io.Socket], Awaitable[None]]

LOOPBACK = "127.0.0.1"
_RECV_SIZE = 65536

# Bytes that arrived after the end of one request (pipelining), per socket;
# read_request starts a fresh h11 connection for each request because the
# handler writes its responses raw and h11 never learns about them.
_leftovers: weakref.WeakKeyDictionary[Any, bytes] = weakref.WeakKeyDictionary()


async def read_request(sock: curio.io.Socket) -> tuple[h11.Request, bytes] | None:
    """Read one whole HTTP/1.1 request: the head and its body, de-chunked.

    Returns ``None`` if the client closed (or reset) the connection before
    sending any byte of a new request. A close in the middle of a request
    raises ``h11.RemoteProtocolError``.
    """
    conn = h11.Connection(h11.SERVER)
    pending = _leftovers.pop(sock, b"")
    received_any = bool(pending)
    if pending:
        conn.receive_data(pending)
    request: h11.Request | None = None
    body = bytearray()
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            try:
                data = await sock.recv(_RECV_SIZE)
            except ConnectionResetError:
                if not received_any:
                    return None
                raise
            received_any = received_any or bool(data)
            conn.receive_data(data)  # b"" tells h11 about EOF
        elif isinstance(event, h11.Request):
            request = event
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage):
            assert request is not None
            leftover, _closed = conn.trailing_data
            if leftover:
                _leftovers[sock] = bytes(leftover)
            return request, bytes(body)
        elif isinstance(event, h11.ConnectionClosed):
            return None


class CannedHandler:
    """Answers every request on a connection with the same bytes."""

    def __init__(self, response: bytes, *, keep_alive: bool = True) -> None:
        self.response = response
        self.keep_alive = keep_alive
        # Every request received, in order, across all connections.
        self.requests: list[tuple[h11.Request, bytes]] = []

    async def __call__(self, sock: curio.io.Socket) -> None:
        while (received := await read_request(sock)) is not None:
            self.requests.append(received)
            await sock.sendall(self.response)
            if not self.keep_alive:
                return


def canned(response: bytes, keep_alive: bool = True) -> CannedHandler:
    """A handler that reads each request fully, then sends ``response``.

    With ``keep_alive=False`` the server closes the connection after the first
    response; otherwise it serves until the client closes.
    """
    return CannedHandler(response, keep_alive=keep_alive)


_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


def refusing_expectations(
    refusal: bytes,
    answer: Handler,
    *,
    continue_first: bool = False,
    heads: list[h11.Request] | None = None,
    bodies: list[bytes] | None = None,
) -> Handler:
    """A server that refuses a request's ``Expect`` with *refusal* (a 417) and closes.

    The refusal comes on the request's head alone (the client waits for it,
    its body unread), or with *continue_first* after ``100 Continue`` and the
    whole body. A request without the expectation is read whole and answered
    by *answer*, and the connection serves the next one. Every head goes to
    *heads* and every body read whole to *bodies*, when given.
    """

    async def app(sock: curio.io.Socket) -> None:
        pending = b""
        while True:
            conn = h11.Connection(h11.SERVER)
            if pending:  # (b"" would tell h11 the client closed)
                conn.receive_data(pending)
            request = None
            body = b""
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    data = await sock.recv(_RECV_SIZE)
                    if not data and request is None:
                        return
                    conn.receive_data(data)
                elif type(event) is h11.Request:
                    request = event
                    if heads is not None:
                        heads.append(event)
                    if conn.they_are_waiting_for_100_continue:
                        if not continue_first:
                            await sock.sendall(refusal)
                            return
                        await sock.sendall(_CONTINUE)
                elif type(event) is h11.Data:
                    body += event.data
                elif type(event) is h11.EndOfMessage:
                    if bodies is not None:
                        bodies.append(body)
                    pending = bytes(conn.trailing_data[0])
                    break
                elif type(event) is h11.ConnectionClosed:
                    return
            assert request is not None
            if any(name == b"expect" for name, _ in request.headers):  # (h11 lowers names)
                await sock.sendall(refusal)
                return
            await answer(sock)

    return app


def _is_peer_trouble(exc: BaseException) -> bool:
    # What a misbehaving or cancelled client makes a handler raise; tests
    # provoke these on purpose, so they are recorded but do not fail the test.
    return isinstance(exc, (OSError, h11.RemoteProtocolError))


class RawServer:
    """A TCP server on 127.0.0.1:0 inside the running curio kernel.

    ``handler(sock)`` is called for every accepted connection in its own task;
    when it returns (or raises), the server closes that connection. With an
    ``ssl_context`` the TLS handshake is done before the handler is called.
    Use it through the ``raw_server`` fixture, or as ``async with
    RawServer(handler) as server``.
    """

    def __init__(
        self, handler: Handler, *, ssl_context: ssl.SSLContext | None = None, host: str = LOOPBACK
    ) -> None:
        self._handler = handler
        self._ssl_context = ssl_context
        self._listener: curio.io.Socket | None = None
        self._accept_task: Any = None
        self._tasks: set[Any] = set()
        self._connections: set[curio.io.Socket] = set()
        self._changed = curio.Event()
        self.host = host  # any 127.0.0.0/8 address: distinct hosts on one machine
        self.port = 0
        self.accepted = 0
        # Exceptions raised by handlers (or the TLS handshake), in order.
        self.handler_errors: list[BaseException] = []

    @property
    def url(self) -> str:
        scheme = "https" if self._ssl_context is not None else "http"
        return f"{scheme}://{self.host}:{self.port}"

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, self.port)

    @property
    def open_connections(self) -> int:
        """Connections accepted whose server side is not closed yet."""
        return len(self._connections)

    async def start(self) -> RawServer:
        listener = curio.socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.bind((self.host, 0))
            listener.listen(128)
        except BaseException:
            await listener.close()
            raise
        self._listener = listener
        self.port = listener.getsockname()[1]
        self._accept_task = await curio.spawn(self._accept_loop, daemon=True)
        return self

    async def wait_open_connections(self, count: int = 0) -> None:
        """Wait until exactly ``count`` connections are open on the server side.

        For checks like "the client closed its pooled connection": the server
        task notices the EOF some scheduling rounds after the client closed.
        The test's deadline bounds the wait.
        """
        while len(self._connections) != count:
            await self._changed.wait()

    async def _connections_changed(self) -> None:
        # A curio.Event stays set, so each change wakes the current waiters
        # and hands later ones a fresh event.
        changed, self._changed = self._changed, curio.Event()
        await changed.set()

    async def _accept_loop(self) -> None:
        assert self._listener is not None
        try:
            while True:
                client, _addr = await self._listener.accept()
                self.accepted += 1
                # Scripted responses are often several small writes; Nagle
                # plus delayed ACKs would add 40 ms stalls between them.
                client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self._connections.add(client)
                await self._connections_changed()
                # Added before the new task can run: curio only switches tasks
                # when the spawning task blocks.
                self._tasks.add(await curio.spawn(self._serve, client, daemon=True))
        except Exception as exc:
            self.handler_errors.append(exc)

    async def _serve(self, sock: curio.io.Socket) -> None:
        me = await curio.current_task()
        conn = sock
        try:
            if self._ssl_context is not None:
                raw = sock._socket
                tls = self._ssl_context.wrap_socket(
                    raw, server_side=True, do_handshake_on_connect=False
                )
                # wrap_socket detached the plain socket; only tls owns the fd now.
                conn = curio.io.Socket(tls)
                self._connections.discard(sock)
                self._connections.add(conn)
                await conn.do_handshake()
            await self._handler(conn)
        except curio.TaskCancelled:
            raise  # the server is being closed
        except (Exception, curio.TaskTimeout) as exc:
            self.handler_errors.append(exc)
        finally:
            await conn.close()
            self._connections.discard(conn)
            self._tasks.discard(me)
            await self._connections_changed()

    async def aclose(self) -> None:
        """Cancel every server task, then close every socket the server owns."""
        # Tasks first: a task blocked on a socket that another task closes
        # would never be woken.
        if self._accept_task is not None:
            await self._accept_task.cancel()
            self._accept_task = None
        for task in list(self._tasks):
            await task.cancel()
        for conn in list(self._connections):
            await conn.close()
        self._connections.clear()
        if self._listener is not None:
            await self._listener.close()
            self._listener = None

    def unexpected_errors(self) -> list[BaseException]:
        """Handler errors that point at a bug in the test's handler itself."""
        return [exc for exc in self.handler_errors if not _is_peer_trouble(exc)]

    async def __aenter__(self) -> RawServer:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


# --------------------------------------------------------------------------
# httpbin in a child process

_HTTPBIN_SCRIPT = Path(__file__).with_name("_httpbin_server.py")


class HttpbinProcess(Running):
    """httpbin served by hypercorn in a child process on 127.0.0.1:0.

    The child prints its port once hypercorn is serving, and exits when its
    stdin closes, so it cannot outlive the test process.
    """

    def __init__(
        self,
        *,
        log_path: Path,
        certfile: Path | None = None,
        keyfile: Path | None = None,
        alpn: tuple[str, ...] = ("http/1.1",),
    ) -> None:
        self.log_path = log_path
        self.certfile = certfile
        self.keyfile = keyfile
        self.alpn = alpn
        self.host = LOOPBACK
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        scheme = "https" if self.certfile is not None else "http"
        return f"{scheme}://{self.host}:{self.port}"

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, self.port)

    def start(self, timeout: float = 30.0) -> HttpbinProcess:
        args = [sys.executable, str(_HTTPBIN_SCRIPT)]
        if self.certfile is not None:
            args += ["--certfile", str(self.certfile)]
        if self.keyfile is not None:
            args += ["--keyfile", str(self.keyfile)]
        args += ["--alpn", ",".join(self.alpn)]
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(
                args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log
            )
        try:
            self.port = int(self._read_port_line(timeout))
        except BaseException:
            self.stop()
            raise
        # The child closed its end after the port line; nothing more comes.
        assert self._proc.stdout is not None
        self._proc.stdout.close()
        return self

    def _read_port_line(self, timeout: float) -> bytes:
        assert self._proc is not None and self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        line = b""
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while not line.endswith(b"\n"):
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not selector.select(remaining):
                    raise RuntimeError(f"httpbin did not start in {timeout:g} s{self._log_tail()}")
                chunk = os.read(fd, 64)
                if not chunk:
                    raise RuntimeError(f"httpbin exited before serving{self._log_tail()}")
                line += chunk
        return line.strip()

    def _log_tail(self) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return f"; its log {self.log_path}:\n{text[-4000:]}"

    def stop(self, timeout: float = 10.0) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.close()  # the child's signal to shut down
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        finally:
            proc.stdout.close()  # a no-op unless start() failed half-way
