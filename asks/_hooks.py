"""Event hooks: the caller's functions, called for every request and response.

``Session(event_hooks={"request": [...], "response": [...]})``. A request
hook gets a :class:`Request` (method, URL and the header block exactly as
sent) before each request goes out; a response hook gets each response as
the caller would (a :class:`~asks.Response`, or a
:class:`~asks.StreamResponse` whose body has not been read). Every request
sent counts: redirects, auth challenges answered, retries; the transport's
own silent resend of a request that met a dead pooled connection does not
(it is the same request; the tracer sees it).

Hooks observe; they do not change what is sent. The header block is built,
cached and checked before the hook runs (credentials already dropped after
a cross-origin redirect, framing already decided), so a hook that could edit
it could undo those rules; to change headers, set them on the session or
use an auth object. A hook may raise, and that exception leaves the call
as it is; whatever the call held is given back first (a streamed response
is closed, so its connection is closed, and its slot freed).

Zero cost without hooks: a session without them runs exactly the code it
ran before. :func:`install` wraps four of the session's steps on that one
session object, so nothing on the request path asks whether hooks are set.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from ._headers import Headers
from .response_objects import BaseResponse, StreamResponse

if TYPE_CHECKING:
    from .sessions import Session

__all__ = ["EventHooks", "Request", "install", "parse_event_hooks"]

RequestHook = Callable[["Request"], Awaitable[object] | object]
ResponseHook = Callable[[BaseResponse], Awaitable[object] | object]

_KINDS = ("request", "response")

# The response a wrapped step returns (None: one not to show the hooks).
R = TypeVar("R", bound="BaseResponse | None")


class Request:
    """A request as it was sent, for event hooks. Read-only.

    Args:
        method: e.g. ``"GET"``.
        url: the full URL, query included.
        raw_headers: the header block as sent.
    """

    __slots__ = ("_headers", "_method", "_raw_headers", "_url")

    def __init__(
        self, method: str, url: str, raw_headers: tuple[tuple[bytes, bytes], ...]
    ) -> None:
        self._method = method
        self._url = url
        self._raw_headers = raw_headers
        self._headers: Headers | None = None

    @property
    def method(self) -> str:
        """The method, e.g. ``"GET"``."""
        return self._method

    @property
    def url(self) -> str:
        """The full URL, query included."""
        return self._url

    @property
    def raw_headers(self) -> tuple[tuple[bytes, bytes], ...]:
        """The header block as sent: ``(name, value)`` byte pairs in order.

        ``Host`` first, then the defaults and the caller's, cookies, auth,
        and the body's framing (``Content-Length`` or ``Transfer-Encoding``).
        """
        return self._raw_headers

    @property
    def headers(self) -> Headers:
        """The headers as sent, as a case-insensitive :class:`asks.Headers`.

        A copy: changing it changes nothing that was sent.
        """
        headers = self._headers
        if headers is None:
            headers = self._headers = Headers.from_raw(self._raw_headers)
        return headers.copy()

    def __repr__(self) -> str:
        return f"<Request {self._method} {self._url}>"


class EventHooks:
    """A session's hooks, checked: each kind a tuple of callables."""

    __slots__ = ("request", "response")

    def __init__(
        self, request: tuple[RequestHook, ...], response: tuple[ResponseHook, ...]
    ) -> None:
        self.request = request
        self.response = response

    async def on_request(self, request: Request) -> None:
        for hook in self.request:
            await _call(hook, request)

    async def on_response(self, response: BaseResponse) -> None:
        try:
            for hook in self.response:
                await _call(hook, response)
        except BaseException:
            if isinstance(response, StreamResponse):
                # The caller never gets this response: close it, so its
                # connection is not held until the garbage collector.
                await response.close()
            raise


async def _call(hook: Callable[[Any], object], arg: object) -> None:
    result = hook(arg)
    # async functions are the documented kind; a plain function (a logger)
    # works too.
    if inspect.isawaitable(result):
        await result


def parse_event_hooks(value: object) -> EventHooks | None:
    """``event_hooks=`` as given to ``Session``, checked; None when there are none.

    Raises:
        TypeError: not a mapping, a kind not a list or tuple, a hook not
            callable.
        ValueError: a kind other than ``"request"`` and ``"response"``.
    """
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise TypeError(
            'event_hooks must be a mapping like {"request": [...], "response": [...]}, '
            f"not {type(value).__name__}"
        )
    unknown = set(value) - set(_KINDS)
    if unknown:
        raise ValueError(
            f"unknown event_hooks kinds {sorted(map(str, unknown))}: "
            'the kinds are "request" and "response"'
        )
    found: dict[str, tuple[Callable[[Any], object], ...]] = {}
    for kind in _KINDS:
        hooks = value.get(kind, ())
        if callable(hooks) or not isinstance(hooks, Sequence) or isinstance(hooks, str):
            raise TypeError(f"event_hooks[{kind!r}] must be a list of functions")
        for hook in hooks:
            if not callable(hook):
                raise TypeError(
                    f"event_hooks[{kind!r}] holds {type(hook).__name__}, not a function"
                )
        found[kind] = tuple(hooks)
    if not found["request"] and not found["response"]:
        return None
    return EventHooks(found["request"], found["response"])


def install(session: Session, hooks: EventHooks) -> None:
    """Wrap *session*'s steps so that *hooks* run; only this session's.

    The request hooks run before each request the transport is asked to
    send (every redirect, auth retry and retry is a new ``send``); the
    response hooks after each response object is built, before the call
    goes on with it (to a redirect, a retry, or the caller).
    """
    if hooks.request:
        transport = session._transport
        send = transport.send

        async def send_with_hooks(
            call: Any,
            wire: tuple[tuple[bytes, bytes], ...],
            connection_timeout: float | None,
            *rest: Any,
        ) -> Any:
            # (the proxy and pool timeout of the call, passed on as they came)
            await hooks.on_request(Request(call.method, call.url.text, wire))
            return await send(call, wire, connection_timeout, *rest)

        transport.send = send_with_hooks  # type: ignore[method-assign,assignment]
    if hooks.response:
        session._buffered = _after(session._buffered, hooks)  # type: ignore[method-assign]
        session._final_response = _after(  # type: ignore[method-assign]
            session._final_response, hooks
        )
        session._retried = _after(session._retried, hooks)  # type: ignore[method-assign]
        session._passed = _after(session._passed, hooks)  # type: ignore[method-assign]


def _after(
    step: Callable[..., Coroutine[Any, Any, R]], hooks: EventHooks
) -> Callable[..., Coroutine[Any, Any, R]]:
    async def step_then_hooks(*args: Any, **kwargs: Any) -> R:
        response = await step(*args, **kwargs)
        # (None: a retried response whose body could not be read, never
        # received whole: nothing for the hooks.)
        if response is not None:
            await hooks.on_response(response)
        return response

    return step_then_hooks
