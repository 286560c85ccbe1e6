"""A 204 or 304 that announces a Content-Length has no content (RFC 9113 section 8.1.1).

A 304 names the length of the representation it stands for (RFC 9110
section 8.6). h2 excuses only the response to HEAD and counted the rest
against the length: a server ending such a response with an empty DATA frame
(hypercorn does) was a protocol error of the whole connection. asks reaches
into h2's stream to say so; .ci/h2-versions runs this file against every h2
release pyproject allows.
"""

from __future__ import annotations

import pytest

import asks
from tests.http2.conftest import H2ServerFactory
from tests.http2.scripted import ServerStream


@pytest.mark.parametrize("status", [204, 304])
@pytest.mark.parametrize("ending", ["empty DATA", "on HEADERS"])
async def test_a_bodiless_status_with_a_content_length_is_answered_on_a_live_connection(
    h2_server: H2ServerFactory, status: int, ending: str
) -> None:
    async def handler(stream: ServerStream) -> None:
        await stream.read_body()
        if stream.path != b"/bodiless":
            await stream.respond(200, b"ok")
            return
        headers = [(b"content-length", b"1234")]
        if ending == "on HEADERS":
            await stream.send_headers(status, headers, end_stream=True)
        else:
            await stream.send_headers(status, headers)
            await stream.send_data(b"", end_stream=True)

    server = await h2_server(handler)
    async with asks.Session(server.url, http2="prior-knowledge") as session:
        r = await session.get(path="/bodiless")
        assert (r.status_code, r.content) == (status, b"")
        assert (await session.get(path="/after")).content == b"ok"
    assert server.accepted == 1  # the same connection served both
