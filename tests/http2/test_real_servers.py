"""HTTP/2 against real servers: nginx, hypercorn, h2o and nghttpd.

Each server is started by a fixture (tests/real/h2_fixtures.py): TLS with
ALPN offering h2, and h2c with prior knowledge. The cases of the HTTP/2
issue that real servers can show: many streams on one connection, the
server's stream limit respected, nginx's GOAWAY every 50 requests crossed
without a failure, abandoned downloads giving their window back, concurrent
uploads echoed byte-exact, and the fallback to HTTP/1.1.
"""

from __future__ import annotations

import ssl
import uuid
from typing import Any

import curio
import h2.connection
import pytest

import asks
from asks.errors import BadHttpResponse
from tests.real.debian_proxies import Squid
from tests.real.h2_fixtures import BIG, SMALL, big_body
from tests.real.hypercorn import Hypercorn
from tests.real.nginx import Nginx
from tests.session_helpers import get_at_once

CALL_TIMEOUT = 30
# Past one call's CALL_TIMEOUT (the default deadline is 20 s): a hung call
# fails its test with RequestTimeout naming the request, not the deadline.
pytestmark = pytest.mark.curio_timeout(CALL_TIMEOUT + 30)


def token() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture(scope="session")
def h2_server(request: pytest.FixtureRequest) -> tuple[str, Any]:
    """The server a test is parametrized with (indirectly). Session-scoped, so it
    starts before the fd-leak check looks, which then does not count the
    server's own files."""
    name: str = request.param
    fixture = {"nginx_h2c": "nginx_h2", "h2o_plain": "h2o"}.get(name, name)
    return fixture, request.getfixturevalue(fixture)


def small_url(server_name: str, server: Any, *, tls: bool = True) -> str:
    """The URL of a small body on one of the servers."""
    if server_name.startswith("nginx"):
        return str(server.url("h2" if tls else "h2c", "/files/small"))
    if server_name.startswith("hypercorn"):
        return str(server.url("/bytes/11"))
    if server_name == "h2o":
        return str(server.url("/small", tls=tls))
    return str(server.url("/small"))


SMALL_BY_SERVER = {"hypercorn": bytes(range(11))}


TLS_SERVERS = ["nginx_h2", "hypercorn_h2", "h2o", "nghttpd_tls"]


@pytest.mark.parametrize("h2_server", TLS_SERVERS, indirect=True)
async def test_alpn_picks_h2_and_the_response_says_http_version_2(
    h2_server: tuple[str, Any], client_ssl_context: ssl.SSLContext
) -> None:
    server_name, server = h2_server
    url = small_url(server_name, server)
    async with asks.Session(http2=True, ssl_context=client_ssl_context) as s:
        r = await s.get(url, timeout=CALL_TIMEOUT)
        assert s.pool_stats().open == 1
    assert r.status_code == 200
    assert r.http_version == "2"
    expected = SMALL_BY_SERVER.get(server_name.split("_")[0], SMALL)
    assert r.content == expected


@pytest.mark.parametrize(
    "h2_server", ["nginx_h2c", "hypercorn_h2c", "h2o_plain", "nghttpd_h2c"], indirect=True
)
async def test_h2c_with_prior_knowledge(h2_server: tuple[str, Any]) -> None:
    fixture, server = h2_server
    url = small_url(fixture, server, tls=False)
    async with asks.Session(http2="prior-knowledge") as s:
        first = await s.get(url, timeout=CALL_TIMEOUT)
        second = await s.get(url, timeout=CALL_TIMEOUT)
        assert s.pool_stats().open == 1
    assert (first.http_version, second.http_version) == ("2", "2")
    assert first.content == second.content == SMALL_BY_SERVER.get(fixture.split("_")[0], SMALL)


async def test_http2_false_speaks_http_1_1_to_an_h2_server(
    nginx_h2: Nginx, client_ssl_context: ssl.SSLContext
) -> None:
    async with asks.Session(ssl_context=client_ssl_context) as s:
        r = await s.get(nginx_h2.url("h2", "/files/small"), timeout=CALL_TIMEOUT)
    assert (r.http_version, r.content) == ("1.1", SMALL)


class StreamCounter:
    """The most streams open at once on any connection, seen as h2 opens each."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.most = 0
        original = h2.connection.H2Connection.send_headers
        counter = self

        def send_headers(self: h2.connection.H2Connection, *args: Any, **kwargs: Any) -> Any:
            result = original(self, *args, **kwargs)
            counter.most = max(counter.most, self.open_outbound_streams)
            return result

        monkeypatch.setattr(h2.connection.H2Connection, "send_headers", send_headers)


@pytest.mark.curio_timeout(60)
@pytest.mark.parametrize("h2_server", TLS_SERVERS, indirect=True)
async def test_200_concurrent_gets_share_one_connection(
    h2_server: tuple[str, Any],
    client_ssl_context: ssl.SSLContext,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = small_url(*h2_server)
    streams = StreamCounter(monkeypatch)
    async with asks.Session(http2=True, ssl_context=client_ssl_context, connections=10) as s:
        responses, most_open = await get_at_once(s, url, 200, CALL_TIMEOUT)
        assert s.pool_stats().open == 1
    assert most_open == 1
    assert {r.http_version for r in responses} == {"2"}
    assert {r.status_code for r in responses} == {200}
    # Servers allow 100 or 128 streams: the requests really overlapped.
    assert streams.most > 1


@pytest.mark.curio_timeout(60)
async def test_never_more_streams_open_than_the_server_allows(
    nginx_h2: Nginx, client_ssl_context: ssl.SSLContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The h2low listener allows 8 concurrent streams (and 50 per connection).
    streams = StreamCounter(monkeypatch)
    url = nginx_h2.url("h2low", "/files/small")
    async with (
        asks.Session(http2=True, ssl_context=client_ssl_context) as s,
        curio.TaskGroup() as group,
    ):
        tasks = [await group.spawn(s.get(url, timeout=CALL_TIMEOUT)) for _ in range(40)]
    assert [t.result.status_code for t in tasks] == [200] * 40
    assert streams.most == 8


@pytest.mark.curio_timeout(90)
@pytest.mark.parametrize(("count", "concurrency"), [(120, 1), (300, 300)])
async def test_requests_across_nginx_goaway_every_50_requests_all_succeed(
    count: int, concurrency: int, nginx_h2: Nginx, client_ssl_context: ssl.SSLContext
) -> None:
    prefix = f"/echo/{token()}"
    url = nginx_h2.url("h2low", prefix)
    async with asks.Session(http2=True, ssl_context=client_ssl_context) as s:
        failures: list[BaseException] = []
        paths = iter(range(count))

        async def worker() -> None:
            for n in paths:
                try:
                    r = await s.get(f"{url}/{n}", timeout=CALL_TIMEOUT)
                    assert (r.status_code, r.http_version) == (200, "2")
                except Exception as exc:  # counted, not raised: the test reports all
                    failures.append(exc)

        async with curio.TaskGroup() as group:
            for _ in range(concurrency):
                await group.spawn(worker)
    assert failures == []
    entries = nginx_h2.access_log.entries(prefix)
    assert len(entries) == count
    per_connection: dict[int, int] = {}
    for entry in entries:
        per_connection[entry.connection] = per_connection.get(entry.connection, 0) + 1
    # nginx closed each connection after 50 requests with a GOAWAY.
    assert max(per_connection.values()) == 50
    assert len(per_connection) >= count // 50 + 1


@pytest.mark.curio_timeout(120)
@pytest.mark.parametrize("h2_server", ["nginx_h2", "hypercorn_h2"], indirect=True)
async def test_twenty_abandoned_10_mb_responses_then_a_10_mb_download_completes(
    h2_server: tuple[str, Any], client_ssl_context: ssl.SSLContext
) -> None:
    server_name, server = h2_server
    if server_name == "nginx_h2":
        url = server.url("h2", "/files/big")
        expected = big_body()
    else:
        url = server.url(f"/bytes/{BIG}")
        from tests.real._h2_app import pattern

        expected = pattern(BIG)
    async with asks.Session(http2=True, ssl_context=client_ssl_context) as s:
        for n in range(20):
            r = await s.get(url, stream=True, timeout=CALL_TIMEOUT)
            assert r.http_version == "2"
            if n % 2:
                async for _chunk in r.body:
                    break  # one chunk read, the rest abandoned
            await r.body.close()
        r = await s.get(url, timeout=CALL_TIMEOUT)
        assert s.pool_stats().open == 1
    assert len(r.content) == BIG
    assert r.content == expected


@pytest.mark.curio_timeout(120)
async def test_ten_concurrent_3_mb_uploads_echo_back_exactly(
    hypercorn_h2: Hypercorn, client_ssl_context: ssl.SSLContext
) -> None:
    size = 3 * 1024 * 1024
    bodies = [bytes([n]) * (size // 2) + bytes(range(256)) * (size // 512) for n in range(10)]
    async with asks.Session(http2=True, ssl_context=client_ssl_context) as s:
        async with curio.TaskGroup() as group:
            tasks = [
                await group.spawn(s.post(hypercorn_h2.url("/echo"), data=body, timeout=60))
                for body in bodies
            ]
        assert s.pool_stats().open == 1
    for task, body in zip(tasks, bodies, strict=True):
        r = task.result
        assert (r.status_code, r.http_version) == (200, "2")
        assert r.content == body


async def test_a_streamed_upload_over_h2_arrives_whole(
    hypercorn_h2: Hypercorn, client_ssl_context: ssl.SSLContext
) -> None:
    pieces = [bytes([n]) * 100_000 for n in range(30)]

    async def upload() -> Any:
        for piece in pieces:
            yield piece

    async with asks.Session(http2=True, ssl_context=client_ssl_context) as s:
        r = await s.post(hypercorn_h2.url("/echo"), data=upload(), timeout=CALL_TIMEOUT)
    assert r.http_version == "2"
    assert r.content == b"".join(pieces)


async def test_alpn_fallback_to_http_1_1_is_remembered(
    nginx_h2: Nginx, client_ssl_context: ssl.SSLContext
) -> None:
    # The h1 listener offers no h2: the first connection answers http/1.1.
    # Four responses then held open at once need four connections: had the
    # session waited for a stream of the first connection, they never would.
    prefix = f"/echo/{token()}"
    url = nginx_h2.url("h1", prefix)
    async with asks.Session(http2=True, ssl_context=client_ssl_context, connections=4) as s:
        first = await s.get(url, timeout=CALL_TIMEOUT)
        assert first.http_version == "1.1"
        all_open = curio.Event()
        opened = 0

        async def hold() -> str:
            nonlocal opened
            r = await s.get(url, stream=True, timeout=CALL_TIMEOUT)
            async with r:
                opened += 1
                if opened == 4:
                    await all_open.set()
                await curio.timeout_after(CALL_TIMEOUT, all_open.wait)
                assert r.http_version == "1.1"
                return str(r.headers["x-connection"])

        async with curio.TaskGroup() as group:
            tasks = [await group.spawn(hold) for _ in range(4)]
        assert len({t.result for t in tasks}) == 4
    assert len(nginx_h2.access_log.entries(prefix)) == 5


async def test_h2c_prior_knowledge_to_an_http_1_1_only_server_is_a_clear_error(
    nginx_h2: Nginx,
) -> None:
    async with asks.Session(http2="prior-knowledge") as s:
        with pytest.raises(BadHttpResponse, match="HTTP/1"):
            await s.get(nginx_h2.url("http", "/"), timeout=CALL_TIMEOUT)
        assert s.pool_stats().open == 0


async def test_a_callers_context_shared_with_an_http_1_1_session_offers_each_its_protocol(
    nginx_h2: Nginx, client_ssl_context: ssl.SSLContext
) -> None:
    url = nginx_h2.url("h2", "/files/small")
    async with asks.Session(http2=True, ssl_context=client_ssl_context) as h2s:
        assert (await h2s.get(url, timeout=CALL_TIMEOUT)).http_version == "2"
        async with asks.Session(ssl_context=client_ssl_context) as h1s:
            assert (await h1s.get(url, timeout=CALL_TIMEOUT)).http_version == "1.1"
        async with asks.Session(http2=True, ssl_context=client_ssl_context) as again:
            assert (await again.get(url, timeout=CALL_TIMEOUT)).http_version == "2"


@pytest.mark.parametrize("status", [304, 204])
async def test_a_bodiless_status_announcing_a_content_length_is_answered_and_keeps_the_connection(
    status: int, hypercorn_h2: Hypercorn, client_ssl_context: ssl.SSLContext
) -> None:
    # RFC 9113 section 8.1.1: a response defined to have no content may
    # carry a non-zero content-length. hypercorn ends such a response with
    # an empty DATA frame; h2 counted it against the length and failed the
    # whole connection.
    url = hypercorn_h2.url(f"/bodiless/{status}")
    async with asks.Session(http2=True, ssl_context=client_ssl_context) as s:
        async with curio.TaskGroup() as group:
            slow = await group.spawn(s.get(hypercorn_h2.url("/stall/200"), timeout=CALL_TIMEOUT))
            bodiless = await s.get(url, timeout=CALL_TIMEOUT)
            streamed = await s.get(url, stream=True, timeout=CALL_TIMEOUT)
            async with streamed:
                rest = b"".join([chunk async for chunk in streamed.body])
        assert (bodiless.status_code, bodiless.http_version) == (status, "2")
        assert bodiless.content == b""
        assert (streamed.status_code, rest) == (status, b"")
        assert bodiless.headers["content-length"] == "1234"
        assert slow.result.content == b"firstrest"
        again = await s.get(hypercorn_h2.url("/version"), timeout=CALL_TIMEOUT)
        assert again.content == b"2"
        assert s.pool_stats().open == 1


def test_a_session_used_by_one_kernel_after_another_opens_a_new_h2_connection(
    hypercorn_h2c: Hypercorn,
) -> None:
    # A module-level session (docs/sessions.md) run by curio.run twice, or by
    # two tests of the pytest plugin: the first kernel's end cancelled the
    # connection's reader and writer, so the second kernel's request waited
    # forever on a connection nobody served.
    session = asks.Session(http2="prior-knowledge")
    url = hypercorn_h2c.url("/version")

    async def version() -> tuple[str, str]:
        r = await session.get(url, timeout=CALL_TIMEOUT)
        return r.http_version, r.text

    try:
        assert curio.run(version) == ("2", "2")
        assert curio.run(version) == ("2", "2")
        assert session.pool_stats().open == 1
    finally:
        curio.run(session.close)


def test_a_stream_held_from_an_ended_kernel_does_not_hold_up_the_next_kernels_requests(
    hypercorn_h2c: Hypercorn,
) -> None:
    # The first kernel ended with a stream still open on its connection. That
    # connection stays counted (the caller may still close the stream), but
    # it takes no stream: the second kernel's request waited for one forever
    # instead of opening a connection, as an HTTP/1.1 session does.
    session = asks.Session(http2="prior-knowledge", connections=2)
    url = hypercorn_h2c.url("/version")
    held: list[asks.StreamResponse] = []

    async def hold() -> None:
        held.append(await session.get(url, stream=True, timeout=CALL_TIMEOUT))

    async def version() -> str:
        return (await session.get(url, timeout=CALL_TIMEOUT)).http_version

    async def close() -> None:
        await held[0].body.close()
        await session.close()

    try:
        curio.run(hold)
        assert curio.run(version) == "2"
        assert session.pool_stats().open == 2
    finally:
        curio.run(close)
    assert session.pool_stats().open == 0


@pytest.mark.parametrize("through_proxy", [False, True])
async def test_a_callers_context_offering_h2_to_an_http_1_1_connection_is_a_clear_error(
    through_proxy: bool, hypercorn_h2: Hypercorn, squid: Squid, client_ssl_context: ssl.SSLContext
) -> None:
    # The caller set the ALPN list (asks leaves it alone): the server picks h2,
    # and an HTTP/1.1 session, or any session through a proxy tunnel, sent
    # HTTP/1.1 into it and quoted HTTP/2 frames back as a broken status line.
    client_ssl_context.set_alpn_protocols(["h2", "http/1.1"])
    proxy = squid.url if through_proxy else None
    async with asks.Session(ssl_context=client_ssl_context, proxy=proxy, retries=0) as s:
        with pytest.raises(BadHttpResponse, match="chose HTTP/2 by ALPN"):
            await s.get(hypercorn_h2.url("/version"), timeout=CALL_TIMEOUT)
        assert s.pool_stats().open == 0
