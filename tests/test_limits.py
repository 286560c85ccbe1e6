"""Session(connections_per_host=, pool_timeout=) end to end, on loopback servers.

The servers count what they see: how many connections are open to each at
once, and which requests have arrived. A server that holds its answers
until the test lets them go stands for a slow host.
"""

from __future__ import annotations

import functools
import time

import curio
import pytest

import asks
from asks import PoolStats
from asks._cli.arguments import parse_args
from asks._cli.fetch import _fetch_plan
from asks.errors import PoolTimeout, RequestTimeout
from tests.fixtures import RawServerFactory
from tests.servers import read_request
from tests.test_cli import CHILD_DEADLINE, arun_asks, json_lines

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


class Host:
    """A handler that counts its open connections and can hold every answer."""

    def __init__(self, *, hold: bool = False) -> None:
        self.hold = hold  # answer only once ``released`` is set
        self.open = 0
        self.most_open = 0  # the most connections open at once
        self.answered = 0
        self.arrived = 0
        self.released = curio.Event()
        self.changed = curio.Event()

    async def until(self, arrived: int) -> None:
        while self.arrived < arrived:
            await self.changed.wait()

    async def _note(self) -> None:
        changed, self.changed = self.changed, curio.Event()
        await changed.set()

    async def __call__(self, sock: curio.io.Socket) -> None:
        self.open += 1
        self.most_open = max(self.most_open, self.open)
        try:
            while await read_request(sock) is not None:
                self.arrived += 1
                await self._note()
                if self.hold:
                    await self.released.wait()
                await sock.sendall(OK)
                self.answered += 1
        finally:
            self.open -= 1


async def gather(tasks: list[curio.Task], within: float = 10.0) -> list[object]:
    # A bound of its own, so a request held up fails here with a clear
    # message instead of at the test's deadline.
    async with curio.timeout_after(within):
        return [await task.join() for task in tasks]


# -- connections_per_host ------------------------------------------------------


@pytest.mark.parametrize("connections", [10, 4])
async def test_fifty_tasks_over_two_hosts_keep_to_the_per_host_limit(
    raw_server: RawServerFactory, connections: int
):
    slow, quick = Host(hold=True), Host()
    slow_server, quick_server = await raw_server(slow), await raw_server(quick)
    async with asks.Session(connections=connections, connections_per_host=3) as s:
        slow_tasks, quick_tasks = [], []
        for n in range(25):
            slow_tasks.append(await curio.spawn(s.get, f"{slow_server.url}/{n}"))
            quick_tasks.append(await curio.spawn(s.get, f"{quick_server.url}/{n}"))
        # The slow host's 3 connections are busy and 22 requests wait for
        # them; the quick host's 25 requests all go through meanwhile.
        quick_answers = await gather(quick_tasks)
        assert all(r.status_code == 200 for r in quick_answers)  # type: ignore[attr-defined]
        await slow.until(3)
        assert slow.answered == 0 and slow.arrived == 3
        assert s.pool_stats().waiting == 22
        await slow.released.set()
        slow_answers = await gather(slow_tasks)
        assert all(r.status_code == 200 for r in slow_answers)  # type: ignore[attr-defined]
        assert slow.answered == quick.answered == 25
        # Seen by the servers: never more than 3 at once to either host.
        assert slow.most_open == 3
        assert quick.most_open <= 3
        assert s.pool_stats().waiting == 0
        assert s.pool_stats().open <= connections


async def test_without_connections_per_host_one_host_may_take_every_connection(
    raw_server: RawServerFactory,
):
    slow = Host(hold=True)
    server = await raw_server(slow)
    async with asks.Session(connections=5) as s:
        tasks = [await curio.spawn(s.get, f"{server.url}/{n}") for n in range(8)]
        await slow.until(5)
        assert slow.most_open == 5
        await slow.released.set()
        await gather(tasks)


async def test_the_limit_counts_per_origin_so_another_port_is_another_host(
    raw_server: RawServerFactory,
):
    first, second = Host(hold=True), Host(hold=True)
    one, two = await raw_server(first), await raw_server(second)
    async with asks.Session(connections=10, connections_per_host=1) as s:
        tasks = [await curio.spawn(s.get, url) for url in (one.url, one.url, two.url)]
        await first.until(1)
        await second.until(1)
        assert s.pool_stats().waiting == 1  # the second request to `one`
        await first.released.set()
        await second.released.set()
        await gather(tasks)
        assert (first.most_open, second.most_open) == (1, 1)


@pytest.mark.parametrize("bad", [0, -1])
def test_connections_per_host_below_one_is_a_value_error(bad: int):
    with pytest.raises(ValueError, match="connections_per_host must be at least 1"):
        asks.Session(connections_per_host=bad)


# -- pool_timeout ----------------------------------------------------------------


async def busy_session(
    raw_server: RawServerFactory, connections: int = 1, **options: object
) -> tuple[asks.Session, Host, curio.Task, str]:
    """A session whose one connection (to the host) is held by a request in flight."""
    host = Host(hold=True)
    server = await raw_server(host)
    s = asks.Session(connections=connections, **options)  # type: ignore[arg-type]
    first = await curio.spawn(s.get, server.url + "/first")
    await host.until(1)
    return s, host, first, server.url


async def finish(s: asks.Session, host: Host, first: curio.Task) -> None:
    await host.released.set()
    await first.join()
    await s.close()


async def test_pool_timeout_raises_pool_timeout_a_request_timeout(
    raw_server: RawServerFactory,
):
    s, host, first, url = await busy_session(raw_server, pool_timeout=0.01)
    with pytest.raises(PoolTimeout, match=r"pool_timeout=0\.01") as raised:
        await s.get(url + "/second")
    assert isinstance(raised.value, RequestTimeout)
    assert s.pool_stats().waiting == 0  # the waiter left no trace
    assert host.arrived == 1  # nothing was sent
    await host.released.set()
    await first.join()
    assert s.pool_stats() == PoolStats(limit=1, open=1, idle=1, busy=0, connecting=0, waiting=0)
    await s.close()


async def test_a_calls_pool_timeout_replaces_the_sessions(raw_server: RawServerFactory):
    s, host, first, url = await busy_session(raw_server)  # no pool_timeout of its own
    with pytest.raises(PoolTimeout):
        await s.get(url + "/second", pool_timeout=0)
    await finish(s, host, first)


async def test_a_calls_pool_timeout_none_waits_past_the_sessions(raw_server: RawServerFactory):
    s, host, first, url = await busy_session(raw_server, pool_timeout=0)
    second = await curio.spawn(functools.partial(s.get, url + "/second", pool_timeout=None))
    while s.pool_stats().waiting == 0:
        await curio.sleep(0)
    await host.released.set()
    assert (await second.join()).status_code == 200
    await first.join()
    await s.close()


async def test_the_wait_for_a_connection_counts_against_the_calls_timeout(
    raw_server: RawServerFactory,
):
    s, host, first, url = await busy_session(raw_server, pool_timeout=30)
    started = time.monotonic()
    with pytest.raises(RequestTimeout) as raised:
        await s.get(url + "/second", timeout=0.02)
    assert not isinstance(raised.value, PoolTimeout)  # the call's timeout came first
    assert time.monotonic() - started < 5
    assert s.pool_stats().waiting == 0
    await finish(s, host, first)


async def test_cancelling_a_request_waiting_for_a_connection_leaks_nothing(
    raw_server: RawServerFactory,
):
    s, host, first, url = await busy_session(raw_server, pool_timeout=30)
    waiting = await curio.spawn(s.get, url + "/second")
    while s.pool_stats().waiting == 0:
        await curio.sleep(0)
    await waiting.cancel()
    assert s.pool_stats().waiting == 0
    await host.released.set()
    await first.join()
    again = await s.get(url + "/third")  # the one connection is still there
    assert again.status_code == 200
    stats = s.pool_stats()
    assert (stats.open, stats.idle, stats.waiting) == (1, 1, 0)
    assert host.arrived == 2  # the cancelled request was never sent
    await s.close()


async def test_pool_timeout_with_connections_per_host_bounds_the_hosts_queue(
    raw_server: RawServerFactory,
):
    # Room in the session: only the host's limit holds the call back.
    s, host, first, url = await busy_session(raw_server, connections=10, connections_per_host=1)
    with pytest.raises(PoolTimeout):
        await s.get(url + "/second", pool_timeout=0.01)
    assert s.pool_stats().waiting == 0
    await finish(s, host, first)


@pytest.mark.parametrize("where", ["session", "call"])
async def test_a_negative_pool_timeout_is_a_value_error(where: str):
    if where == "session":
        with pytest.raises(ValueError, match="pool_timeout must be 0 or more"):
            asks.Session(pool_timeout=-1)
    else:
        async with asks.Session() as s:
            with pytest.raises(ValueError, match="pool_timeout must be 0 or more"):
                await s.get("http://127.0.0.1:1/", pool_timeout=-1)


# -- asks fetch --connections-per-host -------------------------------------------


def test_fetch_connections_per_host_reaches_the_plan():
    plan = _fetch_plan(parse_args(["fetch", "-", "--connections-per-host", "2"]))
    assert plan.connections_per_host == 2
    # Polite by default, as fetch_many's own session (docs/crawling.md).
    assert _fetch_plan(parse_args(["fetch", "-"])).connections_per_host == 4


@pytest.mark.parametrize("value", ["0", "-2", "two"])
def test_fetch_connections_per_host_must_be_a_whole_number_from_one(value, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse_args(["fetch", "-", "--connections-per-host", value])
    assert exit_info.value.code == 2
    assert "--connections-per-host" in capsys.readouterr().err


@CHILD_DEADLINE  # a hung child fails the test, not the deadline
async def test_fetch_keeps_to_connections_per_host_with_more_workers(
    raw_server: RawServerFactory,
):
    host = Host(hold=True)
    server = await raw_server(host)

    async def release_once_two_arrived() -> None:
        await host.until(2)  # both connections the host may have are busy
        await host.released.set()

    releaser = await curio.spawn(release_once_two_arrived)
    listing = "".join(f"{server.url}/{n}\n" for n in range(12))
    result = await arun_asks(
        "fetch", "-", "--connections", "6", "--connections-per-host", "2", "--quiet",
        input=listing.encode(),
    )  # fmt: skip
    await releaser.join()
    assert result.returncode == 0, result.stderr
    assert [r["status"] for r in json_lines(result.stdout)] == [200] * 12
    assert host.most_open == 2
