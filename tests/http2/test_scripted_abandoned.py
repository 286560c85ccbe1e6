"""Responses closed unread must not shrink the connection window for good.

httpcore's stall (transport.md): DATA of responses nobody reads was never
acknowledged, the connection window fell to 0 and the next request hung.
Here 40 responses of 1 MiB each (40 MiB, over the client's 16 MiB
connection window) are opened with ``stream=True`` and closed unread, some
after one chunk; then a 5 MiB download on the same connection completes.
The scripted server sends only what the client's windows allow, so a window
not given back would stall it (and fail at the test's deadline).
"""

from __future__ import annotations

import curio

import asks
from tests.http2.conftest import H2ServerFactory
from tests.http2.scripted import ServerStream

MIB = 1 << 20


async def handler(stream: ServerStream) -> None:
    await stream.read_body()
    size = 5 * MIB if stream.path == b"/big" else MIB
    await stream.send_headers(200, [(b"content-length", b"%d" % size)])
    await stream.send_data(b"z" * size, end_stream=True)


async def test_abandoned_responses_leave_the_window_whole(h2_server: H2ServerFactory) -> None:
    server = await h2_server(handler)
    async with asks.Session(server.url, http2="prior-knowledge") as session:
        for i in range(40):
            r = await session.get(path=f"/{i}", stream=True)
            if i % 2:
                async for _chunk in r.body:
                    break
            await r.close()
        r = await curio.timeout_after(15, session.get(path="/big"))
        assert len(r.content) == 5 * MIB
        stats = session.pool_stats()
        assert (stats.open, stats.busy) == (1, 0)
    assert server.accepted == 1
    assert len(server.requests) == 41
