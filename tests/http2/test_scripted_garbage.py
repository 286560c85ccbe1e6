"""Garbage bytes and invalid frames from the server.

Over HTTP/1.1, bytes that are not HTTP (a garbage status line, bad framing)
raise :class:`BadHttpResponse` (reliability.md rows 1-5); so do bytes that
are not HTTP/2 here. The connection is done for: every request waiting on
it fails at once with that error (nothing hangs, no task is left), the
client tells the server why (GOAWAY with h2's error code) and closes it,
and the next request opens a new connection.
"""

from __future__ import annotations

import curio
import h2.errors
import h2.settings
import hyperframe.frame
import pytest

import asks
from asks.errors import BadHttpResponse
from tests.http2.conftest import H2ServerFactory
from tests.http2.scripted import ServerStream

MAX_STREAMS = h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS


def data_on_stream_zero() -> bytes:
    # RFC 9113 section 6.1: DATA on stream 0 is a connection PROTOCOL_ERROR.
    # hyperframe refuses to build it, so the header is written by hand.
    return b"\x00\x00\x02\x00\x00\x00\x00\x00\x00hi"


def headers_with_bad_hpack() -> bytes:
    # An HPACK index far past the tables: COMPRESSION_ERROR (section 4.3).
    frame = hyperframe.frame.HeadersFrame(1)
    frame.flags.add("END_HEADERS")
    frame.data = b"\xff\xff\xff\xff\x0f"
    return frame.serialize()


GARBAGE = {
    "text": b"GARBAGE, NOT A FRAME AT ALL\r\n" * 4,
    "data-on-stream-0": data_on_stream_zero(),
    "bad-hpack": headers_with_bad_hpack(),
}


@pytest.mark.parametrize("garbage", GARBAGE.values(), ids=GARBAGE.keys())
async def test_garbage_fails_every_waiting_request_with_bad_http_response(
    h2_server: H2ServerFactory, garbage: bytes
) -> None:
    async def handler(stream: ServerStream) -> None:
        conn = stream.conn
        if conn.number > 0:
            await stream.respond(200, b"fresh")
            return
        if len(conn.streams) == 3:
            await conn.send_raw(garbage)

    server = await h2_server(handler)
    errors: list[BaseException] = []
    async with asks.Session(server.url, http2="prior-knowledge", connections=2) as session:

        async def get(i: int) -> None:
            try:
                await session.get(path=f"/{i}")
            except BadHttpResponse as exc:
                errors.append(exc)

        async with curio.timeout_after(10), curio.TaskGroup() as group:
            for i in range(3):
                await group.spawn(get, i)
        assert len(errors) == 3
        assert all("HTTP/2" in str(exc) for exc in errors)
        first = server.connections[0]
        await server.wait_until(lambda: first.closed_by_client)
        assert first.goaway_received is not None
        assert first.goaway_received != h2.errors.ErrorCodes.NO_ERROR
        stats = session.pool_stats()
        assert (stats.open, stats.busy, stats.waiting) == (0, 0, 0)
        # A new connection for the next request.
        assert (await session.get(path="/next")).content == b"fresh"
    assert server.accepted == 2


async def test_garbage_instead_of_the_server_preface_is_bad_http_response(
    h2_server: H2ServerFactory,
) -> None:
    async def garbage_server(sock: curio.io.Socket) -> None:
        await sock.sendall(b"\x00\x00\x04\x01\x00\x00\x00\x00\x00garbage")  # SETTINGS ACK first
        while await sock.recv(65536):
            pass

    server = await h2_server(raw=garbage_server)
    async with asks.Session(server.url, http2="prior-knowledge", retries=0) as session:
        with pytest.raises(BadHttpResponse):
            await curio.timeout_after(10, session.get(path="/"))
        stats = session.pool_stats()
        assert (stats.open, stats.busy) == (0, 0)


async def test_requests_waiting_for_a_stream_move_on_when_the_connection_fails(
    h2_server: H2ServerFactory,
) -> None:
    """The full connection fails (garbage): the request waiting for one of
    its streams goes to a new connection and succeeds."""

    async def handler(stream: ServerStream) -> None:
        if stream.conn.number == 0 and stream.path == b"/held":
            await stream.conn.server.wait_until(lambda: go.is_set())
            await stream.conn.send_raw(GARBAGE["text"])
            return
        await stream.respond(200, b"fresh " + stream.path)

    go = curio.Event()
    server = await h2_server(handler, settings={MAX_STREAMS: 1})
    async with asks.Session(server.url, http2="prior-knowledge", connections=2) as session:
        await session.get(path="/first")
        held = await curio.spawn(session.get(path="/held"))
        await server.wait_until(lambda: len(server.requests) == 2)
        waiting = await curio.spawn(session.get(path="/waits"))
        while session.pool_stats().waiting != 1:
            await curio.sleep(0)
        await go.set()
        await server.changed()
        with pytest.raises(curio.TaskError) as caught:
            await held.join()
        assert isinstance(caught.value.__cause__, BadHttpResponse)
        r = await curio.timeout_after(10, waiting.join())
        assert r.content == b"fresh /waits"
    assert [(s.conn.number, s.path) for s in server.requests][-1] == (1, b"/waits")


async def test_malformed_response_fails_clearly_and_nothing_hangs(
    h2_server: H2ServerFactory,
) -> None:
    """A body shorter than its content-length (RFC 9113 section 8.1.1:
    malformed) is BadHttpResponse, as over HTTP/1.1. h2 makes any malformed
    frame a connection error, so the other streams of that connection fail
    with it (promptly: nothing hangs) and the next request opens a new one."""

    async def handler(stream: ServerStream) -> None:
        if stream.conn.number == 0 and stream.path == b"/bad":
            await stream.send_headers(200, [(b"content-length", b"100")])
            await stream.send_data(b"short", end_stream=True)
        elif stream.conn.number == 0 and stream.path == b"/held":
            await curio.Event().wait()
        else:
            await stream.respond(200, b"fine")

    server = await h2_server(handler)
    async with asks.Session(server.url, http2="prior-knowledge", retries=0) as session:
        held = await curio.spawn(session.get(path="/held"))
        await server.wait_until(lambda: len(server.requests) == 1)
        with pytest.raises(BadHttpResponse):
            await curio.timeout_after(10, session.get(path="/bad"))
        with pytest.raises(curio.TaskError) as caught:
            await curio.timeout_after(10, held.join())
        assert isinstance(caught.value.__cause__, BadHttpResponse)
        assert (await session.get(path="/next")).content == b"fine"
        stats = session.pool_stats()
        assert (stats.open, stats.busy, stats.waiting) == (1, 0, 0)
    assert server.accepted == 2
