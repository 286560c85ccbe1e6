"""PING from the server (RFC 9113 section 6.7) is answered with the same data."""

from __future__ import annotations

import curio

import asks
from tests.http2.conftest import H2ServerFactory
from tests.http2.scripted import ServerStream


async def test_ping_on_an_idle_connection_is_acknowledged_with_its_data(
    h2_server: H2ServerFactory,
) -> None:
    server = await h2_server()
    async with asks.Session(server.url, http2="prior-knowledge") as session:
        await session.get(path="/")
        conn = server.connections[0]
        await conn.ping(b"idle-ok!")
        await server.wait_until(lambda: len(conn.ping_acks) == 1)
        # Still usable afterwards.
        assert (await session.get(path="/")).content == b"ok"
    assert conn.ping_acks == [b"idle-ok!"]
    assert server.accepted == 1


async def test_pings_while_a_response_is_in_progress_are_acknowledged(
    h2_server: H2ServerFactory,
) -> None:
    async def handler(stream: ServerStream) -> None:
        await stream.send_headers(200)
        for i in range(3):
            await stream.send_data(b"part")
            await stream.conn.ping(b"busy-%03d" % i)
            await stream.conn.server.wait_until(lambda i=i: len(stream.conn.ping_acks) == i + 1)
        await stream.send_data(b"end", end_stream=True)

    server = await h2_server(handler)
    async with asks.Session(server.url, http2="prior-knowledge") as session:
        r = await curio.timeout_after(10, session.get, server.url + "/")
    assert r.content == b"partpartpartend"
    assert server.connections[0].ping_acks == [b"busy-000", b"busy-001", b"busy-002"]
