"""Which way a request goes: direct, forwarded by a proxy, or through a tunnel.

The route is chosen per request sent (per hop: a redirect is a new request,
so a redirect to a host ``NO_PROXY`` excludes goes direct), from, in order:

1. the call's ``proxy=`` (``""`` forces a direct connection for the call);
2. the session's ``proxy=`` (``""``: always direct, the environment unread);
3. the environment (``trust_env=True``), read once when the session was made.

Then, for a proxy:

* an http:// origin through an ``http://`` or ``https://`` proxy is
  **forwarded**: one pool key per proxy for every http:// origin, since a
  connection to the proxy may carry requests for any of them (keep-alive to
  the proxy is reused across origins). The request's target goes in
  absolute form and the proxy's own headers are added;
* an https:// origin through an HTTP proxy, and any origin through a SOCKS
  proxy, is **tunnelled**: a key per proxy, origin and TLS identity, since a
  tunnel leads to one origin only;

and keys of different proxies (their identities tell credentials, headers
and TLS contexts apart), or of none, never meet: their connections are
never shared. A session without any proxy never builds a router (see
``Transport.send``): it pays nothing for any of this.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import TYPE_CHECKING, NamedTuple

from .._proxies import Proxy
from .._urls import Origin
from .proxy import forward_headers

if TYPE_CHECKING:
    from .._proxy_env import EnvironmentProxies
    from .._request import Call
    from .connect import Dialer

__all__ = ["DIRECT", "Direct", "ProxyRoute", "Router", "coerce_route"]


class Direct:
    """The "no proxy" choice: ``proxy=""`` on a Session or a call."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "DIRECT"


DIRECT = Direct()

ProxyChoice = Proxy | Direct | None
"""A ``proxy=`` value once checked: a proxy, direct, or None (not chosen here)."""


def coerce_route(value: object) -> ProxyChoice:
    """``proxy=`` as given: None, ``""`` (direct), a URL string or an ``asks.Proxy``.

    Raises:
        TypeError: any other type.
        ValueError: a bad proxy URL (see ``asks.Proxy``).
    """
    if value is None or isinstance(value, Proxy):
        return value
    if isinstance(value, str):
        if not value.strip():
            return DIRECT
        return Proxy(value)
    raise TypeError(f"proxy must be a URL string or an asks.Proxy, not {type(value).__name__}")


class ProxyRoute(NamedTuple):
    """The pool key of a connection through a proxy (a direct one is ``Dialer.pool_key``'s).

    ``kind`` is ``"forward"`` (any http:// origin; *origin* and *tls* are
    None - or *origin* is the one origin it serves, in a session with
    ``connections_per_host``) or ``"tunnel"`` (one origin, with the id of
    the ``ssl_context`` its TLS is verified with when it is https).
    """

    kind: str
    proxy: Proxy
    origin: Origin | None
    tls: int | None


class Router:
    """The route of each request of one session.

    Args:
        dialer: the session's dialler (its direct keys, and where proxy
            routes are recorded for it to dial).
        proxy: the session's ``proxy=``.
        environment: the environment's proxies (``trust_env=True``), or None.
        forward_per_origin: give forwarded requests connections to the proxy
            of their own origin's, so that ``connections_per_host`` counts
            them against their origin (otherwise every http:// origin shares
            the proxy's connections, and the limit would throttle them all
            together as one host).
    """

    def __init__(
        self,
        dialer: Dialer,
        proxy: ProxyChoice,
        environment: EnvironmentProxies | None,
        forward_per_origin: bool = False,
    ) -> None:
        self.dialer = dialer
        self.proxy = proxy
        self.environment = environment
        self.forward_per_origin = forward_per_origin

    def proxy_for(self, origin: Origin, call_proxy: ProxyChoice) -> Proxy | None:
        """The proxy a request to *origin* goes through, or None: direct."""
        choice = call_proxy if call_proxy is not None else self.proxy
        if choice is None:
            environment = self.environment
            if environment is None:
                return None
            return environment.select(origin.scheme, origin.host, origin.port)
        if isinstance(choice, Direct):
            return None
        return choice

    def route(
        self, call: Call, wire: tuple[tuple[bytes, bytes], ...], call_proxy: ProxyChoice
    ) -> tuple[Hashable, bytes, tuple[tuple[bytes, bytes], ...]]:
        """The pool key, request target and header block of *call*'s next request.

        A direct request keeps its target and headers; a forwarded one gets
        the absolute form and the proxy's headers (the caller's own
        ``Proxy-Authorization`` among them: asks sends it to a proxy only).
        """
        url = call.url
        origin = url.origin
        dialer = self.dialer
        proxy = self.proxy_for(origin, call_proxy)
        if proxy is None:
            key = dialer.keys.get(origin)
            if key is None:
                key = dialer.pool_key(origin)
            return key, url.target_bytes, wire
        if origin.scheme == "http" and not proxy.is_socks:
            # RFC 9112 section 3.2.2: to a proxy, the target is the absolute URI.
            target = url.absolute_target
            caller = call.headers.get("proxy-authorization")
            if caller is None and call.auth_headers:
                # One an auth set (for the proxy; _request keeps it from origins).
                answers = call.auth_headers.items()
                caller = next((v for k, v in answers if k.lower() == "proxy-authorization"), None)
            return (
                ProxyRoute("forward", proxy, origin if self.forward_per_origin else None, None),
                target,
                forward_headers(wire, proxy, caller),
            )
        tls = dialer.origin_tls_id() if origin.scheme == "https" else None
        return ProxyRoute("tunnel", proxy, origin, tls), url.target_bytes, wire
