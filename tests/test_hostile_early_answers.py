"""Hostile servers: an early answer to an upload.

reliability.md row 21: the server answers a large POST (413) before reading
its body, with or without a lingering close. Shared helpers and the
invariants every case checks: tests/hostile_helpers.py.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import pytest

import asks
from tests.hostile_helpers import MODES, assert_released, drain, fetch

# --------------------------------------------------------------------------
# Row 21: an early answer to an upload


def early_413(linger: bool) -> Callable:
    async def handler(sock):
        head = b""
        while b"\r\n\r\n" not in head:
            data = await sock.recv(65536)
            if not data:
                return
            head += data
        await sock.sendall(
            b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 4\r\nConnection: close\r\n\r\nnope"
        )
        if linger:
            # What nginx does: stop writing, read and drop the rest for a
            # while so the client sees the answer instead of a reset.
            await sock.shutdown(socket.SHUT_WR)
            await drain(sock)

    return handler


@MODES
@pytest.mark.curio_timeout(10)
async def test_early_413_with_lingering_close_is_returned(raw_server, stream):
    server = await raw_server(early_413(linger=True))
    async with asks.Session() as s:
        r, content = await fetch(
            s, server.url, stream=stream, method="POST", data=b"x" * (32 << 20)
        )
        assert (r.status_code, content) == (413, b"nope")
        assert_released(s)


@MODES
@pytest.mark.parametrize("tls", [False, True], ids=["tcp", "tls"])
@pytest.mark.curio_timeout(10)
async def test_early_413_then_close_is_the_answer(
    raw_server, server_ssl_context, client_ssl_context, stream, tls
):
    # No lingering: the server closes with the upload unread, so the
    # client's send fails (EPIPE, or a TLS error). The 413 was in the socket
    # all along and is the answer (RFC 9112 section 9.5).
    server = await raw_server(early_413(linger=False), server_ssl_context if tls else None)
    async with asks.Session(ssl_context=client_ssl_context) as s:
        start = time.monotonic()
        r, content = await fetch(
            s, server.url, stream=stream, method="POST", data=b"x" * (32 << 20)
        )
        assert (r.status_code, content) == (413, b"nope")
        assert time.monotonic() - start < 2
        assert_released(s)
        # The connection was closed; the next request gets a new one.
        again, _ = await fetch(s, server.url, stream=stream, method="POST", data=b"y")
        assert again.status_code == 413
    assert server.accepted == 2
