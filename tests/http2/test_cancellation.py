"""Cancellation at every await of an HTTP/2 request.

A request is cancelled (``task.cancel()``, or the call's ``timeout=``) while
it waits for a stream (all taken), while its HEADERS sit behind a writer
backed up by a server that stopped reading, while its body waits for room
in that writer or for a window that is 0, while it waits for the response
head, and while it reads a ``stream=True`` body. After each: the server saw
``RST_STREAM(CANCEL)`` for a stream that had started (and no protocol error:
the byte stream stayed whole), the same connection serves the next request,
and ``pool_stats`` shows nothing busy, waiting or leaked (the suite's
plugin checks tasks and descriptors).

Where the test must know the client reached an await the server cannot see
(its writes are stuck in the socket), it yields to the scheduler until the
connection shows it (:func:`until`), never waiting on time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import curio
import h2.errors
import h2.settings
import pytest

import asks
from asks._transport.http2_writer import HIGH_WATER
from asks.errors import ConnectivityError, RequestTimeout
from tests.hostile_helpers import cyclic_garbage
from tests.http2.conftest import H2Mode, H2ServerFactory
from tests.http2.scripted import H2Server, ServerStream

CANCEL = h2.errors.ErrorCodes.CANCEL
MAX_STREAMS = h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS
WINDOW = h2.settings.SettingCodes.INITIAL_WINDOW_SIZE
BIG = 2**31 - 1
UPLOAD = bytes(range(256)) * (64 * 1024)  # 16 MiB: more than loopback buffers hold


async def until(condition: Callable[[], bool]) -> None:
    """Yield to the scheduler until *condition()* holds (the test's deadline bounds it)."""
    while not condition():
        await curio.sleep(0)


def only_connection(session: asks.Session) -> Any:
    (conn,) = session._pool._all
    return conn


async def handler(stream: ServerStream) -> None:
    body = await stream.read_body()
    if stream.path == b"/held":
        await curio.Event().wait()  # never answered
    elif stream.path == b"/partial":
        await stream.send_headers(200)
        await stream.send_data(b"first")
        await curio.Event().wait()
    await stream.respond(200, b"%s %d" % (stream.path, len(body)))


async def assert_connection_usable(session: asks.Session, server: H2Server) -> None:
    r = await session.get(path="/next")
    assert r.content == b"/next 0"
    stats = session.pool_stats()
    assert (stats.open, stats.busy, stats.waiting) == (1, 0, 0)
    assert server.accepted == 1


def resets(server: H2Server) -> list[tuple[bytes, int]]:
    return [(s.path, s.reset_code) for s in server.requests if s.reset_code is not None]


async def test_cancel_while_waiting_for_a_stream(h2_server: H2ServerFactory) -> None:
    server = await h2_server(handler, settings={MAX_STREAMS: 1})
    async with asks.Session(server.url, http2="prior-knowledge") as session:
        await session.get(path="/first")
        held = await curio.spawn(session.get(path="/held"))
        await server.wait_until(lambda: len(server.requests) == 2)
        waiting = await curio.spawn(session.get(path="/waits"))
        await until(lambda: session.pool_stats().waiting == 1)
        await waiting.cancel()
        assert session.pool_stats().waiting == 0
        await held.cancel()
        await server.wait_until(lambda: resets(server) == [(b"/held", CANCEL)])
        await assert_connection_usable(session, server)
    # The cancelled waiter never reached the server.
    assert [s.path for s in server.requests] == [b"/first", b"/held", b"/next"]


async def test_cancel_as_a_stream_is_handed_over(h2_server: H2ServerFactory) -> None:
    """The waiter is cancelled in the very step that hands it a stream.

    The pool's hand-over is wrapped so that the waiting task is cancelled
    just before the stream goes to it (both in the releasing task): the
    waiter wakes with the cancellation and a stream it must give back. With
    one stream allowed, a stream lost there would leave /next waiting forever.
    """
    server = await h2_server(handler, settings={MAX_STREAMS: 1})
    async with asks.Session(server.url, http2="prior-knowledge") as session:
        await session.get(path="/first")
        held = await curio.spawn(session.get(path="/held"))
        await server.wait_until(lambda: len(server.requests) == 2)
        waiting = await curio.spawn(session.get(path="/waits"))
        await until(lambda: session.pool_stats().waiting == 1)
        pool = session._pool
        hand_over = pool.stream_released

        async def cancel_then_hand_over(conn: Any) -> None:
            pool.stream_released = hand_over  # once
            await waiting.cancel(blocking=False)
            await hand_over(conn)

        pool.stream_released = cancel_then_hand_over
        await held.cancel()
        await waiting.wait()
        assert waiting.cancelled
        await server.wait_until(lambda: resets(server) == [(b"/held", CANCEL)])
        await assert_connection_usable(session, server)
    assert [s.path for s in server.requests] == [b"/first", b"/held", b"/next"]


async def test_cancel_while_waiting_for_the_head(h2_server: H2ServerFactory) -> None:
    server = await h2_server(handler)
    async with asks.Session(server.url, http2="prior-knowledge") as session:
        task = await curio.spawn(session.get(path="/held"))
        await server.wait_until(lambda: len(server.requests) == 1)
        await task.cancel()
        await server.wait_until(lambda: resets(server) == [(b"/held", CANCEL)])
        await assert_connection_usable(session, server)


async def test_call_timeout_while_waiting_for_the_head(h2_server: H2ServerFactory) -> None:
    server = await h2_server(handler)
    async with asks.Session(server.url, http2="prior-knowledge") as session:
        # On the open connection the request goes out before the call can
        # block, so its timeout cannot strike first (curio delivers one only
        # at a blocking point), as it could in a connect() a loaded machine
        # is slow to finish: the server would never see /held.
        assert (await session.get(path="/first")).content == b"/first 0"
        with pytest.raises(RequestTimeout):
            await session.get(path="/held", timeout=0.2)
        await server.wait_until(lambda: resets(server) == [(b"/held", CANCEL)])
        await assert_connection_usable(session, server)


async def reading_past_the_first_chunk(r: Any) -> Any:
    """A task reading *r*'s body, once the first chunk is in: it waits for the next."""
    chunks: list[bytes] = []

    async def read() -> None:
        async for chunk in r.body:
            chunks.append(chunk)

    reader = await curio.spawn(read)
    await until(lambda: chunks == [b"first"])
    return reader


async def test_cancel_while_reading_a_streamed_body(
    h2_server: H2ServerFactory, h2_mode: H2Mode
) -> None:
    server = await h2_server(handler, **h2_mode.server)
    async with asks.Session(server.url, **h2_mode.session) as session:
        r = await session.get(path="/partial", stream=True)
        reader = await reading_past_the_first_chunk(r)
        await reader.cancel()
        await server.wait_until(lambda: resets(server) == [(b"/partial", CANCEL)])
        await assert_connection_usable(session, server)


async def test_a_stream_closed_by_another_task_ends_the_read_waiting_on_it(
    h2_server: H2ServerFactory, h2_mode: H2Mode
) -> None:
    # A watchdog closes the response another task reads: the reader waited
    # for data forever. It ends with an asks error, the stream is reset.
    server = await h2_server(handler, **h2_mode.server)
    async with asks.Session(server.url, **h2_mode.session) as session:
        r = await session.get(path="/partial", stream=True)
        reader = await reading_past_the_first_chunk(r)
        await r.body.close()
        await curio.timeout_after(5, reader.wait)
        assert isinstance(reader.exception, ConnectivityError), repr(reader.exception)
        assert "closed while being read" in str(reader.exception)
        await server.wait_until(lambda: resets(server) == [(b"/partial", CANCEL)])
        await assert_connection_usable(session, server)


async def test_cancel_while_the_body_waits_for_a_zero_window(
    h2_server: H2ServerFactory,
) -> None:
    server = await h2_server(handler, settings={WINDOW: 0}, auto_ack=False)
    async with asks.Session(server.url, http2="prior-knowledge") as session:
        await session.get(path="/first")  # the zero window is in force
        task = await curio.spawn(session.post(path="/up", data=b"never sent"))
        await server.wait_until(lambda: len(server.requests) == 2)
        await task.cancel()
        await server.wait_until(lambda: resets(server) == [(b"/up", CANCEL)])
        assert bytes(server.requests[1].body) == b""
        await assert_connection_usable(session, server)


async def backed_up(h2_server: H2ServerFactory) -> tuple[H2Server, asks.Session, Any, Any]:
    """A session whose upload is stuck behind a server that stopped reading."""
    server = await h2_server(handler, settings={WINDOW: BIG}, connection_window=BIG)
    session = asks.Session(server.url, http2="prior-knowledge")
    await session.get(path="/first")
    conn = only_connection(session)
    server.connections[0].pause_reading()
    upload = await curio.spawn(session.post(path="/up", data=UPLOAD))
    # The writer is stuck in a send and the upload waits for room.
    await until(lambda: len(conn._out.buffer) > HIGH_WATER)
    return server, session, conn, upload


async def test_cancel_while_headers_wait_behind_a_backed_up_writer(
    h2_server: H2ServerFactory,
) -> None:
    server, session, conn, upload = await backed_up(h2_server)
    async with session:
        queued = await curio.spawn(session.get(path="/queued"))
        await until(lambda: len(conn._streams) == 2)  # its HEADERS are queued
        await queued.cancel()
        await server.connections[0].resume_reading()
        r = await upload.join()
        assert r.content == b"/up %d" % len(UPLOAD)
        await server.wait_until(lambda: resets(server) == [(b"/queued", CANCEL)])
        assert bytes(server.requests[1].body) == UPLOAD
        await assert_connection_usable(session, server)


async def test_cancel_while_the_body_waits_for_a_backed_up_writer(
    h2_server: H2ServerFactory,
) -> None:
    server, session, _conn, upload = await backed_up(h2_server)
    async with session:
        await upload.cancel()
        await server.connections[0].resume_reading()
        await server.wait_until(lambda: resets(server) == [(b"/up", CANCEL)])
        # What was sent before the cancellation arrived whole, and no more.
        received = bytes(server.requests[1].body)
        assert 0 < len(received) < len(UPLOAD)
        assert received == UPLOAD[: len(received)]
        await assert_connection_usable(session, server)


@pytest.mark.parametrize("where", ["waiting for the head", "reading a streamed body"])
async def test_a_deadline_of_the_callers_leaves_no_cycle_for_the_garbage_collector(
    h2_server: H2ServerFactory, where: str
) -> None:
    # curio raises the timeout from a trap frame that keeps it; going up
    # through the HTTP/2 exchange, the cycle is cut (trap_cycles), or each
    # timed-out stream would keep its frames, exchange and call for the
    # collector.
    server = await h2_server(handler)
    async with asks.Session(server.url, http2="prior-knowledge") as session:
        await session.get(path="/warm")  # the connection, made before the count

        async def attempt() -> None:
            if where == "waiting for the head":
                await session.get(path="/held")
                return
            r = await session.get(path="/partial", stream=True)
            async for _ in r.body:
                pass

        with cyclic_garbage(lambda o: isinstance(o, curio.errors.CancelledError)) as held:
            for _ in range(3):
                with pytest.raises(curio.TaskTimeout):
                    await curio.timeout_after(0.05, attempt)
        assert held == []
        await server.wait_until(lambda: len(resets(server)) == 3)
        await assert_connection_usable(session, server)
