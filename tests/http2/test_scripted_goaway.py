"""GOAWAY (RFC 9113 section 6.8) from the scripted server.

Streams at or below ``last_stream_id`` may still be processed: they finish,
bodies whole. Those above it were never processed: they are sent again on
another connection whatever the method, and succeed. The connection takes no
new stream and the client closes it when its last stream ends.

h2 closes its whole state machine on any GOAWAY (python-hyper/h2 issue 1181);
``http2_engine.survive_goaway`` works around it. The server here sends the GOAWAY
and the frames that follow it in one write, so the client reads them in one
``receive_data``: the case where h2 would raise on the frames after the
GOAWAY. ``.ci/h2-versions`` runs this file against every h2 release
pyproject allows.
"""

from __future__ import annotations

import curio
import h2.errors
import h2.settings

import asks
from tests.http2.conftest import H2Mode, H2ServerFactory
from tests.http2.scripted import ServerStream

MAX_STREAMS = h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS

BODY = 20_000  # more than one DATA frame (16 KiB by default)


def body_for(stream_id: int) -> bytes:
    return bytes([65 + stream_id % 26]) * BODY


async def test_goaway_finishes_streams_up_to_last_and_resends_the_rest(
    h2_server: H2ServerFactory, h2_mode: H2Mode
) -> None:
    async def handler(stream: ServerStream) -> None:
        conn = stream.conn
        if conn.number > 0:
            await stream.read_body()
            await stream.respond(200, b"again " + stream.path)
            return
        if stream.stream_id != 9:
            return  # answered below, by the handler of the last stream
        # Five streams open (1, 3, 5, 7, 9): the first three are answered
        # after a GOAWAY naming 5, in the same write.
        for stream_id in (1, 3, 5):
            h2c = conn.h2
            h2c.send_headers(stream_id, [(b":status", b"200")])
            h2c.send_data(stream_id, body_for(stream_id)[:16_000])
            h2c.send_data(stream_id, body_for(stream_id)[16_000:], end_stream=True)
        await conn.goaway(5, with_queued=True)

    server = await h2_server(handler, **h2_mode.server)
    results: dict[str, asks.response_objects.Response] = {}
    async with asks.Session(server.url, connections=4, **h2_mode.session) as session:

        async def get(path: str) -> None:
            results[path] = await session.get(path=path)

        async with curio.TaskGroup() as group:
            for i in range(5):
                await group.spawn(get, f"/{i}")
                # In order: request i is stream 2i+1.
                await server.wait_until(lambda i=i: len(server.requests) == i + 1)
        first = server.connections[0]
        # The old connection went once its last stream ended.
        await server.wait_until(lambda: first.closed_by_client)
        assert session.pool_stats().busy == 0

    for i, stream_id in enumerate((1, 3, 5)):
        r = results[f"/{i}"]
        assert (r.status_code, r.content) == (200, body_for(stream_id))
    for i in (3, 4):
        assert results[f"/{i}"].content == f"again /{i}".encode()
    # The server saw streams 1-9 on the first connection and nothing more on
    # it; the two above last_stream_id again on other connections.
    assert sorted(first.streams) == [1, 3, 5, 7, 9]
    assert first.ignored == []
    again = sorted(s.path for s in server.requests if s.conn is not first)
    assert again == [b"/3", b"/4"]


async def test_goaway_connection_takes_no_new_stream_and_closes_after_its_last(
    h2_server: H2ServerFactory, h2_mode: H2Mode
) -> None:
    release = curio.Event()

    async def handler(stream: ServerStream) -> None:
        conn = stream.conn
        if conn.number > 0:
            await stream.respond(200, b"new")
            return
        if stream.stream_id == 1:
            return  # answered with the GOAWAY below
        # Stream 3: GOAWAY(3), then stream 1's response in the same write;
        # stream 3 itself is answered when the test says.
        conn.h2.send_headers(1, [(b":status", b"200")])
        conn.h2.send_data(1, b"one", end_stream=True)
        await conn.goaway(3, with_queued=True)
        await release.wait()
        await stream.respond(200, b"three")

    server = await h2_server(handler, **h2_mode.server)
    async with asks.Session(server.url, connections=4, **h2_mode.session) as session:
        async with curio.TaskGroup() as group:
            one = await group.spawn(session.get, server.url + "/1")
            await server.wait_until(lambda: len(server.requests) == 1)
            three = await group.spawn(session.get, server.url + "/3")
            r1 = await one.join()
            assert r1.content == b"one"
            # The GOAWAY came before stream 1's answer: a new request now
            # goes to a new connection while stream 3 is still open.
            r_new = await session.get(path="/new")
            assert r_new.content == b"new"
            first = server.connections[0]
            assert not first.closed
            assert sorted(first.streams) == [1, 3] and first.ignored == []
            await release.set()
            r3 = await three.join()
        assert r3.content == b"three"
        await server.wait_until(lambda: first.closed_by_client)
    assert server.accepted == 2


async def test_goaway_on_an_idle_connection_next_request_opens_a_new_one(
    h2_server: H2ServerFactory,
) -> None:
    server = await h2_server()
    async with asks.Session(server.url, http2="prior-knowledge", retries=0) as session:
        r1 = await session.get(path="/a")
        first = server.connections[0]
        await first.goaway(1, h2.errors.ErrorCodes.NO_ERROR)
        r2 = await session.post(path="/b", data=b"x")
        assert (r1.status_code, r2.status_code, r2.content) == (200, 200, b"ok")
        await server.wait_until(lambda: first.closed_by_client)
        assert session.pool_stats().open == 1
    assert server.accepted == 2
    assert [s.conn.number for s in server.requests] == [0, 1]
    assert bytes(server.requests[1].body) == b"x"


async def test_goaway_sends_requests_waiting_for_a_stream_to_a_new_connection(
    h2_server: H2ServerFactory,
) -> None:
    """Requests waiting for a stream of a full connection that gets GOAWAY go
    to a new connection at once, not after its last stream ends."""
    release = curio.Event()

    async def handler(stream: ServerStream) -> None:
        if stream.conn.number == 0 and stream.path == b"/held":
            await stream.conn.goaway(stream.stream_id)
            await release.wait()
        await stream.respond(200, stream.path)

    server = await h2_server(handler, settings={MAX_STREAMS: 1})
    results: list[bytes] = []
    async with asks.Session(server.url, http2="prior-knowledge", connections=2) as session:
        await session.get(path="/first")
        held = await curio.spawn(session.get(path="/held"))
        await server.wait_until(lambda: server.connections[0].goaway_sent is not None)

        async def get(i: int) -> None:
            results.append((await session.get(path=f"/{i}")).content)

        async with curio.TaskGroup() as group:
            for i in range(3):
                await group.spawn(get, i)
        # All three done while /held is still open on the first connection.
        assert sorted(results) == [b"/0", b"/1", b"/2"]
        assert not held.terminated
        await release.set()
        assert (await held.join()).content == b"/held"
        await server.wait_until(lambda: server.connections[0].closed_by_client)
    assert {
        s.conn.number for s in server.requests if s.path.startswith(b"/") and s.path[1:].isdigit()
    } == {1}


async def test_goaway_above_an_upload_waiting_for_its_window_resends_it_at_once(
    h2_server: H2ServerFactory,
) -> None:
    """An upload blocked on flow control whose stream is above a GOAWAY's
    last_stream_id will never see its window open: the server did not
    process it and will not. It goes to a new connection at once instead of
    waiting for a WINDOW_UPDATE (or the server's close) that never comes."""
    upload = bytes(range(256)) * 400  # more than the 65,535-byte stream window

    async def handler(stream: ServerStream) -> None:
        conn = stream.conn
        if stream.method == b"GET":
            await stream.respond(200, b"ok")
            return
        if conn.number == 0:
            await conn.server.wait_until(lambda: len(stream.body) == 65535)
            # The connection's window came back; once this PING is
            # answered the upload waits for its stream's window.
            await conn.ping(b"blocked!")
            await conn.server.wait_until(lambda: b"blocked!" in conn.ping_acks)
            await conn.goaway(1)
            return
        while not stream.ended:
            seen = len(stream.body)
            await stream.grant(65535)
            await conn.server.wait_until(lambda seen=seen: len(stream.body) > seen or stream.ended)
        await stream.respond(200, b"%d" % len(stream.body))

    server = await h2_server(handler, auto_ack=False)
    async with asks.Session(server.url, http2="prior-knowledge", retries=0) as session:
        await session.get(path="/")
        r = await session.post(path="/up", data=upload)
        assert r.content == b"%d" % len(upload)
    assert server.accepted == 2
    assert bytes(server.requests[-1].body) == upload
