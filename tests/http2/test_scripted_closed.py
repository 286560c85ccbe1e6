"""The server closes the TCP connection under an HTTP/2 client (no GOAWAY).

As over HTTP/1.1 (reliability.md rows 7 and 8): an idle pooled connection
the server closed is replaced without an error; a close before any response
byte on a reused connection is sent again once, silently, for an idempotent
request and is ServerClosedConnectionError for others; a close inside a body
is ServerClosedConnectionError.
"""

from __future__ import annotations

import curio
import pytest

import asks
from asks.errors import ServerClosedConnectionError
from tests.http2.conftest import H2Mode, H2ServerFactory
from tests.http2.scripted import ServerStream


async def test_idle_connection_closed_by_the_server_is_replaced(
    h2_server: H2ServerFactory,
) -> None:
    server = await h2_server()
    async with asks.Session(server.url, http2="prior-knowledge", retries=0) as session:
        await session.get(path="/")
        await server.connections[0].close()
        await server.wait_until(lambda: server.closed_connections == 1)
        r = await session.post(path="/", data=b"x")
        assert r.content == b"ok"
        assert session.pool_stats().open == 1
    assert server.accepted == 2


def closing_on(path: bytes):  # type: ignore[no-untyped-def]
    async def handler(stream: ServerStream) -> None:
        await stream.read_body()
        if stream.conn.number == 0 and stream.path == path:
            await stream.conn.close()
        elif stream.path == b"/body":
            await stream.send_headers(200, [(b"content-length", b"100")])
            await stream.send_data(b"x" * 10)
            await stream.conn.close()
        else:
            await stream.respond(200, b"answered " + stream.path)

    return handler


async def test_close_before_the_head_on_a_reused_connection_get_resent_silently(
    h2_server: H2ServerFactory,
) -> None:
    server = await h2_server(closing_on(b"/get"))
    async with asks.Session(server.url, http2="prior-knowledge", retries=0) as session:
        await session.get(path="/first")
        r = await session.get(path="/get")
    assert r.content == b"answered /get"
    assert [(s.conn.number, s.path) for s in server.requests] == [
        (0, b"/first"),
        (0, b"/get"),
        (1, b"/get"),
    ]


async def test_close_before_the_head_post_is_server_closed(h2_server: H2ServerFactory) -> None:
    server = await h2_server(closing_on(b"/post"))
    async with asks.Session(server.url, http2="prior-knowledge", retries=0) as session:
        await session.get(path="/first")
        with pytest.raises(ServerClosedConnectionError):
            await session.post(path="/post", data=b"x")
        assert (await session.get(path="/after")).content == b"answered /after"
    assert [s.path for s in server.requests] == [b"/first", b"/post", b"/after"]


async def test_close_inside_the_body_is_server_closed(h2_server: H2ServerFactory) -> None:
    server = await h2_server(closing_on(b"/never"))
    async with asks.Session(server.url, http2="prior-knowledge", retries=0) as session:
        with pytest.raises(ServerClosedConnectionError):
            await curio.timeout_after(10, session.get(path="/body"))
        r = await session.get(path="/stream-later")
        assert r.content == b"answered /stream-later"
        stats = session.pool_stats()
        assert (stats.open, stats.busy) == (1, 0)


async def test_streams_failed_by_one_connection_error_each_get_their_own(
    h2_server: H2ServerFactory,
) -> None:
    # One connection error fails every stream of the connection; each caller
    # gets an error of its own, whose traceback holds its own call only.
    arrived = curio.Event()

    async def handler(stream: ServerStream) -> None:
        await stream.read_body()
        if len(stream.conn.streams) == 2:
            await arrived.set()
        await arrived.wait()
        await stream.conn.close()

    server = await h2_server(handler)
    errors: list[BaseException] = []

    async with asks.Session(server.url, http2="prior-knowledge", retries=0) as session:

        async def post(path: str) -> None:
            try:
                await session.post(path=path, data=b"x")
            except ServerClosedConnectionError as exc:
                errors.append(exc)

        async with curio.TaskGroup() as group:
            await group.spawn(post, "/a")
            await group.spawn(post, "/b")
    assert len(errors) == 2
    first, second = (error.__cause__ for error in errors)
    assert first is not None and second is not None and first is not second
    for error in errors:
        tb = error.__cause__.__traceback__
        frames = []
        while tb is not None:
            frames.append(tb.tb_frame.f_code.co_name)
            tb = tb.tb_next
        assert frames.count("post") <= 1, frames


async def test_a_tls_close_without_close_notify_is_a_close_like_any_other(
    h2_server: H2ServerFactory, h2_mode: H2Mode
) -> None:
    # Servers drop TCP under TLS without a close_notify all the time; over
    # HTTP/2 as over HTTP/1.1 that is the server closing (a silent resend
    # before any answer, ServerClosedConnectionError inside one), not a
    # TLSError for every stream.
    server = await h2_server(closing_on(b"/get"), **h2_mode.server)
    async with asks.Session(server.url, retries=0, **h2_mode.session) as session:
        await session.get(path="/first")
        r = await session.get(path="/get")
        assert r.content == b"answered /get"
        with pytest.raises(ServerClosedConnectionError):
            await curio.timeout_after(10, session.get(path="/body"))
        assert (await session.get(path="/after")).content == b"answered /after"
