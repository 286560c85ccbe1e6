"""A response head over ``max_head_size`` (sent as SETTINGS_MAX_HEADER_LIST_SIZE).

Over HTTP/1.1 a head over the limit raises :class:`BadHttpResponse`
(reliability.md row 3); over HTTP/2 too, naming the limit. The limit counts
as HPACK does (RFC 7541 section 4.1: name, value and 32 bytes per field).
Over HTTP/2 it is a connection error: the connection's HPACK state is lost
with the header block left undecoded, so the connection is closed cleanly
(GOAWAY) and the next request opens another.
"""

from __future__ import annotations

import curio
import pytest

import asks
from asks.errors import BadHttpResponse
from tests.http2.conftest import H2ServerFactory
from tests.http2.scripted import ServerStream

LIMIT = 4096

HEADS = {
    "one-big-header": [(b"x-big", b"v" * (3 * LIMIT))],
    "many-small-headers": [(b"x-h%d" % i, b"value") for i in range(2000)],
}


@pytest.mark.parametrize("head", HEADS.values(), ids=HEADS.keys())
async def test_response_head_over_max_head_size_is_bad_http_response(
    h2_server: H2ServerFactory, head: list[tuple[bytes, bytes]]
) -> None:
    async def handler(stream: ServerStream) -> None:
        await stream.read_body()
        if stream.path == b"/big":
            await stream.send_headers(200, head, end_stream=True)
        else:
            await stream.respond(200, b"small")

    server = await h2_server(handler)
    async with asks.Session(
        server.url, http2="prior-knowledge", max_head_size=LIMIT, retries=0
    ) as session:
        assert (await session.get(path="/")).content == b"small"
        with pytest.raises(BadHttpResponse, match=str(LIMIT)):
            await curio.timeout_after(10, session.get(path="/big"))
        # Whatever became of that connection, the session goes on.
        assert (await session.get(path="/after")).content == b"small"
        stats = session.pool_stats()
        assert (stats.busy, stats.waiting) == (0, 0)
    # A connection error (h2 will not decode the rest of that header block,
    # so the HPACK state is lost): the client said why, and closed it.
    first = server.connections[0]
    assert first.goaway_received is not None and first.closed_by_client
    assert server.accepted == 2
