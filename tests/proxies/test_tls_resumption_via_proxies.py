"""TLS session resumption to an origin through proxy tunnels, against real proxies.

The origin is nginx's ``/close`` location (see tests/test_tls_resumption.py):
each request is a new connection, hence a new tunnel and a new TLS handshake
to nginx, and nginx says whether it resumed (``X-TLS-Resumed``: ``r`` or
``.``). nginx would resume a session offered over any route (the proxy only
relays bytes), so a ``.`` where a session exists for another route is the
client keeping routes apart.

The tunnels: squid and tinyproxy (``CONNECT``, plain TCP to the proxy, the
origin's TLS straight over the socket), dante (SOCKS5, the same) and proxy.py
as an ``https://`` proxy (the origin's TLS inside the proxy's TLS).
"""

from __future__ import annotations

import ssl
from typing import Any

import pytest

import asks
from asks._transport import connect, tls_sessions
from tests.proxies import socks_servers
from tests.real.debian_proxies import Squid, Tinyproxy
from tests.real.nginx import Nginx
from tests.real.proxypy import ProxyPy
from tests.test_tls_resumption import PROTOCOLS, resumed, token

dante = socks_servers.dante_fixture

CALL_TIMEOUT = 10

ROUTES = ["squid", "tinyproxy", "dante-socks5", "dante-socks5h", "https-proxy"]


@pytest.fixture
def routes(
    squid: Squid,
    tinyproxy_auth: Tinyproxy,
    dante: socks_servers.Dante,
    proxypy_tls: ProxyPy,
    client_ssl_context: ssl.SSLContext,
) -> dict[str, asks.Proxy]:
    """Each kind of tunnel, by name (the proxies run for the whole test run)."""
    return {
        "squid": asks.Proxy(squid.url),
        "tinyproxy": asks.Proxy(tinyproxy_auth.url, auth=("user", "pass")),
        "dante-socks5": asks.Proxy(dante.url("socks5")),
        "dante-socks5h": asks.Proxy(dante.url("socks5h")),
        # proxy.py over TLS, with the suite's certificate: TLS inside TLS.
        "https-proxy": asks.Proxy(proxypy_tls.url, ssl_context=client_ssl_context),
    }


@PROTOCOLS
@pytest.mark.parametrize("route", ROUTES)
async def test_a_new_tunnel_through_the_same_proxy_resumes(
    nginx: Nginx,
    client_ssl_context: ssl.SSLContext,
    routes: dict[str, asks.Proxy],
    route: str,
    listener: str,
    protocol: str,
) -> None:
    path = f"/close/{token()}"
    async with asks.Session(proxy=routes[route], ssl_context=client_ssl_context) as s:
        for n in range(3):
            r = await s.get(nginx.url(listener, f"{path}/{n}"), timeout=CALL_TIMEOUT)
            assert r.status_code == 200
            assert r.headers["x-tls-protocol"] == protocol
    entries = nginx.access_log.entries(path)
    assert [entry.uri for entry in entries] == [f"{path}/{n}" for n in range(3)]
    assert len({entry.connection for entry in entries}) == 3  # three tunnels
    # The first pays the full handshake; each new tunnel resumes.
    assert [entry.ssl_session_reused for entry in entries] == [".", "r", "r"]


async def test_never_across_proxies_credentials_or_the_direct_route(
    nginx: Nginx, client_ssl_context: ssl.SSLContext, routes: dict[str, asks.Proxy]
) -> None:
    # squid checks no credentials: the two users are two routes to asks
    # (Proxy.identity) through one proxy that lets both through.
    squid_url = routes["squid"].url
    ways: dict[str, asks.Proxy | str] = {
        "squid": routes["squid"],
        "squid-as-alice": asks.Proxy(squid_url, auth=("alice", "one")),
        "squid-as-bob": asks.Proxy(squid_url, auth=("bob", "two")),
        "tinyproxy": routes["tinyproxy"],
        "dante-socks5": routes["dante-socks5"],
        "dante-socks5h": routes["dante-socks5h"],
        "https-proxy": routes["https-proxy"],
        "direct": "",
    }
    path = f"/close/{token()}"
    async with asks.Session(ssl_context=client_ssl_context) as s:
        # Each way's first connection is a full handshake although every way
        # before it left a session the server would have taken...
        first = {
            name: await resumed(s, nginx.url("tls", f"{path}/{name}/1"), proxy=proxy)
            for name, proxy in ways.items()
        }
        # ...and each way's own session is still there for it.
        second = {
            name: await resumed(s, nginx.url("tls", f"{path}/{name}/2"), proxy=proxy)
            for name, proxy in ways.items()
        }
    assert first == dict.fromkeys(ways, False)
    assert second == dict.fromkeys(ways, True)


async def test_a_direct_session_is_not_offered_through_a_proxy(
    nginx: Nginx, client_ssl_context: ssl.SSLContext, routes: dict[str, asks.Proxy]
) -> None:
    # Direct first this time, then the tunnel: neither way round is shared.
    path = f"/close/{token()}"
    async with asks.Session(ssl_context=client_ssl_context) as s:
        assert not await resumed(s, nginx.url("tls", path + "/direct"))
        assert not await resumed(s, nginx.url("tls", path + "/squid"), proxy=routes["squid"])
        assert await resumed(s, nginx.url("tls", path + "/squid"), proxy=routes["squid"])


@pytest.mark.parametrize("route", ["squid", "dante-socks5", "https-proxy"])
async def test_resumption_false_makes_every_tunnelled_handshake_a_full_one(
    nginx: Nginx,
    client_ssl_context: ssl.SSLContext,
    routes: dict[str, asks.Proxy],
    route: str,
) -> None:
    path = f"/close/{token()}"
    async with asks.Session(
        proxy=routes[route], ssl_context=client_ssl_context, resumption=False
    ) as s:
        for n in range(3):
            assert not await resumed(s, nginx.url("tls", f"{path}/{n}"))
        assert s._dialer._tls_sessions == {}
    entries = nginx.access_log.entries(path)
    assert [entry.ssl_session_reused for entry in entries] == [".", ".", "."]


@pytest.mark.parametrize("resumption", [True, False], ids=["resumption", "no-resumption"])
@pytest.mark.parametrize("route", ["squid", "https-proxy"])
async def test_trace_events_tell_the_truth_through_a_tunnel(
    nginx: Nginx,
    client_ssl_context: ssl.SSLContext,
    routes: dict[str, asks.Proxy],
    route: str,
    resumption: bool,
) -> None:
    events: list[tuple[str, dict[str, Any]]] = []

    def trace(event: str, info: dict[str, Any]) -> None:
        if event in ("tls.start", "tls.done"):
            events.append((event, info))

    path = f"/close/{token()}"
    async with asks.Session(
        proxy=routes[route],
        ssl_context=client_ssl_context,
        resumption=resumption,
        trace=trace,
    ) as s:
        said = [await resumed(s, nginx.url("tls", f"{path}/{n}")) for n in range(3)]
    offered = [info["resuming"] for event, info in events if event == "tls.start"]
    accepted = [info["resumed"] for event, info in events if event == "tls.done"]
    expected = [False, resumption, resumption]
    # What asks offered and what it reports accepted match what nginx saw.
    assert (offered, accepted, said) == (expected, expected, expected)


async def test_the_cap_on_kept_sessions_counts_tunnels_too(
    nginx: Nginx,
    client_ssl_context: ssl.SSLContext,
    routes: dict[str, asks.Proxy],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(connect, "_MAX_TLS_SESSIONS", 2)
    squid, dante_ = routes["squid"], routes["dante-socks5"]
    path = f"/close/{token()}"
    async with asks.Session(ssl_context=client_ssl_context) as s:
        assert not await resumed(s, nginx.url("tls", path + "/a"), proxy=squid)
        assert not await resumed(s, nginx.url("tls", path + "/b"), proxy=dante_)
        assert len(s._dialer._tls_sessions) == 2
        # A third route pushes out the oldest (squid's).
        assert not await resumed(s, nginx.url("tls", path + "/c"))
        assert len(s._dialer._tls_sessions) == 2
        assert await resumed(s, nginx.url("tls", path + "/b"), proxy=dante_)
        assert not await resumed(s, nginx.url("tls", path + "/a"), proxy=squid)


@pytest.mark.parametrize("copies", ["native", "stdlib"])
@pytest.mark.parametrize("route", ["squid", "https-proxy"])
async def test_both_ways_of_copying_sessions_resume_through_a_tunnel(
    nginx: Nginx,
    client_ssl_context: ssl.SSLContext,
    routes: dict[str, asks.Proxy],
    monkeypatch: pytest.MonkeyPatch,
    route: str,
    copies: str,
) -> None:
    # Inside an https:// proxy the origin's TLS is an ssl.SSLObject, not a
    # socket: OpenSSL's in-memory copies must find its SSL * as well, and
    # the standard library's (SSLObject.session, wrap_bio(session=)) serve
    # where those cannot be had.
    if copies == "stdlib":
        monkeypatch.setattr(tls_sessions, "_checked", True)
        monkeypatch.setattr(tls_sessions, "_lib", None)
    else:
        assert tls_sessions.native()
    path = f"/close/{token()}"
    async with asks.Session(proxy=routes[route], ssl_context=client_ssl_context) as s:
        assert not await resumed(s, nginx.url("tls", path + "/1"))
        assert await resumed(s, nginx.url("tls", path + "/2"))
        # (The TLS to the https:// proxy keeps its own session too.)
        [kept] = [
            session for place, (_, session) in s._dialer._tls_sessions.items() if place[0] == "via"
        ]
    wanted = tls_sessions.NativeSession if copies == "native" else ssl.SSLSession
    assert isinstance(kept, wanted)
    # The layout check held for the SSLObject too (a failed one turns the
    # in-memory copies off for the process).
    assert tls_sessions.native() is (copies == "native")


# --------------------------------------------------------------------------
# The TLS to an https:// proxy itself
#
# nginx serves a request in absolute form (``GET http://host/path``) as its
# own, so over its TLS listener it is an https:// forwarding proxy for an
# http:// URL that reports, per request, whether *the proxy's* TLS resumed.


def nginx_as_proxy(nginx: Nginx, context: ssl.SSLContext, **kwargs: Any) -> asks.Proxy:
    return asks.Proxy(nginx.url("tls", ""), ssl_context=context, **kwargs)


async def test_a_new_connection_to_an_https_proxy_resumes_its_tls(
    nginx: Nginx, client_ssl_context: ssl.SSLContext
) -> None:
    path = f"/close/{token()}"
    proxy = nginx_as_proxy(nginx, client_ssl_context)
    async with asks.Session(proxy=proxy) as s:
        said = [await resumed(s, f"http://origin.example{path}/{n}") for n in range(3)]
    assert said == [False, True, True]
    entries = nginx.access_log.entries(path)
    assert [entry.host for entry in entries] == ["origin.example"] * 3  # forwarded
    assert len({entry.connection for entry in entries}) == 3
    assert [entry.ssl_session_reused for entry in entries] == [".", "r", "r"]


async def test_an_https_proxy_session_is_kept_per_proxy_and_can_be_turned_off(
    nginx: Nginx, client_ssl_context: ssl.SSLContext
) -> None:
    path = f"/close/{token()}"
    alice = nginx_as_proxy(nginx, client_ssl_context, auth=("alice", "a"))
    bob = nginx_as_proxy(nginx, client_ssl_context, auth=("bob", "b"))
    url = f"http://origin.example{path}"
    async with asks.Session(ssl_context=client_ssl_context) as s:
        assert not await resumed(s, url + "/1", proxy=alice)
        # Another proxy (the same server, other credentials) starts afresh,
        # and so does a direct connection to the server the proxy runs on.
        assert not await resumed(s, url + "/2", proxy=bob)
        assert not await resumed(s, nginx.url("tls", path + "/3"))
        assert await resumed(s, url + "/4", proxy=alice)
        assert await resumed(s, url + "/5", proxy=bob)
    async with asks.Session(proxy=alice, resumption=False) as s:
        assert [await resumed(s, f"{url}/off{n}") for n in range(2)] == [False, False]
        assert s._dialer._tls_sessions == {}


async def test_https_proxy_and_origin_inside_it_resume_each_their_own(
    nginx: Nginx, client_ssl_context: ssl.SSLContext, proxypy_tls: ProxyPy
) -> None:
    proxy = asks.Proxy(proxypy_tls.url, ssl_context=client_ssl_context)
    path = f"/close/{token()}"
    async with asks.Session(proxy=proxy, ssl_context=client_ssl_context) as s:
        assert not await resumed(s, nginx.url("tls", path + "/1"))
        assert await resumed(s, nginx.url("tls", path + "/2"))
        kinds = sorted(place[0] for place in s._dialer._tls_sessions)
    assert kinds == ["proxy", "via"]
