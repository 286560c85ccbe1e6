"""The exceptions asks raises.

Every network, protocol or data problem reaches the caller as an
:class:`AsksException`; ``TypeError`` and ``ValueError`` are kept for wrong
arguments. The tree (new classes sit under the ones asks always had, so
``except ConnectivityError`` written for asks 2 still catches them)::

    AsksException
     +-- TooManyRedirects
     +-- UnreplayableBody           a redirect keeps a body that was a one-shot stream
     +-- BadHttpResponse            the server broke the protocol
     |    +-- DecodingError         a body that cannot be decompressed
     |    +-- ResponseTooLarge      a body over the configured limit
     +-- BadStatus                  raise_for_status(); .response, .status_code
     +-- ConnectivityError          could not talk to the server
          +-- ConnectFailed         DNS failure, refused, unreachable (nothing sent)
          +-- RequestTimeout
          +-- ServerClosedConnectionError
          +-- TLSError              certificate, hostname or handshake failure

The translation from OSError, ssl, h11 and curio errors happens in one place,
:mod:`asks._boundary`, so nothing else in the package has to care.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .response_objects import BaseResponse

__all__ = [
    "AsksException",
    "BadHttpResponse",
    "BadStatus",
    "ConnectFailed",
    "ConnectivityError",
    "DecodingError",
    "RequestTimeout",
    "ResponseTooLarge",
    "ServerClosedConnectionError",
    "TLSError",
    "TooManyRedirects",
    "UnreplayableBody",
]


class AsksException(Exception):
    """Base of every exception asks raises for network, protocol or data problems."""


class TooManyRedirects(AsksException):
    """More redirects than ``max_redirects`` would have to be followed."""


class UnreplayableBody(AsksException):
    """A redirect that keeps the body (307, 308, or 301/302 for methods other
    than POST) must send it again, and it was a one-shot stream.

    Pass bytes, a mapping or a real file instead of a one-shot stream if the
    request may be redirected.
    """


class BadHttpResponse(AsksException):
    """The server's answer broke HTTP/1.1 (bad status line, framing, headers...)."""


class DecodingError(BadHttpResponse):
    """The body could not be decompressed with its declared Content-Encoding."""


class ResponseTooLarge(BadHttpResponse):
    """The response exceeded a configured size limit."""


class BadStatus(AsksException):
    """Raised by ``raise_for_status()`` for a 4xx or 5xx response.

    Attributes:
        response: the response that carried the status.
        status_code: its status code.
    """

    def __init__(self, message: Any, response: BaseResponse, status_code: int) -> None:
        super().__init__(message)
        self.response = response
        self.status_code = status_code


class ConnectivityError(AsksException):
    """The server could not be reached or the connection failed."""


class ConnectFailed(ConnectivityError):
    """The connection could not be established (DNS, refused, unreachable).

    Nothing was sent, so any request may be retried; ``retries`` does.
    """


class RequestTimeout(ConnectivityError):
    """``timeout`` or ``connection_timeout`` expired."""


class ServerClosedConnectionError(ConnectivityError):
    """The server closed or reset the connection before the response was complete."""


class TLSError(ConnectivityError):
    """The TLS handshake failed: untrusted certificate, wrong hostname, not TLS at all."""
