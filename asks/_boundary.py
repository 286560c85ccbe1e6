"""The error boundary: every low-level failure becomes an asks exception here.

Sockets raise ``OSError`` (and its ``ssl`` and ``socket.gaierror``
subclasses), h11 raises ``RemoteProtocolError``, the connection raises
``PeerClosedEarly``. Callers of asks see only :mod:`asks.errors`. The session
and the streaming body both funnel exceptions through :func:`translate`, so
the mapping lives in this one place.
"""

from __future__ import annotations

import socket
import ssl
from typing import NoReturn

import h11

from ._http11 import PeerClosedEarly
from .errors import (
    AsksException,
    BadHttpResponse,
    ConnectFailed,
    ConnectivityError,
    ServerClosedConnectionError,
    TLSError,
)

__all__ = ["ConnectFailed", "reraise", "translate"]

# EOF inside a body: the server closed early. (EOF inside a head, "peer
# unexpectedly closed connection", is a torn head: BadHttpResponse.)
_H11_EOF_MESSAGES = ("peer closed connection without sending complete message body",)


def translate(exc: BaseException, where: str) -> BaseException:
    """The exception to raise in place of *exc*.

    Args:
        exc: what was caught.
        where: a few words for the message, e.g. ``"GET http://host/"``.

    Cancellations and other ``BaseException`` are returned unchanged: they
    are not failures to report but control flow to let through.
    """
    if isinstance(exc, AsksException) or not isinstance(exc, Exception):
        return exc
    if isinstance(exc, PeerClosedEarly):
        return ServerClosedConnectionError(f"{where}: {exc}")
    if isinstance(exc, h11.RemoteProtocolError):
        text = str(exc)
        # h11's own words for EOF inside a message (the body or head was cut
        # short). Matched exactly: the other messages quote the server's
        # bytes, which may say anything, "closed" included.
        if text.startswith(_H11_EOF_MESSAGES):
            return ServerClosedConnectionError(f"{where}: server closed the connection: {text}")
        return BadHttpResponse(f"{where}: invalid HTTP response: {text}")
    if isinstance(exc, h11.LocalProtocolError):
        # The request could not be framed as announced, e.g. a file body
        # that grew or shrank while it was sent.
        return AsksException(f"{where}: the request could not be sent: {exc}")
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return TLSError.from_ssl(exc, f"{where}: TLS failure: {exc}")
    if isinstance(exc, socket.gaierror):
        return ConnectFailed(f"{where}: cannot resolve host: {exc}")
    if isinstance(exc, ConnectionResetError | BrokenPipeError | ConnectionAbortedError):
        return ServerClosedConnectionError(f"{where}: connection lost: {exc}")
    if isinstance(exc, OSError):
        return ConnectivityError(f"{where}: {exc}")
    return exc


def reraise(exc: BaseException, where: str) -> NoReturn:
    """Raise *exc* as its translation (the same object when it needs none)."""
    new = translate(exc, where)
    if new is exc:
        raise exc
    raise new from exc
