"""The scripted HTTP/2 server itself, and the client's plain path against it."""

from __future__ import annotations

from typing import Any

import curio

import asks
from tests.http2.conftest import H2ServerFactory
from tests.http2.scripted import ServerStream


async def test_h2c_get_and_post_answered_over_one_connection(h2_server: H2ServerFactory) -> None:
    async def echo(stream: ServerStream) -> None:
        body = await stream.read_body()
        await stream.respond(200, stream.method + b" " + stream.path + b" " + body)

    server = await h2_server(echo)
    async with asks.Session(server.url, http2="prior-knowledge") as session:
        r1 = await session.get(path="/a")
        r2 = await session.post(path="/b", data=b"xyz")
    assert (r1.status_code, r1.content, r1.http_version) == (200, b"GET /a ", "2")
    assert r2.content == b"POST /b xyz"
    assert server.accepted == 1
    assert [s.stream_id for s in server.requests] == [1, 3]
    await server.wait_until(lambda: server.closed_connections == 1)
    assert server.connections[0].closed_by_client


async def test_tls_alpn_h2_negotiated_with_the_scripted_server(
    h2_server: H2ServerFactory, server_ssl_context: Any, client_ssl_context: Any
) -> None:
    server = await h2_server(ssl_context=server_ssl_context)
    async with asks.Session(server.url, ssl_context=client_ssl_context, http2=True) as session:
        r = await session.get(path="/")
    assert (r.status_code, r.content, r.http_version) == (200, b"ok", "2")
    assert len(server.requests) == 1


async def test_informational_head_and_trailers_are_passed_over(
    h2_server: H2ServerFactory,
) -> None:
    """A 103 before the response and trailers after its body (RFC 9113
    section 8.1): the response is the final head and the whole body."""

    async def handler(stream: ServerStream) -> None:
        await stream.read_body()
        await stream.send_headers(103, [(b"link", b"</style.css>; rel=preload")])
        await stream.send_headers(200, [(b"x-final", b"yes")])
        await stream.send_data(b"body")
        stream.conn.h2.send_headers(stream.stream_id, [(b"x-trailer", b"t")], end_stream=True)
        await stream.conn.flush()

    server = await h2_server(handler)
    async with asks.Session(server.url, http2="prior-knowledge") as session:
        r = await session.get(path="/")
        assert (r.status_code, r.content, r.headers["x-final"]) == (200, b"body", "yes")
        assert (await session.get(path="/")).content == b"body"
    assert server.accepted == 1


async def test_a_stream_body_is_taken_whole_only_once_the_stream_has_ended(
    h2_server: H2ServerFactory,
) -> None:
    """fetch_many's small-page step on h2: an ended stream's body is in memory."""
    go_on = curio.Event()

    async def handler(stream: ServerStream) -> None:
        await stream.read_body()
        await stream.send_headers(200)
        await stream.send_data(b"first ")
        await go_on.wait()
        await stream.send_data(b"second", end_stream=True)

    server = await h2_server(handler)
    async with asks.Session(server.url, http2="prior-knowledge") as session:
        r = await session.get(path="/", stream=True)
        assert await r.body._read_in_hand() is None  # the stream goes on
        await go_on.set()
        exchange = r.body._conn
        while not exchange.body_in_hand():  # the reader task takes the frames in
            await curio.sleep(0)
        assert await r.body._read_in_hand() == b"first second"
        assert (await session.get(path="/")).status_code == 200
    assert server.accepted == 1
