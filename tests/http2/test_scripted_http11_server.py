"""h2c with prior knowledge against a server that speaks only HTTP/1.1.

Such a server takes the connection preface (``PRI * HTTP/2.0``) for a bad
request and answers ``HTTP/1.1 400``. asks raises :class:`BadHttpResponse`
(the answer is not HTTP/2) with a message that says what happened: the
server answered in HTTP/1.1, so ``http2="prior-knowledge"`` is wrong for it.
The request is not sent again, and nothing is left open.
"""

from __future__ import annotations

import curio
import curio.io
import pytest

import asks
from asks.errors import BadHttpResponse
from tests.http2.conftest import H2ServerFactory

ANSWER = (
    b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n"
    b"Content-Length: 11\r\nConnection: close\r\n\r\nBad Request"
)


async def test_h2c_against_http11_only_server_names_http11(h2_server: H2ServerFactory) -> None:
    received = bytearray()

    async def http11_only(sock: curio.io.Socket) -> None:
        received.extend(await sock.recv(65536))
        await sock.sendall(ANSWER)
        while data := await sock.recv(65536):  # until the client goes
            received.extend(data)

    server = await h2_server(raw=http11_only)
    async with asks.Session(server.url, http2="prior-knowledge") as session:
        with pytest.raises(BadHttpResponse, match=r"HTTP/1\.1 400") as caught:
            await curio.timeout_after(10, session.get(path="/"))
        assert "prior-knowledge" in str(caught.value)
        stats = session.pool_stats()
        assert (stats.open, stats.busy, stats.waiting) == (0, 0, 0)
    assert received.startswith(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
    assert server.accepted == 1  # not sent again (retries=1 is for lost connections)
