"""The server changes SETTINGS_MAX_CONCURRENT_STREAMS mid-flight.

httpcore deadlocked here (transport.md). The scripted server's h2 enforces
the limit itself once the client acknowledged it (a stream over it is a
connection error there, which fails the test), and every stream's arrival
is recorded with how many were open with it.
"""

from __future__ import annotations

import curio
import h2.settings

import asks
from tests.http2.conftest import H2ServerFactory
from tests.http2.scripted import ServerStream

MAX_STREAMS = h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS


def holding_handler(release: curio.Event):  # type: ignore[no-untyped-def]
    async def handler(stream: ServerStream) -> None:
        await stream.read_body()
        if stream.path != b"/first":
            await release.wait()
        await stream.respond(200, stream.path)

    return handler


async def test_lowered_stream_limit_while_streams_open_and_requests_wait(
    h2_server: H2ServerFactory,
) -> None:
    release = curio.Event()
    server = await h2_server(holding_handler(release), settings={MAX_STREAMS: 10})
    results: list[bytes] = []
    async with asks.Session(server.url, http2="prior-knowledge") as session:
        # One request first: the client has the server's SETTINGS (and
        # acknowledged them) before the crowd comes.
        assert (await session.get(path="/first")).content == b"/first"
        conn = server.connections[0]
        await server.wait_until(lambda: conn.settings_acks == 2)

        async def get(i: int) -> None:
            results.append((await session.get(path=f"/{i}")).content)

        async with curio.TaskGroup() as group:
            for i in range(20):
                await group.spawn(get, i)
            # Ten streams open at the server, ten requests wait at the client.
            await server.wait_until(lambda: conn.open_streams == 10)
            assert session.pool_stats().waiting == 10
            await conn.update_settings({MAX_STREAMS: 2})
            await server.wait_until(lambda: conn.settings_acks == 3)
            await release.set()
        assert session.pool_stats().busy == 0
    assert sorted(results) == sorted(f"/{i}".encode() for i in range(20))
    assert server.accepted == 1
    # Every stream opened after the client acknowledged the new limit found
    # at most one other open.
    late = [(sid, n) for sid, n, acks in conn.arrivals if acks >= 3]
    assert len(late) == 10
    assert max(n for _, n in late) <= 2


async def test_raised_stream_limit_lets_waiting_requests_in_at_once(
    h2_server: H2ServerFactory,
) -> None:
    release = curio.Event()
    server = await h2_server(holding_handler(release), settings={MAX_STREAMS: 1})
    results: list[bytes] = []
    async with asks.Session(server.url, http2="prior-knowledge") as session:
        assert (await session.get(path="/first")).content == b"/first"
        conn = server.connections[0]

        async def get(i: int) -> None:
            results.append((await session.get(path=f"/{i}")).content)

        async with curio.TaskGroup() as group:
            for i in range(8):
                await group.spawn(get, i)
            await server.wait_until(lambda: conn.open_streams == 1)
            assert session.pool_stats().waiting == 7
            # Raised: four more streams at once, without one ending.
            await conn.update_settings({MAX_STREAMS: 5})
            await server.wait_until(lambda: conn.open_streams == 5)
            assert session.pool_stats().waiting == 3
            await release.set()
    assert sorted(results) == sorted(f"/{i}".encode() for i in range(8))
    assert conn.max_open == 5
    assert server.accepted == 1


async def test_zero_stream_limit_on_an_idle_connection_next_request_goes_elsewhere(
    h2_server: H2ServerFactory,
) -> None:
    """SETTINGS_MAX_CONCURRENT_STREAMS 0 on an idle connection (RFC 9113
    section 6.5.2: no new stream there, for now). The pool once handed the
    idle connection out anyway; h2 refused the stream, the connection went
    back idle and was handed out again, in a loop that never blocked, so
    the whole kernel spun (not even a timeout could end it)."""
    server = await h2_server(settings={MAX_STREAMS: 10})
    async with asks.Session(server.url, http2="prior-knowledge") as session:
        assert (await session.get(path="/first")).content == b"ok"
        conn = server.connections[0]
        await server.wait_until(lambda: conn.settings_acks == 2)
        await conn.update_settings({MAX_STREAMS: 0})
        await server.wait_until(lambda: conn.settings_acks == 3)
        assert (await session.get(path="/next")).content == b"ok"
        await server.wait_until(lambda: conn.closed_by_client)
        stats = session.pool_stats()
        assert (stats.open, stats.busy) == (1, 0)
    assert [(s.conn.number, s.path) for s in server.requests] == [(0, b"/first"), (1, b"/next")]


async def test_zero_stream_limit_then_last_stream_ends_waiting_requests_go_elsewhere(
    h2_server: H2ServerFactory,
) -> None:
    """Requests wait for a stream of a full connection; the server lowers
    its limit to 0 and the last open stream ends. The connection can take
    none of them (and, idle, is not handed out): they must look again, not
    wait for a stream of a connection gone back to the idle list."""
    release = curio.Event()
    server = await h2_server(holding_handler(release), settings={MAX_STREAMS: 1})
    results: list[bytes] = []
    async with asks.Session(server.url, http2="prior-knowledge") as session:
        assert (await session.get(path="/first")).content == b"/first"
        conn = server.connections[0]
        await server.wait_until(lambda: conn.settings_acks == 2)

        async def get(i: int) -> None:
            results.append((await session.get(path=f"/{i}")).content)

        async with curio.TaskGroup() as group:
            for i in range(3):
                await group.spawn(get, i)
            await server.wait_until(lambda: conn.open_streams == 1)
            assert session.pool_stats().waiting == 2
            await conn.update_settings({MAX_STREAMS: 0})
            await server.wait_until(lambda: conn.settings_acks == 3)
            await release.set()
        await server.wait_until(lambda: conn.closed_by_client)
        assert session.pool_stats().busy == 0
    assert sorted(results) == [b"/0", b"/1", b"/2"]
    assert sorted(s.conn.number for s in server.requests) == [0, 0, 1, 1]
