"""The one module that touches sockets: making them, TLS, and the byte stream.

Everything above this module sees a :class:`Stream`: bytes in, bytes out, a
readiness check and a close. The rules that live here:

* TLS always verifies and always passes ``server_hostname``: with an
  ``ssl.SSLContext`` whose ``check_hostname`` is on, Python refuses to wrap
  without it, but curio's own helpers quietly turn hostname checking off when
  it is missing, and ignore ALPN on a context passed in. We never go through
  them.
* ``suppress_ragged_eofs=False``: a TCP close without TLS close_notify must
  not pass for the end of a close-delimited body (RFC 9112 section 9.8), or
  an attacker could truncate it unseen.
* TCP_NODELAY is set. curio does not set it; without it a request whose head
  and body leave in two writes waits for the peer's delayed ACK (tens of
  milliseconds) - Nagle's algorithm meeting delayed ACKs.
* A socket that is half made (connect or handshake interrupted by an error, a
  timeout or a cancellation) is closed before the exception goes on. curio's
  ``open_connection`` only does that for ``Exception``, and curio's
  cancellation is a ``BaseException``.
* A plain socket (TCP or Unix) is written and waited on directly, skipping
  curio's wrapper where measurements showed its detours cost (see
  docs/performance.md). So is a TLS one: its records are read and written by
  the ``_ssl`` object itself, without the three Python layers above it
  (curio's ``recv``/``sendall``, ``SSLSocket.recv``/``send``, ``read``), which
  only re-check what this module already knows (no flags, not closed, ragged
  EOFs not suppressed).
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import select
import socket
import ssl
from collections.abc import Callable, Sequence
from typing import Any

import curio
import curio.io
from curio.traps import _io_waiting, _read_wait, _write_wait

from .._urls import is_dotted_quad
from .threads import run_blocking
from .tls_sessions import KeptSession, NativeSession, offer

__all__ = [
    "READ_SIZE",
    "AddrInfo",
    "AnyStream",
    "Stream",
    "TLSOverStream",
    "close_quietly",
    "closed_while_read",
    "connect_address",
    "default_ssl_context",
    "open_unix",
    "resolve",
    "start_tls",
    "start_tls_over",
    "tls_hostname",
]

# How much is asked of the socket per read. 64 KiB keeps one read per small
# response and avoids the allocator churn that larger reads cause (each read
# is a new bytes object; see the benchmark notes).
READ_SIZE = 65536

# Windows has no sendmsg; there each piece is written on its own.
_GATHER_WRITES = hasattr(socket.socket, "sendmsg")

_default_context: ssl.SSLContext | None = None


def default_ssl_context() -> ssl.SSLContext:
    """The shared verifying client context (system CAs, hostname checks on).

    Built once: loading the system trust store costs milliseconds, and a
    context is safe to share between connections.
    """
    global _default_context
    if _default_context is None:
        _default_context = ssl.create_default_context()
    return _default_context


_default_h2_context: ssl.SSLContext | None = None


def default_h2_context() -> ssl.SSLContext:
    """The shared verifying context of sessions with ``http2=``: ALPN offers h2 first."""
    global _default_h2_context
    if _default_h2_context is None:
        _default_h2_context = ssl.create_default_context()
        _default_h2_context.set_alpn_protocols(["h2", "http/1.1"])
    return _default_h2_context


def _nothing_pending() -> int:
    return 0


class Stream:
    """A connected socket as a byte stream: plain TCP, Unix, or TLS over either.

    Args:
        sock: a connected curio socket (or anything with its ``recv``,
            ``sendall``, ``fileno`` and ``close``: a scripted one in tests).
        on_close: called with the TLS socket when the stream closes (the
            dialler keeps its TLS session for resumption).
    """

    __slots__ = (
        "_on_close",
        "_plain",
        "_poller",
        "_sock",
        "_tls",
        "_tls_pending",
        "_tls_read",
        "_tls_write",
        "_wait_on",
    )

    def __init__(
        self,
        sock: Any,
        on_close: Callable[[ssl.SSLSocket], None] | None = None,
    ) -> None:
        self._sock = sock
        self._on_close = on_close
        self._poller: select.poll | None = None  # made on the first readiness check
        # curio's wrapper keeps the raw socket and the descriptor object its
        # own waits are registered under; waiting on that same object keeps
        # the registration as it is. Should a curio version not have them
        # (or a scripted socket stand in), curio's generic path serves.
        raw = getattr(sock, "_socket", None)
        self._tls: ssl.SSLSocket | None = raw if isinstance(raw, ssl.SSLSocket) else None
        self._wait_on: object = getattr(sock, "_fileno", None)
        self._plain: socket.socket | None = (
            raw if type(raw) is socket.socket and self._wait_on is not None else None
        )
        # The TLS fast path: the read and write of the ``_ssl`` object under
        # the SSLSocket (what SSLSocket.read and send end in). None until
        # the handshake is done, and again once the stream is closed.
        self._tls_read: Callable[[int], bytes] | None = None
        self._tls_write: Callable[[bytes | memoryview], int] | None = None
        self._tls_pending: Callable[[], int] = _nothing_pending
        if self._tls is not None and self._wait_on is not None:
            sslobj = getattr(self._tls, "_sslobj", None)
            self._tls_read = getattr(sslobj, "read", None)
            self._tls_write = getattr(sslobj, "write", None)
            self._tls_pending = getattr(sslobj, "pending", self._tls.pending)

    @property
    def tls(self) -> ssl.SSLSocket | None:
        """The TLS socket, or None for a plain stream."""
        return self._tls

    # -- reading -------------------------------------------------------------

    async def receive(self, max_bytes: int = READ_SIZE, wait_first: bool = False) -> bytes:
        """Up to *max_bytes* bytes; ``b""`` at the end of the stream.

        Args:
            wait_first: wait for readability before trying the socket. The
                answer to a request just sent is almost never there yet
                (against nginx on loopback, 4,993 first reads of 5,000 found
                nothing), so trying first costs a failed system call and an
                exception. So does TLS, unless OpenSSL already holds
                decrypted bytes (they do not show on the descriptor): trying
                first there raises SSLWantReadError, and waiting first took
                CPU per request from 1.11x to 1.04x the bare loop's over one
                keep-alive TLS connection, 1.09x to 1.06x over twenty
                (benchmark harness, tls-seq and tls-conc, 20261207). An
                earlier measurement had found the opposite, before reads
                went straight to the ``_ssl`` object.
        """
        plain = self._plain
        if plain is None:
            read = self._tls_read
            if read is None:
                data: bytes = await self._sock.recv(max_bytes)
                return data
            if wait_first and not self._tls_pending():
                await _read_wait(self._wait_on)
            while True:
                try:
                    return read(max_bytes)
                except ssl.SSLWantReadError:
                    await _read_wait(self._wait_on)
                except ssl.SSLWantWriteError:  # pragma: no cover - renegotiation
                    await _write_wait(self._wait_on)
        if wait_first:
            await _read_wait(self._wait_on)
        try:
            return plain.recv(max_bytes)
        except (BlockingIOError, InterruptedError):
            data = await self._sock.recv(max_bytes)
            return data

    def is_readable(self) -> bool:
        """Whether bytes (or EOF, or an error) wait to be read, without reading.

        True also when the stream cannot be polled any more. An idle
        HTTP/1.1 connection uses this as its stale check.
        """
        tls = self._tls
        if tls is not None and tls.pending():
            # Decrypted bytes the TLS layer already holds (they came in the
            # same record as earlier ones) do not show on the descriptor.
            return True
        try:
            poller = self._poller
            if poller is None:
                fd = self._sock.fileno()
                if fd < 0:
                    return True
                if not hasattr(select, "poll"):  # pragma: no cover - Windows
                    return bool(select.select([fd], [], [], 0)[0])
                # A poll object holds no descriptor of its own (unlike
                # epoll), and polling one registered fd is the cheapest
                # readiness check there is; it is kept for the next check.
                poller = self._poller = select.poll()
                poller.register(fd, select.POLLIN)
            return bool(poller.poll(0))
        except (OSError, ValueError):
            return True

    # -- writing -------------------------------------------------------------

    async def send(self, data: bytes | memoryview) -> None:
        """Write all of *data*."""
        plain = self._plain
        if plain is not None:
            # What curio's sendall does first, without its buffer wrapping:
            # a request head almost always fits the socket buffer at once.
            # Only a full buffer goes on to curio, which waits for room.
            try:
                sent = plain.send(data)
            except (BlockingIOError, InterruptedError):
                sent = 0
            if sent == len(data):
                return
            data = memoryview(data)[sent:]
        else:
            write = self._tls_write
            if write is not None:
                # OpenSSL writes all of it or, the socket being full, asks
                # for the same bytes again once it has room (no partial
                # writes: CPython does not enable them); curio's sendall
                # does exactly that.
                try:
                    write(data)
                    return
                except (ssl.SSLWantWriteError, ssl.SSLWantReadError):
                    pass  # curio's sendall waits and writes it again
        await self._sock.sendall(data)

    async def send_pieces(self, pieces: Sequence[bytes]) -> None:
        """Write every piece, in order, gathered into one system call when possible."""
        # h11 frames a body as separate pieces (a chunk's size line, the
        # data, its CRLF; or the head before a large body). One sendmsg
        # hands them all to the kernel in one system call, without joining
        # them into a copy.
        plain = self._plain
        if plain is None or len(pieces) == 1 or not _GATHER_WRITES:
            for piece in pieces:
                await self.send(piece)
            return
        try:
            sent = plain.sendmsg(pieces)
        except (BlockingIOError, InterruptedError):
            sent = 0
        for piece in pieces:
            size = len(piece)
            if sent >= size:
                sent -= size
                continue
            await self.send(memoryview(piece)[sent:] if sent else piece)
            sent = 0

    # -- closing -------------------------------------------------------------

    async def close(self) -> None:
        """Close the socket; safe to call twice and under cancellation."""
        # A closed socket is no longer waited on directly: curio's own calls
        # raise EBADF in the task, where a wait would reach the kernel's
        # selector with a dead descriptor (or one reused by another socket).
        self._plain = None
        self._tls_read = self._tls_write = None
        on_close, self._on_close = self._on_close, None
        tls = self._tls
        if tls is not None:
            if on_close is not None:
                # A TLS 1.3 ticket arrives after the handshake, read along
                # with the first response: the session is worth keeping only
                # now.
                with contextlib.suppress(Exception):
                    on_close(tls)
            _send_close_notify(tls)
        await _wake_the_others(self._sock)
        await close_quietly(self._sock)


def closed_while_read() -> OSError:
    """What a read learns when its stream was closed under it (by another task)."""
    return OSError(errno.EBADF, "the response was closed while being read")


async def _wake_the_others(sock: Any) -> None:
    """Wake any other task blocked on *sock*, before the socket closes under it.

    Another task may be reading (or writing) the stream a task of the
    caller's closes: a watchdog that ends a download. curio does not wake a
    task whose socket is closed - the closed descriptor just leaves epoll -
    so that task would wait forever. Shut down, the socket is readable and
    writable at once; one turn of the scheduler lets the kernel see it and
    reschedule them, to find the stream closed (an error, as asks reports
    it) once they run.
    """
    fileobj = getattr(sock, "_fileno", None)
    raw = getattr(sock, "_socket", None)
    if fileobj is None or raw is None:
        return  # not curio's socket (a scripted one): nobody waits on it in the kernel
    # (A trap that never blocks, so no cancellation can land in it: only the
    # rare wake-up below needs shielding, and the usual close pays one trap.)
    reader, writer = await _io_waiting(fileobj)  # only tasks blocked there now
    if reader is None and writer is None:
        return  # the usual case: the closing task is the only user
    async with curio.disable_cancellation():
        with contextlib.suppress(OSError):
            raw.shutdown(socket.SHUT_RDWR)
        await curio.sleep(0)


def _send_close_notify(tls: ssl.SSLSocket) -> None:
    """Tell the peer the connection ends here (RFC 8446 section 6.1), without waiting.

    Each side MUST send a close_notify before it closes: without one, a
    server cannot tell our close from an attacker's cut (Python's own
    ``ssl`` server side, with ``suppress_ragged_eofs=False``, calls it
    ``SSLEOFError``). One non-blocking ``SSL_shutdown`` writes the alert; the
    peer's own close_notify is not waited for (section 6.1 allows closing
    at once), and a socket that cannot take it (full, reset) is closed
    regardless.
    """
    with contextlib.suppress(OSError, ValueError):  # SSLError is an OSError
        tls.unwrap()  # (SSLWantReadError: sent, the peer's not yet there)


async def close_quietly(sock: Any) -> None:
    """Close *sock*, finishing even under cancellation and ignoring OSError."""
    async with curio.disable_cancellation():
        with contextlib.suppress(OSError):
            await sock.close()


# -- making sockets ------------------------------------------------------------

AddrInfo = tuple[int, int, int, str, tuple[Any, ...]]
"""One ``socket.getaddrinfo`` entry: family, type, proto, canonname, sockaddr."""


async def resolve(host: str, port: int) -> list[AddrInfo]:
    """The addresses of *host*: IP literals as they are, names by getaddrinfo.

    Args:
        host: a host name or an IP literal (IPv6 without brackets, optionally
            with a ``%zone``).
        port: the TCP port.

    Returns:
        the addresses to dial, in the system resolver's order (RFC 6724).

    Raises:
        socket.gaierror: the name does not resolve.
        OSError: an IPv6 zone names no interface.
    """
    literal = _literal(host, port)
    if literal is not None:
        # getaddrinfo on a literal only parses it; skip the worker thread.
        return [literal]
    # Not curio.run_in_thread: a lookup abandoned by a timeout would wake a
    # kernel that may be gone by the time it returns (see .threads).
    infos = await run_blocking(
        socket.getaddrinfo,
        host,
        port,
        0,
        socket.SOCK_STREAM,
        socket.IPPROTO_TCP,
        name="asks-resolver",
    )
    return list(infos)


def _literal(host: str, port: int) -> AddrInfo | None:
    # Asked at every new connection, mostly of names: one regex says "not
    # IPv4" in a tenth of the time ipaddress takes to raise twice (it takes
    # the spelling ipaddress takes: no leading zeros), and only a host with
    # a colon can be IPv6.
    if is_dotted_quad(host):
        return (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (host, port))
    if ":" not in host:
        return None
    try:
        ip = ipaddress.IPv6Address(host)
    except ValueError:
        return None
    scope_id = 0
    if ip.scope_id is not None:
        # A link-local address needs its interface as sin6_scope_id (RFC 4007
        # section 11): the address string alone does not carry it to connect.
        zone = ip.scope_id
        scope_id = int(zone) if zone.isdigit() else socket.if_nametoindex(zone)
        host = host.partition("%")[0]
    return (socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (host, port, 0, scope_id))


async def connect_address(
    info: AddrInfo, source_address: tuple[str, int] | None = None
) -> curio.io.Socket:
    """A TCP connection to one resolved address (TCP_NODELAY on, *source_address* bound)."""
    family, socktype, proto, _, sockaddr = info
    raw = socket.socket(family, socktype, proto)
    sock = curio.io.Socket(raw)
    try:
        if family in (socket.AF_INET, socket.AF_INET6):
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if source_address is not None:
            try:
                raw.bind(source_address)
            except socket.gaierror as exc:
                # bind resolves the source host in this socket's family: an
                # IPv4 source for an IPv6 address (or the reverse) is
                # EAI_ADDRFAMILY, a negative errno that read as "Unknown
                # error -9" once made an OSError(errno, text). Say what it
                # is; Happy Eyeballs goes on to the addresses of the source's
                # family (RFC 8305 section 5: a failed attempt starts the next).
                kind = "IPv6" if family == socket.AF_INET6 else "IPv4"
                raise OSError(
                    f"source address {source_address[0]!r} cannot be bound to reach "
                    f"an {kind} address ({exc.strerror})"
                ) from exc
        await sock.connect(sockaddr)
    except BaseException:
        await close_quietly(sock)
        raise
    return sock


async def open_unix(path: str) -> curio.io.Socket:
    """A connection to the Unix domain socket at *path*."""
    raw = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock = curio.io.Socket(raw)  # non-blocking from here on
    try:
        pause = 0.001
        while True:
            try:
                raw.connect(path)
                break
            except BlockingIOError:
                # The server's listen queue is full (Linux: EAGAIN; a Unix
                # connect is never "in progress"). curio would wait for
                # writability, which an unconnected Unix socket has at once,
                # and hand back a socket that is not connected (ENOTCONN on
                # the first send). No event says the queue has room, so try
                # again after a growing pause, as a blocking connect would
                # wait, bounded by the caller's connection_timeout.
                await curio.sleep(pause)
                pause = min(pause * 2, 0.05)
    except BaseException:
        await close_quietly(sock)
        raise
    return sock


def tls_hostname(host: str) -> str:
    """*host* as TLS names it: without the trailing dot of a fully qualified name.

    ``example.org.`` and ``example.org`` are one host, but RFC 6066 section 3
    sends the SNI name "without a trailing dot", and certificates name hosts
    without one: given the dot, OpenSSL would send it in SNI and refuse every
    certificate as a host name mismatch.
    """
    return host[:-1] if host.endswith(".") else host


async def start_tls(
    sock: curio.io.Socket,
    context: ssl.SSLContext,
    server_hostname: str,
    session: KeptSession | None = None,
) -> curio.io.Socket:
    """TLS over the connected *sock*; the handshake is done when this returns.

    Args:
        server_hostname: drives both SNI and the hostname check; an IP
            literal is checked against the certificate's IP addresses.
        session: a TLS session of an earlier connection made with the same
            *context* (see ``tls_sessions``), offered for resumption. A
            server that declines it makes a full handshake instead; nothing
            fails.
    """
    raw = sock._socket
    try:
        native = session if isinstance(session, NativeSession) else None
        tls_raw = context.wrap_socket(
            raw,
            server_hostname=tls_hostname(server_hostname),
            do_handshake_on_connect=False,
            suppress_ragged_eofs=False,
            session=session if isinstance(session, ssl.SSLSession) else None,
        )
        if native is not None:
            offer(tls_raw, native)
    except BaseException:
        await close_quietly(sock)
        raise
    # wrap_socket detached the plain socket's descriptor into tls_raw; the
    # curio wrapper around it must not close it a second time.
    tls_sock = curio.io.Socket(tls_raw)
    try:
        await tls_sock.do_handshake()
    except BaseException:
        await close_quietly(tls_sock)
        raise
    return tls_sock


# -- TLS inside a stream (an https:// proxy's tunnel) ----------------------------


class TLSOverStream:
    """TLS over another :class:`Stream`, e.g. to an origin through an https:// proxy.

    The outer stream is itself TLS (to the proxy), and ``wrap_socket`` over
    an ``SSLSocket`` fails mid-handshake, so the inner TLS is an
    ``ssl.SSLObject`` over two ``MemoryBIO`` buffers, pumped over the outer
    stream here. It offers what a connection uses of a :class:`Stream`.
    One task reads at a time (HTTP/1.1 has one reader per connection), so
    the outer reads need no lock.

    Args:
        outer: the connected stream the TLS records travel over.
        tls: the ``SSLObject`` (``context.wrap_bio``) for the inner TLS.
        incoming, outgoing: its two buffers.
        initial: bytes already read from *outer* that belong to the inner
            TLS (they came after a ``CONNECT``'s answer).
        on_close: called with *tls* when the stream closes (the dialler
            keeps its TLS session for resumption), as :class:`Stream`'s.
    """

    __slots__ = ("_in", "_on_close", "_out", "_outer", "_tls")

    def __init__(
        self,
        outer: Stream | TLSOverStream,
        tls: ssl.SSLObject,
        incoming: ssl.MemoryBIO,
        outgoing: ssl.MemoryBIO,
        initial: bytes = b"",
        on_close: Callable[[ssl.SSLObject], None] | None = None,
    ) -> None:
        self._outer = outer
        self._tls = tls
        self._on_close = on_close
        self._in = incoming
        self._out = outgoing
        if initial:
            incoming.write(initial)

    @property
    def tls(self) -> None:
        """None: there is no ``SSLSocket`` (see :attr:`ssl_object`)."""
        return None

    @property
    def ssl_object(self) -> ssl.SSLObject:
        """The inner TLS, for its version, cipher and certificate."""
        return self._tls

    async def _flush(self) -> None:
        data = self._out.read()
        if data:
            await self._outer.send(data)

    async def _pull(self) -> None:
        data = await self._outer.receive()
        if data:
            self._in.write(data)
        else:
            # The proxy closed the tunnel: the TLS layer decides whether that
            # was a clean close_notify or a truncation (SSLEOFError).
            self._in.write_eof()

    async def handshake(self) -> None:
        """The inner TLS handshake, verifying as the context says."""
        while True:
            try:
                self._tls.do_handshake()
            except ssl.SSLWantReadError:
                await self._flush()
                await self._pull()
                continue
            await self._flush()
            return

    async def receive(self, max_bytes: int = READ_SIZE, wait_first: bool = False) -> bytes:
        """Up to *max_bytes* decrypted bytes; ``b""`` after the peer's close_notify."""
        while True:
            try:
                return self._tls.read(max_bytes)
            except ssl.SSLWantReadError:
                await self._flush()  # e.g. a key update's answer
                await self._pull()
            except ssl.SSLZeroReturnError:
                return b""

    def is_readable(self) -> bool:
        """Bytes held in the TLS layer or its buffer, or readiness of the outer stream."""
        if self._tls.pending() or self._in.pending:
            return True
        return self._outer.is_readable()

    async def send(self, data: bytes | memoryview) -> None:
        """Encrypt and write all of *data*."""
        self._tls.write(data)
        await self._flush()

    async def send_pieces(self, pieces: Sequence[bytes]) -> None:
        """Encrypt every piece, then write the records in one go."""
        for piece in pieces:
            self._tls.write(piece)
        await self._flush()

    async def close(self) -> None:
        """Close the tunnel (the outer stream); safe to call twice and under cancellation."""
        on_close, self._on_close = self._on_close, None
        if on_close is not None:
            # As in Stream.close: a TLS 1.3 ticket came with the first
            # response, so the session is taken now, before anything is freed.
            with contextlib.suppress(Exception):
                on_close(self._tls)
        await self._outer.close()


async def start_tls_over(
    outer: Stream | TLSOverStream,
    context: ssl.SSLContext,
    server_hostname: str,
    initial: bytes = b"",
    session: KeptSession | None = None,
    on_close: Callable[[ssl.SSLObject], None] | None = None,
) -> TLSOverStream:
    """TLS to *server_hostname* inside the stream *outer*; handshake done when this returns.

    The outer stream is closed if the handshake fails or is interrupted.

    Args:
        session: offered for resumption, as :func:`start_tls`'s.
        on_close: see :class:`TLSOverStream`.
    """
    incoming = ssl.MemoryBIO()
    outgoing = ssl.MemoryBIO()
    try:
        tls = context.wrap_bio(
            incoming,
            outgoing,
            server_side=False,
            server_hostname=tls_hostname(server_hostname),
            session=session if isinstance(session, ssl.SSLSession) else None,
        )
        if isinstance(session, NativeSession):
            offer(tls, session)
        stream = TLSOverStream(outer, tls, incoming, outgoing, initial, on_close)
        await stream.handshake()
    except BaseException:
        await outer.close()
        raise
    return stream


AnyStream = Stream | TLSOverStream
"""What a connection reads and writes: a socket's stream, or TLS inside one."""
