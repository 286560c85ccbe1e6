"""What the pool, the session and every kind of connection agree on.

A connection owns its state. The pool never writes it: it asks questions
(:meth:`Connection.is_available`, :meth:`Connection.has_expired`, ...) and
tells the connection two things only - "you are handed out"
(:meth:`Connection.claim`) and "close when this cycle is done"
(:meth:`Connection.close_after_cycle`). A connection hands itself back
through the one release site of its kind (``HTTP11Connection._release``):
whoever finishes a response - the buffered read, a stream read to its end,
a stream closed early, an error or a cancellation - goes through it, and it
acts once per cycle.

The low-level failures are classes, raised where they happen and mapped to
:mod:`asks.errors` once, by class, in :mod:`asks._boundary`. Their messages
say what happened; the boundary adds which request it was.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Hashable
from typing import Protocol

__all__ = [
    "BodyCutShort",
    "BodySourceFailed",
    "ConnState",
    "ConnectError",
    "ConnectTimeout",
    "Connection",
    "ConnectionNotAvailable",
    "PeerClosedEarly",
    "PoolWaitTimeout",
    "ProtocolViolation",
    "ProxyFailed",
    "RequestNotSendable",
    "StreamRefused",
    "TransportError",
    "next_piece",
]


class ConnState(enum.Enum):
    ACTIVE = "active"  # handed out: a request/response cycle is in progress
    IDLE = "idle"  # between cycles, in the pool
    CLOSED = "closed"


class TransportError(Exception):
    """Base of the transport's own failures (never seen by callers of asks)."""


class PeerClosedEarly(TransportError):
    """The server closed the connection before the response head was complete.

    ``before_response`` is true when not a single response byte had arrived,
    which is what makes a silent retry of an idempotent request safe.
    """

    def __init__(self, before_response: bool) -> None:
        super().__init__(
            "server closed the connection before sending a response"
            if before_response
            else "server closed the connection in the middle of the response head"
        )
        self.before_response = before_response


class StreamRefused(PeerClosedEarly):
    """An HTTP/2 server will not process the request (REFUSED_STREAM, or GOAWAY).

    RFC 9113 section 8.7: such a request was not processed, so it may be
    sent again whatever its method - on another connection.
    """

    def __init__(self, why: str) -> None:
        TransportError.__init__(self, why)
        self.before_response = True


class BodyCutShort(TransportError):
    """The connection ended inside the response body (it was cut short).

    Also an HTTP/2 stream reset by the server before or inside its response
    (not REFUSED_STREAM): the request may have been processed.
    """


class BodyOverLimit(TransportError):
    """A buffered response body grew past the session's ``max_body_size``.

    A class of its own, not ``ResponseTooLarge`` raised here, so that the
    boundary names the request in the message, as it does for every other
    failure of a call.
    """


class ProtocolViolation(TransportError):
    """The server's bytes broke the protocol (a bad head, bad framing...)."""


class RequestNotSendable(TransportError):
    """The request could not be framed as announced (e.g. a body that changed size)."""


class BodySourceFailed(TransportError):
    """The caller's request body source (an iterator, a file) raised while it was sent.

    Not a network failure, whatever its class (a file's read can raise
    ``OSError``): the request was cut short by the client, so there is no
    answer to wait for and nothing to retry. ``error`` is what the source
    raised; the caller gets it as it was.
    """

    def __init__(self, error: Exception) -> None:
        super().__init__(f"the request body's source failed: {error!r}")
        self.error = error


async def next_piece(stream: AsyncIterator[bytes]) -> bytes | None:
    """The body source's next piece, None at its end; its own failure as BodySourceFailed.

    Why: the source failing is not the connection failing. Were its error
    an ``OSError`` (a file's read), it would pass for a failed send: over
    HTTP/1.1 the connection would then wait for an early answer (RFC 9112
    section 9.5) from a server still reading the body, and the transport
    could send the request again.
    """
    try:
        return await stream.__anext__()
    except StopAsyncIteration:
        return None
    except Exception as exc:
        raise BodySourceFailed(exc) from None


class ConnectError(TransportError):
    """No connection could be made: DNS, refused, unreachable, no such socket file.

    Nothing was sent, so any request may be tried again.
    """


class ConnectTimeout(TransportError):
    """No connection within ``connection_timeout``."""


class ProxyFailed(TransportError):
    """The proxy was unreachable, refused, failed, or asked for credentials.

    ``status_code`` is the proxy's HTTP status when it answered with one.
    The message names the proxy and never its credentials.
    """

    def __init__(
        self, message: str, status_code: int | None = None, *, unreachable: bool = False
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        # No connection to the proxy at all: nothing was sent anywhere.
        self.unreachable = unreachable


class PoolWaitTimeout(TransportError):
    """No connection slot was free within the pool timeout."""


class ConnectionNotAvailable(TransportError):
    """The connection the pool picked cannot take this request after all.

    The request goes back to the pool for another connection; it is not a
    failure the caller sees, and it is not counted as a retry.
    """


class Connection(Protocol):
    """What the pool needs of a connection, whatever its protocol."""

    pool_key: Hashable
    idle_since: float  # time.monotonic() when it last went idle

    def is_available(self) -> bool:
        """Whether it can take a request now (an idle HTTP/1.1 connection can)."""
        ...

    def is_idle(self) -> bool:
        """Whether no request is in progress on it."""
        ...

    def is_closed(self) -> bool: ...

    def has_expired(self, now: float) -> bool:
        """Idle past its keep-alive expiry, or dropped by the server: close, never reuse."""
        ...

    def claim(self) -> None:
        """The pool hands it to a request."""
        ...

    def close_after_cycle(self) -> None:
        """Serve the cycle in progress, then close instead of going idle."""
        ...

    async def close(self) -> None: ...
