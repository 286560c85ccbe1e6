"""Redirects: which are followed, how the request changes, what is kept back.

The credential rules are the security-critical part: Authorization,
Proxy-Authorization and Cookie never reach another origin (host, port or
scheme) however the caller supplied them, unless ``auth_off_domain=True``.
"""

from __future__ import annotations

import pytest

import asks
from asks._redirects import plan_redirect
from asks._urls import parse_url
from asks.errors import TooManyRedirects, UnreplayableBody
from tests.servers import read_request

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def redirect(code: int, location: str) -> bytes:
    return b"HTTP/1.1 %d Moved\r\nLocation: %s\r\nContent-Length: 5\r\n\r\nmoved" % (
        code,
        location.encode(),
    )


class Router:
    """A raw-server handler: path -> canned answer; records every request."""

    def __init__(self, routes: dict[bytes, bytes]) -> None:
        self.routes = routes
        self.seen: list[tuple] = []

    async def __call__(self, sock):
        while (got := await read_request(sock)) is not None:
            req, body = got
            self.seen.append((req.method, req.target, dict(req.headers), body))
            path = req.target.split(b"?")[0]
            await sock.sendall(self.routes.get(path, OK))


async def serve(raw_server, routes):
    router = Router(routes)
    router.server = await raw_server(router)
    return router


@pytest.mark.parametrize(
    ("code", "method", "expect"),
    [
        (301, "POST", b"GET"),
        (302, "POST", b"GET"),
        (303, "POST", b"GET"),
        (303, "PUT", b"GET"),
        (307, "POST", b"POST"),
        (308, "POST", b"POST"),
        (301, "PUT", b"PUT"),
        (302, "DELETE", b"DELETE"),
    ],
)
async def test_method_after_redirect(raw_server, code, method, expect):
    r = await serve(raw_server, {b"/a": redirect(code, "/b")})
    resp = await asks.request(method, r.server.url + "/a", data=b"payload")
    assert resp.status_code == 200
    m, target, headers, body = r.seen[-1]
    assert (m, target) == (expect, b"/b")
    if expect == b"GET":
        assert body == b""
        assert b"content-length" not in headers and b"content-type" not in headers
    else:
        assert body == b"payload"


async def test_history_url_and_method_after_redirects(raw_server):
    r = await serve(raw_server, {b"/1": redirect(302, "/2"), b"/2": redirect(301, "/3?x=1")})
    resp = await asks.post(r.server.url + "/1")
    assert resp.url == r.server.url + "/3?x=1"
    assert resp.method == "GET"
    assert [h.status_code for h in resp.history] == [302, 301]
    assert resp.history[0].url == r.server.url + "/1"
    assert resp.history[0].body == b"moved"


async def test_redirects_reuse_the_connection(raw_server):
    r = await serve(raw_server, {b"/1": redirect(302, "/2")})
    async with asks.Session() as s:
        await s.get(r.server.url + "/1")
    assert r.server.accepted == 1


async def test_relative_and_absolute_locations(raw_server):
    r = await serve(
        raw_server,
        {b"/a/b": redirect(302, "c"), b"/a/c": redirect(302, "../d")},
    )
    resp = await asks.get(r.server.url + "/a/b")
    assert resp.url == r.server.url + "/d"


@pytest.mark.parametrize("code", [304, 300])
async def test_not_followed(raw_server, code):
    answer = b"HTTP/1.1 %d X\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n" % code
    if code == 304:
        answer = b"HTTP/1.1 304 Not Modified\r\nLocation: /elsewhere\r\n\r\n"
    r = await serve(raw_server, {b"/": answer})
    resp = await asks.get(r.server.url + "/")
    assert resp.status_code == code
    assert len(r.seen) == 1


async def test_3xx_without_location_is_returned(raw_server):
    r = await serve(raw_server, {b"/": b"HTTP/1.1 302 Found\r\nContent-Length: 0\r\n\r\n"})
    assert (await asks.get(r.server.url + "/")).status_code == 302


async def test_follow_redirects_false(raw_server):
    r = await serve(raw_server, {b"/a": redirect(302, "/b")})
    resp = await asks.get(r.server.url + "/a", follow_redirects=False)
    assert resp.status_code == 302
    assert resp.headers["location"] == "/b"


async def test_head_never_follows(raw_server):
    r = await serve(raw_server, {b"/a": redirect(302, "/b")})
    resp = await asks.head(r.server.url + "/a")
    assert resp.status_code == 302


@pytest.mark.parametrize("limit", [0, 1, 3])
async def test_max_redirects_is_exact(raw_server, limit):
    routes = {f"/{i}".encode(): redirect(302, f"/{i + 1}") for i in range(limit + 1)}
    r = await serve(raw_server, routes)
    async with asks.Session(connections=1) as s:
        with pytest.raises(TooManyRedirects):
            await s.get(r.server.url + "/0", max_redirects=limit)
        assert len(r.seen) == limit + 1
        # Exactly `limit` redirects are allowed.
        resp = await s.get(r.server.url + "/1", max_redirects=limit)
        assert resp.status_code == 200
        # Nothing held: the one slot is free again.
        assert s._pool.open <= 1 and s._pool.waiting == 0


async def test_redirect_loop(raw_server):
    r = await serve(raw_server, {b"/a": redirect(302, "/b"), b"/b": redirect(302, "/a")})
    with pytest.raises(TooManyRedirects):
        await asks.get(r.server.url + "/a")


async def test_307_with_one_shot_body_is_refused(raw_server):
    r = await serve(raw_server, {b"/a": redirect(307, "/b")})

    async def gen():
        yield b"once"

    with pytest.raises(UnreplayableBody):
        await asks.post(r.server.url + "/a", data=gen())


# -- credentials ----------------------------------------------------------------


async def _cross(raw_server, **kwargs):
    """A request to server A redirected to server B (another port = origin)."""
    b = await serve(raw_server, {})
    a = await serve(raw_server, {b"/": redirect(302, b.server.url + "/landed")})
    resp = await asks.get(a.server.url + "/", **kwargs)
    assert resp.status_code == 200
    return a.seen[-1][2], b.seen[-1][2]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"headers": {"Authorization": "Bearer secret"}},
        {"headers": {"authorization": "Bearer secret", "Proxy-Authorization": "x"}},
        {"headers": {"Cookie": "sid=secret"}},
        {"cookies": {"sid": "secret"}},
    ],
)
async def test_credentials_do_not_cross_origins(raw_server, kwargs):
    first, second = await _cross(raw_server, **kwargs)
    assert b"authorization" in first or b"cookie" in first
    for name in (b"authorization", b"proxy-authorization", b"cookie"):
        assert name not in second


async def test_basic_auth_object_does_not_cross_origins(raw_server):
    first, second = await _cross(raw_server, auth=asks.BasicAuth(("u", "p")))
    assert first[b"authorization"].startswith(b"Basic ")
    assert b"authorization" not in second


async def test_auth_off_domain_allows_it(raw_server):
    _, second = await _cross(
        raw_server,
        headers={"Authorization": "Bearer t"},
        cookies={"a": "b"},
        auth_off_domain=True,
    )
    assert second[b"authorization"] == b"Bearer t"
    assert second[b"cookie"] == b"a=b"


async def test_same_origin_redirect_keeps_credentials(raw_server):
    r = await serve(raw_server, {b"/a": redirect(302, "/b")})
    await asks.get(r.server.url + "/a", headers={"Authorization": "Bearer t"}, cookies={"c": "1"})
    assert r.seen[-1][1] == b"/b"
    assert r.seen[-1][2][b"authorization"] == b"Bearer t"
    assert r.seen[-1][2][b"cookie"] == b"c=1"


@pytest.mark.parametrize("auth_off_domain", [False, True])
async def test_a_given_host_header_does_not_follow_to_another_origin(raw_server, auth_off_domain):
    # Host names the target of the request (RFC 9110 section 7.2): the
    # caller's value was for the URL it named; another origin gets its own,
    # whatever auth_off_domain says (Host is not a credential).
    b = await serve(raw_server, {})
    a = await serve(raw_server, {b"/": redirect(302, b.server.url + "/landed")})
    await asks.get(
        a.server.url + "/", headers={"Host": "app.example"}, auth_off_domain=auth_off_domain
    )
    assert a.seen[-1][2][b"host"] == b"app.example"
    assert b.seen[-1][2][b"host"] == b.server.url.removeprefix("http://").encode()


async def test_a_given_host_header_stays_on_a_same_origin_redirect(raw_server):
    r = await serve(raw_server, {b"/a": redirect(302, "/b")})
    await asks.get(r.server.url + "/a", headers={"Host": "app.example"})
    assert [(seen[1], seen[2][b"host"]) for seen in r.seen] == [
        (b"/a", b"app.example"),
        (b"/b", b"app.example"),
    ]


@pytest.mark.parametrize(
    ("location", "target"),
    [
        # UTF-8 bytes on the wire (what servers send): one character each,
        # percent-encoded once - not read as Latin-1 and encoded twice.
        (b"/caf\xc3\xa9?q=\xc3\xa9", b"/caf%C3%A9?q=%C3%A9"),
        # Not UTF-8: each byte percent-encoded as it is, as browsers do.
        (b"/caf\xe9", b"/caf%E9"),
    ],
)
async def test_a_non_ascii_location_is_percent_encoded_byte_for_byte(raw_server, location, target):
    moved = b"HTTP/1.1 302 Found\r\nLocation: %s\r\nContent-Length: 0\r\n\r\n" % location
    r = await serve(raw_server, {b"/a": moved})
    resp = await asks.get(r.server.url + "/a")
    assert r.seen[-1][1] == target
    assert resp.url == r.server.url + target.decode()


def test_a_utf8_host_in_a_location_is_idna_encoded():
    base = parse_url("http://example.org/")
    location = "http://caf\xc3\xa9.example/x"  # UTF-8 bytes, read as Latin-1
    plan = plan_redirect(302, "GET", base, location)
    assert plan is not None and plan.url.host == "xn--caf-dma.example"


async def test_redirect_to_unsupported_scheme_is_a_bad_response(raw_server):
    r = await serve(raw_server, {b"/": redirect(302, "ftp://example.org/x")})
    with pytest.raises(asks.errors.BadHttpResponse, match="redirect"):
        await asks.get(r.server.url + "/")
