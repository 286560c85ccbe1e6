"""``asks.fetch_many``: the library form of the bulk fetch, on loopback servers.

Distinct hosts are distinct 127.0.0.0/8 addresses (Linux routes the whole
block to loopback), so the per-host scheduling is tested against real
servers. Robots.txt is in ``tests/test_crawl_robots.py``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import shutil
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import curio
import pytest

import asks
from asks._partition import shard_of
from asks._request import _USER_AGENT
from asks.crawl import (
    DEFAULT_CONNECTIONS_PER_HOST,
    KEPT_CONNECTIONS,
    FetchResult,
    SaveFailed,
    _fetched,
    kept_connections,
)
from tests.servers import canned, read_request

OK = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Other: 1\r\nContent-Length: 5\r\n\r\nhello"


def dead_url(host: str = "127.0.0.1") -> str:
    """A URL nothing listens on: refused at once, on loopback."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return f"http://{host}:{probe.getsockname()[1]}/"


def gated(gate: curio.Event, seen: list[str]) -> Any:
    """A handler noting each target, answering OK only once *gate* is set."""

    async def handler(sock: Any) -> None:
        while (got := await read_request(sock)) is not None:
            seen.append(got[0].target.decode())
            await gate.wait()
            await sock.sendall(OK)

    return handler


async def collect(results: asks.FetchResults) -> list[asks.FetchResult]:
    return [result async for result in results]


# -- what a run gives ----------------------------------------------------------------


async def test_every_url_gives_one_result_with_status_headers_and_size(raw_server: Any) -> None:
    handler = canned(OK)
    server = await raw_server(handler)
    urls = [f"{server.url}/item/{i}" for i in range(60)]
    async with asks.fetch_many(urls, concurrency=7) as results:
        got = await collect(results)
    assert sorted(r.url for r in got) == sorted(urls)
    for result in got:
        assert result.status == 200
        assert result.size == 5
        assert result.headers == {"content-type": "text/plain"}  # only the ones asked for
        assert result.content is None
        assert result.error is None and result.error_type is None
        assert result.ok and not result.failed
        assert result.elapsed >= 0
    assert len(handler.requests) == 60


async def test_headers_asked_for_any_case_and_the_body_kept(raw_server: Any) -> None:
    server = await raw_server(canned(OK))
    async with asks.fetch_many(
        [server.url + "/"], headers=("X-OTHER", "content-type", "absent"), keep_body=True
    ) as results:
        [result] = await collect(results)
    assert result.headers == {"x-other": "1", "content-type": "text/plain"}
    assert result.content == b"hello"


async def test_blank_and_comment_lines_are_skipped_and_bad_lines_are_results(
    raw_server: Any,
) -> None:
    server = await raw_server(canned(OK))
    lines = [
        "",
        "   ",
        "# a comment",
        f"  {server.url}/a  \n",
        "not a url",
        "http://exa mple.com/",  # no host has a space: never dialled
        "  # indented",
        42,
    ]
    async with asks.fetch_many(lines) as results:  # type: ignore[arg-type]
        got = {r.url: r for r in await collect(results)}
    assert set(got) == {f"{server.url}/a", "not a url", "http://exa mple.com/", "42"}
    assert got["http://exa mple.com/"].error_type == "ValueError"
    assert got[f"{server.url}/a"].status == 200
    bad = got["not a url"]
    assert bad.status is None
    assert bad.error is not None and bad.error.startswith("ValueError: ")
    assert bad.error_type == "ValueError"
    assert not bad.ok and bad.failed
    assert got["42"].error_type == "TypeError"


async def test_a_refused_connection_is_a_result_and_the_run_goes_on(raw_server: Any) -> None:
    server = await raw_server(canned(OK))
    dead = dead_url()
    async with asks.fetch_many([dead, server.url + "/"], retries=0) as results:
        got = {r.url: r for r in await collect(results)}
    assert got[dead].error_type == "ConnectFailed"
    assert got[dead].error is not None and "Connection refused" in got[dead].error
    assert got[server.url + "/"].status == 200


async def test_the_final_status_is_after_redirects(raw_server: Any) -> None:
    async def handler(sock: Any) -> None:
        while (got := await read_request(sock)) is not None:
            if got[0].target == b"/old":
                await sock.sendall(
                    b"HTTP/1.1 301 Moved\r\nLocation: /new\r\nContent-Length: 0\r\n\r\n"
                )
            else:
                await sock.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope")

    server = await raw_server(handler)
    async with asks.fetch_many([server.url + "/old"]) as results:
        [result] = await collect(results)
    assert (result.status, result.size, result.error) == (404, 4, None)
    assert result.ok  # any status is a fetch


async def test_timeout_bounds_one_url(raw_server: Any) -> None:
    async def stall(sock: Any) -> None:
        await read_request(sock)
        await curio.Event().wait()

    server = await raw_server(stall)
    async with asks.fetch_many([server.url + "/"], timeout=0.2) as results:
        [result] = await collect(results)
    assert result.error == "RequestTimeout: no complete response within 0.2 s"
    assert result.error_type == "RequestTimeout"
    assert result.status is None


async def test_output_dir_saves_each_body_under_a_safe_name(
    raw_server: Any, tmp_path: Path
) -> None:
    server = await raw_server(canned(OK))
    out = tmp_path / "pages" / "deeper"
    urls = [f"{server.url}/a.html", f"{server.url}/../../etc/passwd"]
    async with asks.fetch_many(urls, output_dir=out, keep_body=True) as results:
        got = await collect(results)
    names = sorted(r.file for r in got if r.file is not None)
    assert len(names) == 2
    assert sorted(p.name for p in out.iterdir()) == names
    for result in got:
        assert result.file is not None
        assert (out / result.file).read_bytes() == b"hello" == result.content
    assert sorted(os.listdir(tmp_path)) == ["pages"]


async def test_an_output_dir_that_fails_stops_the_run(raw_server: Any, tmp_path: Path) -> None:
    out = tmp_path / "pages"
    asked: list[str] = []

    async def handler(sock: Any) -> None:
        while (received := await read_request(sock)) is not None:
            asked.append(received[0].target.decode())
            if asked[-1] == "/vanish":
                shutil.rmtree(out)  # the directory goes while the run goes on
            await sock.sendall(OK)

    server = await raw_server(handler)
    urls = [f"{server.url}/{name}" for name in ("first", "vanish", "later", "last")]
    got: list[FetchResult] = []
    with pytest.raises(SaveFailed) as failed:
        async with asks.fetch_many(urls, concurrency=1, output_dir=out) as results:
            async for result in results:
                got.append(result)
    # Not one failed result per URL, each after its request: the run stops.
    assert [result.url for result in got] == urls[:1]
    assert asked == ["/first", "/vanish"]
    assert isinstance(failed.value, OSError)
    assert str(failed.value) == f"cannot write in {str(out)!r}: No such file or directory"


async def test_async_iterable_input(raw_server: Any) -> None:
    server = await raw_server(canned(OK))

    async def lines() -> AsyncIterator[str]:
        for i in range(10):
            await curio.sleep(0)
            yield f"{server.url}/{i}"

    async with asks.fetch_many(lines(), concurrency=3) as results:
        got = await collect(results)
    assert sorted(r.url for r in got) == sorted(f"{server.url}/{i}" for i in range(10))


async def test_an_async_generator_left_half_way_is_closed_in_its_task(raw_server: Any) -> None:
    server = await raw_server(canned(OK))
    closed = False

    async def lines() -> AsyncIterator[str]:
        nonlocal closed
        try:
            for i in range(10_000):
                yield f"{server.url}/{i}"
        finally:
            await curio.sleep(0)  # an await in finally: curio wants it closed in a task
            closed = True

    async with asks.fetch_many(lines(), concurrency=2, lookahead=5) as results:
        async for _ in results:
            break
    assert closed


async def test_an_input_that_fails_raises_after_the_results_before_it(raw_server: Any) -> None:
    server = await raw_server(canned(OK))

    def lines() -> Iterator[str]:
        yield server.url + "/1"
        raise OSError("the disk went away")

    got: list[asks.FetchResult] = []
    with pytest.raises(OSError, match="the disk went away"):
        async with asks.fetch_many(lines()) as results:
            async for result in results:
                got.append(result)
    assert [r.url for r in got] in ([], [server.url + "/1"])


async def test_a_bug_in_a_worker_reaches_the_consumer(
    raw_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = await raw_server(canned(OK))

    async def broken(self: Any, url: str) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(asks.FetchResults, "_fetch", broken)
    with pytest.raises(RuntimeError, match="a bug"):
        async with asks.fetch_many([f"{server.url}/{i}" for i in range(50)]) as results:
            async for _ in results:
                pass


def test_as_json_keeps_the_fields_of_asks_fetch_and_adds_the_new_ones() -> None:
    plain = asks.FetchResult("http://h/", status=200, size=5, elapsed=0.5)
    assert json.loads(plain.as_json()) == {
        "url": "http://h/",
        "status": 200,
        "bytes": 5,
        "elapsed": 0.5,
        "error": None,
    }
    assert json.loads(plain.as_json(with_file=True))["file"] is None
    full = asks.FetchResult(
        "http://h/x",
        headers={"content-type": "text/html"},
        content=b"not in json",
        error="ConnectFailed: no",
        error_type="ConnectFailed",
        file="h_x-0123.html",
        skipped="robots.txt",
    )
    assert json.loads(full.as_json()) == {
        "url": "http://h/x",
        "status": None,
        "bytes": 0,
        "elapsed": 0.0,
        "error": "ConnectFailed: no",
        "error_type": "ConnectFailed",
        "file": "h_x-0123.html",
        "headers": {"content-type": "text/html"},
        "skipped": "robots.txt",
    }
    assert "\n" not in full.as_json()
    odd = asks.FetchResult("http://h/\u00e9\ud800")  # a lone surrogate, from a caller's str
    assert odd.as_json().isascii()
    assert json.loads(odd.as_json())["url"] == "http://h/\u00e9\ud800"
    with pytest.raises(AttributeError):
        full.url = "other"  # type: ignore[misc]


# -- the session -----------------------------------------------------------------------


async def test_a_session_of_its_own_has_polite_defaults_and_is_closed(raw_server: Any) -> None:
    handler = canned(OK)
    server = await raw_server(handler)
    async with asks.fetch_many([server.url + "/"], concurrency=9) as results:
        session = results.session
        await collect(results)
        assert session.connections == kept_connections(9)
        assert session._pool.per_host == DEFAULT_CONNECTIONS_PER_HOST == 4  # type: ignore[attr-defined]
        assert session._retries == asks.Retry(
            total=3, status_forcelist=(429, 503), respect_retry_after=True
        )
        assert session.pool_stats().open == 1
    assert session.pool_stats().open == 0
    [(request, _)] = handler.requests
    assert dict(request.headers)[b"user-agent"] == _USER_AGENT.encode()
    assert f"python-asks/{asks.__version__}" == _USER_AGENT


async def test_request_headers_override_the_user_agent(raw_server: Any) -> None:
    handler = canned(OK)
    server = await raw_server(handler)
    async with asks.fetch_many(
        [server.url + "/"], request_headers={"User-Agent": "mybot/2", "X-A": "b"}
    ) as results:
        await collect(results)
    headers = dict(handler.requests[0][0].headers)
    assert (headers[b"user-agent"], headers[b"x-a"]) == (b"mybot/2", b"b")


async def test_a_given_session_is_used_as_is_and_left_open(raw_server: Any) -> None:
    server = await raw_server(canned(OK))
    async with asks.Session(connections=2) as session:
        async with asks.fetch_many([server.url + "/"] * 5, session=session) as results:
            assert results.session is session
            got = await collect(results)
        assert len(got) == 5
        assert session.pool_stats().idle >= 1  # still open, for the caller


async def test_a_503_is_retried_by_the_polite_default(raw_server: Any) -> None:
    answers = [b"HTTP/1.1 503 Busy\r\nRetry-After: 0\r\nContent-Length: 0\r\n\r\n", OK]

    async def handler(sock: Any) -> None:
        while await read_request(sock) is not None:
            await sock.sendall(answers.pop(0))

    server = await raw_server(handler)
    async with asks.fetch_many([server.url + "/"]) as results:
        [result] = await collect(results)
    assert result.status == 200
    assert answers == []


# -- bounded: concurrency, per host, lookahead ------------------------------------------


async def test_a_host_with_a_backlog_does_not_hold_up_another_host(raw_server: Any) -> None:
    gate = curio.Event()
    seen_a: list[str] = []
    busy = await raw_server(gated(gate, seen_a), host="127.0.0.2")
    free = await raw_server(canned(OK), host="127.0.0.3")
    urls = [f"{busy.url}/{i}" for i in range(100)] + [free.url + "/"]
    session = asks.Session(connections=10, connections_per_host=4)
    async with session, asks.fetch_many(urls, session=session, concurrency=10) as results:
        first = await results.__anext__()
        # The other host's URL came through while the busy one held its 4.
        assert first.url == free.url + "/"
        assert len(seen_a) == 4
        # No request of the run waits in the pool for a per-host slot.
        assert session.pool_stats().waiting == 0
        await gate.set()
        rest = await collect(results)
    assert len(rest) == 100
    assert sorted(seen_a) == sorted(f"/{i}" for i in range(100))


async def test_concurrency_bounds_the_requests_in_flight(raw_server: Any) -> None:
    gate = curio.Event()
    seen: list[list[str]] = [[], [], []]
    servers = [await raw_server(gated(gate, seen[i]), host=f"127.0.0.{i + 4}") for i in range(3)]
    urls = [f"{s.url}/{i}" for i in range(20) for s in servers]
    async with asks.fetch_many(urls, concurrency=5) as results:
        session = results.session
        while sum(map(len, seen)) < 5:
            await curio.sleep(0)
        # 5 in flight at most; nothing else waits in the pool.
        assert session.pool_stats().busy + session.pool_stats().connecting <= 5
        assert session.pool_stats().waiting == 0
        await gate.set()
        got = await collect(results)
    assert len(got) == 60
    assert sum(map(len, seen)) == 60


async def test_the_input_is_read_a_bounded_amount_ahead(raw_server: Any) -> None:
    gate = curio.Event()
    seen: list[str] = []
    server = await raw_server(gated(gate, seen))
    read = 0

    def endless() -> Iterator[str]:
        nonlocal read
        while True:
            read += 1
            yield f"{server.url}/{read}"

    async with asks.Session(connections=20, connections_per_host=4) as session:
        async with asks.fetch_many(endless(), session=session, lookahead=50) as results:
            while len(seen) < 4:
                await curio.sleep(0)
            for _ in range(20):
                await curio.sleep(0)
            # 4 handed out to the one host, 50 waiting, one more being added.
            assert read <= 4 + 50 + 1
            await gate.set()
            async for result in results:
                assert result.status == 200
                if read > 500:
                    break
        # Left early: nothing in flight, nothing waiting, the connections back.
        assert session.pool_stats().busy == 0
        assert session.pool_stats().waiting == 0


# -- leaving early -----------------------------------------------------------------------


async def test_leaving_early_on_an_exception_cancels_what_is_in_flight(raw_server: Any) -> None:
    gate = curio.Event()
    seen: list[str] = []
    server = await raw_server(gated(gate, seen))
    fast = await raw_server(canned(OK), host="127.0.0.8")
    urls = [f"{server.url}/{i}" for i in range(10)] + [fast.url + "/"]
    async with asks.Session(connections=10, connections_per_host=4) as session:
        with pytest.raises(KeyError):
            async with asks.fetch_many(urls, session=session) as results:
                async for _ in results:
                    raise KeyError("stop")
        assert session.pool_stats().busy == 0
        assert session.pool_stats().waiting == 0
        assert session.pool_stats().open == session.pool_stats().idle
    await gate.set()  # the handlers go back to reading: they meet the closed sockets
    await server.wait_open_connections(0)


async def test_cancelling_the_consumer_leaves_no_task_or_socket(raw_server: Any) -> None:
    gate = curio.Event()
    seen: list[str] = []
    server = await raw_server(gated(gate, seen))

    async def consume() -> None:
        async with asks.fetch_many([f"{server.url}/{i}" for i in range(10)]) as results:
            await collect(results)

    task = await curio.spawn(consume)
    while len(seen) < 4:
        await curio.sleep(0)
    await task.cancel()
    await gate.set()
    await server.wait_open_connections(0)
    # The conftest fails the test if a task or a file descriptor is left.


async def test_a_run_starts_once_and_iterates_only_inside_the_block() -> None:
    results = asks.fetch_many([])
    with pytest.raises(RuntimeError):
        await results.__anext__()
    with pytest.raises(RuntimeError):
        results.session  # noqa: B018
    async with results:
        assert await collect(results) == []
        with pytest.raises(RuntimeError):
            await results.__aenter__()


# -- shards ------------------------------------------------------------------------------


async def test_a_shard_fetches_only_its_hosts_and_the_shards_cover_the_input() -> None:
    urls = [dead_url(f"127.0.{a}.{b}") for a in range(1, 3) for b in range(1, 11)]
    seen: list[set[str]] = []
    for k in range(3):
        async with asks.fetch_many(urls, shard=(k, 3), retries=0) as results:
            got = {r.url for r in await collect(results)}
        assert got == {u for u in urls if shard_of(u, 3) == k}
        seen.append(got)
    assert set().union(*seen) == set(urls)
    assert sum(map(len, seen)) == len(urls)


# -- bad arguments ---------------------------------------------------------------------


def test_a_misspelt_request_keyword_is_refused_naming_it_not_failed_per_url() -> None:
    with pytest.raises(TypeError, match="follow_redirect"):
        asks.fetch_many(["http://127.0.0.1/"], follow_redirect=False)
    # What Session.request takes is passed on.
    asks.fetch_many(
        ["http://127.0.0.1/"], follow_redirects=False, retries=0, connection_timeout=5, path="/"
    )


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"concurrency": 0}, ValueError),
        ({"concurrency": 2.5}, TypeError),
        ({"concurrency": True}, TypeError),
        ({"lookahead": 0}, ValueError),
        ({"shard": (2, 2)}, ValueError),
        ({"shard": (-1, 2)}, ValueError),
        ({"shard": [0, 2]}, ValueError),
        ({"method": ""}, ValueError),
        ({"stream": True}, TypeError),
        ({"strem": True}, TypeError),
    ],
)
def test_bad_arguments_are_refused_before_anything_runs(
    kwargs: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        asks.fetch_many(["http://127.0.0.1/"], **kwargs)


async def test_a_list_over_many_origins_reuses_a_connection_per_origin(raw_server: Any) -> None:
    # 20 origins, 10 URLs each, in random order, 4 at a time: with the pool
    # at the concurrency, nearly every URL would close one connection and
    # open another; a crawl's session keeps them for the next URL.
    servers = [await raw_server(canned(OK), host=f"127.0.1.{i + 1}") for i in range(20)]
    urls = [f"{server.url}/{n}" for server in servers for n in range(10)]
    random.Random(7).shuffle(urls)
    async with asks.fetch_many(urls, concurrency=4) as results:
        got = await collect(results)
    assert sorted(r.url for r in got) == sorted(urls)
    assert {r.status for r in got} == {200}
    opened = sum(server.accepted for server in servers)
    assert opened <= 40, opened  # 200 URLs; about one connection per origin


def test_kept_connections_is_bounded_by_the_open_file_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import resource

    assert kept_connections(10) == min(
        10 + KEPT_CONNECTIONS, resource.getrlimit(resource.RLIMIT_NOFILE)[0] // 2
    )
    monkeypatch.setattr(resource, "getrlimit", lambda which: (256, 4096))
    assert kept_connections(10) == 128
    assert kept_connections(500) == 500  # never below the concurrency


def test_kept_connections_are_idle_ones_besides_those_in_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # At 1,000 in flight the pool used to be just those 1,000, all busy: a
    # URL of another origin then closed one and opened one, for almost every
    # URL of a crawl over many origins.
    import resource

    monkeypatch.setattr(resource, "getrlimit", lambda which: (65536, 65536))
    assert kept_connections(20) == 20 + KEPT_CONNECTIONS
    assert kept_connections(1000) == 1000 + KEPT_CONNECTIONS
    monkeypatch.setattr(resource, "getrlimit", lambda which: (3000, 65536))
    assert kept_connections(1000) == 1500  # half the descriptors


@pytest.mark.parametrize("file", [None, "a.txt"])
def test_a_fetched_result_is_the_one_the_dataclass_makes(file):
    # _fetched skips the frozen dataclass's __init__ (asks.crawl): it must
    # give the same fields, equality, repr and frozenness, whatever a later
    # change adds to FetchResult.
    fast = _fetched("http://a.test/", 200, {"content-type": "x"}, b"ab", 2, 0.5, file)
    slow = FetchResult(
        "http://a.test/",
        status=200,
        headers={"content-type": "x"},
        content=b"ab",
        size=2,
        elapsed=0.5,
        file=file,
    )
    assert fast == slow and repr(fast) == repr(slow)
    assert dataclasses.asdict(fast) == dataclasses.asdict(slow)
    assert set(vars(fast)) == {f.name for f in dataclasses.fields(FetchResult)}
    assert fast.ok and not fast.failed
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.size = 3  # type: ignore[misc]
