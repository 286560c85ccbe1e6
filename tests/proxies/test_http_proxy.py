"""HTTP proxies against a scripted curio proxy: forwarding, CONNECT tunnels, TLS inside TLS.

Each test has an origin (a ``canned`` raw server that records every request
it receives) and the scripted proxy of ``tests/proxies/scripted.py`` (which
records every request head that reaches the proxy). So each test proves
what the proxy saw and what the origin saw. The harness checks after every
test that no file descriptor was left open.
"""

from __future__ import annotations

import base64
import ssl

import curio
import pytest
import trustme

import asks
from asks._transport import backend
from asks.errors import ProxyError, TLSError
from tests.hostile_helpers import MODES, OK, assert_released, fetch
from tests.proxies.scripted import PROXY_AUTH_REQUIRED, ScriptedProxy
from tests.servers import canned, read_request
from tests.session_helpers import connect_starts

BASIC = "Basic " + base64.b64encode(b"user:s3cret").decode()


def origin_headers(origin) -> list[dict[str, str]]:
    return [{k.decode().lower(): v.decode() for k, v in r.headers} for r, _ in origin.requests]


# -- forwarding http:// origins -------------------------------------------------


async def test_forwarded_request_has_absolute_target_host_and_proxy_authorization(raw_server):
    origin_handler = canned(OK)
    origin = await raw_server(origin_handler)
    proxy = ScriptedProxy()
    proxy_server = await raw_server(proxy)
    async with asks.Session(proxy=f"http://user:s3cret@127.0.0.1:{proxy_server.port}") as s:
        r = await s.get(f"{origin.url}/path?q=1")
    assert r.text == "ok"
    [(method, target, headers)] = proxy.seen
    assert (method, target) == ("GET", f"http://127.0.0.1:{origin.port}/path?q=1")
    assert headers["host"] == f"127.0.0.1:{origin.port}"
    assert headers["proxy-authorization"] == BASIC


async def test_proxy_headers_go_on_forwarded_requests(raw_server):
    origin = await raw_server(canned(OK))
    proxy = ScriptedProxy()
    proxy_server = await raw_server(proxy)
    p = asks.Proxy(f"http://127.0.0.1:{proxy_server.port}", headers={"X-Proxy-Tag": "team"})
    async with asks.Session(proxy=p) as s:
        await s.get(origin.url)
    assert proxy.seen[0][2]["x-proxy-tag"] == "team"
    assert "proxy-authorization" not in proxy.seen[0][2]


async def test_one_connection_to_a_forward_proxy_serves_every_http_origin(raw_server):
    first = await raw_server(canned(OK))
    second = await raw_server(canned(OK))
    proxy = ScriptedProxy()
    proxy_server = await raw_server(proxy)
    async with asks.Session(proxy=f"http://127.0.0.1:{proxy_server.port}") as s:
        await s.get(first.url)
        await s.get(second.url)
        await s.get(first.url)
        assert s.pool_stats().open == 1
    assert proxy.connections == 1
    assert [t for _, t, _ in proxy.seen] == [f"{first.url}/", f"{second.url}/", f"{first.url}/"]


async def test_a_non_ascii_proxy_host_is_resolved_idna_2008_encoded(raw_server, monkeypatch):
    # Handed to getaddrinfo as it was, faß.de would be resolved as fass.de
    # (Python's IDNA 2003 codec), another domain, and sent the credentials.
    origin = await raw_server(canned(OK))
    proxy = ScriptedProxy()
    proxy_server = await raw_server(proxy)
    asked: list[str] = []
    resolve = backend.resolve

    async def loopback(host: str, port: int) -> list[backend.AddrInfo]:
        asked.append(host)
        return await resolve("127.0.0.1", port)

    monkeypatch.setattr(backend, "resolve", loopback)
    async with asks.Session(proxy=f"http://user:s3cret@faß.de:{proxy_server.port}") as s:
        r = await s.get(origin.url)
    assert r.text == "ok"
    assert asked == ["xn--fa-hia.de"]
    assert proxy.seen[0][2]["proxy-authorization"] == BASIC


async def test_connections_per_host_through_a_forward_proxy_counts_each_origin(raw_server):
    # The limit is for each origin's sake: through a forward proxy two
    # origins still get one connection each at once (they used to share
    # the proxy's one and take turns), and one origin still gets one.
    arrived: list[int] = []
    changed = curio.Event()
    release = curio.Event()

    def held(port_of):
        answer = canned(OK)

        async def handler(sock):
            arrived.append(port_of())
            await changed.set()
            await release.wait()
            await answer(sock)

        return handler

    first = await raw_server(held(lambda: first.port))
    second = await raw_server(held(lambda: second.port))
    proxy = ScriptedProxy()
    proxy_server = await raw_server(proxy)
    async with asks.Session(
        proxy=f"http://127.0.0.1:{proxy_server.port}", connections=10, connections_per_host=1
    ) as s:
        calls = [await curio.spawn(s.get(url)) for url in (first.url, second.url, first.url)]

        async def both_arrived():
            while len(arrived) < 2:
                changed.clear()
                await changed.wait()

        await curio.timeout_after(10, both_arrived())
        assert sorted(arrived) == sorted([first.port, second.port])
        stats = s.pool_stats()
        assert (stats.busy, stats.waiting) == (2, 1)  # first's second call waits
        await release.set()
        for call in calls:
            assert (await call.join()).text == "ok"
    # One connection to the proxy per origin: first's second call reused its own.
    assert proxy.connections == 2


async def test_an_ipv6_zone_is_not_sent_to_a_forward_proxy(raw_server):
    # RFC 6874 section 4: the zone names an interface of this machine, so it
    # goes in no request target and no Host (the direct path drops it too).
    proxy = ScriptedProxy(forward_answer=OK)
    proxy_server = await raw_server(proxy)
    async with asks.Session(proxy=f"http://127.0.0.1:{proxy_server.port}") as s:
        r = await s.get("http://[fe80::1%25eth0]:8080/p?q=1")
        assert r.text == "ok"
        assert r.url == "http://[fe80::1%25eth0]:8080/p?q=1"  # the caller's URL, as given
    [(method, target, headers)] = proxy.seen
    assert (method, target) == ("GET", "http://[fe80::1]:8080/p?q=1")
    assert headers["host"] == "[fe80::1]:8080"


async def test_an_ipv6_zone_is_not_sent_in_a_connect_target(raw_server):
    refused = b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n"
    proxy = ScriptedProxy(connect_answer=refused)
    proxy_server = await raw_server(proxy)
    async with asks.Session(proxy=f"http://127.0.0.1:{proxy_server.port}") as s:
        with pytest.raises(ProxyError):
            await s.get("https://[fe80::1%25eth0]:8443/")
    [(method, target, headers)] = proxy.seen
    assert (method, target, headers["host"]) == ("CONNECT", "[fe80::1]:8443", "[fe80::1]:8443")


# -- CONNECT tunnels -------------------------------------------------------------


async def test_connect_tunnel_carries_tls_to_the_origin_and_only_proxy_headers_to_the_proxy(
    raw_server, server_ssl_context, client_ssl_context
):
    origin_handler = canned(OK)
    origin = await raw_server(origin_handler, ssl_context=server_ssl_context)
    proxy = ScriptedProxy()
    proxy_server = await raw_server(proxy)
    async with asks.Session(
        proxy=asks.Proxy(
            f"http://127.0.0.1:{proxy_server.port}",
            auth=("user", "s3cret"),
            headers={"X-Proxy-Tag": "team"},
        ),
        ssl_context=client_ssl_context,
        headers={"Authorization": "Bearer origin-token"},
    ) as s:
        r = await s.get(f"{origin.url}/secret", cookies={"session": "c"})
        await s.get(f"{origin.url}/again")
        assert s.pool_stats().open == 1  # a tunnel is one slot
    assert r.text == "ok"
    [(method, target, headers)] = proxy.seen  # one tunnel, reused
    assert (method, target) == ("CONNECT", f"127.0.0.1:{origin.port}")
    assert headers == {
        "host": f"127.0.0.1:{origin.port}",
        "proxy-authorization": BASIC,
        "x-proxy-tag": "team",
    }
    first = origin_handler.requests[0][0]
    assert first.target == b"/secret"
    seen = origin_headers(origin_handler)[0]
    assert seen["authorization"] == "Bearer origin-token"
    assert seen["cookie"] == "session=c"
    assert "proxy-authorization" not in seen and "x-proxy-tag" not in seen


async def test_tls_inside_tls_through_an_https_proxy(
    raw_server, server_ssl_context, client_ssl_context
):
    origin_handler = canned(OK)
    origin = await raw_server(origin_handler, ssl_context=server_ssl_context)
    plain_origin = await raw_server(canned(OK))
    proxy = ScriptedProxy()
    proxy_server = await raw_server(proxy, ssl_context=server_ssl_context)
    p = asks.Proxy(f"https://127.0.0.1:{proxy_server.port}", ssl_context=client_ssl_context)
    async with asks.Session(proxy=p, ssl_context=client_ssl_context) as s:
        r = await s.get(f"{origin.url}/inner")
        [conn] = s._pool._all
        assert type(conn._stream).__name__ == "TLSOverStream"  # not wrap_socket over TLS
        again = await s.get(f"{origin.url}/inner", stream=True)
        body = b"".join([chunk async for chunk in again.body])
        forwarded = await s.get(f"{plain_origin.url}/plain")
    assert (r.text, body, forwarded.text) == ("ok", b"ok", "ok")
    assert [(m, t) for m, t, _ in proxy.seen] == [
        ("CONNECT", f"127.0.0.1:{origin.port}"),
        ("GET", f"{plain_origin.url}/plain"),
    ]
    assert len(origin_handler.requests) == 2


async def test_https_proxy_certificate_is_verified_with_the_proxys_context(
    raw_server, server_ssl_context, client_ssl_context
):
    proxy_server = await raw_server(ScriptedProxy(), ssl_context=server_ssl_context)
    origin = await raw_server(canned(OK))
    # The default trust store does not know the test CA that signed the proxy.
    async with asks.Session(
        proxy=f"https://127.0.0.1:{proxy_server.port}", ssl_context=client_ssl_context
    ) as s:
        with pytest.raises(TLSError):
            await s.get(origin.url, retries=0)
        assert_released(s)


async def test_intercepting_proxy_with_an_untrusted_certificate_is_a_tls_error(
    raw_server, client_ssl_context
):
    # The proxy answers the tunnel itself, with a certificate of a CA the
    # client does not trust: what a TLS-intercepting proxy does.
    rogue = trustme.CA().issue_cert("127.0.0.1")
    rogue_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    rogue.configure_cert(rogue_context)

    async def intercept(sock):
        await read_request(sock)
        await sock.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        tls = rogue_context.wrap_socket(
            sock._socket, server_side=True, do_handshake_on_connect=False
        )
        wrapped = curio.io.Socket(tls)
        try:
            await wrapped.do_handshake()
        finally:
            await wrapped.close()

    proxy_server = await raw_server(intercept)
    async with asks.Session(
        proxy=f"http://127.0.0.1:{proxy_server.port}", ssl_context=client_ssl_context
    ) as s:
        with pytest.raises(TLSError):
            await s.get("https://127.0.0.1:1/", retries=0)
        assert_released(s)


# -- a proxy nobody answers: a failure to connect, retried as one ------------------


async def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on (bound once, then closed): refused."""
    listener = curio.socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    await listener.close()
    return port


@pytest.mark.parametrize("scheme", ["http", "socks5h"])
@pytest.mark.parametrize(
    "retries", [2, asks.Retry(total=2, backoff_factor=0)], ids=["int", "Retry"]
)
async def test_an_unreachable_proxy_is_a_connect_failure_retried_for_every_method(scheme, retries):
    # Nothing was sent anywhere, as when an origin refuses: every method may
    # be tried again (it used to end at the first refusal).
    port = await closed_port()
    starts, trace = connect_starts()
    async with asks.Session(
        proxy=f"{scheme}://127.0.0.1:{port}", retries=retries, trace=trace
    ) as s:
        with pytest.raises(asks.errors.ProxyUnreachable) as caught:
            await s.post("http://origin.test/", data=b"once")
        assert_released(s)
    assert starts == ["connect.start"] * 3
    # Caught as either kind of failure, and naming the proxy.
    assert isinstance(caught.value, ProxyError) and isinstance(
        caught.value, asks.errors.ConnectFailed
    )
    assert f"proxy {scheme}://127.0.0.1:{port}" in str(caught.value)


async def test_a_proxy_that_answers_407_is_not_retried(raw_server):
    proxy = ScriptedProxy(forward_answer=PROXY_AUTH_REQUIRED)
    proxy_server = await raw_server(proxy)
    async with asks.Session(proxy=f"http://127.0.0.1:{proxy_server.port}", retries=3) as s:
        with pytest.raises(ProxyError) as caught:
            await s.get("http://origin.test/")
    assert not isinstance(caught.value, asks.errors.ConnectFailed)
    assert caught.value.status_code == 407
    assert len(proxy.seen) == 1


# -- security: Proxy-Authorization goes to a proxy only -----------------------------


async def test_callers_proxy_authorization_never_reaches_a_direct_origin(raw_server):
    origin_handler = canned(OK)
    origin = await raw_server(origin_handler)
    async with asks.Session(
        trust_env=False, headers={"Proxy-Authorization": "Basic c2Vzc2lvbg=="}
    ) as s:
        await s.get(origin.url)
        await s.get(origin.url, headers={"Proxy-Authorization": "Basic Y2FsbA=="})
    assert all("proxy-authorization" not in h for h in origin_headers(origin_handler))


async def test_callers_proxy_authorization_goes_to_a_forward_proxy(raw_server):
    origin = await raw_server(canned(OK))
    proxy = ScriptedProxy()
    proxy_server = await raw_server(proxy)
    async with asks.Session(proxy=f"http://127.0.0.1:{proxy_server.port}") as s:
        await s.get(origin.url, headers={"Proxy-Authorization": "Basic Y2FsbA=="})
    assert proxy.seen[0][2]["proxy-authorization"] == "Basic Y2FsbA=="


class ProxyAuth(asks.auth.PreResponseAuth):
    """An auth that answers for a proxy, as requests' HTTPProxyAuth does."""

    async def __call__(self, request):
        return {"Proxy-Authorization": "Basic YXV0aA=="}


async def test_an_auths_proxy_authorization_goes_to_a_forward_proxy_never_to_an_origin(
    raw_server,
):
    origin_handler = canned(OK)
    origin = await raw_server(origin_handler)
    async with asks.Session(trust_env=False) as s:
        await s.get(origin.url, auth=ProxyAuth())
    assert "proxy-authorization" not in origin_headers(origin_handler)[0]
    proxy = ScriptedProxy()
    proxy_server = await raw_server(proxy)
    async with asks.Session(proxy=f"http://127.0.0.1:{proxy_server.port}") as s:
        await s.get(origin.url, auth=ProxyAuth())
    assert proxy.seen[0][2]["proxy-authorization"] == "Basic YXV0aA=="


async def test_callers_proxy_authorization_never_goes_inside_a_tunnel(
    raw_server, server_ssl_context, client_ssl_context
):
    origin_handler = canned(OK)
    origin = await raw_server(origin_handler, ssl_context=server_ssl_context)
    proxy_server = await raw_server(ScriptedProxy())
    async with asks.Session(
        proxy=f"http://127.0.0.1:{proxy_server.port}", ssl_context=client_ssl_context
    ) as s:
        await s.get(origin.url, headers={"Proxy-Authorization": "Basic Y2FsbA=="})
    assert "proxy-authorization" not in origin_headers(origin_handler)[0]


async def redirect_to_another_origin(raw_server):
    """An origin whose every answer is a 302 to ``/landed`` on a second origin.

    Returns:
        the first origin's server, the second's, and the second's handler
        (which records what reached it).
    """
    target_handler = canned(OK)
    target = await raw_server(target_handler)
    redirect = (
        b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:%d/landed\r\nContent-Length: 0\r\n\r\n"
        % target.port
    )
    start = await raw_server(canned(redirect))
    return start, target, target_handler


async def test_redirect_to_an_origin_no_proxy_excludes_goes_direct_without_proxy_credentials(
    raw_server, monkeypatch
):
    # requests' CVE-2023-32681: Proxy-Authorization followed a redirect.
    start, target, target_handler = await redirect_to_another_origin(raw_server)
    proxy = ScriptedProxy()
    proxy_server = await raw_server(proxy)
    monkeypatch.setenv("http_proxy", f"http://user:s3cret@127.0.0.1:{proxy_server.port}")
    monkeypatch.setenv("no_proxy", f"127.0.0.1:{target.port}")
    async with asks.Session(headers={"Proxy-Authorization": "Basic Y2FsbA=="}) as s:
        r = await s.get(f"{start.url}/start")
    assert r.text == "ok" and r.history[0].status_code == 302
    # The first hop went through the proxy, the second direct.
    assert [t for _, t, _ in proxy.seen] == [f"{start.url}/start"]
    assert target_handler.requests[0][0].target == b"/landed"
    assert "proxy-authorization" not in origin_headers(target_handler)[0]


async def test_callers_proxy_authorization_follows_a_cross_origin_redirect_through_that_proxy(
    raw_server,
):
    # It was meant for the proxy, which the redirected request goes through
    # too; dropping it (as Authorization is dropped) made the proxy answer 407.
    start, target, target_handler = await redirect_to_another_origin(raw_server)
    proxy = ScriptedProxy()
    proxy_server = await raw_server(proxy)
    async with asks.Session(
        proxy=f"http://127.0.0.1:{proxy_server.port}",
        headers={"Proxy-Authorization": "Basic c2Vzc2lvbg==", "Authorization": "Bearer origin"},
    ) as s:
        r = await s.get(f"{start.url}/start")
    assert r.text == "ok" and r.history[0].status_code == 302
    assert [t for _, t, _ in proxy.seen] == [f"{start.url}/start", f"{target.url}/landed"]
    assert [h.get("proxy-authorization") for _, _, h in proxy.seen] == ["Basic c2Vzc2lvbg=="] * 2
    # The origin's own credentials still stop at the origin change.
    assert [h.get("authorization") for _, _, h in proxy.seen] == ["Bearer origin", None]
    assert "proxy-authorization" not in origin_headers(target_handler)[0]


async def test_proxy_credentials_never_show_in_repr_errors_or_trace(raw_server):
    proxy_server = await raw_server(ScriptedProxy(forward_answer=PROXY_AUTH_REQUIRED))
    events = []
    url = f"http://user:s3cret@127.0.0.1:{proxy_server.port}"
    async with asks.Session(proxy=url, trace=lambda e, i: events.append((e, dict(i)))) as s:
        with pytest.raises(ProxyError) as caught:
            await s.get("http://127.0.0.1:1/")
        shown = " ".join([repr(s), repr(s.proxy), str(s.proxy), str(caught.value), repr(events)])
    assert "s3cret" not in shown and "user:" not in shown
    assert f"http://127.0.0.1:{proxy_server.port}" in str(caught.value)
    assert ("connect.start" in {e for e, _ in events}) and events[0][1]["proxy"] == (
        f"http://127.0.0.1:{proxy_server.port}"
    )


def test_cr_lf_nul_in_a_proxy_url_is_refused_before_connecting():
    for bad in ("http://proxy\r\n:8080", "http://us\ner:pw@proxy:8080", "http://proxy:80\0"):
        with pytest.raises(ValueError):
            asks.Session(proxy=bad)


# -- the route per call -------------------------------------------------------------


async def test_per_call_proxy_applies_to_that_call_only(raw_server):
    origin_handler = canned(OK)
    origin = await raw_server(origin_handler)
    proxy = ScriptedProxy()
    proxy_server = await raw_server(proxy)
    async with asks.Session(trust_env=False, connections=2) as s:
        await s.get(origin.url)
        await s.get(origin.url, proxy=f"http://127.0.0.1:{proxy_server.port}")
        await s.get(origin.url)
        # The direct connection and the proxy's are never shared.
        assert s.pool_stats().open == 2
    assert len(proxy.seen) == 1
    assert len(origin_handler.requests) == 3
    assert origin.accepted == 2  # one direct, one from the proxy


async def test_empty_proxy_per_call_goes_direct(raw_server):
    origin = await raw_server(canned(OK))
    proxy = ScriptedProxy()
    proxy_server = await raw_server(proxy)
    async with asks.Session(proxy=f"http://127.0.0.1:{proxy_server.port}") as s:
        await s.get(origin.url, proxy="")
        await s.get(origin.url, proxy=None)  # None: the session's
    assert [t for _, t, _ in proxy.seen] == [f"{origin.url}/"]


async def test_connections_through_different_proxies_are_never_shared(raw_server):
    origin = await raw_server(canned(OK))
    first, second = ScriptedProxy(), ScriptedProxy()
    first_server = await raw_server(first)
    second_server = await raw_server(second)
    async with asks.Session(connections=4) as s:
        for _ in range(2):
            await s.get(origin.url, proxy=f"http://127.0.0.1:{first_server.port}")
            await s.get(origin.url, proxy=f"http://127.0.0.1:{second_server.port}")
            await s.get(origin.url, proxy=f"http://a:b@127.0.0.1:{second_server.port}")
        assert s.pool_stats().open == 3
    assert (len(first.seen), len(second.seen)) == (2, 4)
    assert (first.connections, second.connections) == (1, 2)


async def test_a_tunnel_opened_with_one_password_is_not_reused_for_another(
    raw_server, server_ssl_context, client_ssl_context
):
    # No password and the password "None" are different credentials: their
    # identities once hashed the same text, and the second request rode the
    # tunnel the first had opened with the first one's credentials.
    origin = await raw_server(canned(OK), ssl_context=server_ssl_context)
    proxy = ScriptedProxy()
    proxy_server = await raw_server(proxy)
    where = f"127.0.0.1:{proxy_server.port}"
    async with asks.Session(connections=4, ssl_context=client_ssl_context) as s:
        await s.get(origin.url, proxy=f"http://user@{where}")
        await s.get(origin.url, proxy=f"http://user:None@{where}")
    assert [headers["proxy-authorization"] for _, _, headers in proxy.seen] == [
        "Basic " + base64.b64encode(b"user:").decode(),
        "Basic " + base64.b64encode(b"user:None").decode(),
    ]


async def test_environment_is_read_when_the_session_is_made(raw_server, monkeypatch):
    origin = await raw_server(canned(OK))
    proxy = ScriptedProxy()
    proxy_server = await raw_server(proxy)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy_server.port}")
    monkeypatch.delenv("http_proxy", raising=False)
    monkeypatch.delenv("REQUEST_METHOD", raising=False)
    through_env = asks.Session()
    ignoring_env = asks.Session(trust_env=False)
    monkeypatch.delenv("HTTP_PROXY")
    async with through_env, ignoring_env:
        await through_env.get(origin.url)
        await ignoring_env.get(origin.url)
    assert len(proxy.seen) == 1


def test_an_unsupported_proxy_scheme_is_a_value_error_at_construction():
    with pytest.raises(ValueError, match="unsupported proxy scheme"):
        asks.Session(proxy="ftp://127.0.0.1:21")
    with pytest.raises(TypeError):
        asks.Session(proxy=8080)
    with pytest.raises(ValueError, match="uds"):
        asks.Session(proxy="http://127.0.0.1:3128", uds="/tmp/x.sock")


async def test_an_unsupported_proxy_scheme_per_call_fails_before_connecting(raw_server):
    origin = await raw_server(canned(OK))
    async with asks.Session() as s:
        with pytest.raises(ValueError, match="unsupported proxy scheme"):
            await s.get(origin.url, proxy="ftp://127.0.0.1:21")
        assert_released(s)
    assert origin.accepted == 0


# -- faults: a clear ProxyError, nothing left open -----------------------------------


@MODES
async def test_unreachable_proxy_is_a_proxy_error_naming_the_proxy(stream):
    listener = curio.socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    await listener.close()  # nothing listens there now
    async with asks.Session(proxy=f"http://user:pw@127.0.0.1:{port}") as s:
        with pytest.raises(ProxyError) as caught:
            await fetch(s, "http://origin.test/", stream=stream)
        assert_released(s)
    assert f"proxy http://127.0.0.1:{port}" in str(caught.value)
    assert caught.value.status_code is None and "pw" not in str(caught.value)


@MODES
async def test_407_on_a_forwarded_request_is_a_proxy_error(raw_server, stream):
    proxy_server = await raw_server(ScriptedProxy(forward_answer=PROXY_AUTH_REQUIRED))
    async with asks.Session(proxy=f"http://127.0.0.1:{proxy_server.port}") as s:
        with pytest.raises(ProxyError) as caught:
            await fetch(s, "http://127.0.0.1:1/", stream=stream)
        assert_released(s)
    assert caught.value.status_code == 407
    assert "wants credentials" in str(caught.value)


async def test_407_from_an_origin_reached_directly_is_just_a_response(raw_server):
    origin = await raw_server(canned(PROXY_AUTH_REQUIRED))
    async with asks.Session(trust_env=False) as s:
        r = await s.get(origin.url)
    assert r.status_code == 407


CONNECT_FAULTS = {
    "407": (PROXY_AUTH_REQUIRED, 407),
    "401 (tinyproxy)": (b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n", 401),
    "502": (b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n", 502),
    "503": (b"HTTP/1.0 503 Service Unavailable\r\n\r\n", 503),
    "eof": (b"", None),
    "eof mid-head": (b"HTTP/1.1 200 Conn", None),
    "garbage": (b"SSH-2.0-OpenSSH_9.6\r\n\r\n", None),
}


@MODES
@pytest.mark.parametrize("answer", CONNECT_FAULTS.values(), ids=CONNECT_FAULTS.keys())
async def test_connect_faults_are_proxy_errors(raw_server, client_ssl_context, stream, answer):
    reply, status = answer
    proxy = ScriptedProxy(connect_answer=reply)
    proxy_server = await raw_server(proxy)
    async with asks.Session(
        proxy=f"http://u:pw@127.0.0.1:{proxy_server.port}", ssl_context=client_ssl_context
    ) as s:
        with pytest.raises(ProxyError) as caught:
            await fetch(s, "https://origin.test/", stream=stream)
        assert_released(s)
    assert caught.value.status_code == status
    assert "pw" not in str(caught.value)
    assert f"http://127.0.0.1:{proxy_server.port}" in str(caught.value)
    await proxy_server.wait_open_connections(0)


async def test_a_per_call_proxy_on_a_uds_session_is_a_value_error(tmp_path):
    async with asks.Session("http://docker", uds=str(tmp_path / "none.sock")) as s:
        for _ in range(2):  # the second time too, after a direct call made a router
            with pytest.raises(ValueError, match="uds"):
                await s.get(path="/x", proxy="http://127.0.0.1:3128")
            with pytest.raises(asks.errors.ConnectivityError):
                await s.get(path="/x", proxy="", retries=0)
        assert_released(s)


async def test_request_hooks_see_the_request_without_the_proxys_headers(raw_server):
    origin = await raw_server(canned(OK))
    proxy = ScriptedProxy()
    proxy_server = await raw_server(proxy)
    seen = []

    async def on_request(request):
        seen.append(request)

    async with asks.Session(
        proxy=f"http://user:s3cret@127.0.0.1:{proxy_server.port}",
        event_hooks={"request": [on_request]},
    ) as s:
        await s.get(origin.url)
    assert "proxy-authorization" in proxy.seen[0][2]  # the proxy got it
    assert "proxy-authorization" not in seen[0].headers  # case-insensitive
    assert seen[0].url == f"{origin.url}/"


def test_per_host_limits_count_a_tunnel_against_its_origin_forwarding_against_the_proxy():
    from asks._transport.connect import pool_host
    from asks._transport.routes import ProxyRoute
    from asks._urls import Origin

    proxy = asks.Proxy("http://127.0.0.1:3128")
    one, two = Origin("https", "a.example", 443), Origin("https", "b.example", 443)

    assert pool_host(ProxyRoute("tunnel", proxy, one, 1)) == one
    assert pool_host(ProxyRoute("tunnel", proxy, one, 2)) == pool_host((one, None, 3))
    assert pool_host(ProxyRoute("tunnel", proxy, two, 1)) != one
    assert pool_host(ProxyRoute("forward", proxy, None, None)) == proxy.identity
