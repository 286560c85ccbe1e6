"""The one place that dials: route, TCP or Unix socket, TLS, then the connection kind.

Everything a new connection needs is decided here, in this order:

1. the route: a Unix domain socket when the session has ``uds=``, else TCP
   to the URL's host and port, every address tried by Happy Eyeballs
   (RFC 8305, see ``happy_eyeballs``); through a proxy (a key of
   ``routes.ProxyRoute``), TCP to the proxy the same way, TLS to it for an
   ``https://`` proxy (verified with ``Proxy.ssl_context``), then for a
   tunnel the ``CONNECT`` (``proxy``) or the SOCKS handshake (``socks``);
2. TLS for https, verifying, with SNI and the host name check on the URL's
   host, offering the TLS session kept from the last connection to the same
   place by the same route (resumption: the handshake is shorter, RFC 8446
   section 2.2);
   inside a tunnel through an https:// proxy that is TLS inside TLS
   (``backend.TLSOverStream``);
3. the connection kind on top of the stream (HTTP/1.1 today).

Failures leave as the transport's classes (:class:`ConnectError`,
:class:`ConnectTimeout`, :class:`ProxyFailed` for anything between asks and
the proxy, naming the proxy) or as ``ssl.SSLError``; :mod:`asks._boundary`
maps them. Whatever fails, a half-made socket is closed first (backend).
"""

from __future__ import annotations

import os
import socket
import ssl
import weakref
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any

import curio

from .._boundary import translate
from .._urls import Origin
from . import backend
from .happy_eyeballs import connect_tcp
from .http11 import HTTP11Connection
from .interfaces import ConnectError, ConnectTimeout, ProtocolViolation, ProxyFailed
from .proxy import open_http_tunnel
from .routes import ProxyRoute
from .tls_sessions import TLS, KeptSession, copy_of
from .trap_cycles import break_trap_cycle

if TYPE_CHECKING:
    from .._proxies import Proxy
    from .http2 import HTTP2Connection
    from .pool import ConnectionPool
    from .tracing import Tracer

__all__ = ["Dialer", "pool_host"]


def pool_host(key: Hashable) -> Hashable:
    """The host a pool key counts against for ``connections_per_host``: its origin.

    The origin (scheme, host, port), not the whole key: the limit is there
    for the server's sake, and connections to it through another route or
    under another TLS context load it all the same. This is the one place
    that knows where the origin sits in a key (see :meth:`Dialer.pool_key`).
    """
    if type(key) is ProxyRoute:
        # A tunnel leads to one origin and counts against it, and so does a
        # forward route in a session with the limit (see Router). Forwarded
        # requests of any origin sharing the proxy's connections count
        # against the proxy.
        return key.origin if key.origin is not None else key.proxy.identity
    origin: Hashable = key[0]  # type: ignore[index]
    return origin


# TLS sessions kept for resumption, at most this many places at once (a
# scraper over many hosts just loses the oldest).
_MAX_TLS_SESSIONS = 512
# Pool keys kept, one per origin (see Dialer.pool_key).
_MAX_KEYS = 256

# The caller's contexts an http2 session has made offer h2 (set_alpn_protocols
# changes the context itself): an HTTP/1.1 session given one of them puts
# its own offer back before each handshake.
_offering_h2: weakref.WeakSet[ssl.SSLContext] = weakref.WeakSet()


class Dialer:
    """Opens the connections of one session.

    Args:
        ssl_context: for https origins (None: the shared verifying default).
        source_address: ``(host, port)`` to bind before connecting over TCP.
        uds: a Unix domain socket path every connection goes to instead.
        resumption: offer the TLS session of an earlier connection to the
            same place when opening a new one.
        max_head_size, keepalive_expiry: for each new connection.
        trace: the session's tracer (see ``tracing``), or None.
    """

    def __init__(
        self,
        ssl_context: ssl.SSLContext | None,
        source_address: tuple[str, int] | None,
        uds: str | None,
        resumption: bool,
        max_head_size: int,
        keepalive_expiry: float,
        trace: Tracer | None = None,
        http2: bool | str = False,
    ) -> None:
        self.trace = trace
        # False, True (ALPN on https) or "prior-knowledge" (h2c on http too).
        self.http2 = http2
        # Keys whose server answered ALPN without h2: never waited for again.
        self.h1_only: set[Hashable] = set()
        self.dialled = 0  # connections begun: the tracer's connection numbers
        # origin -> its pool key, as pool_key made it; emptied whenever what
        # a key is made of changes (the TLS context; uds is fixed).
        self.keys: dict[Origin, Hashable] = {}
        self._ssl_context = ssl_context
        self.source_address = source_address
        self.uds = uds
        self.resumption = resumption
        self.max_head_size = max_head_size
        self.keepalive_expiry = keepalive_expiry
        # (route, host, port, id of the context) -> (the context, the session).
        # A session is offered only to a connection made with the very same
        # context object: it carries that context's trust decisions, and
        # OpenSSL refuses a session of another context anyway. The context is
        # kept beside it, so its id cannot be a recycled one.
        self._tls_sessions: dict[Hashable, tuple[ssl.SSLContext, KeptSession]] = {}

    @property
    def ssl_context(self) -> ssl.SSLContext | None:
        """The context for https origins (None: the shared verifying default)."""
        return self._ssl_context

    @ssl_context.setter
    def ssl_context(self, value: ssl.SSLContext | None) -> None:
        # Connections made under the old context keep their keys; new ones
        # get keys of the new context.
        self._ssl_context = value
        self.keys.clear()

    def origin_tls_id(self) -> int:
        """The TLS identity of https origins in pool keys (the context in use)."""
        return id(self._ssl_context)

    def pool_key(self, origin: Origin) -> Hashable:
        """Connections of one key are interchangeable: same place, same route, same TLS.

        The key is kept in :attr:`keys` for the next request to *origin*.
        """
        tls_id = id(self._ssl_context) if origin.scheme == "https" else None
        key = (origin, self.uds, tls_id)
        keys = self.keys
        if len(keys) >= _MAX_KEYS:
            keys.clear()  # a scraper over many hosts just makes them again
        keys[origin] = key
        return key

    def may_share(self, key: Hashable) -> bool:
        """Whether a new connection of *key* might speak HTTP/2 (the pool waits for it)."""
        if type(key) is not tuple or key in self.h1_only:
            return False
        scheme = key[0].scheme
        return scheme == "https" or (scheme == "http" and self.http2 == "prior-knowledge")

    async def connect(
        self,
        origin: Origin,
        key: Hashable,
        timeout: float | None,
        pool: ConnectionPool[Any] | None,
    ) -> Any:
        """A new connection to *origin*, filed under *key* in *pool*.

        Raises:
            ConnectError: resolving or connecting failed.
            ConnectTimeout: not connected within *timeout* seconds.
            ssl.SSLError: the TLS handshake failed.
        """
        trace = self.trace
        route = key if type(key) is ProxyRoute else None
        stream: backend.AnyStream
        if trace is None:
            if route is None:
                stream = await self.open_stream(origin, timeout)
                if self.http2:
                    h2conn = await self._as_http2(stream, origin, key, pool)
                    if h2conn is not None:
                        return h2conn
            else:
                stream = await self.open_via(origin, route, timeout)
            if origin.scheme == "https":
                await _refuse_h2_answer(stream)
            return HTTP11Connection(stream, key, self.max_head_size, self.keepalive_expiry, pool)
        from .tracing import TracedHTTP11Connection

        self.dialled += 1
        number = self.dialled
        info = {"connection": number, "host": origin.host, "port": origin.port, "uds": self.uds}
        if route is not None:
            info["proxy"] = route.proxy.url  # never its credentials
        trace("connect.start", info)
        try:
            if route is None:
                stream = await self.open_stream(origin, timeout, trace, number)
            else:
                stream = await self.open_via(origin, route, timeout, trace, number)
        except BaseException as exc:
            # Whatever step failed (TCP, TLS, the deadline), with the error
            # the caller will see; a span begun at connect.start ends here.
            error = translate(exc, f"{origin.scheme}://{origin.host}:{origin.port}")
            trace("connect.failed", {"connection": number, "error": error})
            raise
        if self.http2 and route is None:
            h2conn = await self._as_http2(stream, origin, key, pool)
            if h2conn is not None:
                return h2conn  # not traced: the tracer follows HTTP/1.1 cycles
        if origin.scheme == "https":
            await _refuse_h2_answer(stream)
        return TracedHTTP11Connection(
            stream, key, self.max_head_size, self.keepalive_expiry, pool, trace, number
        )

    async def _as_http2(
        self, stream: backend.AnyStream, origin: Origin, key: Hashable, pool: Any
    ) -> HTTP2Connection | None:
        """*stream* as an HTTP/2 connection, if the server chose h2 (None: HTTP/1.1)."""
        if origin.scheme == "https":
            tls = getattr(stream, "tls", None)
            if tls is None or tls.selected_alpn_protocol() != "h2":
                # RFC 7301: no answer, or http/1.1: HTTP/1.1, remembered.
                if len(self.h1_only) >= _MAX_KEYS:
                    self.h1_only.clear()
                self.h1_only.add(key)
                return None
            scheme = b"https"
        elif self.http2 == "prior-knowledge":
            scheme = b"http"  # RFC 9113 section 3.3: h2c with prior knowledge
        else:
            return None
        # h2 is imported the first time it is needed: HTTP/1.1 sessions (and
        # asks' import) never load it.
        from .http2 import HTTP2Connection

        conn = HTTP2Connection(
            stream, key, scheme, self.max_head_size, self.keepalive_expiry, pool
        )
        try:
            await conn.start()
        except BaseException:
            await stream.close()
            raise
        return conn

    def _tls_context(self) -> ssl.SSLContext:
        context = self.ssl_context
        if context is None:
            return backend.default_h2_context() if self.http2 else backend.default_ssl_context()
        return context

    def _offer_protocols(self, context: ssl.SSLContext, h2: bool) -> None:
        # Called with no await before the wrap: OpenSSL copies the context's
        # ALPN list into the connection when it is made, so a caller's context
        # shared by an http2 session and an HTTP/1.1 one offers each what it
        # speaks. A context asks never made offer h2 is left untouched.
        if context is self.ssl_context:
            if h2:
                context.set_alpn_protocols(["h2", "http/1.1"])
                _offering_h2.add(context)
            elif context in _offering_h2:
                context.set_alpn_protocols(["http/1.1"])

    async def open_stream(
        self,
        origin: Origin,
        timeout: float | None,
        trace: Tracer | None = None,
        number: int = 0,
    ) -> backend.Stream:
        """The byte stream to *origin*: connected, TLS negotiated for https.

        Args:
            origin: where to.
            timeout: seconds for the whole of it.
            trace: reports ``connect.done``, ``tls.start`` and ``tls.done``
                for connection *number* (``connect`` reports the rest).
        """
        uds = self.uds
        where = (
            f"connecting to unix socket {uds}"
            if uds is not None
            else f"connecting to {origin.host}:{origin.port}"
        )
        try:
            if timeout is None:
                return await self._open(origin, uds, trace, number)
            async with curio.timeout_after(timeout):
                return await self._open(origin, uds, trace, number)
        except curio.TaskTimeout as exc:
            if timeout is None:
                # No deadline of ours: the call's timeout or the caller's
                # own, which must reach its timeout_after as it came.
                raise
            break_trap_cycle(exc)
            raise ConnectTimeout(f"{where}: not connected within {timeout} s") from None
        except ssl.SSLError:
            raise  # a TLS failure, translated as such; retrying will not help
        except OSError as exc:
            raise ConnectError(f"{where}: {_reason(exc)}") from exc

    async def open_via(
        self,
        origin: Origin,
        route: ProxyRoute,
        timeout: float | None,
        trace: Tracer | None = None,
        number: int = 0,
    ) -> backend.Stream | backend.TLSOverStream:
        """The byte stream to *origin* through *route*'s proxy, as :meth:`open_stream`.

        Raises:
            ProxyFailed: the proxy could not be reached, refused the tunnel,
                or broke off (the message names the proxy, not the origin).
            ConnectTimeout: not through within *timeout* seconds.
            ssl.SSLError: a TLS handshake (the proxy's or the origin's) failed.
        """
        try:
            if timeout is None:
                return await self._open_via(origin, route, timeout, trace, number)
            async with curio.timeout_after(timeout):
                return await self._open_via(origin, route, timeout, trace, number)
        except curio.TaskTimeout as exc:
            if timeout is None:
                raise  # not ours, as in open_stream
            break_trap_cycle(exc)
            raise ConnectTimeout(
                f"connecting to {origin.host}:{origin.port} through proxy "
                f"{route.proxy.url}: not connected within {timeout} s"
            ) from None
        except OSError as exc:
            if isinstance(exc, ssl.SSLError):
                raise  # a TLS failure (the proxy's or the origin's), translated as such
            raise ProxyFailed(f"proxy {route.proxy.url}: {_reason(exc)}") from exc

    async def _open_via(
        self,
        origin: Origin,
        route: ProxyRoute,
        timeout: float | None,
        trace: Tracer | None,
        number: int,
    ) -> backend.Stream | backend.TLSOverStream:
        """The stream to *origin* through *route*'s proxy (forwarded or tunnelled)."""
        proxy = route.proxy
        try:
            sock = await connect_tcp(proxy.host, proxy.port, source_address=self.source_address)
        except OSError as exc:
            raise ProxyFailed(f"proxy {proxy.url}: {_reason(exc)}", unreachable=True) from exc
        if trace is not None:
            await _report(trace, sock, "connect.done", {"connection": number})
        outer: backend.Stream
        if proxy.scheme == "https":
            # The TLS to an https:// proxy resumes as an origin's does, kept
            # per proxy (scheme, host, port, credentials, headers and its
            # TLS context: the Proxy's equality) and never offered elsewhere.
            proxy_context = proxy.ssl_context or backend.default_ssl_context()
            to_proxy = ("proxy", proxy, id(proxy_context))
            kept = self._kept_session(to_proxy, proxy_context)
            proxy_tls = await backend.start_tls(sock, proxy_context, proxy.host, kept)
            outer = backend.Stream(proxy_tls, self._keeper(to_proxy, proxy_context))
        else:
            outer = backend.Stream(sock)
        if route.kind == "forward":
            return outer
        try:
            if proxy.is_socks:
                await open_socks_tunnel(outer, proxy, origin.host, origin.port, timeout)
                leftover = b""
            else:
                leftover = await open_http_tunnel(outer, proxy, origin.host, origin.port)
            if origin.scheme != "https":
                if leftover:
                    # An http:// origin speaks only when spoken to.
                    raise ProxyFailed(f"{proxy.url}: unexpected bytes after the tunnel opened")
                return outer
        except BaseException:
            await outer.close()
            raise
        context = self.ssl_context
        if context is None:
            context = backend.default_ssl_context()
        host = origin.host
        # The proxy itself is part of the place (the Proxy object, equal only
        # to one of the same scheme, host, port, credentials, headers and TLS
        # context, which it keeps alive): a session is offered only through
        # the very route it was made on, never through another proxy nor to
        # a direct connection (whose places are (uds, host, port, context
        # id)). The origin's server would accept it over any route; a resumed
        # session would link two routes the caller keeps apart for anyone
        # who sees both (RFC 8446 appendix C.4).
        place = ("via", proxy, host, origin.port, id(context))
        session = self._kept_session(place, context)
        if trace is not None:
            await _report(
                trace,
                outer,
                "tls.start",
                {"connection": number, "server_hostname": host, "resuming": session is not None},
            )
        keep = self._keeper(place, context)
        inner: backend.Stream | backend.TLSOverStream
        tls: ssl.SSLSocket | ssl.SSLObject
        # Through a proxy asks speaks HTTP/1.1 only (docs/http2.md).
        self._offer_protocols(context, False)
        if outer.tls is None and not leftover:
            # A plain socket to the proxy: TLS to the origin straight over it.
            tls_sock = await backend.start_tls(sock, context, host, session)
            inner = backend.Stream(tls_sock, keep)
            tls = tls_sock._socket
        else:
            # TLS to an https:// proxy already: TLS inside TLS.
            inner = await backend.start_tls_over(outer, context, host, leftover, session, keep)
            tls = inner.ssl_object
        if trace is not None:
            await _report(
                trace,
                inner,
                "tls.done",
                {
                    "connection": number,
                    "version": tls.version(),
                    "cipher": (tls.cipher() or ("",))[0],
                    "resumed": tls.session_reused,
                },
            )
        return inner

    async def _open(
        self, origin: Origin, uds: str | None, trace: Tracer | None, number: int
    ) -> backend.Stream:
        host = origin.host
        if uds is not None:
            sock = await backend.open_unix(uds)
        else:
            sock = await connect_tcp(host, origin.port, source_address=self.source_address)
        if trace is not None:
            await _report(trace, sock, "connect.done", {"connection": number})
        if origin.scheme != "https":
            return backend.Stream(sock)
        context = self._tls_context()
        place = (uds, host, origin.port, id(context))
        session = self._kept_session(place, context)
        if trace is not None:
            await _report(
                trace,
                sock,
                "tls.start",
                {"connection": number, "server_hostname": host, "resuming": session is not None},
            )
        self._offer_protocols(context, bool(self.http2))
        tls = await backend.start_tls(sock, context, host, session)
        if trace is not None:
            raw = tls._socket
            await _report(
                trace,
                tls,
                "tls.done",
                {
                    "connection": number,
                    "version": raw.version(),
                    "cipher": (raw.cipher() or ("",))[0],
                    "resumed": raw.session_reused,
                },
            )
        return backend.Stream(tls, self._keeper(place, context))

    def _kept_session(self, place: Hashable, context: ssl.SSLContext) -> KeptSession | None:
        """The session to offer a new connection to *place* made with *context*, if any."""
        if not self.resumption:
            return None
        kept = self._tls_sessions.get(place)
        if kept is not None and kept[0] is context:
            return kept[1]
        return None

    def _keeper(self, place: Hashable, context: ssl.SSLContext) -> Callable[[TLS], None] | None:
        """What keeps a connection's session for *place* when it closes (None: resumption off)."""
        if not self.resumption:
            return None

        def keep(tls: TLS) -> None:
            self._keep_session(place, context, tls)

        # The session is taken when the connection closes: a TLS 1.3 ticket
        # arrives after the handshake, with the first response, and taking
        # the session costs a copy of it (see tls_sessions), so once per
        # connection.
        return keep

    def _keep_session(self, place: Hashable, context: ssl.SSLContext, tls_sock: TLS) -> None:
        sessions = self._tls_sessions
        if tls_sock.session_reused and tls_sock.version() != "TLSv1.3" and place in sessions:
            # A TLS 1.2 session that just resumed is still good, and meant to
            # be used again (RFC 5077 section 3.4): no copy needed. A TLS 1.3
            # ticket is not reused; each connection's fresh one is kept
            # (RFC 8446 appendix C.4: reuse would let observers link them).
            return
        # A copy OpenSSL makes in memory where it can: the standard
        # library's re-parses the server's certificate (see tls_sessions).
        session = copy_of(tls_sock)
        if session is None:
            return
        if tls_sock.version() == "TLSv1.3" and not session.has_ticket:
            # No ticket arrived (nothing was read, or the server sends none):
            # nothing to resume with; keep the one we have.
            return
        if place not in sessions and len(sessions) >= _MAX_TLS_SESSIONS:
            del sessions[next(iter(sessions))]
        sessions[place] = (context, session)


async def _refuse_h2_answer(stream: backend.Stream | backend.TLSOverStream) -> None:
    """Fail a TLS connection about to speak HTTP/1.1 whose server chose h2 by ALPN.

    asks leaves the ALPN list of a caller's context alone unless an http2
    session set it, so a context the caller made offer h2 reaches HTTP/1.1
    sessions and proxy tunnels as it is. A server that picked h2 would read
    HTTP/1.1 as garbage (RFC 7301 section 3.2: the chosen protocol is the one
    spoken), and its answer is no HTTP/1.x: said plainly, before any request.
    """
    tls = stream.tls if isinstance(stream, backend.Stream) else stream.ssl_object
    if tls is not None and tls.selected_alpn_protocol() == "h2":
        await stream.close()
        raise ProtocolViolation(
            "the server chose HTTP/2 by ALPN (the ssl_context offers h2) on a connection "
            "that speaks HTTP/1.1: give this session a context without h2 in its ALPN list"
        )


def _reason(exc: OSError) -> str:
    """What went wrong with a connect, in a few words."""
    if isinstance(exc, socket.gaierror):
        reason = "cannot resolve host"
    elif exc.errno:
        # curio raises a plain OSError for a refused connect; say so.
        reason = os.strerror(exc.errno)
    else:
        reason = "failed"
    if getattr(exc, "attempts", 1) > 1:
        # Happy Eyeballs tried several addresses: say how each failed.
        # (The text of an OSError without errno is its only argument.)
        reason += f" ({exc.strerror if exc.strerror is not None else exc})"
    elif not exc.errno or isinstance(exc, socket.gaierror):
        reason += f": {exc}"
    return reason


async def open_socks_tunnel(
    stream: backend.Stream, proxy: Proxy, host: str, port: int, timeout: float | None
) -> None:
    """The SOCKS handshake of :mod:`.socks`, imported on first use.

    socksio costs about 11 ms to import, and only SOCKS users need it.
    """
    from .socks import open_socks_tunnel as handshake

    await handshake(stream, proxy, host, port, timeout)


async def _report(trace: Tracer, sock: Any, event: str, info: dict[str, Any]) -> None:
    # The socket is not anybody's yet: if the tracer raises, close it here.
    try:
        trace(event, info)
    except BaseException:
        await backend.close_quietly(sock)
        raise
