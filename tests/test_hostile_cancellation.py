"""Cancellation and abandoned streams: no slot or socket leaks.

reliability.md row 19 (cancellation at every phase, many tasks, few
connections) and row 20 (a stream abandoned half-read), plus a callback
that raises. Shared helpers and the invariants every case checks:
tests/hostile_helpers.py.
"""

from __future__ import annotations

import curio
import curio.socket
import pytest

import asks
from asks.errors import ConnectivityError, RequestTimeout
from tests.hostile_helpers import CALL_TIMEOUT, OK, assert_released, drain, fetch
from tests.servers import canned, read_request

# --------------------------------------------------------------------------
# Row 19: cancellation at every phase, many tasks, few connections


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


@pytest.mark.curio_timeout(30)
async def test_row19_cancellations_at_every_phase_leak_no_slot(raw_server, client_ssl_context):
    release = curio.Event()
    holding = Counter()
    head_stalls = Counter()
    body_stalls = Counter()
    streams_open = Counter()
    together = Counter()

    async def app(sock):
        while (got := await read_request(sock)) is not None:
            path = got[0].target
            if path == b"/hold":
                await holding.bump()
                await release.wait()
            elif path.startswith(b"/together/"):
                await together.bump()
                await together.reached(int(path.rsplit(b"/", 1)[1]))
            elif path.startswith(b"/stall-head"):
                await head_stalls.bump()
                await drain(sock)
                return
            elif path.startswith(b"/stall-body"):
                await sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789")
                await body_stalls.bump()
                await drain(sock)
                return
            await sock.sendall(OK)

    tls_connects = Counter()

    async def tls_blackhole(sock):
        await tls_connects.bump()
        await drain(sock)

    server = await raw_server(app)
    blackhole = await raw_server(tls_blackhole)
    dark_url = blackhole.url.replace("http://", "https://")
    s = asks.Session(connections=4, ssl_context=client_ssl_context)
    spawned = 0
    results: list = []

    async def ok(path="/ok", stream=False):
        r, content = await fetch(s, server.url + path, stream=stream)
        results.append((r.status_code, content))

    async def spawn(coro):
        nonlocal spawned
        spawned += 1
        return await curio.spawn(coro)

    async def fill_the_pool():
        # Four requests at once, each held until all four are in: four
        # connections, idle afterwards. A task given a timeout below then
        # takes an idle connection and writes its request into an empty
        # socket buffer without blocking once, and curio delivers a timeout
        # only at a blocking point: the request is out before the timeout
        # can fire, however late the timer runs out on a loaded machine
        # (a fresh connection would block in connect(), and a timeout
        # firing there would never send the request the server counts).
        url = f"{server.url}/together/{together.n + 4}"
        warming = [await curio.spawn(fetch(s, url, stream=False)) for _ in range(4)]
        for task in warming:
            assert (await task.join())[1] == b"ok"
        assert s._pool.idle == s._pool.open == 4

    async def cancel_all(tasks):
        for task in tasks:
            await task.cancel()

    async def expect_timeout(tasks):
        for task in tasks:
            await task.wait()
            assert isinstance(task.exception, curio.TaskTimeout), task.exception

    # -- waiting for a slot: four requests hold every slot.
    holders = [await spawn(ok("/hold")) for _ in range(4)]
    await holding.reached(4)
    cancelled = [await spawn(ok()) for _ in range(8)]
    timed_out = [await spawn(curio.timeout_after(0.05, ok())) for _ in range(8)]
    patient = [await spawn(ok(stream=bool(i % 2))) for i in range(12)]
    while s._pool.waiting < 28:
        await curio.sleep(0)  # let every task reach the pool's queue
    await cancel_all(cancelled)
    await expect_timeout(timed_out)
    assert s._pool.waiting == 12
    await release.set()
    for task in holders + patient:
        await task.join()

    # -- connecting (TCP up, TLS handshake never answered).
    timed_out = [
        await spawn(curio.timeout_after(0.2, fetch(s, dark_url, stream=False, retries=0)))
        for _ in range(4)
    ]
    cancelled = [await spawn(fetch(s, dark_url, stream=True, retries=0)) for _ in range(4)]
    patient = [await spawn(ok()) for _ in range(4)]
    await expect_timeout(timed_out)
    await tls_connects.reached(8)
    await cancel_all(cancelled)
    for task in patient:
        await task.join()

    # -- reading the response head.
    await fill_the_pool()
    timed_out = [
        await spawn(curio.timeout_after(0.2, ok("/stall-head", stream=bool(i % 2))))
        for i in range(4)
    ]
    cancelled = [await spawn(ok("/stall-head", stream=bool(i % 2))) for i in range(4)]
    patient = [await spawn(ok()) for _ in range(4)]
    await expect_timeout(timed_out)
    await head_stalls.reached(8)
    await cancel_all(cancelled)
    for task in patient:
        await task.join()

    # -- reading the body, buffered.
    await fill_the_pool()
    timed_out = [await spawn(curio.timeout_after(0.2, ok("/stall-body"))) for _ in range(4)]
    cancelled = [await spawn(ok("/stall-body")) for _ in range(4)]
    patient = [await spawn(ok()) for _ in range(4)]
    await expect_timeout(timed_out)
    await body_stalls.reached(8)
    await cancel_all(cancelled)
    for task in patient:
        await task.join()

    # -- reading the body of a stream.
    async def stream_body(bound: float | None):
        async with await s.get(server.url + "/stall-body", stream=True) as r:
            await streams_open.bump()
            if bound is None:
                async for _ in r.body:
                    pass
            else:
                await curio.timeout_after(bound, collect_body, r)

    async def collect_body(r):
        async for _ in r.body:
            pass

    timed_out = [await spawn(stream_body(0.2)) for _ in range(4)]
    cancelled = [await spawn(stream_body(None)) for _ in range(4)]
    patient = [await spawn(ok()) for _ in range(4)]
    await expect_timeout(timed_out)
    await streams_open.reached(8)
    await cancel_all(cancelled)
    for task in patient:
        await task.join()

    # -- afterwards: nothing busy, nobody waiting, and every slot works.
    assert s._pool.waiting == 0
    assert s._pool.open == s._pool.idle <= 4
    last = [await spawn(ok(stream=bool(i % 2))) for i in range(20)]
    for task in last:
        await task.join()
    assert spawned == 100
    assert results == [(200, b"ok")] * (4 + 12 + 4 + 4 + 4 + 4 + 20)
    await s.close()
    assert s._pool.open == 0


# --------------------------------------------------------------------------
# Row 20: a stream abandoned half-read


BIG = b"HTTP/1.1 200 OK\r\nContent-Length: 4194304\r\n\r\n" + b"b" * 4194304


async def leave_async_with_body(r):
    async with r.body:
        async for _ in r.body:
            break


async def leave_async_with_response(r):
    async with r:
        pass


async def close_after_one_chunk(r):
    async for _ in r.body:
        break
    await r.body.close()


async def raise_inside_async_with(r):
    with pytest.raises(KeyError):
        async with r:
            async for _ in r.body:
                raise KeyError("the caller's own bug")


@pytest.mark.parametrize(
    "abandon",
    [
        leave_async_with_body,
        leave_async_with_response,
        close_after_one_chunk,
        raise_inside_async_with,
    ],
)
async def test_row20_abandoned_stream_closes_its_connection(raw_server, abandon):
    server = await raw_server(canned(BIG))
    async with asks.Session(connections=1) as s:
        r = await s.get(server.url, stream=True, timeout=CALL_TIMEOUT)
        await abandon(r)
        assert_released(s)
        r, content = await fetch(s, server.url, stream=True)
        assert len(content) == 4194304
    assert server.accepted == 2


def partial_on_the_first_connection():
    """A handler: 10 of 1,000 body bytes on the first connection, then silence; "ok" after."""
    partial = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789"
    connections = 0

    async def handler(sock):
        nonlocal connections
        connections += 1
        first_connection = connections == 1
        while await read_request(sock) is not None:
            if first_connection:
                await sock.sendall(partial)
                await drain(sock)
                return
            await sock.sendall(OK)

    return handler


@pytest.mark.parametrize("how", ["Task.cancel", "timeout_after", "per-read-timeout"])
async def test_row20_stream_reader_cancelled_mid_body_frees_the_slot(raw_server, how):
    first = curio.Event()
    handler = partial_on_the_first_connection()

    server = await raw_server(handler)
    async with asks.Session(connections=1) as s:
        r = await s.get(server.url, stream=True, timeout=CALL_TIMEOUT)

        async def reader(timeout=None):
            async for _ in r.body(timeout=timeout):
                await first.set()

        if how == "Task.cancel":
            task = await curio.spawn(reader)
            await first.wait()
            await task.cancel()
        elif how == "timeout_after":
            with pytest.raises(curio.TaskTimeout):
                await curio.timeout_after(0.2, reader)
        else:
            with pytest.raises(RequestTimeout):
                await reader(timeout=0.2)
        assert_released(s)
        r, content = await fetch(s, server.url, stream=True)
        assert content == b"ok"
    assert server.accepted == 2


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
@pytest.mark.parametrize("decoded", [False, True], ids=["raw", "per-read-timeout"])
async def test_a_stream_closed_by_another_task_ends_the_read_waiting_on_it(
    raw_server, server_ssl_context, client_ssl_context, tls, decoded
):
    # A watchdog closes a download another task is reading. curio does not
    # wake a task whose socket is closed under it: the reader waited forever.
    # It must end with an asks error, and the slot be free.
    first = curio.Event()
    handler = partial_on_the_first_connection()

    server = await raw_server(handler, ssl_context=server_ssl_context if tls else None)
    async with asks.Session(connections=1, ssl_context=client_ssl_context) as s:
        r = await s.get(server.url, stream=True, timeout=CALL_TIMEOUT)

        async def reader():
            # (A per-read timeout takes the body's other read path.)
            async for _ in r.body(timeout=CALL_TIMEOUT if decoded else None):
                await first.set()  # the reader goes on into its next read, and waits

        task = await curio.spawn(reader)
        await first.wait()
        await r.body.close()
        await curio.timeout_after(CALL_TIMEOUT, task.wait)
        assert isinstance(task.exception, ConnectivityError), repr(task.exception)
        assert "closed while being read" in str(task.exception)
        assert_released(s)
        r, content = await fetch(s, server.url, stream=True)
        assert content == b"ok"
    assert server.accepted == 2


async def test_row20_module_level_stream_abandoned_closes_its_session(raw_server):
    eof = curio.Event()

    async def handler(sock):
        try:
            await read_request(sock)
            await sock.sendall(BIG)  # fails once the client has closed
            await drain(sock)
        finally:
            await eof.set()

    server = await raw_server(handler)
    r = await asks.get(server.url, stream=True, timeout=CALL_TIMEOUT)
    async with r:
        async for _ in r.body:
            break
    await eof.wait()  # the temporary session's socket is closed


# --------------------------------------------------------------------------
# A callback that raises


async def test_callback_that_raises_frees_the_slot(raw_server):
    server = await raw_server(canned(BIG))

    async def callback(chunk):
        raise KeyError("the caller's own bug")

    async with asks.Session(connections=1) as s:
        with pytest.raises(KeyError):
            await s.get(server.url, callback=callback, timeout=CALL_TIMEOUT)
        assert_released(s)
        _r, content = await fetch(s, server.url, stream=False)
        assert len(content) == 4194304
    assert server.accepted == 2
