"""Uploads against a zero initial window (SETTINGS_INITIAL_WINDOW_SIZE 0).

The client may send no DATA on a stream until the server opens its window
(RFC 9113 section 6.9.2): the upload waits for WINDOW_UPDATEs, which only
the connection's reader sees, and then completes byte for byte. The
scripted server's h2 refuses any DATA beyond the window (a connection
error, which fails the test), so "waits" is checked by the server itself.
"""

from __future__ import annotations

import curio
import h2.errors
import h2.settings
import pytest

import asks
from asks.errors import RequestTimeout
from tests.http2.conftest import H2ServerFactory
from tests.http2.scripted import ServerStream

WINDOW = h2.settings.SettingCodes.INITIAL_WINDOW_SIZE
MAX_STREAMS = h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS
UPLOAD = bytes(range(256)) * 400  # 102,400 bytes, every byte value
STEP = 30_000


async def granting(stream: ServerStream) -> None:
    if stream.method == b"GET":
        await stream.respond(200, b"ok")
        return
    granted = 0
    while not stream.ended:
        # Nothing beyond what was granted has come (h2 would have refused it).
        assert len(stream.body) == granted
        step = min(STEP, len(UPLOAD) - granted) or 1
        granted += step
        await stream.grant(step)
        await stream.conn.server.wait_until(
            lambda granted=granted: len(stream.body) >= min(granted, len(UPLOAD)) or stream.ended
        )
    await stream.respond(200, b"%d" % len(stream.body))


async def test_upload_waits_for_window_updates_then_completes_byte_exact(
    h2_server: H2ServerFactory,
) -> None:
    server = await h2_server(granting, settings={WINDOW: 0}, auto_ack=False)
    async with asks.Session(server.url, http2="prior-knowledge") as session:
        await session.get(path="/")  # the server's SETTINGS are in force
        r = await session.post(path="/up", data=UPLOAD)
    assert (r.status_code, r.content) == (200, b"%d" % len(UPLOAD))
    upload = server.requests[1]
    assert bytes(upload.body) == UPLOAD
    assert server.accepted == 1


async def test_upload_cancelled_while_waiting_for_window_leaves_connection_usable(
    h2_server: H2ServerFactory,
) -> None:
    async def handler(stream: ServerStream) -> None:
        if stream.path == b"/stuck":
            return  # its window never opens
        await granting(stream)

    server = await h2_server(handler, settings={WINDOW: 0}, auto_ack=False)
    async with asks.Session(server.url, http2="prior-knowledge") as session:
        await session.get(path="/")
        task = await curio.spawn(session.post(path="/stuck", data=UPLOAD))
        await server.wait_until(lambda: len(server.requests) == 2)
        stuck = server.requests[1]
        await task.cancel()
        assert await stuck.wait_reset() == h2.errors.ErrorCodes.CANCEL
        assert bytes(stuck.body) == b""
        # The same connection: a GET, and an upload whose window opens.
        assert (await session.get(path="/")).content == b"ok"
        r = await session.post(path="/up", data=UPLOAD)
        assert r.content == b"%d" % len(UPLOAD)
        stats = session.pool_stats()
        assert (stats.open, stats.busy, stats.waiting) == (1, 0, 0)
    assert server.accepted == 1
    assert bytes(server.requests[-1].body) == UPLOAD


async def test_upload_larger_than_the_writer_high_water_with_open_windows(
    h2_server: H2ServerFactory,
) -> None:
    """A server that opens big windows: the upload is bounded by the writer alone.

    It then waits for the writer to drain (``http2_writer.HIGH_WATER``), which once spun
    forever on an event left set, without yielding.
    """
    big = 2**31 - 1
    server = await h2_server(settings={WINDOW: big}, connection_window=big)
    upload = bytes(range(256)) * (16 * 1024)  # 4 MiB
    async with asks.Session(server.url, http2="prior-knowledge") as session:
        await session.get(path="/")
        r = await curio.timeout_after(15, session.post(path="/up", data=upload))
    assert r.content == b"ok"
    assert bytes(server.requests[1].body) == upload


async def test_concurrent_uploads_under_default_windows_echo_exactly(
    h2_server: H2ServerFactory,
) -> None:
    """Ten uploads share the RFC's 65,535-byte windows: each waits for
    WINDOW_UPDATEs the reader sees, none stalls on one another task took."""

    async def echo(stream: ServerStream) -> None:
        await stream.respond(200, await stream.read_body())

    server = await h2_server(echo)
    bodies = [bytes([i]) * (300_000 + i) for i in range(10)]
    results: dict[int, bytes] = {}
    async with asks.Session(server.url, http2="prior-knowledge") as session:
        await session.get(path="/")

        async def upload(i: int) -> None:
            results[i] = (await session.post(path=f"/{i}", data=bodies[i])).content

        async with curio.TaskGroup() as group:
            for i in range(10):
                await group.spawn(upload, i)
    assert all(results[i] == bodies[i] for i in range(10))
    assert server.accepted == 1


async def test_early_response_then_reset_no_error_ends_the_upload(
    h2_server: H2ServerFactory,
) -> None:
    """RFC 9113 section 8.1: a complete response, then RST_STREAM(NO_ERROR):
    the server wants no more of the body. The response is the answer."""

    async def refuse_upload(stream: ServerStream) -> None:
        if stream.method == b"GET":
            await stream.respond(200, b"ok")
            return
        await stream.respond(413, b"too large")
        await stream.reset(h2.errors.ErrorCodes.NO_ERROR)

    server = await h2_server(refuse_upload)
    async with asks.Session(server.url, http2="prior-knowledge") as session:
        r = await session.post(path="/up", data=b"u" * 4_000_000)
        assert (r.status_code, r.content) == (413, b"too large")
        assert (await session.get(path="/")).content == b"ok"
        assert session.pool_stats().busy == 0
    assert server.accepted == 1
    assert len(server.requests[0].body) < 4_000_000


async def test_call_timeout_ends_an_upload_stalled_on_a_window_never_opened(
    h2_server: H2ServerFactory,
) -> None:
    """reliability.md row 26: the deadline still ends a stalled stream."""

    async def handler(stream: ServerStream) -> None:
        if stream.method == b"GET":
            await stream.respond(200, b"ok")
        # POST: its window is never opened.

    server = await h2_server(handler, settings={WINDOW: 0}, auto_ack=False)
    async with asks.Session(server.url, http2="prior-knowledge") as session:
        await session.get(path="/")
        with pytest.raises(RequestTimeout):
            await session.post(path="/stalled", data=UPLOAD, timeout=0.3)
        stalled = server.requests[1]
        assert await stalled.wait_reset() == h2.errors.ErrorCodes.CANCEL
        assert (await session.get(path="/")).content == b"ok"
        stats = session.pool_stats()
        assert (stats.open, stats.busy) == (1, 0)
    assert server.accepted == 1


async def answer_before_the_upload(stream: ServerStream) -> None:
    """GET: 200. Otherwise a complete 413 once the upload waits for its stream's window."""
    if stream.method == b"GET":
        await stream.respond(200, b"ok")
        return
    conn = stream.conn
    await conn.server.wait_until(lambda: len(stream.body) > 0)
    # The connection's WINDOW_UPDATE for those bytes went first; once the
    # PING after it is answered, the upload waits for its stream's.
    await conn.ping(b"windowed")
    await conn.server.wait_until(lambda: b"windowed" in conn.ping_acks)
    await stream.respond(413, b"too large")


async def test_complete_response_wakes_an_upload_waiting_for_a_window(
    h2_server: H2ServerFactory,
) -> None:
    """RFC 9113 section 8.1: the server answers in full (END_STREAM) before
    it read the body, and never opens the upload's window nor resets it.
    The response is the answer: the upload, blocked on the window, must
    stop instead of waiting for a WINDOW_UPDATE that never comes."""

    server = await h2_server(answer_before_the_upload, settings={WINDOW: 1000}, auto_ack=False)
    async with asks.Session(server.url, http2="prior-knowledge") as session:
        await session.get(path="/")  # the server's SETTINGS are in force
        r = await session.post(path="/up", data=UPLOAD)
        assert (r.status_code, r.content) == (413, b"too large")
        assert session.pool_stats().busy == 0
    assert len(server.requests[1].body) == 1000


async def test_complete_response_mid_upload_closes_the_stream_for_the_next_request(
    h2_server: H2ServerFactory,
) -> None:
    """The upload stopped at the server's complete answer (RFC 9113 section
    8.1) without END_STREAM: the client resets its half of the stream, or
    the stream stays open (half-closed) at both ends for good, holding one
    of the server's MAX_CONCURRENT_STREAMS; with a limit of 1 the next
    request on the connection would never get a stream."""

    server = await h2_server(
        answer_before_the_upload, settings={WINDOW: 1000, MAX_STREAMS: 1}, auto_ack=False
    )
    async with asks.Session(server.url, http2="prior-knowledge") as session:
        await session.get(path="/")
        r = await session.post(path="/up", data=UPLOAD)
        assert r.status_code == 413
        assert await server.requests[1].wait_reset() == h2.errors.ErrorCodes.CANCEL
        r = await curio.timeout_after(5, session.get(path="/again"))
        assert r.content == b"ok"
        stats = session.pool_stats()
        assert (stats.open, stats.busy) == (1, 0)
    assert server.accepted == 1
