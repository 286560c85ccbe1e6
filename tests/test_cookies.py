"""Cookies: sent per call, stored with ``persist_cookies``, read from responses."""

from __future__ import annotations

import http.cookiejar

import pytest

import asks
from asks.cookie_utils import CookieTracker
from tests.servers import read_request


class CookieServer:
    """Sets cookies on /set, echoes what it received on every request."""

    def __init__(self) -> None:
        self.received: list[bytes | None] = []

    async def __call__(self, sock):
        while (got := await read_request(sock)) is not None:
            req, _ = got
            headers = dict(req.headers)
            self.received.append(headers.get(b"cookie"))
            if req.target.startswith(b"/set"):
                extra = (
                    b"Set-Cookie: a=1; Path=/\r\n"
                    b"Set-Cookie: b=2; Path=/only\r\n"
                    b"Set-Cookie: s=3; Path=/; Secure\r\n"
                    b"Set-Cookie: old=x; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT\r\n"
                )
            else:
                extra = b""
            await sock.sendall(b"HTTP/1.1 200 OK\r\n" + extra + b"Content-Length: 0\r\n\r\n")


@pytest.fixture
async def cookie_server(raw_server):
    handler = CookieServer()
    handler.server = await raw_server(handler)
    return handler


async def test_response_cookies_are_listed_with_their_attributes(cookie_server):
    r = await asks.get(cookie_server.server.url + "/set")
    by_name = {c.name: c for c in r.cookies}
    assert by_name["a"].value == "1" and by_name["a"].path == "/"
    assert by_name["b"].path == "/only"
    assert by_name["s"].secure is True
    assert by_name["a"].host == "127.0.0.1"
    # Set-Cookie sent several times reads as a list, as in asks.
    assert isinstance(r.headers["set-cookie"], list)
    assert len(r.headers.get_list("Set-Cookie")) == 4


async def test_without_persist_cookies_nothing_is_sent_back(cookie_server):
    async with asks.Session() as s:
        await s.get(cookie_server.server.url + "/set")
        await s.get(cookie_server.server.url + "/next")
    assert cookie_server.received[-1] is None


async def test_persist_cookies_sends_back_what_rules_allow(cookie_server):
    async with asks.Session(persist_cookies=True) as s:
        await s.get(cookie_server.server.url + "/set")
        await s.get(cookie_server.server.url + "/next")
        # Path /only is not a prefix of /next; Secure is not sent over http;
        # the expired cookie was never stored.
        assert cookie_server.received[-1] == b"a=1"
        await s.get(cookie_server.server.url + "/only/x")
        assert sorted(cookie_server.received[-1].split(b"; ")) == [b"a=1", b"b=2"]


async def test_per_call_persist_cookies_creates_the_store(cookie_server):
    async with asks.Session() as s:
        await s.get(cookie_server.server.url + "/set", persist_cookies=True)
        await s.get(cookie_server.server.url + "/next")
    assert cookie_server.received[-1] == b"a=1"


async def test_per_call_persist_cookies_false_keeps_the_call_away_from_the_store(
    cookie_server,
):
    url = cookie_server.server.url
    async with asks.Session(persist_cookies=True) as s:
        await s.get(url + "/set", persist_cookies=False)
        await s.get(url + "/next")
        assert cookie_server.received[-1] is None  # nothing from that call was kept
        await s.get(url + "/set")
        await s.get(url + "/next", persist_cookies=False, cookies={"z": "9"})
        assert cookie_server.received[-1] == b"z=9"  # its own cookies go, stored ones not
        await s.get(url + "/next")
        assert cookie_server.received[-1] == b"a=1"  # the store is untouched
    async with asks.Session() as s:
        await s.get(url + "/set", persist_cookies=False)
        assert s._cookie_tracker is None  # False never makes a store


async def test_cookies_do_not_separate_by_port(raw_server):
    setter = CookieServer()
    other = CookieServer()
    a = await raw_server(setter)
    b = await raw_server(other)
    async with asks.Session(persist_cookies=True) as s:
        await s.get(a.url + "/set")
        await s.get(b.url + "/next")
    assert other.received[-1] == b"a=1"


async def test_call_cookies_merge_with_stored_ones(cookie_server):
    async with asks.Session(persist_cookies=True) as s:
        await s.get(cookie_server.server.url + "/set")
        await s.get(cookie_server.server.url + "/next", cookies={"z": "9"})
    assert sorted(cookie_server.received[-1].split(b"; ")) == [b"a=1", b"z=9"]


async def test_a_given_cookie_jar_is_used_as_the_store(cookie_server):
    jar = http.cookiejar.CookieJar()
    async with asks.Session(persist_cookies=jar) as s:
        await s.get(cookie_server.server.url + "/set")
    assert {c.name for c in jar} == {"a", "b", "s"}
    tracker = CookieTracker()
    async with asks.Session(persist_cookies=tracker) as s:
        await s.get(cookie_server.server.url + "/set")
    assert len(tracker) == 3


@pytest.mark.parametrize("cookies", [{"a;b": "1"}, {"a": "1\r\nX: y"}, {"a": "x;y"}, {"": "1"}])
async def test_bad_cookies_are_refused_before_sending(raw_server, cookies):
    server = await raw_server(CookieServer())
    with pytest.raises(ValueError):
        await asks.get(server.url, cookies=cookies)
    assert server.accepted == 0


async def test_httpbin_cookies(httpbin):
    async with asks.Session(httpbin.url, persist_cookies=True) as s:
        r = await s.get(path="/cookies/set", params={"k": "v"})
        assert r.json()["cookies"] == {"k": "v"}
        assert [c.name for c in r.history[0].cookies] == ["k"]
        r = await s.get(path="/cookies", cookies={"extra": "1"})
        assert r.json()["cookies"] == {"k": "v", "extra": "1"}
