"""RST_STREAM from the server in the middle of a response body.

Over HTTP/1.1 a body cut short (the connection reset or closed inside it)
raises :class:`ServerClosedConnectionError` (reliability.md rows 6 and 8),
never a short body returned as success; a stream reset inside the body is
the same thing for one stream, so it raises the same class, both for a
buffered body and from a ``stream=True`` body's iterator. Only that stream
ends: the others on the connection carry on, and the connection takes the
next request.
"""

from __future__ import annotations

import curio
import h2.errors
import pytest

import asks
from asks.errors import ServerClosedConnectionError
from tests.http2.conftest import H2Mode, H2ServerFactory
from tests.http2.scripted import ServerStream

CODES = [h2.errors.ErrorCodes.INTERNAL_ERROR, h2.errors.ErrorCodes.CANCEL]


def cutting_handler(code: int, release: curio.Event):  # type: ignore[no-untyped-def]
    async def handler(stream: ServerStream) -> None:
        await stream.read_body()
        if stream.path == b"/cut":
            await stream.send_headers(200, [(b"content-length", b"1000")])
            await stream.send_data(b"x" * 100)
            await stream.reset(code)
        elif stream.path == b"/held":
            await release.wait()
            await stream.respond(200, b"held body")
        else:
            await stream.respond(200, b"fine")

    return handler


@pytest.mark.parametrize("code", CODES, ids=lambda c: c.name)
async def test_reset_mid_body_raises_server_closed_and_spares_other_streams(
    h2_server: H2ServerFactory, h2_mode: H2Mode, code: h2.errors.ErrorCodes
) -> None:
    release = curio.Event()
    server = await h2_server(cutting_handler(code, release), **h2_mode.server)
    async with asks.Session(server.url, retries=0, **h2_mode.session) as session:
        held = await curio.spawn(session.get, server.url + "/held")
        await server.wait_until(lambda: len(server.requests) == 1)
        with pytest.raises(ServerClosedConnectionError, match=code.name):
            await session.get(path="/cut")
        # The held stream is unaffected, and the connection takes more.
        await release.set()
        r_held = await held.join()
        r_next = await session.get(path="/next")
        assert session.pool_stats().busy == 0
    assert (r_held.status_code, r_held.content) == (200, b"held body")
    assert r_next.content == b"fine"
    assert server.accepted == 1
    assert [s.path for s in server.requests] == [b"/held", b"/cut", b"/next"]


@pytest.mark.parametrize("code", CODES, ids=lambda c: c.name)
async def test_reset_mid_streamed_body_raises_from_the_iterator(
    h2_server: H2ServerFactory, code: h2.errors.ErrorCodes
) -> None:
    server = await h2_server(cutting_handler(code, curio.Event()))
    async with asks.Session(server.url, http2="prior-knowledge", retries=0) as session:
        r = await session.get(path="/cut", stream=True)
        received = b""
        with pytest.raises(ServerClosedConnectionError, match=code.name):
            async for chunk in r.body:
                received += chunk
        assert received == b"x" * 100
        r_next = await session.get(path="/next")
        stats = session.pool_stats()
        assert (stats.open, stats.busy) == (1, 0)
    assert r_next.content == b"fine"
    assert server.accepted == 1


@pytest.mark.parametrize("code", CODES, ids=lambda c: c.name)
async def test_reset_before_the_head_is_server_closed_and_retried_like_http11(
    h2_server: H2ServerFactory, code: h2.errors.ErrorCodes
) -> None:
    """A stream reset (not REFUSED_STREAM) before any response byte.

    The server may have processed the request, so it is not the transport's
    to resend. Over HTTP/1.1 a connection reset before the response is
    ServerClosedConnectionError, which ``retries=`` sends again for an
    idempotent method only; the same here.
    """
    seen = 0

    async def handler(stream: ServerStream) -> None:
        nonlocal seen
        seen += 1
        await stream.read_body()
        if seen in (1, 2):
            await stream.reset(code)
        else:
            await stream.respond(200, b"second try")

    server = await h2_server(handler)
    async with asks.Session(server.url, http2="prior-knowledge", retries=1) as session:
        with pytest.raises(ServerClosedConnectionError, match=code.name):
            await session.post(path="/post", data=b"x")
        r = await session.get(path="/get")
        assert r.content == b"second try"
        assert session.pool_stats().busy == 0
    assert [s.path for s in server.requests] == [b"/post", b"/get", b"/get"]
    assert server.accepted == 1
