"""The Session: defaults, URL building, headers, and a call's options.

The Session holds policy; the mechanics live elsewhere, and the request loop
it runs each call through is its mixin :class:`asks._call_loop.CallLoop`.
A call goes:

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
4. redirects, auth challenges and cookies handled by the loop, each new request
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
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, overload

import curio

from . import _retry
from ._call_loop import CallLoop, _make_tracker, _Options
from ._headers import Headers, HeadersInput
from ._hooks import install as install_hooks
from ._hooks import parse_event_hooks
from ._numbers import check_int, check_number
from ._proxies import Proxy
from ._rate import RateLimitInput, parse_rate_limit
from ._rate import install as install_rate_limit
from ._request import RequestFactory
from ._retry import Retry
from ._transport.connect import Dialer, pool_host
from ._transport.deadlines import kernel_seconds
from ._transport.http11 import HTTP11Connection
from ._transport.pool import ConnectionPool, HostLimitedPool, PoolStats
from ._transport.routes import DIRECT, ProxyChoice, Router, coerce_route
from ._transport.tracing import check_tracer
from ._transport.transport import Transport
from ._transport.trap_cycles import break_trap_cycle
from .auth import AuthBase, BasicAuth
from .errors import (
    RequestTimeout,
)
from .response_objects import (
    BaseResponse,
    Response,
    StreamResponse,
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


class Session(CallLoop):
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

    # -- closing ---------------------------------------------------------------

    async def close(self) -> None:
        """Close every pooled connection. The session stays usable."""
        await self._pool.close()

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


def _check_connection_limits(keepalive_expiry: object, max_head_size: object) -> None:
    # Checked here, where the caller is, not where the pool or a connection
    # would first trip over them (a negative expiry kept nothing, silently; a
    # zero head size refused every response as too large).
    keepalive_expiry = check_number(keepalive_expiry, "keepalive_expiry", "seconds")
    if not keepalive_expiry >= 0:  # (NaN too)
        raise ValueError(f"keepalive_expiry must be 0 or more seconds, not {keepalive_expiry!r}")
    max_head_size = check_int(max_head_size, "max_head_size")
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
    retries = check_int(retries, "retries", "an int or an asks.Retry")
    if retries < 0:
        raise ValueError("retries must be 0 or more")
    return retries
