"""The Session: defaults, URL building, headers, and the request loop.

The Session holds policy; the mechanics live elsewhere. A call goes:

1. arguments checked and turned into a prepared request (``_request``: URL
   parsed and validated, headers merged and encoded, body encoded) - before
   any socket is touched, so bad input never costs a connection;
2. the request sent and its response head read over a pooled or new
   connection (``_transport``, which also resends a request that met a
   connection the server had dropped while idle: once, on a new
   connection, only when that is safe);
3. the body read into a :class:`Response` or handed to a
   :class:`StreamResponse`; either way the connection goes back to the pool
   by itself when the body ends;
4. redirects, auth challenges and cookies handled here, each new request
   going through 2 and 3 again.

Failures are translated into :mod:`asks.errors` in one place
(:func:`asks._boundary.translate`). Connection-level failures are retried up
to ``retries`` more times: a connection that could not be made for every
method (nothing was sent); a server that closed the connection before
answering, only for idempotent methods (RFC 9110 section 9.2.2). An
:class:`asks.Retry` instead of an int is a policy (``_retry``): the loop asks
the call's budget "retry this response / this error?" and "how long to
wait?", and waits with :func:`asks._retry.sleep`.
"""

from __future__ import annotations

import codecs
import os
import ssl
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, overload

import curio
import h11

from . import _retry
from ._boundary import reraise, translate
from ._headers import Headers, HeadersInput, ResponseHeaders
from ._hooks import install as install_hooks
from ._hooks import parse_event_hooks
from ._proxies import Proxy
from ._rate import RateLimitInput, parse_rate_limit
from ._rate import install as install_rate_limit
from ._redirects import REDIRECT_CODES, RedirectPlan, plan_redirect, strips_credentials
from ._request import IDEMPOTENT, Call, RequestFactory
from ._retry import Retry, RetryBudget
from ._transport.connect import Dialer, pool_host
from ._transport.deadlines import kernel_seconds
from ._transport.http11 import HTTP11Connection
from ._transport.interfaces import BodyOverLimit, BodySourceFailed
from ._transport.pool import ConnectionPool, HostLimitedPool, PoolStats
from ._transport.routes import DIRECT, ProxyChoice, ProxyRoute, Router, coerce_route
from ._transport.tracing import check_tracer
from ._transport.transport import Transport
from ._transport.trap_cycles import break_trap_cycle
from ._urls import URL
from .auth import AuthBase, BasicAuth, PostResponseAuth, PreResponseAuth
from .errors import (
    AsksException,
    BadHttpResponse,
    ConnectFailed,
    ProxyError,
    RequestTimeout,
    ServerClosedConnectionError,
    TooManyRedirects,
    UnreplayableBody,
)
from .response_objects import (
    BaseResponse,
    Response,
    StreamBody,
    StreamResponse,
    content_coding,
)

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ._keywords import RequestKeywords, VerbKeywords

    # Imported on first use: http.cookiejar costs milliseconds to import and
    # only sessions that keep or receive cookies need it.
    from .cookie_utils import CookieTracker

__all__ = ["Session"]

# The keywords that shape a call's options (see Session._options); a call
# without any of them runs with the session's defaults.
_OPTION_KWARGS = frozenset(
    {
        "auth",
        "auth_off_domain",
        "max_redirects",
        "follow_redirects",
        "stream",
        "callback",
        "persist_cookies",
        "encoding",
        "proxy",
        "pool_timeout",
    }
)
_OPTION_KWARGS_BUT_STREAM = _OPTION_KWARGS - {"stream"}


def _only_stream(kwargs: dict[str, Any]) -> bool:
    """Whether a call's one option is ``stream=True`` (every URL of a crawl):
    such calls have a cached set of options of their own."""
    return kwargs.get("stream") is True and _OPTION_KWARGS_BUT_STREAM.isdisjoint(kwargs)


# Keywords every request accepts (api.md): the options, and what makes up
# the request itself.
_KWARGS = _OPTION_KWARGS | frozenset(
    {"params", "data", "json", "multipart", "files", "headers", "cookies", "timeout"}
)

# Headers that describe a body; they go when a redirect drops the body.
_BODY_HEADERS = frozenset(
    {
        "content-type",
        "content-length",
        "content-encoding",
        "content-language",
        "content-location",
        "transfer-encoding",
    }
)
_ORIGIN_CREDENTIALS = ("Authorization", "Cookie")
_CREDENTIALS = (*_ORIGIN_CREDENTIALS, "Proxy-Authorization")
_REDIRECT_OR_PROXY_AUTH = REDIRECT_CODES | {407}
# The most of a passed response's body (a redirect, a challenge, a response
# retried) a streamed call reads; see Session._passed.
_PASSED_BODY_LIMIT = 1024 * 1024


class _Options(NamedTuple):
    stream: bool
    callback: Callable[[bytes], Awaitable[Any]] | None
    encoding: str
    auth: AuthBase | None
    auth_off_domain: bool
    follow_redirects: bool
    max_redirects: int
    retries: int | Retry  # as given, for the plain-call cache
    connection_retries: int  # _exchange's own count (0 under a Retry)
    retry: Retry | None
    connection_timeout: float | None
    jar: CookieTracker | None
    proxy: ProxyChoice  # the call's own proxy=; None: the session's route
    pool_timeout: float | None
    cookies_off: bool  # persist_cookies=False on the call: no cookie handling at all


class Session:
    """A set of defaults and a pool of keep-alive connections.

    Creating one needs no running kernel, so a Session may live at module
    level. Use ``async with Session() as s:`` or ``await s.close()`` to close
    its pooled connections.

    Args:
        base_location: e.g. ``"https://example.com"``; the start of the URL of
            calls that pass none.
        endpoint: appended to ``base_location`` (e.g. ``"/api/v2"``).
        headers: headers sent with every request; per-call headers of the
            same name (any case) win.
        encoding: fallback text encoding of responses.
        persist_cookies: ``True`` keeps cookies between requests.
        ssl_context: the ``ssl.SSLContext`` for https connections (default:
            the system trust store, hostname checks on).
        connections: the most connections open at once, over all hosts, idle
            ones included. Requests beyond it wait for a free one.
        keepalive_expiry: seconds an idle connection may be kept for reuse.
        max_head_size: the most bytes a response head (status line and
            headers) may take.
        max_decoded_size: the most bytes a buffered body may decode to
            (``None``: no limit); guards against decompression bombs.
        max_body_size: the most bytes a buffered body may take as received
            (``None``: no limit); guards against endless bodies. Streams are
            never limited: they are read piece by piece.
        source_address: ``(host, port)`` to bind before connecting.
        uds: a Unix domain socket path: every connection of the session goes
            there instead of to the URL's host (which still gives ``Host``
            and, for https, the name TLS verifies).
        resumption: offer the TLS session of the last connection to the same
            host, port and ``ssl_context`` when opening a new one, so the
            handshake is shorter; ``False`` makes every handshake a full one.
        event_hooks: ``{"request": [fn, ...], "response": [fn, ...]}``: async
            functions called with each request sent (an :class:`asks.Request`)
            and each response received (redirects, auth challenges and
            retries included); see docs/hooks.md.
        trace: ``fn(event, info)``, a plain function called at each step of
            the transport (connecting, TLS, request sent, response head;
            which connection, new or reused); see docs/hooks.md.
        rate_limit: requests per second per origin: a number (evenly
            spaced, burst 1), an :class:`asks.RateLimit` (with a burst), or
            ``{"host": limit, "*": limit}`` by host name. A request waits
            for its turn (only the call's ``timeout`` bounds the wait);
            every request sent counts, redirects and auth retries included.
            See docs/rate-limits.md.
        proxy: every request goes through this proxy: a URL string
            (``http://``, ``https://``, ``socks4://``, ``socks4a://``,
            ``socks5://``, ``socks5h://``, credentials allowed) or an
            :class:`asks.Proxy`; ``""`` means no proxy at all (the
            environment is not read). See docs/proxies.md.
        trust_env: without ``proxy=``, take the proxy of each request from
            ``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY`` and ``NO_PROXY``
            (lower case first), read once, here.
        connections_per_host: the most connections open at once to one
            origin (scheme, host, port), inside ``connections`` (None: no
            limit of its own). Requests beyond it wait for a connection of
            their origin; they never hold up requests to other origins.
        pool_timeout: the most seconds a request waits for a connection
            when all are taken (None: as long as its ``timeout`` allows);
            then :class:`asks.errors.PoolTimeout`. A call's ``pool_timeout=``
            replaces it.
        retries: the default ``retries=`` of every call (a call's own wins):
            an int, extra attempts after a connection-level failure, or an
            :class:`asks.Retry` policy; see docs/retries.md.
        http2: ``True`` offers HTTP/2 by ALPN on https (the server picks;
            ``response.http_version`` is ``"2"`` when it chose h2): concurrent
            requests to one origin then share one connection as streams, up
            to the server's limit. ``"prior-knowledge"`` also speaks HTTP/2
            (h2c) to http:// URLs. Through proxies asks speaks HTTP/1.1. A
            given ``ssl_context`` gets its ALPN list set before each
            handshake. See docs/http2.md.

    Raises:
        ValueError: ``connections`` or ``connections_per_host`` below 1, a
            negative ``pool_timeout`` or ``retries``, an unknown ``encoding``,
            ``source_address`` with ``uds``, an unknown
            ``event_hooks`` kind, a ``rate_limit`` not above 0, with a
            burst below 1 or keyed by something that is not a host name,
            a bad proxy URL (given or in the environment),
            ``proxy`` with ``uds``, an ``http2`` other than ``True``,
            ``False`` or ``"prior-knowledge"``.
        TypeError: ``persist_cookies`` is not ``None``, a bool, a
            ``CookieJar`` or a ``CookieTracker``; ``uds`` is not a path;
            ``encoding`` is not a str; ``event_hooks`` is not a mapping of
            lists (or tuples); a hook or ``trace`` is not a
            function (``trace`` must not be ``async``); a ``rate_limit`` of
            the wrong type; ``proxy`` is not a string or an
            :class:`asks.Proxy`; ``retries`` neither an int nor a Retry.
    """

    def __init__(
        self,
        base_location: str | None = None,
        endpoint: str | None = None,
        headers: HeadersInput = None,
        encoding: str = "utf-8",
        persist_cookies: Any = None,
        ssl_context: ssl.SSLContext | None = None,
        connections: int = 1,
        *,
        keepalive_expiry: float = 5.0,
        max_head_size: int = 65536,
        max_decoded_size: int | None = 256 * 1024 * 1024,
        max_body_size: int | None = None,
        source_address: tuple[str, int] | None = None,
        uds: str | os.PathLike[str] | None = None,
        resumption: bool = True,
        event_hooks: Mapping[str, Sequence[Callable[[Any], Any]]] | None = None,
        trace: Callable[[str, Mapping[str, Any]], object] | None = None,
        rate_limit: RateLimitInput = None,
        proxy: str | Proxy | None = None,
        trust_env: bool = True,
        connections_per_host: int | None = None,
        pool_timeout: float | None = None,
        retries: int | Retry = 1,
        http2: bool | str = False,
    ) -> None:
        hooks = parse_event_hooks(event_hooks)
        if http2 not in (False, True, "prior-knowledge"):
            raise ValueError(f"http2 must be True, False or 'prior-knowledge', not {http2!r}")
        self._retries = _check_retries(retries)
        self._rate_limiter = parse_rate_limit(rate_limit)
        route = coerce_route(proxy)
        if route is not None and route is not DIRECT and uds is not None:
            raise ValueError("a session connects to its uds= socket: it cannot use a proxy too")
        if source_address is not None and uds is not None:
            # A Unix socket has no TCP source to bind: ignored, the option
            # would look honoured.
            raise ValueError(
                "a session connects to its uds= socket: source_address= cannot apply to it"
            )
        _check_encoding(encoding)
        _check_connection_limits(keepalive_expiry, max_head_size)
        self.base_location = base_location
        self.endpoint = endpoint
        self._headers = Headers(headers)
        self.encoding = encoding
        self.persist_cookies = persist_cookies
        self._cookie_tracker: CookieTracker | None = _make_tracker(persist_cookies)
        self.max_decoded_size = max_decoded_size
        self.max_body_size = max_body_size
        if uds is not None and not isinstance(uds, str | os.PathLike):
            raise TypeError(f"uds must be a path, not {type(uds).__name__}")
        self._dialer = Dialer(
            ssl_context,
            source_address,
            os.fspath(uds) if uds is not None else None,
            resumption,
            max_head_size,
            keepalive_expiry,
            check_tracer(trace),
            http2,
        )
        self._pool_timeout = _check_pool_timeout(pool_timeout)
        self._pool: ConnectionPool[HTTP11Connection]
        if http2:
            # Only a session that may speak HTTP/2 shares connections.
            from ._transport.sharing import HostLimitedSharingPool, SharingPool

            may_share = self._dialer.may_share
            if connections_per_host is None:
                self._pool = SharingPool(connections, keepalive_expiry, may_share=may_share)
            else:
                self._pool = HostLimitedSharingPool(
                    connections,
                    keepalive_expiry,
                    connections_per_host,
                    pool_host,
                    may_share=may_share,
                )
        elif connections_per_host is None:
            self._pool = ConnectionPool(connections, keepalive_expiry)
        else:
            # Only a session with the limit pays for counting by host.
            self._pool = HostLimitedPool(
                connections, keepalive_expiry, connections_per_host, pool_host
            )
        self.trust_env = trust_env
        environment = None
        if route is None and trust_env and uds is None:
            # Read once, here, as httpx does: a request costs no os.environ
            # lookups, and a changed environment applies to new sessions.
            from ._proxy_env import EnvironmentProxies

            environment = EnvironmentProxies()
            if not environment.any:
                environment = None
        router = None
        self._forward_per_origin = connections_per_host is not None
        if environment is not None or isinstance(route, Proxy):
            router = Router(self._dialer, route, environment, self._forward_per_origin)
        self._route = route
        self._transport = Transport(self._pool, self._dialer, router)
        self._requests = RequestFactory()
        # Hot-path caches for calls that pass no option, and for those that
        # pass only stream=True (see _options).
        self._plain_options: _Options | None = None
        self._streamed_options: _Options | None = None
        if hooks is not None:
            install_hooks(self, hooks)
        if self._rate_limiter is not None:
            # After the hooks: a request hook runs once the request's turn
            # has come, right before it is sent.
            install_rate_limit(self, self._rate_limiter)

    @property
    def headers(self) -> Headers:
        """Session-wide headers: a case-insensitive mutable mapping."""
        return self._headers

    @headers.setter
    def headers(self, value: HeadersInput) -> None:
        # `s.headers = {...}` works as in asks: any mapping or pairs.
        self._headers = Headers(value)

    @property
    def connections(self) -> int:
        """The connection limit given at construction."""
        return self._pool.limit

    @property
    def ssl_context(self) -> ssl.SSLContext | None:
        """The ``ssl.SSLContext`` for https connections (None: the verifying default)."""
        return self._dialer.ssl_context

    @ssl_context.setter
    def ssl_context(self, value: ssl.SSLContext | None) -> None:
        # Connections made under the old context stay under its pool key.
        self._dialer.ssl_context = value

    @property
    def source_address(self) -> tuple[str, int] | None:
        """``(host, port)`` bound before connecting over TCP, or None."""
        return self._dialer.source_address

    @source_address.setter
    def source_address(self, value: tuple[str, int] | None) -> None:
        self._dialer.source_address = value

    @property
    def proxy(self) -> Proxy | None:
        """The session's proxy, or None (direct, or chosen from the environment)."""
        return self._route if isinstance(self._route, Proxy) else None

    @property
    def uds(self) -> str | None:
        """The Unix domain socket every connection goes to, or None."""
        return self._dialer.uds

    def pool_stats(self) -> PoolStats:
        """How many connections are open, idle and busy, and how many requests wait.

        Returns:
            a :class:`asks.PoolStats` snapshot (``limit``, ``open``, ``idle``,
            ``busy``, ``connecting``, ``waiting``).
        """
        return self._pool.stats()

    # -- the public verbs ----------------------------------------------------
    # Plain functions handing back request()'s coroutine: awaiting them is
    # the same as awaiting an async def, without a second coroutine and
    # frame per call.

    @overload
    def get(
        self,
        url: str | None = None,
        *,
        stream: Literal[False] = ...,
        **kwargs: Unpack[VerbKeywords],
    ) -> Coroutine[Any, Any, Response]: ...
    @overload
    def get(
        self, url: str | None = None, *, stream: Literal[True], **kwargs: Unpack[VerbKeywords]
    ) -> Coroutine[Any, Any, StreamResponse]: ...
    @overload
    def get(
        self, url: str | None = None, *, stream: bool, **kwargs: Unpack[VerbKeywords]
    ) -> Coroutine[Any, Any, BaseResponse]: ...
    def get(self, url: str | None = None, **kwargs: Any) -> Coroutine[Any, Any, Any]:
        """``request("GET", url, **kwargs)``."""
        return self.request("GET", url, **kwargs)

    @overload
    def head(
        self,
        url: str | None = None,
        *,
        stream: Literal[False] = ...,
        **kwargs: Unpack[VerbKeywords],
    ) -> Coroutine[Any, Any, Response]: ...
    @overload
    def head(
        self, url: str | None = None, *, stream: Literal[True], **kwargs: Unpack[VerbKeywords]
    ) -> Coroutine[Any, Any, StreamResponse]: ...
    @overload
    def head(
        self, url: str | None = None, *, stream: bool, **kwargs: Unpack[VerbKeywords]
    ) -> Coroutine[Any, Any, BaseResponse]: ...
    def head(self, url: str | None = None, **kwargs: Any) -> Coroutine[Any, Any, Any]:
        """``request("HEAD", url, **kwargs)``."""
        return self.request("HEAD", url, **kwargs)

    @overload
    def post(
        self,
        url: str | None = None,
        *,
        stream: Literal[False] = ...,
        **kwargs: Unpack[VerbKeywords],
    ) -> Coroutine[Any, Any, Response]: ...
    @overload
    def post(
        self, url: str | None = None, *, stream: Literal[True], **kwargs: Unpack[VerbKeywords]
    ) -> Coroutine[Any, Any, StreamResponse]: ...
    @overload
    def post(
        self, url: str | None = None, *, stream: bool, **kwargs: Unpack[VerbKeywords]
    ) -> Coroutine[Any, Any, BaseResponse]: ...
    def post(self, url: str | None = None, **kwargs: Any) -> Coroutine[Any, Any, Any]:
        """``request("POST", url, **kwargs)``."""
        return self.request("POST", url, **kwargs)

    @overload
    def put(
        self,
        url: str | None = None,
        *,
        stream: Literal[False] = ...,
        **kwargs: Unpack[VerbKeywords],
    ) -> Coroutine[Any, Any, Response]: ...
    @overload
    def put(
        self, url: str | None = None, *, stream: Literal[True], **kwargs: Unpack[VerbKeywords]
    ) -> Coroutine[Any, Any, StreamResponse]: ...
    @overload
    def put(
        self, url: str | None = None, *, stream: bool, **kwargs: Unpack[VerbKeywords]
    ) -> Coroutine[Any, Any, BaseResponse]: ...
    def put(self, url: str | None = None, **kwargs: Any) -> Coroutine[Any, Any, Any]:
        """``request("PUT", url, **kwargs)``."""
        return self.request("PUT", url, **kwargs)

    @overload
    def delete(
        self,
        url: str | None = None,
        *,
        stream: Literal[False] = ...,
        **kwargs: Unpack[VerbKeywords],
    ) -> Coroutine[Any, Any, Response]: ...
    @overload
    def delete(
        self, url: str | None = None, *, stream: Literal[True], **kwargs: Unpack[VerbKeywords]
    ) -> Coroutine[Any, Any, StreamResponse]: ...
    @overload
    def delete(
        self, url: str | None = None, *, stream: bool, **kwargs: Unpack[VerbKeywords]
    ) -> Coroutine[Any, Any, BaseResponse]: ...
    def delete(self, url: str | None = None, **kwargs: Any) -> Coroutine[Any, Any, Any]:
        """``request("DELETE", url, **kwargs)``."""
        return self.request("DELETE", url, **kwargs)

    @overload
    def options(
        self,
        url: str | None = None,
        *,
        stream: Literal[False] = ...,
        **kwargs: Unpack[VerbKeywords],
    ) -> Coroutine[Any, Any, Response]: ...
    @overload
    def options(
        self, url: str | None = None, *, stream: Literal[True], **kwargs: Unpack[VerbKeywords]
    ) -> Coroutine[Any, Any, StreamResponse]: ...
    @overload
    def options(
        self, url: str | None = None, *, stream: bool, **kwargs: Unpack[VerbKeywords]
    ) -> Coroutine[Any, Any, BaseResponse]: ...
    def options(self, url: str | None = None, **kwargs: Any) -> Coroutine[Any, Any, Any]:
        """``request("OPTIONS", url, **kwargs)``."""
        return self.request("OPTIONS", url, **kwargs)

    @overload
    def patch(
        self,
        url: str | None = None,
        *,
        stream: Literal[False] = ...,
        **kwargs: Unpack[VerbKeywords],
    ) -> Coroutine[Any, Any, Response]: ...
    @overload
    def patch(
        self, url: str | None = None, *, stream: Literal[True], **kwargs: Unpack[VerbKeywords]
    ) -> Coroutine[Any, Any, StreamResponse]: ...
    @overload
    def patch(
        self, url: str | None = None, *, stream: bool, **kwargs: Unpack[VerbKeywords]
    ) -> Coroutine[Any, Any, BaseResponse]: ...
    def patch(self, url: str | None = None, **kwargs: Any) -> Coroutine[Any, Any, Any]:
        """``request("PATCH", url, **kwargs)``."""
        return self.request("PATCH", url, **kwargs)

    @overload
    async def request(
        self,
        method: str,
        url: str | None = None,
        *,
        path: str = ...,
        retries: int | Retry | None = ...,
        connection_timeout: float | None = ...,
        stream: Literal[False] = ...,
        **kwargs: Unpack[RequestKeywords],
    ) -> Response: ...
    @overload
    async def request(
        self,
        method: str,
        url: str | None = None,
        *,
        path: str = ...,
        retries: int | Retry | None = ...,
        connection_timeout: float | None = ...,
        stream: Literal[True],
        **kwargs: Unpack[RequestKeywords],
    ) -> StreamResponse: ...
    @overload
    async def request(
        self,
        method: str,
        url: str | None = None,
        *,
        path: str = ...,
        retries: int | Retry | None = ...,
        connection_timeout: float | None = ...,
        stream: bool,
        **kwargs: Unpack[RequestKeywords],
    ) -> BaseResponse: ...
    async def request(
        self,
        method: str,
        url: str | None = None,
        *,
        path: str = "",
        retries: int | Retry | None = None,
        connection_timeout: float | None = 60,
        **kwargs: Any,
    ) -> Any:
        """Make a request and return its response.

        Args:
            method: the HTTP method, e.g. ``"GET"`` (any case).
            url: an absolute http(s) URL; without one the URL is
                ``base_location + endpoint + path``.
            path: appended to ``base_location + endpoint`` when *url* is None.
            retries: extra attempts after a connection-level failure, or an
                :class:`asks.Retry` policy (None: the session's, default 1).
            connection_timeout: seconds to establish each connection (DNS,
                TCP, TLS).
            **kwargs: ``params``, ``data``, ``json``, ``multipart``, ``files``,
                ``headers``, ``cookies``, ``auth``, ``auth_off_domain``,
                ``timeout``, ``pool_timeout``, ``proxy``, ``max_redirects``,
                ``follow_redirects``, ``stream``, ``callback``,
                ``persist_cookies``, ``encoding`` (see the API documentation).

        Returns:
            a :class:`Response`, or a :class:`StreamResponse` with ``stream=True``.

        Raises:
            TypeError: an unknown keyword, or conflicting body arguments.
            ValueError: a malformed method, URL, header or cookie, an
                unknown ``encoding``.
            asks.errors.AsksException: the request failed (see
                :mod:`asks.errors`).
        """
        if kwargs:
            if not _KWARGS.issuperset(kwargs):
                unknown = kwargs.keys() - _KWARGS
                if unknown:
                    raise TypeError(
                        f"request() got unexpected keyword arguments: {sorted(unknown)}"
                    )
            if kwargs.get("encoding") is not None:
                # As the session's: refused here, before anything is sent,
                # not as a LookupError when the response's text is read.
                _check_encoding(kwargs["encoding"])
        if retries is None:
            retries = self._retries
        else:
            _check_retries(retries)
        call = self._requests.prepare(self, method, url, path, kwargs)
        options = self._options(kwargs, retries, connection_timeout)
        timeout = kwargs.get("timeout") if kwargs else None
        try:
            # (A timeout too long for curio's kernel is none: kernel_seconds.
            # Tested second, so a call without one pays nothing for it.)
            if timeout is None or (timeout := kernel_seconds(timeout, "timeout")) is None:
                return await self._run(call, options)
            # A Retry needs the deadline to know a wait it must not start.
            deadline = _retry.clock() + timeout
            try:
                async with curio.timeout_after(timeout):
                    return await self._run(call, options, deadline)
            except curio.TaskTimeout as exc:
                break_trap_cycle(exc)
                raise RequestTimeout(f"{call.where}: no response within {timeout} s") from None
        except BaseException as exc:
            # The one place every exception of a call leaves asks by: a
            # cancellation or the caller's own deadline, wherever it struck
            # (waiting for the pool, connecting, sending, a retry's sleep),
            # must not keep the call's frames for the collector
            # (trap_cycles).
            break_trap_cycle(exc)
            raise

    # -- preparing -------------------------------------------------------------

    def _options(
        self, kwargs: dict[str, Any], retries: int | Retry, connection_timeout: float | None
    ) -> _Options:
        plain_call = not kwargs or _OPTION_KWARGS.isdisjoint(kwargs)
        # A call that sets no option (a bare URL, or just a body and headers)
        # runs with the session's, and so does one whose only option is
        # stream=True (a crawl's every URL); each kind reuses the last set
        # made for it while nothing they came from has changed.
        if plain_call:
            cached = self._plain_options
        elif _only_stream(kwargs):
            cached = self._streamed_options
        else:
            cached = None
        if (
            cached is not None
            # (Identity first: a Retry compares field by field.)
            and (cached.retries is retries or cached.retries == retries)
            and cached.connection_timeout == connection_timeout
            and cached.encoding == self.encoding
            and cached.jar is self._cookie_tracker
        ):
            return cached
        auth = kwargs.get("auth")
        if isinstance(auth, tuple) and len(auth) == 2:
            # As in requests and httpx: a (user, password) pair means Basic.
            auth = BasicAuth(auth)
        elif auth is not None and not isinstance(auth, AuthBase):
            raise TypeError(
                "auth must be a (user, password) pair, asks.BasicAuth, asks.DigestAuth or an "
                f"asks.auth.AuthBase subclass, not {type(auth).__name__}"
            )
        persist = kwargs.get("persist_cookies")
        if persist is not None and persist is not False and self._cookie_tracker is None:
            self._cookie_tracker = _make_tracker(persist)
        # persist_cookies=False on a call keeps that call away from the
        # session's store: nothing stored is sent, nothing it is sent is kept.
        jar = None if persist is False else self._cookie_tracker
        pool_timeout = self._pool_timeout
        if "pool_timeout" in kwargs:
            pool_timeout = _check_pool_timeout(kwargs["pool_timeout"])
        max_redirects = kwargs.get("max_redirects", 20)
        if max_redirects < 0:
            raise ValueError("max_redirects must be 0 or more")
        call_proxy = coerce_route(kwargs.get("proxy"))
        if call_proxy is not None:
            self._route_per_call(call_proxy)
        options = _Options(
            stream=bool(kwargs.get("stream")),
            callback=kwargs.get("callback"),
            encoding=kwargs.get("encoding") or self.encoding,
            auth=auth,
            auth_off_domain=bool(kwargs.get("auth_off_domain")),
            follow_redirects=kwargs.get("follow_redirects", True),
            max_redirects=max_redirects,
            retries=retries,
            connection_retries=retries if isinstance(retries, int) else 0,
            retry=retries if isinstance(retries, Retry) else None,
            connection_timeout=kernel_seconds(connection_timeout, "connection_timeout"),
            jar=jar,
            proxy=call_proxy,
            pool_timeout=pool_timeout,
            # (False on the call, or on a session the call leaves it to.)
            cookies_off=persist is False or (persist is None and self.persist_cookies is False),
        )
        if plain_call:
            self._plain_options = options
        elif _only_stream(kwargs):
            self._streamed_options = options
        return options

    def _route_per_call(self, call_proxy: ProxyChoice) -> None:
        """A call brings its own ``proxy=``: the transport needs a router from now on."""
        if isinstance(call_proxy, Proxy) and self.uds is not None:
            raise ValueError("a session connects to its uds= socket: it cannot use a proxy too")
        transport = self._transport
        if transport.router is None:
            transport.router = Router(self._dialer, self._route, None, self._forward_per_origin)

    # -- the request loop: redirects and auth retries --------------------------

    async def _run(
        self, call: Call, options: _Options, deadline: float | None = None
    ) -> BaseResponse:
        history: list[BaseResponse] = []
        redirects = 0
        auth = options.auth
        auth_retried = False
        jar = options.jar
        # The policy, then (from the first retry question on) this call's
        # budget under it: one name, so a plain call pays for one check.
        retrying: Retry | RetryBudget | None = options.retry
        while True:
            # (None first: an isinstance check against an ABC is a call.)
            if auth is not None and isinstance(auth, PreResponseAuth) and not call.crossed:
                call.auth_headers = dict(await auth(call.auth_request()))
            # The auth headers stay for a Retry's resend of this request; a
            # redirect drops them (_follow), a challenge replaces them.
            wire = self._requests.wire_headers(call, jar)
            try:
                conn, head, headers, elapsed = await self._exchange(call, wire, options)
            except AsksException as error:
                if retrying is None:
                    raise
                retrying = RetryBudget.of(retrying, deadline)
                delay = retrying.after_error(
                    call.method, call.can_resend, error, isinstance(error, ConnectFailed)
                )
                if delay is None:
                    raise
                await _retry.sleep(delay)
                call.resent = False  # a new request: its own silent resend
                continue
            if jar is not None:
                jar.store(headers, call.url.text, call.url.host, call.url.scheme)
            status = head.status_code

            plan: RedirectPlan | None = None
            # One set test for the common answers: redirects, and a
            # forwarding proxy's 407.
            if status in _REDIRECT_OR_PROXY_AUTH:
                if status == 407:
                    await _check_proxy_answer(call, conn, head)
                elif options.follow_redirects and call.method != "HEAD":
                    try:
                        plan = plan_redirect(
                            status, call.method, call.url, headers.get("location")
                        )
                    except ValueError as exc:
                        await conn.abort()
                        raise BadHttpResponse(f"{call.where}: bad redirect: {exc}") from None
            challenge = (
                status == 401
                and isinstance(auth, PostResponseAuth)
                and not auth_retried
                and not call.crossed
                and call.can_resend
            )
            if plan is None and not challenge:
                if retrying is not None and status in retrying.status_forcelist:
                    retrying = RetryBudget.of(retrying, deadline)
                    delay = retrying.after_response(call.method, call.can_resend, headers)
                    if delay is not None:
                        # Read whole (a stream's too) so the connection
                        # serves the retry; kept in history.
                        retried = await self._retried(call, conn, head, headers, options, elapsed)
                        if retried is not None:
                            history.append(retried)
                        await _retry.sleep(delay)
                        call.resent = False
                        continue
                if options.stream or options.callback is not None:
                    response = await self._final_response(
                        call, conn, head, headers, options, elapsed
                    )
                else:
                    response = await self._buffered(
                        call, conn, head, headers, options.encoding, elapsed, self.max_body_size
                    )
                response.history = history
                return response

            # An intermediate response: read it whole so its connection can
            # serve the next request of this call.
            response = await self._passed(call, conn, head, headers, options, elapsed)
            if jar is None and not options.cookies_off and headers.has(b"set-cookie"):
                # No store, but the cookies a redirect or a challenge sets
                # go with the rest of this call (a login's 302 sets the
                # session its next page needs), as requests does; by the
                # same rules as a store's, and nothing outlives the call.
                jar = _make_tracker(True)
                assert jar is not None
                jar.store(headers, call.url.text, call.url.host, call.url.scheme)
            if challenge:
                assert isinstance(auth, PostResponseAuth)
                retry_headers = await auth(response, call.auth_request())
                if retry_headers:
                    auth_retried = True
                    history.append(response)
                    call.auth_headers = dict(retry_headers)
                    continue
                if plan is None:
                    response.history = history
                    return response
            assert plan is not None
            if redirects >= options.max_redirects:
                raise TooManyRedirects(
                    f"{call.where}: more than {options.max_redirects} redirects"
                )
            redirects += 1
            history.append(response)
            self._follow(call, plan, options)
            # The next hop is a new request (RFC 9110 section 15.4): its own
            # 401 gets its own answer (RFC 7616 section 3.3 - a challenge is
            # per request, so the retry spent on an earlier hop does not
            # count). Still bounded: one retry per hop, hops by max_redirects.
            auth_retried = False

    def _follow(self, call: Call, plan: RedirectPlan, options: _Options) -> None:
        # The call's headers may be the session's own object: change a copy.
        headers = call.headers.copy()
        crossing = strips_credentials(call.url, plan.url)
        if crossing:
            # Host is the target's host and port (RFC 9110 section 7.2): a
            # value the caller gave was for the origin it named, and sent to
            # another one it would reach the wrong virtual host (or another
            # site behind a shared front end). The new URL's own goes instead.
            headers.pop("Host", None)
        if crossing and not options.auth_off_domain:
            # Credentials were meant for the origin the caller named, not for
            # wherever it points (a leak many clients have shipped as a CVE).
            call.crossed = True
            names: tuple[str, ...] = _CREDENTIALS
            if self._same_proxy(call.url, plan.url, options.proxy):
                # The caller's Proxy-Authorization is for the proxy alone
                # (never sent to an origin): through the same proxy it holds.
                names = _ORIGIN_CREDENTIALS
            for name in names:
                headers.pop(name, None)
            call.cookies = None
        if not plan.keep_body:
            call.body = None
            for name in list(headers):
                if name.lower() in _BODY_HEADERS:
                    del headers[name]
        elif not call.can_resend:
            raise UnreplayableBody(
                f"{call.where}: redirected with {plan.method} to {plan.url}, but the body "
                "was a one-shot stream that cannot be sent again"
            )
        call.headers = headers
        call.auth_headers = {}  # they were for the request redirected
        call.method = plan.method
        call.url = plan.url
        call.resent = False  # a new request: its own silent resend

    def _same_proxy(self, old: URL, new: URL, call_proxy: ProxyChoice) -> bool:
        """Whether requests to *old* and *new* go through one proxy."""
        router = self._transport.router
        if router is None:
            return False
        proxy = router.proxy_for(old.origin, call_proxy)
        return proxy is not None and proxy == router.proxy_for(new.origin, call_proxy)

    def _stream_body(self, call: Call, conn: HTTP11Connection, headers: Headers) -> StreamBody:
        return StreamBody(conn, content_coding(headers), self.max_decoded_size, call.where)

    async def _buffered(
        self,
        call: Call,
        conn: HTTP11Connection,
        head: h11.Response,
        headers: ResponseHeaders,
        encoding: str,
        elapsed: float,
        limit: int | None,
        drop_over_limit: bool = False,
    ) -> Response:
        # *limit*: the session's max_body_size, or a passed response's bound
        # (see _passed), which *drop_over_limit* makes an empty body rather
        # than an error. (Given by the caller: one attribute read fewer here.)
        try:
            # The connection goes back by itself (or closes on a failure).
            content = await conn.read_all(limit)
        except BaseException as exc:
            if not (drop_over_limit and isinstance(exc, BodyOverLimit)):
                reraise(exc, call.where)
            content = b""  # its connection is closed; the next request opens one
        # By position (method, url, status, reason, version, headers,
        # encoding, body, max_decoded_size): keywords cost twice as much here.
        response = Response(
            call.method,
            call.url.text,
            head.status_code,
            head.reason.decode("latin-1"),
            head.http_version.decode("ascii"),
            headers,
            encoding,
            content,
            self.max_decoded_size,
        )
        response._elapsed = elapsed
        if headers.has(b"set-cookie"):
            _attach_cookies(response, call.url)
        return response

    async def _passed(
        self,
        call: Call,
        conn: HTTP11Connection,
        head: h11.Response,
        headers: ResponseHeaders,
        options: _Options,
        elapsed: float,
    ) -> Response:
        """A response the call goes past (a redirect, a challenge), read whole.

        Buffered, its body is bounded as the final one's is (``max_body_size``).
        A streamed call (or one with a callback) was promised memory bounded
        whatever the server sends: past ``_PASSED_BODY_LIMIT`` bytes (or
        ``max_body_size``, if smaller) the body is not read on, its
        connection is closed instead, and the response keeps an empty body.
        Event hooks wrap this step (``_hooks.install``).
        """
        # The class's step, not the instance's: hooks run on this one.
        return await Session._buffered(
            self,
            call,
            conn,
            head,
            headers,
            options.encoding,
            elapsed,
            *self._passed_bound(options),
        )

    def _passed_bound(self, options: _Options) -> tuple[int | None, bool]:
        """How much of a passed response's body to read, and whether past it is dropped."""
        if not options.stream and options.callback is None:
            return self.max_body_size, False
        limit = self.max_body_size
        return (_PASSED_BODY_LIMIT if limit is None else min(limit, _PASSED_BODY_LIMIT)), True

    async def _retried(
        self,
        call: Call,
        conn: HTTP11Connection,
        head: h11.Response,
        headers: ResponseHeaders,
        options: _Options,
        elapsed: float,
    ) -> Response | None:
        """A response about to be retried, read whole; None if its body could not be.

        Why: the retry is already decided and this body is only kept for
        ``history``. A busy server that cuts it short (or one past
        ``max_body_size``) must not end the call with that error instead of
        retrying, as it did; the failed read has closed the connection, so
        the retry goes out on a new one. (A streamed call's is bounded as in
        :meth:`_passed`, kept with an empty body past the bound.) Event
        hooks wrap this step too (``_hooks.install``): a hook's own
        exception still ends the call.
        """
        try:
            # The class's step, not the instance's: hooks run on the result.
            return await Session._buffered(
                self,
                call,
                conn,
                head,
                headers,
                options.encoding,
                elapsed,
                *self._passed_bound(options),
            )
        except AsksException:
            return None

    async def _final_response(
        self,
        call: Call,
        conn: HTTP11Connection,
        head: h11.Response,
        headers: ResponseHeaders,
        options: _Options,
        elapsed: float,
    ) -> BaseResponse:
        """A streamed response, or one whose body goes to the callback."""
        # Not the hot path (that is _buffered, spelled out there), so the
        # fields the two kinds share are gathered once.
        fields: dict[str, Any] = {
            "method": call.method,
            "url": call.url.text,
            "status_code": head.status_code,
            "reason_phrase": head.reason.decode("latin-1"),
            "http_version": head.http_version.decode("ascii"),
            "headers": headers,
            "encoding": options.encoding,
        }
        response: BaseResponse
        if options.stream:
            response = StreamResponse(body=self._stream_body(call, conn, headers), **fields)
            response._elapsed = elapsed
        else:
            assert options.callback is not None
            # Decoded pieces go to the callback as they arrive; nothing is kept.
            async with self._stream_body(call, conn, headers) as body:
                async for chunk in body:
                    await options.callback(chunk)
            response = Response(body=b"", max_decoded_size=self.max_decoded_size, **fields)
            response._elapsed = elapsed
        _attach_cookies(response, call.url)
        return response

    # -- sending ---------------------------------------------------------------

    async def _exchange(
        self, call: Call, wire: tuple[tuple[bytes, bytes], ...], options: _Options
    ) -> tuple[HTTP11Connection, h11.Response, ResponseHeaders, float]:
        """Send the request and read the response head; ``retries`` applies here.

        Whatever goes wrong leaves as an asks exception (``_boundary``).
        """
        attempt = 0
        while True:
            try:
                return await self._transport.send(
                    call,
                    wire,
                    options.connection_timeout,
                    options.proxy,
                    options.pool_timeout,
                )
            except BodySourceFailed as failed:
                # The caller's own body source raised while the request went
                # out: that error is theirs, raised as it came (outside this
                # handler, so the wrapper is not chained to it), and never
                # retried - the request was cut short by the client, and the
                # body is spent.
                source_error = failed.error
            except Exception as exc:
                error = translate(exc, call.where)
                try:
                    if attempt < options.connection_retries and (
                        # Nothing was sent: safe to try again whatever the method.
                        isinstance(error, ConnectFailed)
                        or (
                            isinstance(error, ServerClosedConnectionError)
                            and call.method in IDEMPOTENT
                            and call.can_resend
                        )
                    ):
                        attempt += 1
                        continue
                    if error is exc:
                        raise
                    raise error from exc
                finally:
                    # The error's traceback holds this frame: were the frame
                    # to hold the error too, every failed request would stay
                    # a cycle for the garbage collector (37-56 objects).
                    del error
            try:
                raise source_error
            finally:
                del source_error  # as above

    # -- closing ---------------------------------------------------------------

    async def close(self) -> None:
        """Close every pooled connection. The session stays usable."""
        await self._pool.close()

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


async def _check_proxy_answer(call: Call, conn: HTTP11Connection, head: h11.Response) -> None:
    """A 407 from a forwarding proxy is the proxy's refusal, not the origin's answer.

    Raises:
        ProxyError: the request was forwarded by a proxy (its credentials
            are missing or wrong); a 407 from an origin reached directly
            or through a tunnel stays a response.
    """
    route = conn.pool_key
    if type(route) is not ProxyRoute or route.kind != "forward":
        return
    await conn.abort()
    proxy = route.proxy
    what = "refused the credentials" if proxy.has_credentials else "wants credentials"
    reason = head.reason.decode("latin-1", "replace")
    raise ProxyError(f"{call.where}: proxy {proxy.url} {what} (407 {reason})", 407)


def _check_connection_limits(keepalive_expiry: object, max_head_size: object) -> None:
    # Checked here, where the caller is, not where the pool or a connection
    # would first trip over them (a negative expiry kept nothing, silently; a
    # zero head size refused every response as too large).
    if not isinstance(keepalive_expiry, (int, float)) or isinstance(keepalive_expiry, bool):
        raise TypeError(f"keepalive_expiry must be seconds, not {type(keepalive_expiry).__name__}")
    if not keepalive_expiry >= 0:  # (NaN too)
        raise ValueError(f"keepalive_expiry must be 0 or more seconds, not {keepalive_expiry!r}")
    if not isinstance(max_head_size, int) or isinstance(max_head_size, bool):
        raise TypeError(f"max_head_size must be an int, not {type(max_head_size).__name__}")
    if max_head_size < 1:
        raise ValueError(f"max_head_size must be at least 1 byte, not {max_head_size!r}")


def _check_encoding(encoding: object) -> None:
    # Checked here, not when a response's text is first read (a TypeError or
    # LookupError far from the mistake).
    if not isinstance(encoding, str):
        raise TypeError(f"encoding must be the name of a text codec, not {encoding!r}")
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise ValueError(f"unknown encoding {encoding!r}") from None


def _check_pool_timeout(value: float | None) -> float | None:
    if value is not None and value < 0:
        raise ValueError("pool_timeout must be 0 or more (or None)")
    return kernel_seconds(value, "pool_timeout")


def _check_retries(retries: object) -> int | Retry:
    if isinstance(retries, Retry):
        return retries
    if isinstance(retries, bool) or not isinstance(retries, int):
        raise TypeError(f"retries must be an int or an asks.Retry, not {type(retries).__name__}")
    if retries < 0:
        raise ValueError("retries must be 0 or more")
    return retries


def _make_tracker(persist: Any) -> CookieTracker | None:
    if persist is None or persist is False:
        return None
    import http.cookiejar

    from .cookie_utils import CookieTracker

    if persist is True:
        return CookieTracker()
    if isinstance(persist, CookieTracker):
        return persist
    if isinstance(persist, http.cookiejar.CookieJar):
        return CookieTracker(persist)
    raise TypeError(
        "persist_cookies must be True, an asks.cookie_utils.CookieTracker or an "
        f"http.cookiejar.CookieJar, not {type(persist).__name__}"
    )


def _attach_cookies(response: BaseResponse, url: URL) -> None:
    headers = response.headers
    # Asked first: the import below, though a lookup once the module is
    # loaded, costs ten times this test, and most responses set no cookie
    # (every streamed response comes through here).
    if not headers.has(b"set-cookie"):
        return
    from .cookie_utils import parse_response_cookies

    response.cookies = parse_response_cookies(headers, str(url), url.host, url.scheme)
