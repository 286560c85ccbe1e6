"""Opening connections: the only module that creates sockets.

Three rules live here:

* TLS always verifies, and always passes ``server_hostname``: with an
  ``ssl.SSLContext`` whose ``check_hostname`` is on, Python refuses to wrap
  without it, but curio's own helpers quietly turn hostname checking off when
  it is missing. We never go through them.
* TCP_NODELAY is set. curio does not set it; without it a request whose
  head and body leave in two writes waits for the peer's delayed ACK (tens of
  milliseconds) - Nagle's algorithm meeting delayed ACKs.
* A socket that is half made (connect or handshake interrupted by an error, a
  timeout or a cancellation) is closed before the exception goes on. curio's
  ``open_connection`` only does that for ``Exception``, and curio's
  cancellation is a ``BaseException``.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import ssl
from typing import Any

import curio
import curio.io

__all__ = ["close_quietly", "default_ssl_context", "open_stream"]

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


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


async def _resolve(host: str, port: int) -> list[tuple[Any, ...]]:
    if _is_ip_literal(host):
        # Skip the resolver thread: getaddrinfo on a literal only parses it.
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        addr: tuple[Any, ...] = (host, port, 0, 0) if family == socket.AF_INET6 else (host, port)
        return [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", addr)]
    infos = await curio.run_in_thread(
        socket.getaddrinfo, host, port, 0, socket.SOCK_STREAM, socket.IPPROTO_TCP
    )
    return list(infos)


async def _connect_one(
    info: tuple[Any, ...], source_address: tuple[str, int] | None
) -> curio.io.Socket:
    family, socktype, proto, _, sockaddr = info
    raw = socket.socket(family, socktype, proto)
    sock = curio.io.Socket(raw)
    try:
        if family in (socket.AF_INET, socket.AF_INET6):
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if source_address is not None:
            raw.bind(source_address)
        await sock.connect(sockaddr)
    except BaseException:
        await close_quietly(sock)
        raise
    return sock


async def close_quietly(sock: curio.io.Socket) -> None:
    """Close *sock*, finishing even under cancellation and ignoring OSError."""
    async with curio.disable_cancellation():
        with contextlib.suppress(OSError):
            await sock.close()


async def open_stream(
    host: str,
    port: int,
    *,
    tls: bool,
    ssl_context: ssl.SSLContext | None = None,
    source_address: tuple[str, int] | None = None,
) -> curio.io.Socket:
    """Connect to *host*:*port*, wrapped in TLS when *tls* is true.

    Every address the resolver gives is tried in order; the last error is
    raised if none connects. Errors are raised as the standard library raises
    them (``OSError``, ``socket.gaierror``, ``ssl.SSLError``); the session
    translates them into asks exceptions.
    """
    infos = await _resolve(host, port)
    if not infos:
        raise OSError(f"no address found for {host!r}")
    last_exc: BaseException | None = None
    sock: curio.io.Socket | None = None
    for info in infos:
        try:
            sock = await _connect_one(info, source_address)
            break
        except OSError as exc:
            last_exc = exc
    if sock is None:
        assert last_exc is not None
        raise last_exc
    if not tls:
        return sock
    context = ssl_context if ssl_context is not None else default_ssl_context()
    raw = sock._socket
    try:
        # server_hostname drives both SNI and the hostname check; an IP
        # literal is checked against the certificate's IP addresses.
        # suppress_ragged_eofs=False: a TCP close without TLS close_notify
        # must not pass for the end of a close-delimited body (RFC 9112
        # section 9.8), or an attacker could truncate it unseen.
        tls_raw = context.wrap_socket(
            raw,
            server_hostname=host,
            do_handshake_on_connect=False,
            suppress_ragged_eofs=False,
        )
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
