"""Load and soak (reliability.md): many requests, many connections, flat resources.

These are tests, not benchmarks: loopback only, bounded in count and time,
and they run in CI (``-m slow`` selects them, ``-m "not slow"`` skips them).
Run with ``-s`` to see the figures they print.

* Soak: GETs through ``connections=100`` against a server that closes each
  keep-alive connection at a random moment - zero failures, no socket left
  behind, and memory that stops growing once warm.
* Fan-out: 1,000 streaming downloads open at once - memory per connection
  stays bounded, and every body arrives whole.
"""

from __future__ import annotations

import gc
import os
import random
import resource
import time

import curio
import pytest

import asks
from asks.errors import AsksException
from tests.servers import RawServer, read_request

pytestmark = pytest.mark.slow

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

# The full 100,000 of reliability.md. Measured on 2 cores, client and server
# sharing one process and one curio kernel: 19 to 35 s (2,850 to 5,300
# requests/s, depending on what else the machine ran), the whole file 21 to
# 40 s. If CI machines turn out slower, 20,000 (4 to 7 s) still shows flat
# memory: RSS stops moving after the first few thousand requests.
SOAK_REQUESTS = 100_000
SOAK_CONNECTIONS = 100
SOAK_WORKERS = 300  # more tasks than connections, so requests queue for slots
SOAK_SEED = 20240601

STREAMS = 1_000
PIECE = b"s" * 65536
PIECES = 8  # 512 KiB per download


def open_fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


def rss() -> int:
    """The process's resident set size in bytes (VmRSS)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def peak_rss() -> int:
    """The process's peak resident set size so far, in bytes (VmHWM)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc/self/status")


class LoadServer(RawServer):
    """A RawServer with a listen backlog for a thousand simultaneous connects.

    RawServer listens with a backlog of 128; a burst beyond it has its SYNs
    dropped and retried a second later, which would make the fan-out test
    measure TCP's retransmission timer.
    """

    async def start(self) -> LoadServer:
        await super().start()
        assert self._listener is not None
        self._listener.listen(2048)
        return self


class Counter:
    """A number tasks can wait on: ``await counter.reached(n)``."""

    def __init__(self) -> None:
        self.n = 0
        self._changed = curio.Event()

    async def bump(self) -> None:
        self.n += 1
        changed, self._changed = self._changed, curio.Event()
        await changed.set()

    async def reached(self, n: int) -> None:
        while self.n < n:
            await self._changed.wait()


# A guard against a hang, not a speed limit: 100,000 requests took 40-60 s
# here, and over 120 s on a machine also running three other suites.
@pytest.mark.curio_timeout(360)
async def test_soak_server_dropping_keep_alive_connections_at_random_costs_no_get():
    rng = random.Random(SOAK_SEED)
    closed_polite = closed_rude = 0

    async def fickle(sock):
        # Each connection serves 1..50 responses, then either closes right
        # after the last one (the client may be sending on it already) or
        # waits for the next request and closes without answering it.
        nonlocal closed_polite, closed_rude
        budget = rng.randint(1, 50)
        rude = rng.random() < 0.5
        served = 0
        while await read_request(sock) is not None:
            if served == budget:
                closed_rude += 1
                return
            await sock.sendall(OK)
            served += 1
            if served == budget and not rude:
                closed_polite += 1
                return

    fds_start = open_fd_count()
    started = time.monotonic()
    issued = done = 0
    failures: list[BaseException] = []
    rss_half = 0

    async with LoadServer(fickle) as server:
        session = asks.Session(connections=SOAK_CONNECTIONS)

        async def worker():
            nonlocal issued, done, rss_half
            while issued < SOAK_REQUESTS:
                issued += 1
                try:
                    r = await session.get(server.url + "/soak", timeout=30)
                    if (r.status_code, r.body) != (200, b"ok"):
                        raise AssertionError(f"wrong answer {r.status_code} {r.body!r}")
                except (AsksException, AssertionError) as exc:
                    failures.append(exc)
                done += 1
                if done == SOAK_REQUESTS // 2:
                    gc.collect()
                    rss_half = rss()
                assert session._pool.open <= SOAK_CONNECTIONS

        async with curio.TaskGroup(wait=all) as workers:
            for _ in range(SOAK_WORKERS):
                await workers.spawn(worker)
        gc.collect()
        rss_end = rss()
        open_at_end = session._pool.open
        await session.close()
        assert session._pool.open == 0
        accepted = server.accepted
    elapsed = time.monotonic() - started
    fds_end = open_fd_count()

    print(
        f"\nsoak: {done} requests in {elapsed:.1f} s ({done / elapsed:.0f}/s), "
        f"{len(failures)} failures, {accepted} connections accepted "
        f"({closed_polite} closed after a response, {closed_rude} on a request), "
        f"{open_at_end} open at the end; fds {fds_start} -> {fds_end}; "
        f"RSS {rss_half >> 20} MiB at half-way, {rss_end >> 20} MiB at the end, "
        f"peak {peak_rss() >> 20} MiB"
    )
    assert failures == []
    assert done == SOAK_REQUESTS
    # The server really did drop connections under the client, many times.
    assert closed_polite > 50 and closed_rude > 50
    assert fds_end == fds_start
    # Warm by half-way: the second half must not keep growing.
    assert rss_end - rss_half < 4 * 1024 * 1024


@pytest.mark.curio_timeout(120)
async def test_a_thousand_concurrent_streams_use_bounded_memory_each():
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    # Client and server sides both live in this process: two fds a stream.
    assert soft > 2 * STREAMS + 100, f"RLIMIT_NOFILE {soft} is too low for {STREAMS} streams"

    head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (len(PIECE) * PIECES)
    first_pieces = Counter()
    all_mid_stream = curio.Event()

    async def download_server(sock):
        if await read_request(sock) is None:
            return
        await sock.sendall(head + PIECE)
        # Hold the rest until every client is in the middle of its body.
        await all_mid_stream.wait()
        for _ in range(PIECES - 1):
            await sock.sendall(PIECE)

    fds_start = open_fd_count()
    gc.collect()
    rss_start = rss()
    sizes: list[int] = []
    started = time.monotonic()

    async with LoadServer(download_server) as server:
        session = asks.Session(connections=STREAMS)

        async def download():
            r = await session.get(server.url + "/big", stream=True, timeout=60)
            size = 0
            async with r.body:
                async for chunk in r.body(timeout=60):
                    if size < len(PIECE) <= size + len(chunk):
                        await first_pieces.bump()
                    size += len(chunk)
            sizes.append(size)

        async with curio.TaskGroup(wait=all) as downloads:
            for _ in range(STREAMS):
                await downloads.spawn(download)
            await first_pieces.reached(STREAMS)
            gc.collect()
            rss_mid = rss()
            open_mid = session._pool.open
            await all_mid_stream.set()
        await session.close()
    elapsed = time.monotonic() - started
    fds_end = open_fd_count()
    per_stream = (rss_mid - rss_start) / STREAMS

    print(
        f"\nstreams: {len(sizes)} downloads of {len(PIECE) * PIECES >> 10} KiB "
        f"in {elapsed:.1f} s, {open_mid} connections open at once; RSS "
        f"{rss_start >> 20} MiB before, {rss_mid >> 20} MiB with all open "
        f"({per_stream / 1024:.0f} KiB per stream, both ends); fds {fds_start} -> {fds_end}"
    )
    assert sizes == [len(PIECE) * PIECES] * STREAMS
    assert open_mid == STREAMS
    assert fds_end == fds_start
    # Both ends of a connection in one process, a 64 KiB read buffer in
    # flight on each: well under a quarter of a MiB each.
    assert per_stream < 256 * 1024
