"""One long-lived Session over tens of thousands of distinct hosts stays bounded.

A scraper sends URL after URL, each of another host, through one session.
Everything the session keeps per host, origin or pool key must stay within
a bound (or go when its last user does), however many hosts it meets.

The hosts are real origins on real sockets: every connection goes to one
Unix socket (``Session(uds=...)``), the URL's host name differs per request,
so each is another origin and another pool key, and nothing leaves the
machine. The checks are on the session's structures by size, and on the
memory blocks Python holds (``sys.getallocatedblocks``, which costs nothing
while the requests run, unlike tracemalloc): they must not grow with the
hosts.
"""

from __future__ import annotations

import contextlib
import gc
import socket
import sys
from pathlib import Path
from typing import Any

import curio
import pytest

import asks
from asks._rate import _SWEEP_MIN, limiter_of
from tests.servers import read_request

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


class KeepAliveServer:
    """A Unix socket server answering every request with a keep-alive 200."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.tasks: set[Any] = set()
        self.requests = 0

    async def __aenter__(self) -> KeepAliveServer:
        self.listener = curio.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.path)
        self.listener.listen(128)
        self.accepting = await curio.spawn(self._accept, daemon=True)
        return self

    async def _accept(self) -> None:
        while True:
            client, _ = await self.listener.accept()
            self.tasks.add(await curio.spawn(self._serve, client, daemon=True))

    async def _serve(self, client: curio.io.Socket) -> None:
        me = await curio.current_task()
        try:
            async with client:
                with contextlib.suppress(OSError):  # the client closed it
                    while await read_request(client) is not None:
                        self.requests += 1
                        await client.sendall(OK)
        finally:
            self.tasks.discard(me)

    async def __aexit__(self, *exc_info: object) -> None:
        await self.accepting.cancel()
        for task in list(self.tasks):
            await task.cancel()
        await self.listener.close()


def waiter_entries(pool: Any) -> int:
    """What the pool keeps for its waiters: queue entries and queued waiters."""
    return len(pool._waiters_by_key) + len(pool._waiters) + len(getattr(pool, "_parked", ()))


async def crawl(session: asks.Session, hosts: range, workers: int) -> int:
    """GET http://h<n>.test/ for each n in *hosts*, *workers* at a time.

    Returns:
        the most entries the pool kept for its waiters along the way (the
        end of a crawl is no test: the queues are emptied once nobody waits).
    """
    numbers = iter(hosts)
    most = 0

    async def worker() -> None:
        nonlocal most
        for number in numbers:
            r = await session.get(f"http://h{number}.test/", timeout=30)
            assert r.status_code == 200
            most = max(most, waiter_entries(session._pool))

    async with curio.TaskGroup() as group:
        for _ in range(workers):
            await group.spawn(worker)
    return most


def held() -> int:
    gc.collect()
    return sys.getallocatedblocks()


def assert_bounded(session: asks.Session, connections: int) -> None:
    pool: Any = session._pool
    assert len(pool._idle) <= connections and len(pool._all) <= connections
    assert pool._waiters_by_key == {} and len(pool._waiters) == 0
    assert len(getattr(pool, "_host_open", ())) <= connections
    assert not getattr(pool, "_parked", None)
    dialer = session._dialer
    assert len(dialer.keys) <= 256 and len(dialer.h1_only) <= 256
    assert len(session._transport._openers) <= 256
    assert len(session._requests._wire_cache) <= 1024
    # Buckets are swept once full again: those of hosts met in the last
    # millisecond or so, and never more than twice the sweep's threshold.
    assert limiter_of(session).bucket_count() <= 2 * _SWEEP_MIN
    assert limiter_of(session)._origins == {} and limiter_of(session)._held == {}


# Host counts are multiples of 1024: the caches that are emptied when full
# (1024 header blocks, 256 pool keys and openers) are then as full at both
# measurements.
@pytest.mark.curio_timeout(120)
@pytest.mark.parametrize(("per_host", "warm", "total"), [(None, 2048, 10240), (2, 5120, 20480)])
async def test_a_session_over_many_hosts_keeps_nothing_per_host(
    tmp_path: Path, per_host: int | None, warm: int, total: int
) -> None:
    # More workers than connections: the pool is never out of waiters, the
    # case where its per-key queues used to keep an entry per host.
    path = str(tmp_path / "s.sock")
    connections = 8
    kwargs: dict[str, Any] = {"connections_per_host": per_host} if per_host else {}
    async with (
        KeepAliveServer(path) as server,
        asks.Session(uds=path, connections=connections, rate_limit=1000, **kwargs) as session,
    ):
        # The first hosts fill every cache to its bound; after that, memory
        # must stay where it is.
        most = await crawl(session, range(warm), workers=32)
        assert_bounded(session, connections)
        before = held()
        most = max(most, await crawl(session, range(warm, total), workers=32))
        assert_bounded(session, connections)
        after = held()
        assert server.requests == total
    # At most every worker waiting, in the shared queue and its key's.
    assert most <= 2 * 32, f"the pool kept {most} entries for 32 workers' waits"
    # Anything kept per host would be a block a host or more (the queues'
    # leak was four: a deque, a waiter, its event, a key).
    more = total - warm
    assert after - before < more // 10, f"{after - before} blocks more after {more} more hosts"
