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
     |         +-- LineTooLong      a streamed line over its max_length
     +-- BadStatus                  raise_for_status(); .response, .status_code
     +-- ConnectivityError          could not talk to the server
          +-- ConnectFailed         DNS failure, refused, unreachable (nothing sent)
          +-- ProxyError            the proxy refused, failed or wants credentials
          |    +-- ProxyUnreachable  no connection to the proxy (also a ConnectFailed)
          +-- RequestTimeout
          |    +-- PoolTimeout      no connection slot within pool_timeout
          +-- ServerClosedConnectionError
          +-- TLSError              handshake failure; also an ssl.SSLError
               +-- TLSCertVerificationError  bad certificate; also ssl.SSLCertVerificationError

The two TLS classes also derive from :mod:`ssl`'s exceptions, so code written
for asks 2.4 (which let ``ssl`` errors escape) still catches them with
``except ssl.SSLCertVerificationError`` or ``except ssl.SSLError``, and reads
the attributes ``ssl`` users read: ``reason``, ``library`` and, for
certificates, ``verify_code`` and ``verify_message``.

The translation from OSError, ssl, h11 and curio errors happens in one place,
:mod:`asks._boundary`, so nothing else in the package has to care.
"""

from __future__ import annotations

import ssl
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
    "LineTooLong",
    "PoolTimeout",
    "ProxyError",
    "ProxyUnreachable",
    "RequestTimeout",
    "ResponseTooLarge",
    "ServerClosedConnectionError",
    "TLSCertVerificationError",
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


class LineTooLong(ResponseTooLarge):
    """A line of a streamed body is longer than ``max_length`` (see ``StreamBody.lines``)."""


class BadStatus(AsksException):
    """Raised by ``raise_for_status()`` for a 4xx or 5xx response (or a status past 599).

    Attributes:
        response: the response that carried the status.
        status_code: its status code.
    """

    # status_code defaults to 500 as in asks 2.4, whose callers may leave it out.
    def __init__(self, message: Any, response: BaseResponse, status_code: int = 500) -> None:
        super().__init__(message)
        self.response = response
        self.status_code = status_code

    def __reduce__(self) -> tuple[Any, ...]:
        # Exceptions are rebuilt from their args, which hold the message
        # alone: without this, copy.copy() and pickle (a worker process's
        # error sent back to its parent) raised TypeError for the missing
        # response.
        return (type(self), (*self.args[:1], self.response, self.status_code), self.__dict__)


class ConnectivityError(AsksException):
    """The server could not be reached or the connection failed."""


class ConnectFailed(ConnectivityError):
    """The connection could not be established (DNS, refused, unreachable).

    Nothing was sent, so any request may be retried; ``retries`` does.
    """


class ProxyError(ConnectivityError):
    """The proxy could not be reached, refused the request, failed, or wants credentials.

    A tunnel the proxy could not open to the origin is one too. The message
    names the proxy (never its credentials).

    Attributes:
        status_code: the proxy's HTTP status (``407``, ``502``...) when it
            answered with one, else ``None``.
    """

    def __init__(self, message: Any, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class ProxyUnreachable(ProxyError, ConnectFailed):
    """No connection to the proxy could be made (refused, unreachable, its name unknown).

    Nothing was sent, so, as for any :class:`ConnectFailed`, ``retries``
    retries it for every method.
    """


class RequestTimeout(ConnectivityError):
    """``timeout`` or ``connection_timeout`` expired."""


class PoolTimeout(RequestTimeout):
    """No connection slot became free within ``pool_timeout`` seconds."""


class ServerClosedConnectionError(ConnectivityError):
    """The server closed or reset the connection before the response was complete."""


class TLSError(ConnectivityError, ssl.SSLError):
    """The TLS handshake or connection failed (for example a server that does not speak TLS).

    Also an :class:`ssl.SSLError` (and so an :class:`OSError`): asks 2.4 let
    ``ssl``'s own exception escape, and code catching it keeps working.

    Attributes:
        reason: OpenSSL's short name of the failure, e.g.
            ``"WRONG_VERSION_NUMBER"``, copied from the ``ssl`` error (``None``
            when it had none).
        library: the OpenSSL library that reported it, e.g. ``"SSL"``.
    """

    # typeshed types these str (ssl sets them on the errors it raises);
    # here they exist on every instance, None when ssl gave none.
    reason: str | None = None  # type: ignore[assignment]
    library: str | None = None  # type: ignore[assignment]

    def __str__(self) -> str:
        # The message, as for every asks error (ssl.SSLError's own __str__
        # shows the args tuple when strerror is not set).
        return BaseException.__str__(self)

    @classmethod
    def from_ssl(cls, exc: ssl.SSLError, message: str) -> TLSError:
        """The asks error for *exc*, keeping the attributes ``ssl`` users read.

        Args:
            exc: the :mod:`ssl` error that was raised.
            message: the new error's message.

        Returns:
            a :class:`TLSCertVerificationError` when *exc* is a certificate
            verification failure, else a :class:`TLSError`.
        """
        if isinstance(exc, ssl.SSLCertVerificationError):
            error: TLSError = TLSCertVerificationError(message)
            names: tuple[str, ...] = ("reason", "library", "verify_code", "verify_message")
        else:
            error = TLSError(message)
            names = ("reason", "library")
        # Not errno/strerror: those are OpenSSL's internal SSL_ERROR_* codes,
        # and os.strerror() of them would name an unrelated system error.
        for name in names:
            value = getattr(exc, name, None)
            if value is not None:
                setattr(error, name, value)
        return error


class TLSCertVerificationError(TLSError, ssl.SSLCertVerificationError):
    """The server's certificate was refused: untrusted, expired, or for another host name.

    Also an :class:`ssl.SSLCertVerificationError` (which ``ssl`` makes a
    :class:`ValueError` as well), so ``except ssl.SSLCertVerificationError``
    written for asks 2.4 catches it.

    Attributes:
        verify_code: OpenSSL's verification result, e.g. ``62`` for a host
            name mismatch, ``19`` for a self-signed certificate in the chain.
        verify_message: its text, e.g. ``"Hostname mismatch, certificate is
            not valid for '127.0.0.1'."``.
    """

    verify_code: int | None = None  # type: ignore[assignment]
    verify_message: str | None = None  # type: ignore[assignment]
