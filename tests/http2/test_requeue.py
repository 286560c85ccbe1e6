"""A request bounced before a byte of it was sent goes back to the pool.

The pool handed out a stream, then the connection could not open it after
all: the server lowered its stream limit in between (h2 raises
``TooManyStreamsError``), or a GOAWAY came. Nothing was sent, so the request
is checked out again (``ConnectionNotAvailable``); it is neither a retry of
the call's ``retries=`` nor a resend of a refused stream.
"""

from __future__ import annotations

from typing import Any

import h2.connection
import h2.exceptions
import pytest

import asks
from tests.http2.conftest import H2ServerFactory
from tests.http2.scripted import ServerStream


async def ok(stream: ServerStream) -> None:
    body = await stream.read_body()
    await stream.respond(200, b"got " + body)


async def test_a_stream_the_limit_no_longer_allows_is_re_queued_not_retried(
    h2_server: H2ServerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = h2.connection.H2Connection.send_headers
    bounced = 0

    def send_headers(self: h2.connection.H2Connection, *args: Any, **kwargs: Any) -> Any:
        nonlocal bounced
        if bounced < 2:
            bounced += 1  # as when the server's lowered limit has just arrived
            raise h2.exceptions.TooManyStreamsError("Max outbound streams is 0, 0 open")
        return original(self, *args, **kwargs)

    server = await h2_server(ok)
    async with asks.Session(server.url, http2="prior-knowledge", retries=0) as session:
        first = await session.get(path="/warm")
        monkeypatch.setattr(h2.connection.H2Connection, "send_headers", send_headers)
        r = await session.post(path="/p", data=b"payload")
        stats = session.pool_stats()
    assert first.status_code == 200
    assert (r.status_code, r.content) == (200, b"got payload")
    assert bounced == 2
    # Sent once, with retries=0: the bounces were not attempts.
    assert [s.method for s in server.requests] == [b"GET", b"POST"]
    assert (stats.busy, stats.waiting) == (0, 0)


async def test_an_oserror_from_the_body_source_is_the_callers_not_a_resend(
    h2_server: H2ServerFactory,
) -> None:
    # As over HTTP/1.1: a file's read failing mid-upload is the caller's
    # error, raised as it came; were it taken for a dead connection, the
    # PUT would be sent again on a new one (it is replayable no more).
    failure = OSError(5, "Input/output error")

    async def failing_body():
        yield b"first piece"
        raise failure

    server = await h2_server(ok)
    async with asks.Session(server.url, http2="prior-knowledge") as session:
        await session.get(path="/warm")
        with pytest.raises(OSError) as caught:
            await session.put(path="/up", data=failing_body(), timeout=10)
        assert caught.value is failure
        assert (await session.get(path="/after")).status_code == 200
    assert [s.method for s in server.requests] == [b"GET", b"PUT", b"GET"]
    assert server.accepted == 1
