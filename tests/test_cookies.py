"""Cookies: sent per call, stored with ``persist_cookies``, read from responses."""

from __future__ import annotations

import http.cookiejar
import socket

import curio
import pytest

import asks
from asks._headers import Headers
from asks.cookie_utils import CookieTracker
from tests import http_state
from tests.servers import read_request
from tests.test_cookie_rules import AGED


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


@pytest.mark.parametrize("kind", ["buffered", "stream", "callback"])
async def test_every_kind_of_response_lists_its_cookies_and_only_its_own(cookie_server, kind):
    async def ignore(chunk: bytes) -> None:
        pass

    options = {"buffered": {}, "stream": {"stream": True}, "callback": {"callback": ignore}}[kind]
    async with asks.Session() as s:

        async def get(path: str) -> asks.response_objects.BaseResponse:
            response = await s.get(cookie_server.server.url + path, **options)
            if kind == "stream":
                await response.body.close()  # the connection serves the next
            return response

        with_cookies = await get("/set")
        without = await get("/next")
    assert sorted(c.name for c in with_cookies.cookies) == ["a", "b", "old", "s"]
    assert without.cookies == []


class LoginServer:
    """/login answers 302 to /home with a session cookie; every request's Cookie recorded."""

    def __init__(self) -> None:
        self.received: list[tuple[bytes, bytes | None]] = []

    async def __call__(self, sock):
        while (got := await read_request(sock)) is not None:
            req, _ = got
            self.received.append((req.target, dict(req.headers).get(b"cookie")))
            if req.target == b"/login":
                await sock.sendall(
                    b"HTTP/1.1 302 Found\r\nLocation: /home\r\n"
                    b"Set-Cookie: sid=42; Path=/\r\nContent-Length: 0\r\n\r\n"
                )
            else:
                await sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")


@pytest.fixture
async def login_server(raw_server):
    handler = LoginServer()
    handler.server = await raw_server(handler)
    return handler


async def test_a_redirects_cookies_go_with_the_rest_of_its_call_without_a_store(login_server):
    # A login's 302 sets the session cookie its next page needs: the call
    # carries it (as requests does), and nothing outlives the call.
    async with asks.Session() as s:
        r = await s.post(login_server.server.url + "/login", data=b"user=me")
        assert r.status_code == 200 and [h.status_code for h in r.history] == [302]
        await s.get(login_server.server.url + "/home")
    assert login_server.received == [(b"/login", None), (b"/home", b"sid=42"), (b"/home", None)]
    assert s._cookie_tracker is None


@pytest.mark.parametrize("where", ["call", "session", "module"])
async def test_persist_cookies_false_carries_none_within_the_call_either(login_server, where):
    url = login_server.server.url + "/login"
    if where == "call":
        async with asks.Session() as s:
            await s.post(url, data=b"x", persist_cookies=False)
    elif where == "session":
        async with asks.Session(persist_cookies=False) as s:
            await s.post(url, data=b"x")
    else:
        await asks.post(url, data=b"x", persist_cookies=False)
    assert login_server.received == [(b"/login", None), (b"/home", None)]


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


# -- RFC 6265 through a real server: each cause of issue 20, and the suite ----

NAMED_HOSTS = {"example.org", "www.example.org", *http_state.HOSTS}


@pytest.fixture
def named_hosts(monkeypatch):
    """``*.example.org`` resolve to 127.0.0.1 (the suite's hosts file)."""
    real = socket.getaddrinfo

    def fake(host, *args, **kwargs):
        return real("127.0.0.1" if host in NAMED_HOSTS else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)


class ScriptedCookies:
    """Answers ``.../NAME`` with the Set-Cookie lines given for NAME and
    records the (Host, path, Cookie) of every request."""

    def __init__(self, script: dict[str, list[str]]) -> None:
        self.script = script
        self.seen: list[tuple[str, str, str | None]] = []

    async def __call__(self, sock):
        while (got := await read_request(sock)) is not None:
            req, _ = got
            headers = dict(req.headers)
            target = req.target.decode()
            cookie = headers.get(b"cookie")
            self.seen.append(
                (headers[b"host"].decode(), target, cookie.decode() if cookie else None)
            )
            lines = self.script.get(target.partition("?")[0].rsplit("/", 1)[1], [])
            extra = b"".join(b"Set-Cookie: " + line.encode() + b"\r\n" for line in lines)
            await sock.sendall(b"HTTP/1.1 200 OK\r\n" + extra + b"Content-Length: 0\r\n\r\n")

    def last_cookie(self) -> str | None:
        return self.seen[-1][2]


@pytest.fixture
async def scripted(raw_server, named_hosts):
    async def make(script):
        handler = ScriptedCookies(script)
        server = await raw_server(handler)
        handler.port = server.port
        return handler

    return make


async def test_server_cause_bare_name_and_empty_lines_are_ignored(scripted):
    srv = await scripted({"c": ["foo", "   ", "a=1"]})
    async with asks.Session(f"http://example.org:{srv.port}", persist_cookies=True) as s:
        r = await s.get(path="/c")
        assert [c.name for c in r.cookies] == ["a"]
        await s.get(path="/next")
    assert srv.last_cookie() == "a=1"


async def test_server_cause_repeated_attribute_last_wins(scripted):
    srv = await scripted(
        {"c": ["a=1; Path=/set; Path=/", "b=2; Domain=www.example.org; Domain=example.org"]}
    )
    async with asks.Session(persist_cookies=True) as s:
        await s.get(f"http://www.example.org:{srv.port}/c")
        await s.get(f"http://www.example.org:{srv.port}/other")
        assert srv.last_cookie() == "a=1; b=2"
        await s.get(f"http://example.org:{srv.port}/other")
        assert srv.last_cookie() == "b=2"


async def test_server_cause_empty_valued_attributes(scripted):
    srv = await scripted({"c": ["p=1; Path=/elsewhere; Path", "d=2; Domain=", "s=3; Secure="]})
    async with asks.Session(persist_cookies=True) as s:
        await s.get(f"http://example.org:{srv.port}/set/c")
        # Path alone: the default path of /set/c is /set.
        await s.get(f"http://example.org:{srv.port}/set/x")
        assert srv.last_cookie() == "p=1; d=2"
        await s.get(f"http://example.org:{srv.port}/elsewhere")
        assert srv.last_cookie() is None
        # Domain= left the cookie host-only; Secure= kept it off http.
        await s.get(f"http://www.example.org:{srv.port}/set/x")
        assert srv.last_cookie() is None


async def test_server_cause_invalid_max_age_keeps_the_cookie(scripted):
    srv = await scripted({"c": ["a=1; Max-Age=50,399"]})
    async with asks.Session(persist_cookies=True) as s:
        await s.get(f"http://example.org:{srv.port}/c")
        await s.get(f"http://example.org:{srv.port}/")
    assert srv.last_cookie() == "a=1"


async def test_server_cause_max_age_zero_later_in_the_same_response(scripted):
    srv = await scripted({"c": ["a=1", "b=2", "a=x; Max-Age=0"], "d": ["b=3; Max-Age=0"]})
    async with asks.Session(persist_cookies=True) as s:
        await s.get(f"http://example.org:{srv.port}/c")
        await s.get(f"http://example.org:{srv.port}/")
        assert srv.last_cookie() == "b=2"
        await s.get(f"http://example.org:{srv.port}/d")
        await s.get(f"http://example.org:{srv.port}/")
        assert srv.last_cookie() is None


async def test_server_cause_host_only_is_not_sent_to_subdomains(scripted):
    srv = await scripted({"c": ["host=1"], "d": ["dom=2; Domain=example.org"]})
    async with asks.Session(persist_cookies=True) as s:
        await s.get(f"http://example.org:{srv.port}/c")
        await s.get(f"http://www.example.org:{srv.port}/")
        assert srv.last_cookie() is None
        await s.get(f"http://example.org:{srv.port}/d")
        await s.get(f"http://www.example.org:{srv.port}/")
        assert srv.last_cookie() == "dom=2"
        await s.get(f"http://example.org:{srv.port}/")
        assert srv.last_cookie() == "host=1; dom=2"


async def test_server_cause_version_attribute_is_accepted(scripted):
    srv = await scripted({"c": ["a=1; version=1", 'b=2; Version="1"; Comment=x']})
    async with asks.Session(persist_cookies=True) as s:
        await s.get(f"http://example.org:{srv.port}/c")
        await s.get(f"http://example.org:{srv.port}/")
    assert srv.last_cookie() == "a=1; b=2"


async def test_server_cause_quoted_path_and_sending_order(scripted):
    srv = await scripted(
        {"c": ['q=0; Path="/set"', "root=1; Path=/", "deep=2; Path=/set/c/d", "mid=3; Path=/set"]}
    )
    async with asks.Session(persist_cookies=True) as s:
        await s.get(f"http://example.org:{srv.port}/set/c")
        await s.get(f"http://example.org:{srv.port}/set/c/d/e")
        # Longer paths first; q's quoted path fell back to the default /set,
        # created before mid (same length): q first.
        assert srv.last_cookie() == "deep=2; q=0; mid=3; root=1"


async def test_server_public_suffix_domain_is_refused(scripted):
    srv = await scripted({"c": ["a=1; Domain=org", "b=2"]})
    async with asks.Session(persist_cookies=True) as s:
        r = await s.get(f"http://example.org:{srv.port}/c")
        assert [c.name for c in r.cookies] == ["b"]
        await s.get(f"http://example.org:{srv.port}/")
        assert srv.last_cookie() == "b=2"
        await s.get(f"http://www.example.org:{srv.port}/")
        assert srv.last_cookie() is None


async def test_mozilla_cookie_jar_as_the_store_round_trips(scripted, tmp_path):
    srv = await scripted({"c": ["host=1; Max-Age=100", "dom=2; Domain=example.org; Max-Age=100"]})
    jar = http.cookiejar.MozillaCookieJar(str(tmp_path / "c.txt"))
    async with asks.Session(persist_cookies=jar) as s:
        await s.get(f"http://example.org:{srv.port}/c")
    jar.save()
    loaded = http.cookiejar.MozillaCookieJar(str(tmp_path / "c.txt"))
    loaded.load()
    async with asks.Session(persist_cookies=loaded) as s:
        await s.get(f"http://www.example.org:{srv.port}/")
        assert srv.last_cookie() == "dom=2"
        await s.get(f"http://example.org:{srv.port}/")
        assert sorted(srv.last_cookie().split("; ")) == ["dom=2", "host=1"]


async def test_http_state_suite_end_to_end(raw_server, named_hosts):
    results: dict[str, str | None] = {}

    async def handler(sock):
        while (got := await read_request(sock)) is not None:
            req, _ = got
            cookies = [v.decode("latin-1") for k, v in req.headers if k == b"cookie"]
            cookie = "; ".join(cookies) if cookies else None
            data, done = http_state.answer(req.target.decode("latin-1"), cookie, server.port)
            if done is not None:
                results[done] = cookie
            await sock.sendall(data)

    server = await raw_server(handler)
    cases = http_state.load_cases()
    for case in cases:
        async with asks.Session(persist_cookies=True) as s:
            r = await s.get(http_state.local_url(case.origin, server.port))
            assert r.status_code == 200, case.name
    failed = sorted(c.name for c in cases if results[c.name] != c.expected)
    # The three whose 2019 expiry has passed since the suite was written.
    assert failed == sorted(AGED)


async def test_a_site_over_plain_http_cannot_plant_a_secure_cookie(tmp_path):
    # A real session, a host that is not loopback (the connection goes to a
    # Unix socket, the URL names example.org): the Secure cookie and the
    # __Host- one are refused, the plain one kept and sent back.
    path = str(tmp_path / "s.sock")
    listener = curio.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)
    received: list[bytes | None] = []

    async def serve():
        sock, _ = await listener.accept()
        async with sock:
            while (got := await read_request(sock)) is not None:
                req, _ = got
                received.append(dict(req.headers).get(b"cookie"))
                await sock.sendall(
                    b"HTTP/1.1 200 OK\r\n"
                    b"Set-Cookie: sid=evil; Path=/; Secure\r\n"
                    b"Set-Cookie: __Host-x=1; Path=/\r\n"
                    b"Set-Cookie: plain=1; Path=/\r\n"
                    b"Content-Length: 0\r\n\r\n"
                )

    server = await curio.spawn(serve)
    try:
        async with asks.Session(uds=path, persist_cookies=True) as s:
            r = await s.get("http://example.org/")
            assert [c.name for c in r.cookies] == ["plain"]
            await s.get("http://example.org/")
            assert sorted(c.name for c in s._cookie_tracker) == ["plain"]
        assert received == [None, b"plain=1"]
    finally:
        await server.cancel()
        await listener.close()


# -- a store over many hosts --------------------------------------------------


class CountingJar(http.cookiejar.CookieJar):
    """A jar that counts the walks over all of it."""

    walks = 0

    def __iter__(self):
        self.walks += 1
        return super().__iter__()


def jar_cookie(domain: str, name: str, *, path: str = "/", expires: int | None = None):
    return http.cookiejar.Cookie(
        0, name, "v", None, False, domain, domain.startswith("."), domain.startswith("."),
        path, True, False, expires, expires is None, None, None, {},
    )  # fmt: skip


def test_a_request_looks_only_at_the_cookies_of_its_hosts_domains():
    # A session that kept cookies over many hosts walked the whole jar for
    # every request: quadratic over a crawl (46 ms a request at 20,000
    # hosts). A request looks up its host and the names it is under.
    jar = CountingJar()
    tracker = CookieTracker(jar)
    for number in range(5_000):
        tracker.store(
            Headers({"Set-Cookie": "sid=1; Path=/"}),
            f"http://h{number}.example.org/",
            f"h{number}.example.org",
            "http",
        )
    jar.set_cookie(jar_cookie(".example.org", "everywhere"))
    jar.set_cookie(jar_cookie("example.org", "only-there"))
    jar.walks = 0
    for number in range(1000):
        host = f"h{number}.example.org"
        assert tracker.cookie_header(f"http://{host}/x", host, "http") == "everywhere=v; sid=1"
    assert tracker.cookie_header("http://example.org/", "example.org", "http") == (
        "everywhere=v; only-there=v"
    )
    assert tracker.cookie_header("http://example.com/", "example.com", "http") is None
    assert jar.walks == 0


def test_expired_cookies_of_other_hosts_still_leave_the_jar():
    # Looked up per host, a request no longer meets the expired cookies of
    # other hosts: a sweep of the whole jar evicts them now and then (RFC
    # 6265 section 5.3), after as many requests as the jar held cookies.
    jar = CountingJar()
    tracker = CookieTracker(jar)
    jar.set_cookie(jar_cookie("gone.example", "old", expires=1))
    jar.set_cookie(jar_cookie("h.example", "sid"))
    for _ in range(1024):
        assert tracker.cookie_header("http://h.example/", "h.example", "http") == "sid=v"
    assert [c.name for c in jar] == ["sid"]
    assert jar.walks == 2  # the sweep, and the check above


def test_cookies_that_expire_or_are_deleted_leave_nothing_of_their_host_in_the_jar():
    # http.cookiejar's clear(domain, path, name) leaves the path's and the
    # domain's dicts behind: a crawl whose cookies expire or are deleted
    # kept an entry per host ever met.
    jar = http.cookiejar.CookieJar()
    tracker = CookieTracker(jar)
    for number in range(300):
        host, url = f"h{number}.example", f"http://h{number}.example/"
        tracker.store(Headers({"Set-Cookie": "sid=1; Path=/a"}), url, host, "http")
        tracker.store(Headers({"Set-Cookie": "sid=1; Path=/a; Max-Age=0"}), url, host, "http")
        jar.set_cookie(jar_cookie(host, "old", expires=1))
        assert tracker.cookie_header(url, host, "http") is None  # evicts "old"
    assert jar._cookies == {}  # type: ignore[attr-defined]
    assert tracker.is_empty()
    tracker.store(Headers({"Set-Cookie": "sid=1"}), "http://x.example/", "x.example", "http")
    assert not tracker.is_empty()
