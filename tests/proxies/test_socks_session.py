"""SOCKS proxies end to end: ``asks.Session(proxy="socks5://...")`` and per call.

Through real proxies (pproxy: SOCKS4, SOCKS5, SOCKS5 with username/password;
dante: SOCKS4, SOCKS5) and, for SOCKS4a (neither of them speaks it), the
scripted server of tests/proxies/socks_servers.py; to a loopback origin in
the test's kernel, over http and https. Failures surface as
``asks.errors.ProxyError`` with nothing left in the pool.
"""

from __future__ import annotations

import pytest

import asks
from asks.errors import ProxyError
from tests.proxies import socks_servers
from tests.proxies.socks_servers import ORIGIN_ANSWER, PPROXY_USER, SOCKS4_GRANTED, SocksScript
from tests.servers import canned

pproxy = socks_servers.pproxy_fixture
pproxy_auth = socks_servers.pproxy_auth_fixture
dante = socks_servers.dante_fixture

CALL_TIMEOUT = 5.0


@pytest.fixture
async def origin(raw_server):
    """A loopback HTTP origin (keep-alive) answering ORIGIN_ANSWER."""
    handler = canned(ORIGIN_ANSWER)
    server = await raw_server(handler)
    server.handler = handler
    return server


@pytest.fixture
async def secure_origin(raw_server, server_ssl_context):
    """The same over TLS (the suite's certificate for 127.0.0.1 and localhost)."""
    handler = canned(ORIGIN_ANSWER)
    server = await raw_server(handler, ssl_context=server_ssl_context)
    server.handler = handler
    return server


def nothing_open(s: asks.Session) -> None:
    stats = s.pool_stats()
    assert (stats.open, stats.busy, stats.connecting, stats.waiting) == (0, 0, 0, 0)


@pytest.mark.parametrize(
    ("real", "scheme", "host"),
    [
        ("pproxy", "socks4", "127.0.0.1"),
        ("pproxy", "socks5", "127.0.0.1"),
        ("pproxy", "socks5h", "localhost"),
        ("dante", "socks4", "localhost"),
        ("dante", "socks5", "localhost"),
        ("dante", "socks5h", "localhost"),
    ],
)
async def test_session_proxy_url_routes_http_through_the_socks_proxy(
    pproxy, dante, origin, real, scheme, host
):
    proxy = {"pproxy": pproxy, "dante": dante}[real]
    async with asks.Session(proxy=proxy.url(scheme)) as s:
        r = await s.get(f"http://{host}:{origin.port}/through", timeout=CALL_TIMEOUT)
        assert r.status_code == 200
        assert r.content == b"origin"
    assert origin.handler.requests[0][0].target == b"/through"


async def test_a_socks_tunnel_is_a_pooled_connection_reused_by_the_next_request(pproxy, origin):
    async with asks.Session(proxy=pproxy.url("socks5")) as s:
        for _ in range(3):
            r = await s.get(f"http://127.0.0.1:{origin.port}/again", timeout=CALL_TIMEOUT)
            assert r.content == b"origin"
        assert s.pool_stats().idle == 1
    assert origin.accepted == 1


async def test_socks5h_with_user_and_password_in_the_url(pproxy_auth, origin):
    user, password = PPROXY_USER
    url = pproxy_auth.url("socks5h").replace("://", f"://{user}:{password}@", 1)
    async with asks.Session(proxy=url) as s:
        r = await s.get(f"http://localhost:{origin.port}/login", timeout=CALL_TIMEOUT)
        assert r.content == b"origin"
        assert password not in repr(s)


async def test_socks5_credentials_given_as_proxy_auth(pproxy_auth, origin):
    proxy = asks.Proxy(pproxy_auth.url("socks5"), auth=PPROXY_USER)
    async with asks.Session(proxy=proxy) as s:
        r = await s.get(f"http://127.0.0.1:{origin.port}/login", timeout=CALL_TIMEOUT)
        assert r.content == b"origin"


async def test_per_call_socks_proxy_overrides_the_sessions(pproxy, dante, origin):
    async with asks.Session(proxy=pproxy.url("socks5")) as s:
        r = await s.get(
            f"http://localhost:{origin.port}/per-call",
            proxy=dante.url("socks5h"),
            timeout=CALL_TIMEOUT,
        )
        assert r.content == b"origin"


@pytest.mark.parametrize(("real", "scheme"), [("pproxy", "socks5h"), ("dante", "socks5")])
async def test_https_origin_through_socks_verifies_the_origin(
    pproxy, dante, secure_origin, client_ssl_context, real, scheme
):
    proxy = {"pproxy": pproxy, "dante": dante}[real]
    async with asks.Session(proxy=proxy.url(scheme), ssl_context=client_ssl_context) as s:
        r = await s.get(f"https://localhost:{secure_origin.port}/tls", timeout=CALL_TIMEOUT)
        assert r.status_code == 200
        assert r.content == b"origin"


async def test_socks4a_sends_the_name_to_the_proxy(raw_server):
    # Neither pproxy nor dante speaks SOCKS4a: a scripted proxy that is also
    # the origin (after the grant, the same connection answers HTTP).
    request = b"\x04\x01\x00\x50\x00\x00\x00\xffbob\x00origin.example\x00"
    script = SocksScript([(len(request), SOCKS4_GRANTED)], then="http")
    server = await raw_server(script)
    async with asks.Session(proxy=f"socks4a://bob@127.0.0.1:{server.port}") as s:
        r = await s.get("http://origin.example/through", timeout=CALL_TIMEOUT)
        assert r.content == b"origin"
    assert script.received == [request]
    assert script.origin_request == b"GET /through"


@pytest.mark.parametrize("stream", [False, True], ids=["buffered", "stream"])
async def test_a_socks_refusal_is_a_proxy_error_and_nothing_stays_open(dante, stream):
    closed = socks_servers.free_port()  # nobody listens there
    async with asks.Session(proxy=dante.url("socks5")) as s:
        with pytest.raises(ProxyError) as caught:
            await s.get(f"http://127.0.0.1:{closed}/", stream=stream, timeout=CALL_TIMEOUT)
        nothing_open(s)
    assert caught.value.status_code is None
    assert f"socks5://127.0.0.1:{dante.port}" in str(caught.value)
    assert "connection refused (SOCKS5 reply 0x05)" in str(caught.value)


async def test_a_bad_socks5_password_is_a_proxy_error_without_the_password(pproxy_auth, origin):
    url = pproxy_auth.url("socks5").replace("://", "://socks-user:not-the-password@", 1)
    async with asks.Session(proxy=url) as s:
        with pytest.raises(ProxyError) as caught:
            await s.get(f"http://127.0.0.1:{origin.port}/", timeout=CALL_TIMEOUT)
        nothing_open(s)
    assert "not-the-password" not in str(caught.value)
    assert "not-the-password" not in repr(caught.value)
    assert origin.accepted == 0


async def test_missing_socks5_credentials_are_a_proxy_error(pproxy_auth, origin):
    async with asks.Session(proxy=pproxy_auth.url("socks5")) as s:
        with pytest.raises(ProxyError):
            await s.get(f"http://127.0.0.1:{origin.port}/", timeout=CALL_TIMEOUT)
        nothing_open(s)


async def test_a_socks4_proxy_for_a_name_without_ipv4_is_a_proxy_error(dante):
    async with asks.Session(proxy=dante.url("socks4")) as s:
        with pytest.raises(ProxyError, match="SOCKS4 carries IPv4 addresses only"):
            await s.get("http://[::1]:80/", timeout=CALL_TIMEOUT)
        nothing_open(s)
