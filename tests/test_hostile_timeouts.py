"""Hostile servers: slow, stalled and silent servers.

reliability.md row 9 (a slow drip, a body that stops) and row 10 (a server
that never answers, a listener that never accepts, a TLS handshake that never
completes), plus a redirect or auth challenge whose body stalls. Shared
helpers and the invariants every case checks: tests/hostile_helpers.py.
"""

from __future__ import annotations

import contextlib
import math
import socket
import threading
import time
from collections.abc import Callable

import curio
import curio.kernel
import curio.socket
import pytest

import asks
from asks._transport.connect import Dialer
from asks.errors import AsksException, PoolTimeout, RequestTimeout
from tests.hostile_helpers import (
    MODES,
    OK,
    Answer,
    assert_released,
    cyclic_garbage,
    drain,
    fetch,
)
from tests.servers import read_request

# --------------------------------------------------------------------------
# Rows 9 and 10: slow and silent servers


def dripper(head: bytes, drip: bytes) -> Callable:
    """Send ``head`` at once, then ``drip`` one byte every 50 ms, forever."""

    async def handler(sock):
        if await read_request(sock) is None:
            return
        await sock.sendall(head)
        while True:
            for byte in drip:
                await sock.sendall(bytes([byte]))
                await curio.sleep(0.05)  # the pace of the drip, not a synchronisation

    return handler


@MODES
@pytest.mark.curio_timeout(5)
@pytest.mark.parametrize(
    ("head", "drip"),
    [
        pytest.param(b"", b"HTTP/1.1 200 OK\r\nX-Slow: ", id="drip-from-the-first-byte"),
        pytest.param(b"HTTP/1.1 200 OK\r\nX-Slow: ", b"a", id="drip-in-a-header"),
    ],
)
async def test_row9_slow_drip_head_times_out_at_the_deadline(raw_server, stream, head, drip):
    server = await raw_server(dripper(head, drip))
    async with asks.Session() as s:
        start = time.monotonic()
        with pytest.raises(RequestTimeout):
            await fetch(s, server.url, stream=stream, timeout=0.5)
        assert 0.5 <= time.monotonic() - start < 1.5
        assert_released(s)


@pytest.mark.curio_timeout(5)
async def test_row9_slow_drip_body_times_out_at_the_deadline_buffered(raw_server):
    server = await raw_server(dripper(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n", b"a"))
    async with asks.Session() as s:
        start = time.monotonic()
        with pytest.raises(RequestTimeout):
            await s.get(server.url, timeout=0.5)
        assert 0.5 <= time.monotonic() - start < 1.5
        assert_released(s)


@pytest.mark.curio_timeout(5)
async def test_row9_slow_drip_body_stream_is_bounded_by_the_callers_deadline(raw_server):
    # With stream=True, ``timeout`` ends at the head and each read is bounded
    # on its own (api.md); a drip beats a per-read bound, so the caller bounds
    # the whole read - and the stream must give its slot back when cancelled.
    server = await raw_server(dripper(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n", b"a"))
    async with asks.Session() as s:
        r = await s.get(server.url, stream=True, timeout=0.5)

        async def read_all():
            async for _ in r.body(timeout=0.5):
                pass

        start = time.monotonic()
        with pytest.raises(curio.TaskTimeout):
            await curio.timeout_after(0.5, read_all)
        assert time.monotonic() - start < 1.5
        assert_released(s)


@MODES
@pytest.mark.curio_timeout(5)
async def test_row9_body_that_stops_times_out_per_read(raw_server, stream):
    server = await raw_server(Answer(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc"))
    async with asks.Session() as s:
        start = time.monotonic()
        with pytest.raises(RequestTimeout):
            r = await s.get(server.url, stream=stream, timeout=0.5)
            async for _ in r.body(timeout=0.5):
                pass
        assert 0.5 <= time.monotonic() - start < 1.5
        assert_released(s)


@MODES
@pytest.mark.curio_timeout(5)
async def test_row10_server_that_never_answers_times_out(raw_server, stream):
    server = await raw_server(Answer(b""))  # reads the request, then silence
    async with asks.Session() as s:
        start = time.monotonic()
        with pytest.raises(RequestTimeout):
            await fetch(s, server.url, stream=stream, timeout=0.3)
        assert time.monotonic() - start < 1.3
        assert_released(s)


@MODES
@pytest.mark.curio_timeout(5)
async def test_row10_listener_that_never_accepts_times_out(stream):
    # The kernel completes the handshake into the backlog; nobody ever reads.
    listener = curio.socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/"
        async with asks.Session() as s:
            with pytest.raises(RequestTimeout):
                await fetch(s, url, stream=stream, timeout=0.3)
            assert_released(s)
    finally:
        await listener.close()


@MODES
@pytest.mark.curio_timeout(5)
@pytest.mark.parametrize("which", ["connection_timeout", "timeout"])
async def test_row10_tls_handshake_that_never_completes_times_out(
    raw_server, client_ssl_context, stream, which
):
    server = await raw_server(drain)  # accepts TCP, never says a TLS word
    url = server.url.replace("http://", "https://")
    async with asks.Session(ssl_context=client_ssl_context) as s:
        start = time.monotonic()
        with pytest.raises(RequestTimeout):
            await fetch(s, url, stream=stream, retries=0, **{which: 0.3})
        assert time.monotonic() - start < 1.3
        assert_released(s)


@pytest.mark.curio_timeout(5)
@pytest.mark.parametrize("route", ["direct", "proxy"])
@pytest.mark.parametrize("deadline", ["caller-ignore_after", "caller-timeout_after", "timeout"])
async def test_a_stalled_connect_without_connection_timeout_is_the_deadline_of_its_owner(
    raw_server, client_ssl_context, route, deadline
):
    # connection_timeout=None: the dial has no deadline of its own, so a
    # timeout that strikes in it is the call's or the caller's. It must
    # reach its owner as it came: the caller's timeout_after gets its
    # TaskTimeout (ignore_after returns None), the call's timeout= says so.
    silent = await raw_server(drain)  # accepts TCP, never says a word
    proxy = silent.url if route == "proxy" else None
    url = silent.url.replace("http://", "https://")
    async with asks.Session(ssl_context=client_ssl_context, proxy=proxy) as s:

        def call(**kwargs):
            return s.get(url, connection_timeout=None, retries=0, **kwargs)

        if deadline == "caller-ignore_after":
            assert await curio.ignore_after(0.2, call()) is None
        elif deadline == "caller-timeout_after":
            with pytest.raises(curio.TaskTimeout):
                await curio.timeout_after(0.2, call())
        else:
            with pytest.raises(RequestTimeout, match=r"no response within 0\.2 s"):
                await call(timeout=0.2)
        assert_released(s)


# --------------------------------------------------------------------------
# Timeouts curio cannot keep: infinite, too long, NaN


class _Waits(curio.kernel.Activation):
    """Counts the times the kernel's tasks wait for a socket to have data."""

    def __init__(self) -> None:
        self.count = 0
        self.changed = threading.Condition()

    def suspended(self, task, trap):
        if task.state == "READ_WAIT" and not task.daemon:  # not the kernel's own
            with self.changed:
                self.count += 1
                self.changed.notify_all()

    def wait_for(self, count: int) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: self.count >= count, timeout=10)


def _answer_in_two_parts(listener: socket.socket, waits: _Waits) -> None:
    # Each part only once the client waits for it, so that the kernel has
    # nothing to do but wait until the call's deadline - in select.
    conn, _ = listener.accept()
    with conn:
        data = b""
        while b"\r\n\r\n" not in data:
            data += conn.recv(65536)
        waits.wait_for(1)
        with contextlib.suppress(OSError):  # (the client gone: the test failed)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n")
            waits.wait_for(2)
            conn.sendall(b"ok")


@pytest.mark.parametrize(
    ("call", "body"),
    [({"timeout": math.inf}, None), ({"timeout": 3e6}, None), ({"stream": True}, math.inf)],
    ids=["timeout-inf", "timeout-35-days", "body-timeout-inf"],
)
def test_a_timeout_too_long_for_the_kernel_is_no_timeout(call, body):
    # curio's kernel waits for its nearest deadline in one select, which
    # cannot wait longer than 2**31 - 1 ms: a deadline beyond that crashed
    # the whole kernel (OverflowError) once every task waited for it. A
    # kernel of the test's own, with no deadline of the harness's in it.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    waits = _Waits()
    server = threading.Thread(target=_answer_in_two_parts, args=(listener, waits))
    server.start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/"

    async def main() -> bytes:
        async with asks.Session() as s:
            # (connection_timeout=None: no deadline of a connect came first,
            # whose leftover in curio's time queue would keep the select short.)
            r = await s.get(url, connection_timeout=None, **call)
            if not call.get("stream"):
                return r.content
            return b"".join([c async for c in r.body(timeout=body)])

    try:
        with curio.Kernel(activations=[waits]) as kernel:
            assert kernel.run(main) == b"ok"
    finally:
        with waits.changed:
            waits.count = 99
            waits.changed.notify_all()
        server.join()
        listener.close()


@pytest.mark.parametrize("name", ["timeout", "connection_timeout", "pool_timeout"])
async def test_a_nan_timeout_is_a_value_error_before_anything_is_sent(raw_server, name):
    handler = Answer(OK)
    server = await raw_server(handler)
    async with asks.Session() as s:
        with pytest.raises(ValueError, match=f"{name} must be a number of seconds"):
            await s.get(server.url, **{name: math.nan})
        r = await s.get(server.url, stream=True)
        with pytest.raises(ValueError, match="timeout must be a number of seconds"):
            r.body(timeout=math.nan)
        await r.body.close()
    assert handler.requests == 1


# --------------------------------------------------------------------------
# An intermediate response that stalls


@MODES
@pytest.mark.curio_timeout(5)
@pytest.mark.parametrize("status", [b"302 Found", b"401 Unauthorized"])
async def test_intermediate_response_with_a_stalled_body_times_out(raw_server, stream, status):
    # A redirect (or an auth challenge) is read whole before the next
    # request; a body that never ends must not hold the slot past the deadline.
    stalled = b"HTTP/1.1 %s\r\nLocation: /next\r\n" % status
    stalled += b'WWW-Authenticate: Digest realm="r", nonce="n"\r\n'
    stalled += b"Content-Length: 100\r\n\r\nabc"
    server = await raw_server(Answer(stalled))
    async with asks.Session() as s:
        with pytest.raises(RequestTimeout):
            await fetch(
                s, server.url, stream=stream, timeout=0.3, auth=asks.DigestAuth(("u", "p"))
            )
        assert_released(s)


# --------------------------------------------------------------------------
# A timeout leaves nothing for the garbage collector


def _timed_out(o: object) -> bool:
    # What a timeout that became a reference cycle leaves: curio's exception
    # (raised in its trap, which kept it), or asks' own made of it.
    return isinstance(o, curio.errors.CancelledError | AsksException)


async def _stalled_stream(s: asks.Session, url: str) -> None:
    r = await s.get(url, stream=True)
    async for _ in r.body(timeout=0.05):
        pass


async def _pool_full(s: asks.Session, url: str) -> None:
    r = await s.get(url, stream=True)  # holds the session's one connection
    try:
        await s.get(url, pool_timeout=0.05)
    finally:
        await r.close()


async def _crawl(s: asks.Session, url: str) -> None:
    async with asks.fetch_many([url], session=s, timeout=0.05) as results:
        [result] = [r async for r in results]
    assert result.error_type == "RequestTimeout"
    raise RequestTimeout("the crawl's result said so")  # counted as the others


TIMEOUTS = {
    "the call's timeout": lambda s, url: s.get(url, timeout=0.05),
    "the caller's own deadline": lambda s, url: curio.timeout_after(0.05, s.get, url),
    "a stream's read timeout": _stalled_stream,
    "pool_timeout": _pool_full,
    "a crawl's per-URL timeout": _crawl,
}


@pytest.mark.curio_timeout(10)
@pytest.mark.parametrize("how", list(TIMEOUTS))
async def test_a_timed_out_request_leaves_no_cycle_for_the_garbage_collector(raw_server, how):
    # curio raises a timeout from a trap frame that keeps it: exception,
    # traceback, frame, exception. Uncut, every timed-out request kept its
    # frames, connection, socket and call (about 35 objects) until the
    # collector ran; a crawl of dead hosts makes one per URL.
    server = await raw_server(Answer(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc"))
    url = server.url if how in ("a stream's read timeout", "pool_timeout") else None
    if url is None:
        url = (await raw_server(Answer(b""))).url  # reads the request, then silence
    attempt = TIMEOUTS[how]
    async with asks.Session(connections=1) as s:
        with cyclic_garbage(_timed_out) as held:
            for _ in range(3):
                with pytest.raises((RequestTimeout, PoolTimeout, curio.TaskTimeout)):
                    await attempt(s, url)
        assert held == []
        assert_released(s)


@pytest.mark.curio_timeout(10)
@pytest.mark.parametrize("whose", ["connection_timeout", "the caller's own deadline"])
async def test_a_connection_timeout_leaves_no_cycle_for_the_garbage_collector(monkeypatch, whose):
    async def never_connects(self, *args):
        await curio.sleep(60)

    monkeypatch.setattr(Dialer, "_open", never_connects)
    url = "http://127.0.0.1:9/"
    async with asks.Session(retries=0) as s:
        with cyclic_garbage(_timed_out) as held:
            for _ in range(3):
                if whose == "connection_timeout":
                    with pytest.raises(RequestTimeout, match="not connected within"):
                        await s.get(url, connection_timeout=0.05)
                else:
                    # Cut while connecting, under the session's own longer
                    # connection_timeout: the caller's deadline goes up
                    # through the pool and the session, not the transport's
                    # exchange.
                    with pytest.raises(curio.TaskTimeout):
                        await curio.timeout_after(0.05, s.get, url)
        assert held == []
        assert_released(s)
