"""The error boundary: every low-level failure becomes an asks exception here.

Sockets raise ``OSError`` (and its ``ssl`` and ``socket.gaierror``
subclasses); the transport raises its own classes (``_transport.interfaces``:
``PeerClosedEarly``, ``BodyCutShort``, ``ProtocolViolation``,
``ConnectError``...), each where the failure happens, h11's complaints
already sorted into them. Callers of asks see only :mod:`asks.errors`. The
session and the streaming body both funnel exceptions through
:func:`translate`, so the mapping lives in this one place, by class: no
message text is ever read.
"""

from __future__ import annotations

import socket
import ssl
from typing import NoReturn

import h11

from ._transport.interfaces import (
    BodyCutShort,
    BodyOverLimit,
    ConnectError,
    ConnectTimeout,
    PeerClosedEarly,
    PoolWaitTimeout,
    ProtocolViolation,
    ProxyFailed,
    RequestNotSendable,
)
from .errors import (
    AsksException,
    BadHttpResponse,
    ConnectFailed,
    ConnectivityError,
    PoolTimeout,
    ProxyError,
    ProxyUnreachable,
    RequestTimeout,
    ResponseTooLarge,
    ServerClosedConnectionError,
    TLSError,
)

__all__ = ["ConnectFailed", "reraise", "translate"]


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
    if isinstance(exc, PeerClosedEarly | BodyCutShort):
        return ServerClosedConnectionError(f"{where}: {exc}")
    if isinstance(exc, ProtocolViolation):
        return BadHttpResponse(f"{where}: invalid HTTP response: {exc}")
    if isinstance(exc, BodyOverLimit):
        return ResponseTooLarge(f"{where}: {exc}")
    if isinstance(exc, ConnectError):
        return ConnectFailed(f"{where}: {exc}")
    if isinstance(exc, ProxyFailed):
        kind = ProxyUnreachable if exc.unreachable else ProxyError
        return kind(f"{where}: {exc}", exc.status_code)
    if isinstance(exc, PoolWaitTimeout):
        return PoolTimeout(f"{where}: {exc}")
    if isinstance(exc, ConnectTimeout):
        return RequestTimeout(f"{where}: {exc}")
    if isinstance(exc, RequestNotSendable):
        # The request could not be framed as announced, e.g. a file body
        # that grew or shrank while it was sent.
        return AsksException(f"{where}: the request could not be sent: {exc}")
    if isinstance(exc, h11.ProtocolError):
        # Never expected: the connection sorts h11's errors into its own
        # classes. Should one slip through, it still leaves as an asks error.
        return BadHttpResponse(f"{where}: invalid HTTP: {exc}")
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
    try:
        if new is exc:
            raise exc
        raise new from exc
    finally:
        # The raised error's traceback holds this frame: were the frame to
        # hold the error too, each failure would be a reference cycle that
        # only the garbage collector frees, with all it holds.
        del exc, new
