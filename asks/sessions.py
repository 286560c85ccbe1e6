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

import re
import socket
import ssl
from collections.abc import Hashable
from typing import Any, NamedTuple

import curio
import curio.io
import h11

from . import _net
from ._boundary import ConnectFailed, translate
from ._content import _MISSING, encode_body
from ._decoders import ACCEPT_ENCODING
from ._headers import Headers, HeadersInput, check_header_text
from ._http11 import HTTP11Connection, PeerClosedEarly
from ._pool import ConnectionPool
from ._urls import URL, build_url, parse_url
from ._version import __version__
from .errors import RequestTimeout, ServerClosedConnectionError
from .response_objects import BaseResponse, Response, StreamBody, StreamResponse

__all__ = ["Session"]

# Keywords every request accepts (api.md). The ones marked later are part of
# the contract but not built yet: they raise NotImplementedError rather than
# being silently ignored.
_KWARGS = frozenset(
    {
        "params",
        "data",
        "json",
        "headers",
        "timeout",
        "stream",
        "encoding",
        "multipart",
        "files",
        "cookies",
        "auth",
        "auth_off_domain",
        "max_redirects",
        "follow_redirects",
        "callback",
        "persist_cookies",
    }
)
_NOT_YET = frozenset(
    {
        "multipart",
        "files",
        "cookies",
        "auth",
        "auth_off_domain",
        "max_redirects",
        "follow_redirects",
        "callback",
        "persist_cookies",
    }
)

# RFC 9110 section 9.2.2: a request with one of these methods may be sent
# again without changing what it does.
_IDEMPOTENT = frozenset({b"GET", b"HEAD", b"PUT", b"DELETE", b"OPTIONS", b"TRACE"})

# RFC 9110 section 5.6.2: a method is a token.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")

_FRAMING = (b"content-length", b"transfer-encoding")

_USER_AGENT = f"python-asks/{__version__}"


class _Prepared(NamedTuple):
    method: bytes
    url: URL
    headers: list[tuple[bytes, bytes]]
    body: bytes | None

    @property
    def where(self) -> str:
        return f"{self.method.decode()} {self.url}"


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
        source_address: tuple[str, int] | None = None,
    ) -> None:
        if persist_cookies is not None:
            raise NotImplementedError("persist_cookies is not supported yet")
        self.base_location = base_location
        self.endpoint = endpoint
        self.headers = Headers(headers)
        self.encoding = encoding
        self.persist_cookies = persist_cookies
        self.ssl_context = ssl_context
        self.source_address = source_address
        self.max_decoded_size = max_decoded_size
        self._pool = ConnectionPool(connections, keepalive_expiry, max_head_size)

    @property
    def connections(self) -> int:
        """The connection limit given at construction."""
        return self._pool.limit

    # -- the public verbs ----------------------------------------------------

    async def get(self, url: str | None = None, **kwargs: Any) -> Any:
        """``request("GET", url, **kwargs)``."""
        return await self.request("GET", url, **kwargs)

    async def head(self, url: str | None = None, **kwargs: Any) -> Any:
        """``request("HEAD", url, **kwargs)``."""
        return await self.request("HEAD", url, **kwargs)

    async def post(self, url: str | None = None, **kwargs: Any) -> Any:
        """``request("POST", url, **kwargs)``."""
        return await self.request("POST", url, **kwargs)

    async def put(self, url: str | None = None, **kwargs: Any) -> Any:
        """``request("PUT", url, **kwargs)``."""
        return await self.request("PUT", url, **kwargs)

    async def delete(self, url: str | None = None, **kwargs: Any) -> Any:
        """``request("DELETE", url, **kwargs)``."""
        return await self.request("DELETE", url, **kwargs)

    async def options(self, url: str | None = None, **kwargs: Any) -> Any:
        """``request("OPTIONS", url, **kwargs)``."""
        return await self.request("OPTIONS", url, **kwargs)

    async def patch(self, url: str | None = None, **kwargs: Any) -> Any:
        """``request("PATCH", url, **kwargs)``."""
        return await self.request("PATCH", url, **kwargs)

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
            **kwargs: ``params``, ``data``, ``json``, ``headers``, ``timeout``,
                ``stream``, ``encoding`` (see the API documentation).

        Returns:
            a :class:`Response`, or a :class:`StreamResponse` with ``stream=True``.

        Raises:
            TypeError: an unknown keyword, or conflicting body arguments.
            ValueError: a malformed method, URL or header.
            asks.errors.AsksException: the request failed (see
                :mod:`asks.errors`).
        """
        unknown = kwargs.keys() - _KWARGS
        if unknown:
            raise TypeError(f"request() got unexpected keyword arguments: {sorted(unknown)}")
        not_yet = kwargs.keys() & _NOT_YET
        if not_yet:
            raise NotImplementedError(f"not supported yet: {sorted(not_yet)}")
        if retries < 0:
            raise ValueError("retries must be 0 or more")
        timeout = kwargs.get("timeout")
        prepared = self._prepare(method, url, path, kwargs)
        if timeout is None:
            return await self._send_with_retries(prepared, retries, connection_timeout, kwargs)
        try:
            async with curio.timeout_after(timeout):
                return await self._send_with_retries(prepared, retries, connection_timeout, kwargs)
        except curio.TaskTimeout:
            raise RequestTimeout(f"{prepared.where}: no response within {timeout} s") from None

    # -- preparing -------------------------------------------------------------

    def _prepare(
        self, method: str, url: str | None, path: str, kwargs: dict[str, Any]
    ) -> _Prepared:
        if not isinstance(method, str) or not _TOKEN.fullmatch(method):
            raise ValueError(f"invalid HTTP method: {method!r}")
        bmethod = method.upper().encode("ascii")
        if url is None:
            url = build_url(self.base_location, self.endpoint, path)
        parsed = parse_url(url)
        params = kwargs.get("params")
        if params is not None:
            parsed = parsed.with_params(params)

        body = encode_body(
            kwargs.get("data"), kwargs.get("json", _MISSING), kwargs.get("encoding") or "utf-8"
        )
        call_headers = kwargs.get("headers")
        headers = self._merge_headers(parsed, call_headers)
        if body is not None:
            # Our framing wins: h11 refuses to send a body that disagrees
            # with Content-Length, and Transfer-Encoding would conflict.
            headers = [(n, v) for n, v in headers if n.lower() not in _FRAMING]
            headers.append((b"Content-Length", str(len(body.content)).encode()))
            if body.content_type and not any(n.lower() == b"content-type" for n, _ in headers):
                headers.append((b"Content-Type", body.content_type.encode()))
            return _Prepared(bmethod, parsed, headers, body.content)
        # RFC 9110 section 8.6: a body-carrying method without a body should
        # say so, or some servers wait for one.
        if bmethod in (b"POST", b"PUT", b"PATCH") and not any(
            n.lower() in _FRAMING for n, _ in headers
        ):
            headers.append((b"Content-Length", b"0"))
        return _Prepared(bmethod, parsed, headers, None)

    def _merge_headers(self, url: URL, call_headers: HeadersInput) -> list[tuple[bytes, bytes]]:
        merged = Headers(
            (
                ("Host", url.host_header),
                ("User-Agent", _USER_AGENT),
                ("Accept", "*/*"),
                ("Accept-Encoding", ACCEPT_ENCODING),
            )
        )
        for layer in (self.headers, Headers(call_headers) if call_headers else None):
            if not layer:
                continue
            for name in layer:
                # Replace rather than add, keeping the layer's spelling.
                merged.pop(name, None)
            merged.extend(layer)
        out = []
        for name, value in merged.multi_items():
            check_header_text("header name", name)
            check_header_text("header value", value)
            if not name or not _TOKEN.fullmatch(name):
                raise ValueError(f"invalid header name: {name!r}")
            try:
                out.append((name.encode("ascii"), value.encode("latin-1")))
            except UnicodeEncodeError:
                raise ValueError(
                    f"header {name!r} has characters that cannot be sent (not Latin-1): {value!r}"
                ) from None
        return out

    # -- sending ---------------------------------------------------------------

    async def _send_with_retries(
        self,
        req: _Prepared,
        retries: int,
        connection_timeout: float | None,
        kwargs: dict[str, Any],
    ) -> BaseResponse:
        attempt = 0
        while True:
            try:
                return await self._send(req, connection_timeout, kwargs)
            except ConnectFailed:
                # Nothing was sent: safe to try again whatever the method.
                if attempt >= retries:
                    raise
            except ServerClosedConnectionError:
                if attempt >= retries or req.method not in _IDEMPOTENT:
                    raise
            attempt += 1

    async def _send(
        self, req: _Prepared, connection_timeout: float | None, kwargs: dict[str, Any]
    ) -> BaseResponse:
        try:
            conn, head = await self._exchange(req, connection_timeout)
        except Exception as exc:
            new = translate(exc, req.where)
            if new is exc:
                raise
            raise new from exc
        encoding = kwargs.get("encoding") or self.encoding
        headers = Headers.from_raw(head.headers.raw_items())
        common: dict[str, Any] = {
            "method": req.method.decode(),
            "url": str(req.url),
            "status_code": head.status_code,
            "reason_phrase": head.reason.decode("latin-1"),
            "http_version": head.http_version.decode(),
            "headers": headers,
            "encoding": encoding,
        }
        if kwargs.get("stream"):
            body = StreamBody(
                conn,
                self._pool,
                headers.get("content-encoding"),
                self.max_decoded_size,
                req.where,
            )
            return StreamResponse(body=body, **common)
        try:
            content = await conn.read_body()
        except BaseException as exc:
            await self._pool.discard(conn)
            new = translate(exc, req.where)
            if new is exc:
                raise
            raise new from exc
        conn.finish_cycle()
        await self._pool.checkin(conn)
        return Response(body=content, max_decoded_size=self.max_decoded_size, **common)

    async def _exchange(
        self, req: _Prepared, connection_timeout: float | None
    ) -> tuple[HTTP11Connection, h11.Response]:
        """Send *req* and read the response head, on a pooled or new connection."""
        url = req.url
        tls = url.scheme == "https"
        # Connections made under different TLS settings never mix.
        key: Hashable = (url.origin, id(self.ssl_context)) if tls else url.origin

        async def open_socket() -> curio.io.Socket:
            return await self._open_socket(url, tls, connection_timeout)

        conn = await self._pool.checkout(url.origin, key, open_socket)
        try:
            return conn, await self._send_on(conn, req)
        except (PeerClosedEarly, OSError):
            # Only when not one byte of a response came back: then the
            # server never processed the request.
            retry = conn.reused and req.method in _IDEMPOTENT and not conn.response_started
            await self._pool.discard(conn)
            if not retry:
                raise
        except BaseException:
            await self._pool.discard(conn)
            raise
        # The pooled connection had died while idle (the server's keep-alive
        # timeout, a restart): one more try on a new connection.
        conn = await self._pool.checkout(url.origin, key, open_socket, fresh=True)
        try:
            return conn, await self._send_on(conn, req)
        except BaseException:
            await self._pool.discard(conn)
            raise

    @staticmethod
    async def _send_on(conn: HTTP11Connection, req: _Prepared) -> h11.Response:
        await conn.send_request(req.method, req.url.target.encode("ascii"), req.headers, req.body)
        return await conn.receive_response_head()

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
            reason = "cannot resolve host" if isinstance(exc, socket.gaierror) else "failed"
            raise ConnectFailed(f"{where}: {reason}: {exc}") from exc

    # -- closing ---------------------------------------------------------------

    async def close(self) -> None:
        """Close every pooled connection. The session stays usable."""
        await self._pool.close()

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
