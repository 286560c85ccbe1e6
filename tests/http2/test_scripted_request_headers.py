"""What the server receives of a request's headers over HTTP/2.

RFC 9113 section 8.2.2: connection-specific fields (Connection, Keep-Alive,
Proxy-Connection, Transfer-Encoding, Upgrade) are not sent, and TE only as
``trailers``; section 8.2.1: names in lower case; section 8.3.1: Host
becomes ``:authority``. asks strips them itself (h2's own validation is
off), so the server's h2, which validates, sees a well-formed block.
"""

from __future__ import annotations

import asks
from tests.http2.conftest import H2ServerFactory


async def test_connection_specific_headers_stripped_names_lowered(
    h2_server: H2ServerFactory,
) -> None:
    server = await h2_server()
    headers = {
        "Connection": "keep-alive",
        "Keep-Alive": "timeout=5",
        "Proxy-Connection": "keep-alive",
        "Upgrade": "h2c",
        "TE": "gzip",
        "X-Mixed-Case": "Value",
    }
    async with asks.Session(server.url, http2="prior-knowledge") as session:
        await session.get(path="/a?q=1", headers=headers)
        await session.get(path="/b", headers={"TE": "trailers"})
    first, second = server.requests
    names = [name for name, _ in first.headers]
    assert names[:4] == [b":method", b":scheme", b":authority", b":path"]
    assert first.header(b":authority") == f"127.0.0.1:{server.port}".encode()
    assert (first.header(b":scheme"), first.path) == (b"http", b"/a?q=1")
    assert first.header(b"x-mixed-case") == b"Value"
    for name in (b"connection", b"keep-alive", b"proxy-connection", b"upgrade", b"te", b"host"):
        assert first.header(name) is None, name
    assert all(name == name.lower() for name in names)
    assert second.header(b"te") == b"trailers"
