"""The Session: defaults, URL building, headers, and the request loop.

A Session owns one :class:`~asks._pool.ConnectionPool`. A call goes:

1. arguments checked and turned into a prepared request (URL parsed and
   validated, headers merged and encoded, body encoded) - before any socket
   is touched, so bad input never costs a connection;
2. a connection checked out of the pool (idle, new, or after a wait);
3. the request sent and the response head read;
4. the body read into a :class:`Response` (the connection goes back to the
   pool) or handed to a :class:`StreamResponse` (it goes back when the
   stream ends).

Failures are translated into :mod:`asks.errors` in one place
(:func:`asks._boundary.translate`). Two kinds are retried:

* a reused connection that died before a single response byte arrived (the
  server closed it while idle): once, silently, on a new connection, for
  idempotent methods only (RFC 9110 section 9.2.2) - this is not the caller's
  problem and does not count against ``retries``;
* connection-level failures, up to ``retries`` more attempts: a connection
  that could not be made is retried for every method (nothing was sent); a
  server that closed the connection before answering, only for idempotent
  methods.
"""

from __future__ import annotations

import os
import socket
import ssl
from collections.abc import Awaitable, Callable, Coroutine, Hashable
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, overload

import curio
import curio.io
import h11

from . import _net
from ._boundary import ConnectFailed, reraise, translate
from ._content import MISSING, Body, encode_body
from ._decoders import ACCEPT_ENCODING
from ._headers import (
    TOKEN,
    Headers,
    HeadersInput,
    ResponseHeaders,
    check_header_text,
    encode_value,
)
from ._http11 import HTTP11Connection, PeerClosedEarly
from ._pool import ConnectionPool
from ._redirects import REDIRECT_CODES, RedirectPlan, plan_redirect, strips_credentials
from ._urls import URL, build_url, parse_url
from ._version import __version__
from .auth import AuthBase, AuthRequest, BasicAuth, PostResponseAuth, PreResponseAuth
from .errors import (
    BadHttpResponse,
    RequestTimeout,
    ServerClosedConnectionError,
    TooManyRedirects,
    UnreplayableBody,
)
from .response_objects import BaseResponse, Response, StreamBody, StreamResponse

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
    }
)
# Keywords every request accepts (api.md): the options, and what makes up
# the request itself.
_KWARGS = _OPTION_KWARGS | frozenset(
    {"params", "data", "json", "multipart", "files", "headers", "cookies", "timeout"}
)

# RFC 9110 section 9.2.2: a request with one of these methods may be sent
# again without changing what it does.
_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"})

# Methods already checked (RFC 9110 section 9.1: a method is a token), mapped
# to their upper-case form; the common ones need no regex per request.
_METHODS: dict[str, str] = {
    m: m.upper()
    for name in ("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE")
    for m in (name, name.lower())
}
# Methods whose request says "Content-Length: 0" when it has no body.
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})

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
_CREDENTIALS = ("Authorization", "Proxy-Authorization", "Cookie")

_USER_AGENT = f"python-asks/{__version__}"

# Sent unless the caller's headers name them; Host comes first (RFC 9112
# section 3.2 says it should), built per URL.
_DEFAULT_HEADERS = (
    ("User-Agent", b"User-Agent", _USER_AGENT.encode("ascii")),
    ("Accept", b"Accept", b"*/*"),
    ("Accept-Encoding", b"Accept-Encoding", ACCEPT_ENCODING.encode("ascii")),
)

# Header blocks kept per (headers, host, method kind, body framing) for
# calls without cookies or auth, and the session's headers merged with a
# call's own: a scraper over many hosts, or a caller whose headers change
# with every call, just starts again when one fills up.
_WIRE_CACHE_SIZE = 256
_MERGE_CACHE_SIZE = 64


class _Call:
    """One call's request as it evolves through redirects and auth retries."""

    __slots__ = ("auth_headers", "body", "cookies", "crossed", "headers", "method", "url")

    def __init__(
        self,
        method: str,
        url: URL,
        headers: Headers,
        body: Body | None,
        cookies: dict[str, str] | None,
    ) -> None:
        self.method = method
        self.url = url
        self.headers = headers  # the caller's and the session's, merged
        self.body = body
        self.cookies = cookies
        self.crossed = False  # credentials dropped after a cross-origin redirect
        self.auth_headers: dict[str, str] = {}  # from an auth object, for one send

    @property
    def where(self) -> str:
        return f"{self.method} {self.url}"

    @property
    def can_resend(self) -> bool:
        return self.body is None or self.body.replayable

    def auth_request(self) -> AuthRequest:
        # No body hashes as empty (qop=auth-int); a streamed one is unknown.
        body = self.body.content if self.body is not None else b""
        return AuthRequest(self.method, str(self.url), self.url.target, body)


class _Options(NamedTuple):
    stream: bool
    callback: Callable[[bytes], Awaitable[Any]] | None
    encoding: str
    auth: AuthBase | None
    auth_off_domain: bool
    follow_redirects: bool
    max_redirects: int
    retries: int
    connection_timeout: float | None
    jar: CookieTracker | None


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

    Raises:
        ValueError: ``connections`` below 1.
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
    ) -> None:
        self.base_location = base_location
        self.endpoint = endpoint
        self._headers = Headers(headers)
        self.encoding = encoding
        self.persist_cookies = persist_cookies
        self._cookie_tracker: CookieTracker | None = _make_tracker(persist_cookies)
        self.ssl_context = ssl_context
        self.source_address = source_address
        self.max_decoded_size = max_decoded_size
        self.max_body_size = max_body_size
        self._pool = ConnectionPool(connections, keepalive_expiry, max_head_size)
        # Hot-path caches for calls that pass nothing but a URL (see
        # _options and _wire_headers); both check what they depend on.
        self._plain_options: _Options | None = None
        self._wire_cache: dict[
            tuple[int, str, bool, tuple[int | None, str | None] | None],
            tuple[tuple[tuple[bytes, bytes], ...], tuple[tuple[bytes, bytes], ...]],
        ] = {}
        self._merge_cache: dict[
            tuple[tuple[str, str], ...], tuple[tuple[tuple[bytes, bytes], ...], Headers]
        ] = {}

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
        retries: int = ...,
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
        retries: int = ...,
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
        retries: int = ...,
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
        retries: int = 1,
        connection_timeout: float | None = 60,
        **kwargs: Any,
    ) -> Any:
        """Make a request and return its response.

        Args:
            method: the HTTP method, e.g. ``"GET"`` (any case).
            url: an absolute http(s) URL; without one the URL is
                ``base_location + endpoint + path``.
            path: appended to ``base_location + endpoint`` when *url* is None.
            retries: extra attempts after a connection-level failure.
            connection_timeout: seconds to establish each connection (DNS,
                TCP, TLS).
            **kwargs: ``params``, ``data``, ``json``, ``multipart``, ``files``,
                ``headers``, ``cookies``, ``auth``, ``auth_off_domain``,
                ``timeout``, ``max_redirects``, ``follow_redirects``,
                ``stream``, ``callback``, ``persist_cookies``, ``encoding``
                (see the API documentation).

        Returns:
            a :class:`Response`, or a :class:`StreamResponse` with ``stream=True``.

        Raises:
            TypeError: an unknown keyword, or conflicting body arguments.
            ValueError: a malformed method, URL, header or cookie.
            asks.errors.AsksException: the request failed (see
                :mod:`asks.errors`).
        """
        if kwargs and not _KWARGS.issuperset(kwargs):
            unknown = kwargs.keys() - _KWARGS
            if unknown:
                raise TypeError(f"request() got unexpected keyword arguments: {sorted(unknown)}")
        if retries < 0:
            raise ValueError("retries must be 0 or more")
        call = self._prepare(method, url, path, kwargs)
        options = self._options(kwargs, retries, connection_timeout)
        timeout = kwargs.get("timeout") if kwargs else None
        if timeout is None:
            return await self._run(call, options)
        try:
            async with curio.timeout_after(timeout):
                return await self._run(call, options)
        except curio.TaskTimeout:
            raise RequestTimeout(f"{call.where}: no response within {timeout} s") from None

    # -- preparing -------------------------------------------------------------

    def _prepare(self, method: str, url: str | None, path: str, kwargs: dict[str, Any]) -> _Call:
        upper = _METHODS.get(method) if type(method) is str else None
        if upper is None:
            if not isinstance(method, str) or not TOKEN.fullmatch(method):
                raise ValueError(f"invalid HTTP method: {method!r}")
            upper = method.upper()
        if url is None:
            url = build_url(self.base_location, self.endpoint, path)
        parsed = parse_url(url)
        headers = self._headers
        if not kwargs:
            # The common call, a bare URL: the session's headers serve as
            # they are (checked and encoded once until they change, see
            # Headers.encoded); _follow copies them before changing any.
            headers.encoded()
            return _Call(upper, parsed, headers, None, None)
        params = kwargs.get("params")
        if params is not None:
            parsed = parsed.with_params(params)
        body = encode_body(
            kwargs.get("data"),
            # json=None means no body, as in requests and asks 2.
            MISSING if kwargs.get("json") is None else kwargs["json"],
            kwargs.get("multipart"),
            kwargs.get("files"),
            kwargs.get("encoding") or self.encoding,
        )
        call_headers = kwargs.get("headers")
        if call_headers:
            headers = self._merge_headers(call_headers)
        else:
            headers.encoded()  # a bad name or value fails here, before any socket
        cookies = kwargs.get("cookies")
        if cookies:
            cookies = {str(k): str(v) for k, v in dict(cookies).items()}
            for k, v in cookies.items():
                check_header_text("cookie", k + v)
                if not k or ";" in k or "=" in k or ";" in v:
                    raise ValueError(f"invalid cookie {k!r}={v!r}")
        return _Call(upper, parsed, headers, body, cookies or None)

    def _merge_headers(self, call_headers: HeadersInput) -> Headers:
        """The session's headers with a call's on top, checked and encoded.

        A call's header replaces the session's of the same name (any case).
        The result is never changed afterwards (``_follow`` copies it), so
        when a call passes the same plain ``str`` headers as an earlier one,
        against unchanged session headers, the earlier result serves again.
        """
        base: tuple[tuple[bytes, bytes], ...] | None
        try:
            base = self._headers.encoded()
        except ValueError:
            # A bad session header is an error only if it is sent, and this
            # call's headers may replace it; such a merge is not cached.
            base = None
        key: tuple[tuple[str, str], ...] | None = None
        if base is not None and type(call_headers) is dict:
            key = tuple(call_headers.items())
            for name, value in key:
                # Only str: other values go through str(), and keys that
                # compare equal (1, 1.0, True) would not give equal headers.
                if type(name) is not str or type(value) is not str:
                    key = None
                    break
            if key is not None:
                hit = self._merge_cache.get(key)
                if hit is not None and hit[0] is base:
                    return hit[1]
        headers = self._headers.copy()
        layer = Headers(call_headers)
        for name in layer:
            headers.pop(name, None)
        headers.extend(layer)
        headers.encoded()  # a bad name or value fails here, before any socket
        if key is not None:
            assert base is not None  # a key is only made from good session headers
            if len(self._merge_cache) >= _MERGE_CACHE_SIZE:
                self._merge_cache.clear()
            self._merge_cache[key] = (base, headers)
        return headers

    def _options(
        self, kwargs: dict[str, Any], retries: int, connection_timeout: float | None
    ) -> _Options:
        plain_call = not kwargs or _OPTION_KWARGS.isdisjoint(kwargs)
        if plain_call:
            # A call that sets no option (a bare URL, or just a body and
            # headers) runs with the session's; reuse the last set while
            # nothing they came from has changed.
            plain = self._plain_options
            if (
                plain is not None
                and plain.retries == retries
                and plain.connection_timeout == connection_timeout
                and plain.encoding == self.encoding
                and plain.jar is self._cookie_tracker
            ):
                return plain
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
        max_redirects = kwargs.get("max_redirects", 20)
        if max_redirects < 0:
            raise ValueError("max_redirects must be 0 or more")
        options = _Options(
            stream=bool(kwargs.get("stream")),
            callback=kwargs.get("callback"),
            encoding=kwargs.get("encoding") or self.encoding,
            auth=auth,
            auth_off_domain=bool(kwargs.get("auth_off_domain")),
            follow_redirects=kwargs.get("follow_redirects", True),
            max_redirects=max_redirects,
            retries=retries,
            connection_timeout=connection_timeout,
            jar=jar,
        )
        if plain_call:
            self._plain_options = options
        return options

    def _wire_headers(
        self, call: _Call, jar: CookieTracker | None
    ) -> tuple[tuple[bytes, bytes], ...]:
        """The headers as sent: defaults, the call's, cookies, auth and framing."""
        url = call.url
        given = call.headers
        encoded = given.encoded()
        stored = None
        if jar is not None and not jar.is_empty():
            stored = jar.cookie_header(str(url), url.host, url.scheme)
        if not call.auth_headers and not call.cookies and not stored:
            # No cookies or auth: the block depends only on the headers (the
            # very tuple Headers.encoded returned, so any change to them
            # misses), the host, the method's kind and the body's framing.
            body = call.body
            key = (
                # The headers' identity; the hit is checked against the tuple
                # itself, which the entry keeps alive, so the id cannot be a
                # recycled one.
                id(encoded),
                url.host_header,
                call.method in _BODY_METHODS,
                None if body is None else (body.length, body.content_type),
            )
            hit = self._wire_cache.get(key)
            if hit is not None and hit[0] is encoded:
                return hit[1]
            wire = _encode_headers(call, encoded, None)
            if len(self._wire_cache) >= _WIRE_CACHE_SIZE:
                self._wire_cache.clear()
            self._wire_cache[key] = (encoded, wire)
            return wire
        return _encode_headers(call, encoded, stored)

    # -- the request loop: redirects and auth retries --------------------------

    async def _run(self, call: _Call, options: _Options) -> BaseResponse:
        history: list[BaseResponse] = []
        redirects = 0
        auth = options.auth
        auth_retried = False
        jar = options.jar
        while True:
            # (None first: an isinstance check against an ABC is a call.)
            if auth is not None and isinstance(auth, PreResponseAuth) and not call.crossed:
                call.auth_headers = dict(await auth(call.auth_request()))
            wire = self._wire_headers(call, jar)
            if call.auth_headers:
                call.auth_headers = {}
            conn, head, headers = await self._exchange(call, wire, options)
            if jar is not None:
                jar.store(headers, call.url.text, call.url.host, call.url.scheme)
            status = head.status_code

            plan: RedirectPlan | None = None
            if status in REDIRECT_CODES and options.follow_redirects and call.method != "HEAD":
                try:
                    plan = plan_redirect(status, call.method, call.url, headers.get("location"))
                except ValueError as exc:
                    await self._pool.discard(conn)
                    raise BadHttpResponse(f"{call.where}: bad redirect: {exc}") from None
            challenge = (
                status == 401
                and isinstance(auth, PostResponseAuth)
                and not auth_retried
                and not call.crossed
                and call.can_resend
            )
            if plan is None and not challenge:
                if options.stream or options.callback is not None:
                    response = await self._final_response(call, conn, head, headers, options)
                else:
                    response = await self._buffered(call, conn, head, headers, options.encoding)
                response.history = history
                return response

            # An intermediate response: read it whole so its connection can
            # serve the next request of this call.
            response = await self._buffered(call, conn, head, headers, options.encoding)
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

    def _follow(self, call: _Call, plan: RedirectPlan, options: _Options) -> None:
        # The call's headers may be the session's own object: change a copy.
        headers = call.headers.copy()
        if strips_credentials(call.url, plan.url) and not options.auth_off_domain:
            # Credentials were meant for the origin the caller named, not for
            # wherever it points (a leak many clients have shipped as a CVE).
            call.crossed = True
            for name in _CREDENTIALS:
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
        call.method = plan.method
        call.url = plan.url

    def _stream_body(self, call: _Call, conn: HTTP11Connection, headers: Headers) -> StreamBody:
        return StreamBody(
            conn, self._pool, headers.get("content-encoding"), self.max_decoded_size, call.where
        )

    async def _buffered(
        self,
        call: _Call,
        conn: HTTP11Connection,
        head: h11.Response,
        headers: ResponseHeaders,
        encoding: str,
    ) -> Response:
        try:
            content = await conn.read_body(self.max_body_size)
        except BaseException as exc:
            await self._pool.discard(conn)
            reraise(exc, call.where)
        conn.finish_cycle()
        await self._pool.checkin(conn)
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
        if headers.has(b"set-cookie"):
            _attach_cookies(response, call.url)
        return response

    async def _final_response(
        self,
        call: _Call,
        conn: HTTP11Connection,
        head: h11.Response,
        headers: ResponseHeaders,
        options: _Options,
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
        else:
            assert options.callback is not None
            # Decoded pieces go to the callback as they arrive; nothing is kept.
            async with self._stream_body(call, conn, headers) as body:
                async for chunk in body:
                    await options.callback(chunk)
            response = Response(body=b"", max_decoded_size=self.max_decoded_size, **fields)
        _attach_cookies(response, call.url)
        return response

    # -- sending ---------------------------------------------------------------

    async def _exchange(
        self, call: _Call, wire: tuple[tuple[bytes, bytes], ...], options: _Options
    ) -> tuple[HTTP11Connection, h11.Response, ResponseHeaders]:
        """Send the request and read the response head, on a pooled or new connection.

        Both kinds of retry (see the module docstring) happen here, and
        whatever goes wrong leaves as an asks exception (``_boundary``).
        """
        url = call.url
        tls = url.scheme == "https"
        origin = url.origin
        # Connections made under different TLS settings never mix.
        key: Hashable = (origin, id(self.ssl_context)) if tls else origin
        method = call.method.encode("ascii")
        target = url.target_bytes
        body = call.body
        connection_timeout = options.connection_timeout

        async def open_socket() -> curio.io.Socket:
            return await self._open_socket(url, tls, connection_timeout)

        attempt = 0
        fresh = False
        while True:
            try:
                conn = await self._pool.checkout(origin, key, open_socket, fresh=fresh)
                try:
                    if body is None:
                        await conn.send_request(method, target, wire, None)
                    else:
                        stream = body.stream() if body.stream is not None else None
                        await conn.send_request(method, target, wire, body.content, stream)
                    head, headers = await conn.receive_response_head()
                    return conn, head, headers
                except (PeerClosedEarly, OSError):
                    # Only when not one byte of a response came back: then
                    # the server never processed the request.
                    silent = (
                        conn.reused
                        and call.method in _IDEMPOTENT
                        and call.can_resend
                        and not conn.response_started
                    )
                    await self._pool.discard(conn)
                    if not silent:
                        raise
                except BaseException:
                    await self._pool.discard(conn)
                    raise
                # The pooled connection had died while idle (the server's
                # keep-alive timeout, a restart): one more try on a new one,
                # which does not count against ``retries``.
                fresh = True
            except Exception as exc:
                error = translate(exc, call.where)
                if attempt < options.retries and (
                    # Nothing was sent: safe to try again whatever the method.
                    isinstance(error, ConnectFailed)
                    or (
                        isinstance(error, ServerClosedConnectionError)
                        and call.method in _IDEMPOTENT
                        and call.can_resend
                    )
                ):
                    attempt += 1
                    fresh = False
                    continue
                if error is exc:
                    raise
                raise error from exc

    async def _open_socket(
        self, url: URL, tls: bool, connection_timeout: float | None
    ) -> curio.io.Socket:
        where = f"connecting to {url.host}:{url.port}"
        try:
            if connection_timeout is None:
                return await _net.open_stream(
                    url.host,
                    url.port,
                    tls=tls,
                    ssl_context=self.ssl_context,
                    source_address=self.source_address,
                )
            async with curio.timeout_after(connection_timeout):
                return await _net.open_stream(
                    url.host,
                    url.port,
                    tls=tls,
                    ssl_context=self.ssl_context,
                    source_address=self.source_address,
                )
        except curio.TaskTimeout:
            raise RequestTimeout(f"{where}: not connected within {connection_timeout} s") from None
        except ssl.SSLError:
            raise  # translated as a TLS failure; retrying will not help
        except OSError as exc:
            if isinstance(exc, socket.gaierror):
                reason = "cannot resolve host"
            elif exc.errno:
                # curio raises a plain OSError for a refused connect; say so.
                reason = os.strerror(exc.errno)
            else:
                reason = "failed"
            raise ConnectFailed(f"{where}: {reason}: {exc}") from exc

    # -- closing ---------------------------------------------------------------

    async def close(self) -> None:
        """Close every pooled connection. The session stays usable."""
        await self._pool.close()

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


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
    from .cookie_utils import parse_response_cookies

    if "set-cookie" in response.headers:
        response.cookies = parse_response_cookies(response.headers, str(url), url.host, url.scheme)


def _encode_headers(
    call: _Call, encoded: tuple[tuple[bytes, bytes], ...], stored_cookies: str | None
) -> tuple[tuple[bytes, bytes], ...]:
    """Build the header block of *call* from its checked, encoded headers."""
    url = call.url
    given = call.headers
    out: list[tuple[bytes, bytes]] = []
    if "host" not in given:
        out.append((b"Host", url.host_header.encode("ascii")))
    for name, bname, bvalue in _DEFAULT_HEADERS:
        if name not in given:
            out.append((bname, bvalue))
    skip: set[bytes] = set()
    body = call.body
    if body is not None:
        skip.update((b"content-length", b"transfer-encoding"))
    auth_headers = call.auth_headers
    if auth_headers:
        skip.update(k.lower().encode("ascii") for k in auth_headers)
    cookie_parts: list[str] = []
    if "cookie" in given:
        # Every cookie travels in one Cookie header (RFC 6265 section 5.4).
        skip.add(b"cookie")
        cookie_parts.extend(given.get_list("cookie"))
    if call.cookies:
        cookie_parts.extend(f"{k}={v}" for k, v in call.cookies.items())
    if stored_cookies:
        cookie_parts.append(stored_cookies)
    if skip:
        out.extend(pair for pair in encoded if pair[0].lower() not in skip)
    else:
        out.extend(encoded)
    for name, value in auth_headers.items():
        check_header_text("auth header", value)
        out.append((name.encode("ascii"), encode_value(name, value)))
    if cookie_parts:
        out.append((b"Cookie", encode_value("Cookie", "; ".join(cookie_parts))))
    if body is not None:
        # Our framing wins: h11 refuses to send a body that disagrees with
        # Content-Length.
        if body.length is not None:
            out.append((b"Content-Length", str(body.length).encode("ascii")))
        else:
            out.append((b"Transfer-Encoding", b"chunked"))
        if body.content_type and "content-type" not in given:
            out.append((b"Content-Type", body.content_type.encode("latin-1")))
    elif call.method in _BODY_METHODS and not (
        "content-length" in given or "transfer-encoding" in given
    ):
        # RFC 9110 section 8.6: a body-carrying method without a body should
        # say so, or some servers wait for one.
        out.append((b"Content-Length", b"0"))
    return tuple(out)
