"""``fetch_many(robots=True)``: robots.txt per origin, on loopback servers.

The crawl delay is checked on a virtual clock (:mod:`tests.virtual_time`):
the server notes the virtual time of each request, so a ``Crawl-delay: 5``
plays out at once.
"""

from __future__ import annotations

from typing import Any

import curio
import pytest

import asks
from asks._rate import limiter_of
from asks._robots import RobotsCache
from tests.servers import read_request
from tests.virtual_time import VirtualTime

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def text(status: str, body: bytes) -> bytes:
    return b"HTTP/1.1 %s\r\nContent-Length: %d\r\n\r\n%s" % (status.encode(), len(body), body)


def site(robots: bytes | None, seen: list[str], gate: curio.Event | None = None) -> Any:
    """A handler: *robots* for /robots.txt (None: 404), OK for anything else."""

    async def handler(sock: Any) -> None:
        while (got := await read_request(sock)) is not None:
            target = got[0].target.decode()
            seen.append(target)
            if target == "/robots.txt":
                if gate is not None:
                    await gate.wait()
                await sock.sendall(text("404 Not Found", b"") if robots is None else robots)
            else:
                await sock.sendall(OK)

    return handler


RULES = b"""\
User-agent: otherbot
Disallow: /

User-agent: *
Disallow: /private/
Allow: /private/open
"""


async def run(urls: list[str], **kwargs: Any) -> dict[str, asks.FetchResult]:
    async with asks.fetch_many(urls, robots=True, **kwargs) as results:
        return {r.url: r async for r in results}


async def test_disallowed_urls_are_skipped_and_not_fetched(raw_server: Any) -> None:
    seen: list[str] = []
    server = await raw_server(site(text("200 OK", RULES), seen))
    base = server.url
    urls = [f"{base}/", f"{base}/private/secret", f"{base}/private/open", f"{base}/public"]
    got = await run(urls)
    assert got[f"{base}/private/secret"].skipped == "robots.txt"
    assert got[f"{base}/private/secret"].status is None
    assert not got[f"{base}/private/secret"].failed  # a verdict, not a failure
    for url in (f"{base}/", f"{base}/private/open", f"{base}/public"):
        assert (got[url].status, got[url].skipped) == (200, None)
    assert sorted(seen) == sorted(["/robots.txt", "/", "/private/open", "/public"])


async def test_the_rules_for_the_user_agent_sent_are_the_ones_applied(raw_server: Any) -> None:
    seen: list[str] = []
    server = await raw_server(site(text("200 OK", RULES), seen))
    got = await run([server.url + "/public"], request_headers={"User-Agent": "OtherBot/1.0"})
    assert got[server.url + "/public"].skipped == "robots.txt"
    assert seen == ["/robots.txt"]


async def test_robots_txt_is_fetched_once_per_origin_even_by_concurrent_first_requests(
    raw_server: Any,
) -> None:
    gate = curio.Event()
    seen_a: list[str] = []
    seen_b: list[str] = []
    a = await raw_server(site(text("200 OK", RULES), seen_a, gate))
    b = await raw_server(site(None, seen_b), host="127.0.0.2")
    urls = [f"{a.url}/{i}" for i in range(30)] + [f"{b.url}/{i}" for i in range(30)]
    async with asks.fetch_many(urls, robots=True, concurrency=10) as results:
        while "/robots.txt" not in seen_a:
            await curio.sleep(0)
        for _ in range(20):
            await curio.sleep(0)
        # Everyone else asking about origin a waits for the one fetch.
        assert seen_a == ["/robots.txt"]
        await gate.set()
        got = [r async for r in results]
        assert results.robots_fetches == 2
    assert len(got) == 60 and all(r.status == 200 for r in got)
    assert seen_a.count("/robots.txt") == 1
    assert seen_b.count("/robots.txt") == 1


async def verdicts(raw_server: Any, robots: bytes, paths: list[str]) -> dict[str, str | None]:
    """What a RobotsCache says of each path under *robots* (fetched once)."""
    seen: list[str] = []
    server = await raw_server(site(text("200 OK", robots), seen))
    async with asks.Session() as session:
        cache = RobotsCache(session, "python-asks/4.0")
        got = {path: await cache.skip_reason(server.url + path) for path in paths}
    assert seen == ["/robots.txt"]
    return got


async def test_star_and_dollar_are_patterns_and_the_longest_match_wins(raw_server: Any) -> None:
    # RFC 9309 section 2.2.3 ("*" any characters, "$" the end), 2.2.2 (the
    # most specific rule wins; of two as long, the allow).
    robots = b"""\
User-agent: *
Allow: /$
Allow: /docs/*.html$
Disallow: /*.pdf$
Disallow: /cart/*/checkout
Disallow: /same
Allow: /same
Disallow: /
"""
    paths = {
        "/": None,
        "/docs/a/b.html": None,
        "/docs/a/b.html?page=2": "robots.txt",
        "/docs/x.pdf": "robots.txt",
        "/files/x.pdf": "robots.txt",
        "/cart/1/checkout/now": "robots.txt",
        "/same/thing": None,
        "/other": "robots.txt",
        "/robots.txt": None,  # section 2.2.2: always allowed
    }
    assert await verdicts(raw_server, robots, list(paths)) == paths


async def test_a_pattern_and_a_path_are_compared_percent_decoded(raw_server: Any) -> None:
    robots = "User-agent: *\nDisallow: /café\nDisallow: /%7Euser\n".encode()
    paths = {"/caf%C3%A9/menu": "robots.txt", "/~user/x": "robots.txt", "/cafe": None}
    assert await verdicts(raw_server, robots, list(paths)) == paths


async def test_a_stray_percent_in_a_pattern_is_spelt_as_the_request_sends_it(
    raw_server: Any,
) -> None:
    # A URL's "%" that starts no escape goes out as "%25" (RFC 3986 section
    # 2.1); a rule written with the bare "%" still matches that URL.
    robots = b"User-agent: *\nDisallow: /100%off\n"
    paths = {"/100%off/x": "robots.txt", "/100%25off/y": "robots.txt", "/100": None}
    assert await verdicts(raw_server, robots, list(paths)) == paths


async def test_every_group_naming_the_crawler_counts_and_only_its_own_name(
    raw_server: Any,
) -> None:
    # RFC 9309 section 2.2.1: the groups of one product token are combined,
    # matched case-insensitively; the "*" group is for crawlers none names.
    robots = b"""\
User-agent: python-asks
Disallow: /a

User-agent: *
Disallow: /

User-agent: otherbot
User-agent: Python-Asks
Disallow: /b

User-agent: python
Disallow: /c
"""
    paths = {"/a": "robots.txt", "/b": "robots.txt", "/c": None, "/d": None}
    assert await verdicts(raw_server, robots, list(paths)) == paths


async def test_a_404_allows_everything(raw_server: Any) -> None:
    seen: list[str] = []
    server = await raw_server(site(None, seen))
    got = await run([server.url + "/private/x"])
    assert got[server.url + "/private/x"].status == 200
    assert seen == ["/robots.txt", "/private/x"]


@pytest.mark.parametrize("status", ["503 Unavailable", "500 Oops", "429 Too Many"])
async def test_a_5xx_or_429_disallows_everything(raw_server: Any, status: str) -> None:
    seen: list[str] = []
    server = await raw_server(site(text(status, b"down"), seen))
    async with asks.Session(retries=0) as session:  # else robots.txt is retried, as it should
        got = await run([server.url + "/a", server.url + "/b"], session=session)
    for result in got.values():
        assert result.skipped == "robots.txt unreachable"
        assert result.failed  # worth trying again later (asks fetch --retry-failed)
    assert seen == ["/robots.txt"]


async def test_an_unreachable_origin_disallows_everything() -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    async with asks.Session(retries=0) as session:
        got = await run([dead + "/a"], session=session)
    assert got[dead + "/a"].skipped == "robots.txt unreachable"


async def test_a_robots_txt_that_never_comes_counts_as_unreachable(raw_server: Any) -> None:
    async def stall(sock: Any) -> None:
        await read_request(sock)
        await curio.Event().wait()

    server = await raw_server(stall)
    async with asks.Session() as session:
        cache = RobotsCache(session, "python-asks/4", timeout=0.2)
        assert await cache.skip_reason(server.url + "/a") == "robots.txt unreachable"


async def test_the_url_s_own_timeout_is_not_taken_for_an_unreachable_robots_txt(
    raw_server: Any,
) -> None:
    async def stall(sock: Any) -> None:
        await read_request(sock)
        await curio.Event().wait()

    server = await raw_server(stall)
    async with asks.fetch_many([server.url + "/a"], robots=True, timeout=0.2) as results:
        [result] = [r async for r in results]
    # The URL ran out of time waiting for robots.txt: an error, to try again.
    assert result.error_type == "RequestTimeout"
    assert result.skipped is None


async def test_origins_differ_by_port(raw_server: Any) -> None:
    seen_a: list[str] = []
    seen_b: list[str] = []
    a = await raw_server(site(text("200 OK", b"User-agent: *\nDisallow: /\n"), seen_a))
    b = await raw_server(site(None, seen_b))
    got = await run([a.url + "/x", b.url + "/x"])
    assert got[a.url + "/x"].skipped == "robots.txt"
    assert got[b.url + "/x"].status == 200


async def test_crawl_delay_becomes_the_origin_s_rate_limit(raw_server: Any) -> None:
    vt = VirtualTime()
    seen: list[tuple[str, float]] = []

    async def handler(sock: Any) -> None:
        while (got := await read_request(sock)) is not None:
            target = got[0].target.decode()
            seen.append((target, round(vt.now - 1000.0, 6)))
            if target == "/robots.txt":
                await sock.sendall(text("200 OK", b"User-agent: *\nCrawl-delay: 5\n"))
            else:
                await sock.sendall(OK)

    server = await raw_server(handler)
    other_seen: list[tuple[str, float]] = []

    async def other(sock: Any) -> None:
        while (got := await read_request(sock)) is not None:
            other_seen.append((got[0].target.decode(), round(vt.now - 1000.0, 6)))
            await sock.sendall(text("404 Not Found", b""))

    free = await raw_server(other, host="127.0.0.2")
    async with asks.Session(connections=10, connections_per_host=4) as session:
        limiter = limiter_of(session)
        limiter.clock = vt.clock
        limiter.sleep = vt.sleep
        urls = [f"{server.url}/{i}" for i in range(4)] + [f"{free.url}/{i}" for i in range(4)]
        got: list[asks.FetchResult] = []

        async def crawl() -> None:
            async with asks.fetch_many(urls, session=session, robots=True) as results:
                got.extend([r async for r in results])

        task = await curio.spawn(crawl)
        # The four URLs of the delayed origin wait on the virtual clock; the
        # time moves on only when the test says so.
        await vt.wait_sleeping(4)
        while len(other_seen) < 5:  # robots.txt and the four pages, none delayed
            await curio.sleep(0)
        assert seen == [("/robots.txt", 0.0)]
        for step in range(1, 5):
            await vt.advance(5)
            while len(seen) < step + 1:
                await curio.sleep(0)
        await task.join()
    assert len(got) == 8
    # robots.txt at 0 s took the first slot; then one request every 5 s.
    assert [t for _, t in seen] == [0.0, 5.0, 10.0, 15.0, 20.0]
    # The other origin had no Crawl-delay: no waiting at all there.
    assert {t for _, t in other_seen} == {0.0}


async def test_a_crawl_delay_never_speeds_up_a_slower_rate_limit_of_the_session(
    raw_server: Any,
) -> None:
    vt = VirtualTime()
    seen: list[float] = []

    async def handler(sock: Any) -> None:
        while (got := await read_request(sock)) is not None:
            seen.append(round(vt.now - 1000.0, 6))
            if got[0].target == b"/robots.txt":
                await sock.sendall(text("200 OK", b"User-agent: *\nCrawl-delay: 1\n"))
            else:
                await sock.sendall(OK)

    server = await raw_server(handler)
    async with asks.Session(rate_limit=0.1) as session:  # --rate 0.1: one every 10 s
        limiter = limiter_of(session)
        limiter.clock = vt.clock
        limiter.sleep = vt.sleep
        urls = [f"{server.url}/{i}" for i in range(2)]

        async def crawl() -> list[asks.FetchResult]:
            # One worker: one sleeper at a time, for vt.run to move the clock.
            run = asks.fetch_many(urls, session=session, robots=True, concurrency=1)
            async with run as results:
                return [r async for r in results]

        [got] = await vt.run(crawl)
        assert limiter.limit_for(server.url) == asks.RateLimit(0.1)
    assert [r.status for r in got] == [200, 200]
    # Crawl-delay: 1 asks for no more than one a second; the session allows
    # one every 10 s, and that is what the server sees.
    assert seen == [0.0, 10.0, 20.0]


@pytest.mark.parametrize(
    ("line", "rate"),
    [(b"Crawl-delay: 2.5", asks.RateLimit(0.4)), (b"Crawl-delay: 0.5", asks.RateLimit(2))]
    + [(b"Crawl-delay: " + bad, None) for bad in (b"0", b"-1", b"nan", b"inf", b"1e-320", b"x")],
)
async def test_a_crawl_delay_need_not_be_whole_seconds(
    raw_server: Any, line: bytes, rate: asks.RateLimit | None
) -> None:
    server = await raw_server(site(text("200 OK", b"User-agent: *\n" + line + b"\n"), []))
    async with asks.Session() as session:
        cache = RobotsCache(session, "python-asks/4")
        assert await cache.skip_reason(server.url + "/") is None
        assert limiter_of(session).limit_for(server.url) == rate


async def test_request_rate_counts_too_and_the_slower_of_the_two_wins() -> None:
    async with asks.Session() as session:
        cache = RobotsCache(session, "python-asks/4")
        from urllib.robotparser import RobotFileParser

        parser = RobotFileParser()
        parser.parse(["User-agent: *", "Crawl-delay: 2", "Request-rate: 1/10"])
        assert cache._delay(parser) == pytest.approx(0.1)
        parser = RobotFileParser()
        parser.parse(["User-agent: *", "Crawl-delay: 0"])
        assert cache._delay(parser) is None


async def test_the_cache_is_bounded_and_eviction_lifts_the_crawl_delay(raw_server: Any) -> None:
    seen: list[str] = []
    servers = [
        await raw_server(site(text("200 OK", b"User-agent: *\nCrawl-delay: 1\n"), seen))
        for _ in range(3)
    ]
    async with asks.Session() as session:
        cache = RobotsCache(session, "python-asks/4", max_origins=2)
        for server in servers:
            assert await cache.skip_reason(server.url + "/") is None
        limiter = limiter_of(session)
        assert limiter.limit_for(servers[0].url) is None  # evicted: its delay lifted
        assert limiter.limit_for(servers[2].url) == asks.RateLimit(1)
        assert len(cache._rules) == 2
        # An evicted origin is fetched again when it comes back.
        await cache.skip_reason(servers[0].url + "/")
    assert seen.count("/robots.txt") == 4


async def test_a_cancelled_first_fetch_lets_a_waiter_fetch_instead(raw_server: Any) -> None:
    gate = curio.Event()
    seen: list[str] = []
    server = await raw_server(site(None, seen, gate))
    async with asks.Session(connections=4) as session:
        cache = RobotsCache(session, "python-asks/4")
        first = await curio.spawn(cache.skip_reason, server.url + "/1")
        while not seen:
            await curio.sleep(0)
        second = await curio.spawn(cache.skip_reason, server.url + "/2")
        await curio.sleep(0)
        await first.cancel()
        await gate.set()
        assert await second.join() is None
    assert seen == ["/robots.txt", "/robots.txt"]


async def test_an_unparseable_url_is_left_to_the_fetch() -> None:
    got = await run(["not a url"])
    assert got["not a url"].error_type == "ValueError"
    assert got["not a url"].skipped is None


async def test_a_runs_crawl_delays_end_with_the_run_on_a_session_that_goes_on(
    raw_server: Any,
) -> None:
    # A long-lived session crawled run after run: each run's Crawl-delays
    # are settings on the session, and one per origin any run ever met
    # would pile up. They last as long as the run that set them.
    seen: list[str] = []
    servers = [
        await raw_server(site(text("200 OK", b"User-agent: *\nCrawl-delay: 0.001\n"), seen))
        for _ in range(4)
    ]
    async with asks.Session(connections=4) as session:
        for pair in (servers[:2], servers[2:]):
            urls = [server.url + "/" for server in pair]
            async with asks.fetch_many(urls, session=session, robots=True) as results:
                got = [r async for r in results]
                limiter = limiter_of(session)
                assert [limiter.limit_for(s.url) for s in pair] == [asks.RateLimit(1000)] * 2
            assert [r.status for r in got] == [200, 200]
            assert [limiter.limit_for(s.url) for s in servers] == [None] * 4
            assert limiter._origins == {} and limiter._held == {}
    assert seen.count("/robots.txt") == 4


async def test_the_end_of_a_runs_delay_brings_back_the_callers_own_rate_for_the_origin(
    raw_server: Any,
) -> None:
    # The caller held the origin to 2 a second; its Crawl-delay asks for
    # one a second while the run lasts, and the caller's rate comes back
    # after (it was overwritten, then cleared to no limit at all).
    server = await raw_server(site(text("200 OK", b"User-agent: *\nCrawl-delay: 1\n"), []))
    async with asks.Session() as session:
        limiter = limiter_of(session)
        limiter.set_rate(server.url, 2)
        cache = RobotsCache(session, "python-asks/4")
        assert await cache.skip_reason(server.url + "/") is None
        assert limiter.limit_for(server.url) == asks.RateLimit(1)
        cache.close()
        assert limiter.limit_for(server.url) == asks.RateLimit(2)


async def test_one_run_ending_does_not_lift_the_delay_another_run_still_keeps(
    raw_server: Any,
) -> None:
    # Two runs at once on one session over the same origin: each holds the
    # origin's Crawl-delay; the first to end leaves the other's in place.
    server = await raw_server(site(text("200 OK", b"User-agent: *\nCrawl-delay: 1\n"), []))
    async with asks.Session() as session:
        limiter = limiter_of(session)
        first, second = (RobotsCache(session, "python-asks/4") for _ in range(2))
        for cache in (first, second):
            assert await cache.skip_reason(server.url + "/") is None
        first.close()
        assert limiter.limit_for(server.url) == asks.RateLimit(1)
        second.close()
        assert limiter.limit_for(server.url) is None
        assert limiter._held == {}
