"""Hostile servers: connections that die, close, reset or never open.

reliability.md row 7 (a pooled connection dropped while idle is replaced
silently), row 8 (close or reset before or during the response) and row 11
(connection refused, a name that does not resolve), plus an idle connection
that receives an answer to no request. Shared helpers and the invariants
every case checks: tests/hostile_helpers.py.
"""

from __future__ import annotations

import socket
import time

import curio
import curio.socket
import pytest

import asks
from asks._transport.connect import Dialer
from asks.errors import (
    AsksException,
    BadHttpResponse,
    ConnectivityError,
    RequestTimeout,
    ServerClosedConnectionError,
)
from tests.hostile_helpers import (
    CHUNKED_HEAD,
    MODES,
    OK,
    Answer,
    assert_released,
    cyclic_garbage,
    drain,
    fetch,
    reset_on_close,
)
from tests.servers import read_request

# --------------------------------------------------------------------------
# Row 7: the server dropped an idle pooled connection


@MODES
@pytest.mark.parametrize("how", ["close-while-idle", "reset-while-idle", "close-on-next-request"])
async def test_row7_dead_pooled_connection_is_replaced_silently(raw_server, stream, how):
    dropped = curio.Event()

    async def handler(sock):
        if server.accepted == 1:
            assert await read_request(sock) is not None
            await sock.sendall(OK)
            if how == "close-on-next-request":
                # The race no idle check can see: the request goes out, the
                # server closes without a byte of answer.
                await read_request(sock)
                return
            if how == "reset-while-idle":
                reset_on_close(sock)
            await sock.close()
            await dropped.set()
            return
        while await read_request(sock) is not None:
            await sock.sendall(OK)

    server = await raw_server(handler)
    async with asks.Session() as s:
        r, content = await fetch(s, server.url, stream=stream)
        assert content == b"ok"
        assert s._pool.idle == 1
        if how != "close-on-next-request":
            await dropped.wait()
        # retries=0: the silent retry is not the caller's retry budget.
        r, content = await fetch(s, server.url, stream=stream, retries=0)
        assert (r.status_code, content) == (200, b"ok")
        assert (s._pool.open, s._pool.idle) == (1, 1)
    assert server.accepted == 2


# --------------------------------------------------------------------------
# Row 22: a dead pooled connection is resent once, on a new connection


@MODES
async def test_row22_the_resend_goes_to_a_new_connection_not_another_reused_one(
    raw_server, stream
):
    # Two pooled connections that both look alive and both die when the
    # next request arrives (the race no idle check can see). The resend
    # must open a third connection: trying the other pooled one would meet
    # the same fate and send the request a second time.
    served: list[int] = []

    async def handler(sock):
        number = server.accepted
        if number <= 2:
            assert await read_request(sock) is not None
            await sock.sendall(OK)
            if await read_request(sock) is not None:
                served.append(number)  # a request that died unanswered here
            return
        while await read_request(sock) is not None:
            served.append(number)
            await sock.sendall(OK)

    server = await raw_server(handler)
    async with asks.Session(connections=2) as s:
        first = await s.get(server.url, stream=True)
        second = await s.get(server.url, stream=True)
        for response in (first, second):
            assert b"".join([chunk async for chunk in response.body]) == b"ok"
        assert s.pool_stats().idle == 2
        r, content = await fetch(s, server.url, stream=stream, retries=0)
        assert (r.status_code, content) == (200, b"ok")
    assert server.accepted == 3
    # Sent once on a pooled connection that died, once on the new one.
    assert len(served) == 2 and served[-1] == 3


# --------------------------------------------------------------------------
# Row 8: the server closes or resets before or during the response


@MODES
@pytest.mark.parametrize("then", ["close", "reset"])
@pytest.mark.parametrize(
    ("method", "retries", "attempts"),
    [("GET", 0, 1), ("GET", 2, 3), ("PUT", 1, 2), ("POST", 2, 1)],
)
async def test_row8_no_answer_at_all_is_server_closed_after_retries(
    raw_server, stream, then, method, retries, attempts
):
    handler = Answer(b"", then)
    server = await raw_server(handler)
    async with asks.Session() as s:
        with pytest.raises(ServerClosedConnectionError):
            await fetch(s, server.url, stream=stream, method=method, retries=retries)
        assert_released(s)
    # Idempotent methods are retried ``retries`` times; POST never is.
    assert handler.requests == attempts


@MODES
@pytest.mark.parametrize("then", ["close", "reset"])
@pytest.mark.parametrize(
    "partial",
    [
        pytest.param(b"HTTP/1.1 200 O", id="in-status-line"),
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Le", id="in-headers"),
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n", id="before-blank-line"),
        pytest.param(b"HTTP/1.1 100 Continue\r\n\r\n", id="after-a-100"),
        pytest.param(b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n", id="after-a-103"),
    ],
)
async def test_row8_torn_head_is_an_error(raw_server, stream, then, partial):
    server = await raw_server(Answer(partial, then))
    async with asks.Session() as s:
        with pytest.raises((ServerClosedConnectionError, BadHttpResponse)) as caught:
            await fetch(s, server.url, stream=stream)
        assert_released(s)
    # The message says what happened, not h11's state machine.
    if then == "close":
        assert "closed the connection before the response head was complete" in str(caught.value)


@MODES
@pytest.mark.parametrize("then", ["close", "reset"])
@pytest.mark.parametrize(
    "partial",
    [
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 5000, id="CL"),
        pytest.param(CHUNKED_HEAD + b"1388\r\n" + b"x" * 2000, id="chunked"),
    ],
)
async def test_row8_close_in_the_middle_of_the_body_is_server_closed(
    raw_server, stream, then, partial
):
    server = await raw_server(Answer(partial, then))
    async with asks.Session() as s:
        with pytest.raises(ServerClosedConnectionError):
            await fetch(s, server.url, stream=stream)
        assert_released(s)


# --------------------------------------------------------------------------
# Row 11: nothing to connect to


async def free_port() -> int:
    """A port on 127.0.0.1 with nothing listening (bound once, then closed)."""
    sock = curio.socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
    finally:
        await sock.close()


@pytest.fixture
def connect_attempts(monkeypatch) -> list:
    """Every connection attempt the session makes, as (host, port)."""
    attempts: list = []
    real = Dialer.open_stream

    async def counting(self, origin, timeout):
        attempts.append((origin.host, origin.port))
        return await real(self, origin, timeout)

    monkeypatch.setattr(Dialer, "open_stream", counting)
    return attempts


@MODES
@pytest.mark.parametrize("retries", [0, 2])
@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_row11_connection_refused_is_connectivity_error_after_retries(
    connect_attempts, stream, retries, method
):
    url = f"http://127.0.0.1:{await free_port()}/"
    async with asks.Session() as s:
        start = time.monotonic()
        with pytest.raises(ConnectivityError) as info:
            await fetch(s, url, stream=stream, method=method, retries=retries)
        assert not isinstance(info.value, RequestTimeout)
        assert time.monotonic() - start < 1.0
        assert_released(s)
    # Nothing was sent, so even a POST may try again.
    assert len(connect_attempts) == retries + 1


@MODES
@pytest.mark.curio_timeout(15)
@pytest.mark.parametrize("retries", [0, 1])
async def test_row11_unresolvable_name_is_connectivity_error(
    connect_attempts, stream, retries, monkeypatch
):
    # The system resolver's answer for a name that does not exist, without
    # asking a DNS server (nothing beyond loopback; one that is slow or
    # unreachable would make this a test of its timeouts).
    real = socket.getaddrinfo

    def no_such_name(host, *rest):
        if host == "nonexistent.invalid":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *rest)

    monkeypatch.setattr(socket, "getaddrinfo", no_such_name)
    async with asks.Session() as s:
        start = time.monotonic()
        with pytest.raises(ConnectivityError) as info:
            await fetch(s, "http://nonexistent.invalid/", stream=stream, retries=retries)
        assert not isinstance(info.value, RequestTimeout)
        assert time.monotonic() - start < 10
        assert_released(s)
    assert len(connect_attempts) == retries + 1


@pytest.mark.parametrize("retries", [0, 1])
@pytest.mark.parametrize(
    "failure", ["refused", "closed before answering", "closed inside a streamed body"]
)
async def test_a_failed_request_leaves_no_cycle_for_the_garbage_collector(
    raw_server, failure, retries
):
    # The error raised out of the session holds the frames it passed
    # through; a frame holding the error in turn made each failed request a
    # reference cycle of 37-56 objects that only the collector could free (a
    # crawl of dead hosts makes one per URL).
    async def hang_up(sock):
        await read_request(sock)

    if failure == "refused":
        url = f"http://127.0.0.1:{await free_port()}/"
    elif failure == "closed before answering":
        url = (await raw_server(hang_up)).url
    else:
        head = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc"
        url = (await raw_server(Answer(head, then="close"))).url

    async def attempt(s: asks.Session) -> None:
        if failure != "closed inside a streamed body":
            await s.get(url)
            return
        r = await s.get(url, stream=True)
        async for _ in r.body:
            pass

    async with asks.Session(retries=retries) as s:
        # Only this test's errors: a thread left by an earlier test (a name
        # resolution) may drop garbage of its own meanwhile.
        with cyclic_garbage(lambda o: isinstance(o, AsksException) and url in str(o)) as held:
            for _ in range(3):
                with pytest.raises(ConnectivityError):
                    await attempt(s)
        assert held == []
        assert_released(s)


# --------------------------------------------------------------------------
# An answer to no request on an idle connection


@MODES
async def test_response_to_a_request_never_sent_retires_the_idle_connection(raw_server, stream):
    # Some servers send "408 Request Timeout" on an idle keep-alive
    # connection before closing it; it answers nothing we asked.
    spoke = curio.Event()

    async def handler(sock):
        if server.accepted == 1:
            await read_request(sock)
            await sock.sendall(OK)
            await sock.sendall(b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n")
            await spoke.set()
            await drain(sock)
            return
        while await read_request(sock) is not None:
            await sock.sendall(OK)

    server = await raw_server(handler)
    async with asks.Session() as s:
        await fetch(s, server.url, stream=stream)
        await spoke.wait()
        r, content = await fetch(s, server.url, stream=stream, retries=0)
        assert (r.status_code, content) == (200, b"ok")
    assert server.accepted == 2
