"""How an HTTP/2 connection ends without an error: stream IDs run out, idle expiry.

Stream IDs are 31 bits and never reused (RFC 9113 section 5.1.1): a client
that has used them all opens a new connection. An idle h2 connection
expires after ``keepalive_expiry`` like an HTTP/1.1 one (asks' clock is
moved by the test, as in tests/test_connection_reuse.py), and is closed,
not left open beside its replacement.
"""

from __future__ import annotations

from typing import Any

import curio
import pytest

import asks
from tests.http2.conftest import H2ServerFactory
from tests.http2.scripted import ServerStream


class _Clock:
    """Stands in for the ``time`` module of the pool and the h2 connection."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> _Clock:
    fake = _Clock()
    monkeypatch.setattr("asks._transport.pool.time", fake)
    monkeypatch.setattr("asks._transport.http2.time", fake)
    return fake


def only_connection(session: asks.Session) -> Any:
    (conn,) = session._pool._all
    return conn


async def test_stream_ids_exhausted_next_request_goes_on_a_new_connection(
    h2_server: H2ServerFactory,
) -> None:
    server = await h2_server()
    async with asks.Session(server.url, http2="prior-knowledge") as session:
        await session.get(path="/a")
        # As if 2**30 - 1 streams had been used: one ID is left.
        only_connection(session)._h2.highest_outbound_stream_id = 2**31 - 3
        await session.get(path="/last")
        r = await session.get(path="/b")
        assert r.content == b"ok"
        first = server.connections[0]
        await server.wait_until(lambda: first.closed_by_client)
        assert session.pool_stats().open == 1
    assert [(s.conn.number, s.stream_id) for s in server.requests] == [
        (0, 1),
        (0, 2**31 - 1),
        (1, 1),
    ]


async def test_idle_h2_connection_is_reused_until_expiry_then_closed(
    h2_server: H2ServerFactory, clock: _Clock
) -> None:
    server = await h2_server()
    async with asks.Session(server.url, http2="prior-knowledge", keepalive_expiry=5) as session:
        await session.get(path="/")
        clock.now += 4.9
        await session.get(path="/")
        assert server.accepted == 1  # within the expiry: reused
        clock.now += 5.1
        await session.get(path="/")
        assert server.accepted == 2  # past it: a new connection...
        first = server.connections[0]
        await server.wait_until(lambda: first.closed_by_client)  # ...and the old one closed
        assert session.pool_stats().open == 1
    assert [s.conn.number for s in server.requests] == [0, 0, 1]


async def test_busy_h2_connection_does_not_expire(
    h2_server: H2ServerFactory, clock: _Clock
) -> None:
    release = curio.Event()

    async def handler(stream: ServerStream) -> None:
        if stream.path == b"/held":
            await release.wait()
        await stream.respond(200, stream.path)

    server = await h2_server(handler)
    async with asks.Session(server.url, http2="prior-knowledge", keepalive_expiry=5) as session:
        held = await curio.spawn(session.get(path="/held"))
        await server.wait_until(lambda: len(server.requests) == 1)
        clock.now += 60
        # A stream is open: the connection is not idle, so not expired.
        assert (await session.get(path="/other")).content == b"/other"
        await release.set()
        assert (await held.join()).content == b"/held"
    assert server.accepted == 1


async def test_request_after_close_does_not_wait_for_the_draining_connection(
    h2_server: H2ServerFactory,
) -> None:
    # Session.close() leaves a busy h2 connection to finish its streams; the
    # session stays usable, so the next request opens a new connection
    # rather than waiting for one that will never take another stream.
    server = await h2_server()
    async with asks.Session(server.url, http2="prior-knowledge", connections=2) as session:
        held = await session.get(path="/held", stream=True)
        await session.close()
        r = await session.get(path="/next", timeout=5)
        assert r.content == b"ok"
        assert server.accepted == 2
        await held.body.close()
        await server.wait_until(lambda: server.connections[0].closed_by_client)
        assert session.pool_stats().open == 1
