"""RST_STREAM(REFUSED_STREAM) before any response: the request was never processed.

RFC 9113 section 8.7: such a request may be sent again whatever its method.
asks sends it again on a new connection, a bounded number of times
(``transport._MAX_REFUSED``), and those resends are the transport's own: they
are not taken from the call's ``retries=``.
"""

from __future__ import annotations

import h2.errors
import pytest

import asks
from asks._transport.transport import _MAX_REFUSED
from asks.errors import ServerClosedConnectionError
from tests.http2.conftest import H2Mode, H2ServerFactory
from tests.http2.scripted import ServerStream

REFUSED = h2.errors.ErrorCodes.REFUSED_STREAM


def refuse_first(times: int):  # type: ignore[no-untyped-def]
    seen = 0

    async def handler(stream: ServerStream) -> None:
        nonlocal seen
        seen += 1
        if seen <= times:
            await stream.reset(REFUSED)
            return
        body = await stream.read_body()
        await stream.respond(200, b"got " + body)

    return handler


async def test_refused_post_is_sent_again_on_a_new_connection(
    h2_server: H2ServerFactory,
    h2_mode: H2Mode,
) -> None:
    server = await h2_server(refuse_first(1), **h2_mode.server)
    async with asks.Session(server.url, retries=0, **h2_mode.session) as session:
        r = await session.post(path="/p", data=b"payload")
        assert (r.status_code, r.content) == (200, b"got payload")
        assert session.pool_stats().busy == 0
    assert [s.method for s in server.requests] == [b"POST", b"POST"]
    assert [s.conn.number for s in server.requests] == [0, 1]
    assert bytes(server.requests[1].body) == b"payload"


async def test_refusals_up_to_the_bound_succeed_with_retries_zero(
    h2_server: H2ServerFactory,
) -> None:
    server = await h2_server(refuse_first(_MAX_REFUSED))
    async with asks.Session(server.url, http2="prior-knowledge", retries=0) as session:
        r = await session.post(path="/p", data=b"x")
    assert r.content == b"got x"
    assert len(server.requests) == _MAX_REFUSED + 1
    # Each attempt on a connection of its own.
    assert [s.conn.number for s in server.requests] == list(range(_MAX_REFUSED + 1))


async def test_always_refused_ends_with_server_closed_after_the_bound(
    h2_server: H2ServerFactory,
) -> None:
    async def refuse(stream: ServerStream) -> None:
        await stream.reset(REFUSED)

    server = await h2_server(refuse)
    async with asks.Session(server.url, http2="prior-knowledge", retries=0) as session:
        with pytest.raises(ServerClosedConnectionError, match="REFUSED_STREAM"):
            await session.post(path="/p", data=b"x")
        stats = session.pool_stats()
        assert (stats.busy, stats.waiting) == (0, 0)
    assert len(server.requests) == _MAX_REFUSED + 1


async def test_hooks_see_a_refused_request_and_its_resend_as_one(
    h2_server: H2ServerFactory,
) -> None:
    # The resend is the transport's, below the hooks (as the silent resend
    # after a dead pooled connection is): one request, one response.
    requests: list[str] = []
    responses: list[int] = []

    async def on_request(request: asks.Request) -> None:
        requests.append(request.method)

    async def on_response(response: asks.Response) -> None:
        responses.append(response.status_code)

    server = await h2_server(refuse_first(2))
    async with asks.Session(
        server.url,
        http2="prior-knowledge",
        event_hooks={"request": [on_request], "response": [on_response]},
    ) as session:
        r = await session.post(path="/p", data=b"x")
    assert (r.content, r.history) == (b"got x", [])
    assert len(server.requests) == 3  # sent three times...
    assert (requests, responses) == (["POST"], [200])  # ...seen once
