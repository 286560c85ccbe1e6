"""Tracing: the transport reports each step of a request to a caller's function.

A session made with ``trace=fn`` calls ``fn(event, info)`` at each step a
request takes below the policy layer (docs/hooks.md lists the events and
their ``info`` keys): opening a connection (TCP or Unix socket, then TLS),
which connection a request goes out on (new or reused), the request sent,
the response head received. Every event names its connection by a number,
1, 2, ... in the order the session opened them, so a log can tell a reused
connection from a new one, and a span can be opened and ended on the same
connection.

Zero cost without a tracer: nothing on the request path asks whether one is
set. The dialler (``connect.py``) builds :class:`TracedHTTP11Connection`
instead of the plain class when the session has a tracer, and only that
subclass reports; the dialler itself checks once per new connection, which
is never the hot path.

The tracer is a plain function, called inline (no ``await``): a log line or a
span start costs nothing like a task switch, and a coroutine that was never
awaited would be a bug. An exception it raises propagates to the caller of
the request, as any failure of the request would, and leaves nothing behind
(the connection's cycle ends the way any error ends it).
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable, Mapping
from typing import TYPE_CHECKING, Any

import h11

from .._headers import ResponseHeaders
from .backend import AnyStream
from .http11 import HTTP11Connection

if TYPE_CHECKING:
    from .pool import ConnectionPool

__all__ = ["EVENTS", "TracedHTTP11Connection", "Tracer", "check_tracer"]

Tracer = Callable[[str, Mapping[str, Any]], object]
"""``fn(event, info)``: *event* one of :data:`EVENTS`, *info* a fresh dict."""

# Every event name, in the order a request on a new https connection sees
# them (docs/hooks.md says what each carries).
EVENTS = (
    "connect.start",
    "connect.done",
    "tls.start",
    "tls.done",
    "connect.failed",
    "request.start",
    "request.sent",
    "response.head",
)


def check_tracer(trace: object) -> Tracer | None:
    """*trace* as a tracer, or None.

    Raises:
        TypeError: not callable, or an ``async def`` function (the tracer is
            called inline and never awaited).
    """
    if trace is None:
        return None
    if not callable(trace):
        raise TypeError(f"trace must be a function, not {type(trace).__name__}")
    if inspect.iscoroutinefunction(trace) or inspect.iscoroutinefunction(
        getattr(trace, "__call__", None)  # noqa: B004 - an object with async __call__
    ):
        raise TypeError("trace must be a plain function: it is called inline, never awaited")
    return trace


class TracedHTTP11Connection(HTTP11Connection):
    """An :class:`HTTP11Connection` that reports its requests to a tracer.

    Args:
        stream, pool_key, max_head_size, keepalive_expiry, pool: as for
            :class:`HTTP11Connection`.
        trace: the session's tracer.
        number: this connection's number in the session (1, 2, ...).
    """

    __slots__ = ("_sent", "_trace", "number")

    def __init__(
        self,
        stream: AnyStream,
        pool_key: object,
        max_head_size: int,
        keepalive_expiry: float,
        pool: ConnectionPool[HTTP11Connection] | None,
        trace: Tracer,
        number: int,
    ) -> None:
        super().__init__(stream, pool_key, max_head_size, keepalive_expiry, pool)
        self._trace = trace
        self._sent = False
        self.number = number

    async def handle(
        self,
        method: bytes,
        target: bytes,
        headers: tuple[tuple[bytes, bytes], ...],
        body: bytes | None,
        stream: AsyncIterator[bytes] | None = None,
    ) -> tuple[h11.Response, ResponseHeaders]:
        # Reported here, outside the base class's handling of a failed send
        # (an OSError there means "did the server answer early?"), so that a
        # tracer's own exception can never be taken for the socket's.
        self._trace(
            "request.start",
            {
                "connection": self.number,
                "reused": self.reused,
                "method": method.decode("ascii"),
                "target": target.decode("ascii"),
            },
        )
        self._sent = False
        return await super().handle(method, target, headers, body, stream)

    async def _send_request(
        self,
        method: bytes,
        target: bytes,
        headers: tuple[tuple[bytes, bytes], ...],
        body: bytes | None,
        stream: AsyncIterator[bytes] | None,
    ) -> bool:
        # Reported when the head is next awaited (the very next step, with
        # no await between): see handle() for why not from here. A body
        # withheld (Expect: 100-continue refused) is no request sent whole.
        sent = await super()._send_request(method, target, headers, body, stream)
        self._sent = sent
        return sent

    async def receive_response_head(self) -> tuple[h11.Response, ResponseHeaders]:
        if self._sent:
            # Only a request sent whole: a server that answered early (a 413
            # to an upload) cut the send short, and then there is no
            # "request.sent", only the head.
            self._sent = False
            self._trace("request.sent", {"connection": self.number})
        head, headers = await super().receive_response_head()
        self._trace(
            "response.head",
            {
                "connection": self.number,
                "status_code": head.status_code,
                "http_version": head.http_version.decode("ascii"),
            },
        )
        return head, headers
