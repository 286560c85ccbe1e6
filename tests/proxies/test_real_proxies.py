"""Proxies against real proxy servers: proxy.py (PyPI) as an http:// and an https:// proxy.

The origins are raw servers in the test's kernel that record every request
they receive, so each test proves what got through the real proxy.
"""

from __future__ import annotations

import pytest

import asks
from asks.errors import ProxyError
from tests.hostile_helpers import MODES, OK, assert_released, fetch
from tests.servers import canned


def received(handler) -> list[dict[str, str]]:
    return [{k.decode().lower(): v.decode() for k, v in r.headers} for r, _ in handler.requests]


def with_auth(url: str) -> str:
    return url.replace("://", "://user:pass@")


@MODES
async def test_forward_through_proxypy_with_basic_auth(raw_server, proxypy_auth, stream):
    origin_handler = canned(OK)
    origin = await raw_server(origin_handler)
    async with asks.Session(proxy=with_auth(proxypy_auth.url)) as s:
        _, first = await fetch(s, f"{origin.url}/a?b=c", stream=stream)
        _, second = await fetch(s, f"{origin.url}/again", stream=stream)
    assert (first, second) == (b"ok", b"ok")
    [a, again] = [r.target for r, _ in origin_handler.requests]
    assert (a, again) == (b"/a?b=c", b"/again")
    # (proxy.py passes Proxy-Authorization on to the origin of a forwarded
    # request; that is the proxy's choice, measured here, not asks'.)


@MODES
async def test_connect_through_proxypy_with_basic_auth(
    raw_server, proxypy_auth, server_ssl_context, client_ssl_context, stream
):
    origin_handler = canned(OK)
    origin = await raw_server(origin_handler, ssl_context=server_ssl_context)
    async with asks.Session(
        proxy=with_auth(proxypy_auth.url), ssl_context=client_ssl_context
    ) as s:
        _, body = await fetch(s, f"{origin.url}/tunnelled", stream=stream)
    assert body == b"ok"
    assert origin_handler.requests[0][0].target == b"/tunnelled"
    assert "proxy-authorization" not in received(origin_handler)[0]


@MODES
@pytest.mark.parametrize("scheme", ["http", "https"])
async def test_proxypy_without_credentials_is_a_407_proxy_error(
    raw_server, proxypy_auth, client_ssl_context, stream, scheme
):
    origin = await raw_server(canned(OK), ssl_context=None)
    url = f"{scheme}://127.0.0.1:{origin.port}/"
    async with asks.Session(proxy=proxypy_auth.url, ssl_context=client_ssl_context) as s:
        with pytest.raises(ProxyError) as caught:
            await fetch(s, url, stream=stream)
        assert_released(s)
    assert caught.value.status_code == 407
    assert origin.accepted == 0


async def test_proxypy_with_wrong_credentials_is_a_407_proxy_error(raw_server, proxypy_auth):
    origin = await raw_server(canned(OK))
    wrong = proxypy_auth.url.replace("://", "://user:wrong@")
    async with asks.Session(proxy=wrong) as s:
        with pytest.raises(ProxyError, match="refused the credentials") as caught:
            await s.get(origin.url)
        assert_released(s)
    assert caught.value.status_code == 407 and "wrong" not in str(caught.value)


@MODES
async def test_tls_inside_tls_through_proxypy_as_an_https_proxy(
    raw_server, proxypy_tls, server_ssl_context, client_ssl_context, stream
):
    origin_handler = canned(OK)
    origin = await raw_server(origin_handler, ssl_context=server_ssl_context)
    plain_handler = canned(OK)
    plain = await raw_server(plain_handler)
    proxy = asks.Proxy(proxypy_tls.url, ssl_context=client_ssl_context)
    async with asks.Session(proxy=proxy, ssl_context=client_ssl_context) as s:
        _, inner = await fetch(s, f"{origin.url}/inner", stream=stream)
        _, forwarded = await fetch(s, f"{plain.url}/forwarded", stream=stream)
    assert (inner, forwarded) == (b"ok", b"ok")
    assert origin_handler.requests[0][0].target == b"/inner"
    assert plain_handler.requests[0][0].target == b"/forwarded"


# -- tinyproxy and squid (Debian) -----------------------------------------------------


@MODES
async def test_forward_and_connect_through_tinyproxy_with_basic_auth(
    raw_server, tinyproxy_auth, server_ssl_context, client_ssl_context, stream
):
    plain_handler = canned(OK)
    plain = await raw_server(plain_handler)
    tls_handler = canned(OK)
    tls = await raw_server(tls_handler, ssl_context=server_ssl_context)
    async with asks.Session(
        proxy=with_auth(tinyproxy_auth.url), ssl_context=client_ssl_context
    ) as s:
        _, forwarded = await fetch(s, f"{plain.url}/f", stream=stream)
        _, tunnelled = await fetch(s, f"{tls.url}/t", stream=stream)
    assert (forwarded, tunnelled) == (b"ok", b"ok")
    assert plain_handler.requests[0][0].target == b"/f"
    assert "proxy-authorization" not in received(plain_handler)[0]  # tinyproxy keeps it
    assert "proxy-authorization" not in received(tls_handler)[0]


@MODES
@pytest.mark.parametrize("scheme", ["http", "https"])
async def test_tinyproxy_without_credentials_is_a_407_proxy_error(
    raw_server, tinyproxy_auth, client_ssl_context, stream, scheme
):
    # tinyproxy 1.11 answers 407 to both; older ones answered CONNECT with
    # 401, which the scripted proxy's test covers (tests/proxies/test_http_proxy.py).
    status = 407
    origin = await raw_server(canned(OK))
    async with asks.Session(proxy=tinyproxy_auth.url, ssl_context=client_ssl_context) as s:
        with pytest.raises(ProxyError) as caught:
            await fetch(s, f"{scheme}://127.0.0.1:{origin.port}/", stream=stream)
        assert_released(s)
    assert caught.value.status_code == status
    assert origin.accepted == 0


@MODES
async def test_forward_and_connect_through_squid(
    raw_server, squid, server_ssl_context, client_ssl_context, stream
):
    plain_handler = canned(OK)
    plain = await raw_server(plain_handler)
    tls_handler = canned(OK)
    tls = await raw_server(tls_handler, ssl_context=server_ssl_context)
    async with asks.Session(proxy=squid.url, ssl_context=client_ssl_context) as s:
        _, forwarded = await fetch(s, f"{plain.url}/f?x=1", stream=stream)
        _, again = await fetch(s, f"{plain.url}/g", stream=stream)
        _, tunnelled = await fetch(s, f"{tls.url}/t", stream=stream)
    assert (forwarded, again, tunnelled) == (b"ok", b"ok", b"ok")
    assert [r.target for r, _ in plain_handler.requests] == [b"/f?x=1", b"/g"]
    assert tls_handler.requests[0][0].target == b"/t"


async def test_squid_answers_a_tunnel_to_a_closed_port_with_a_5xx_proxy_error(
    squid, client_ssl_context
):
    async with asks.Session(proxy=squid.url, ssl_context=client_ssl_context) as s:
        with pytest.raises(ProxyError) as caught:
            await s.get("https://127.0.0.1:1/", retries=0)
        assert_released(s)
    assert caught.value.status_code is not None and caught.value.status_code >= 500
