"""A small ASGI app for the HTTP/2 tests, served by hypercorn (TLS + ALPN, h2c).

``/bytes/N``        N bytes (a repeating pattern), sent in 64 KiB pieces
``/echo``           the request body back, as it arrives (a streamed echo)
``/delay/MS``       ``ok`` after MS milliseconds (the latency-hiding cases)
``/stall/MS``       the head and a first chunk at once, the rest after MS milliseconds
``/version``        the HTTP version the server saw (``2`` or ``1.1``)
``/headers``        the request's header fields, one ``name: value`` per line
``/bodiless/NNN``   status NNN (204, 304) with the Content-Length of the body it
                    would have had, and no content, ended by an empty DATA frame
``/challenge/N``    a 401 offering Basic only, with N bytes as ``/bytes/N``
``/gather/N/KEY``   ``ok`` once N requests with this KEY are in the app at once
                    (each waits for the rest: proof, with no timing, that they
                    were all in flight together); 503 if they do not all come
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

PATTERN = bytes(range(256)) * 256  # 64 KiB

# A gathering that never completes answers 503 after this, so a client that
# sent fewer requests at once fails with the count rather than hanging.
GATHER_TIMEOUT = 10.0
_gatherings: dict[str, tuple[int, asyncio.Event]] = {}


def pattern(size: int) -> bytes:
    """The body ``/bytes/SIZE`` answers with, for comparing byte-exact."""
    return (PATTERN * (size // len(PATTERN) + 1))[:size]


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    parts = scope["path"].strip("/").split("/")
    if parts[0] == "bytes":
        await _bytes(send, int(parts[1]))
    elif parts[0] == "challenge":
        challenge = [(b"www-authenticate", b'Basic realm="r"')]
        await _bytes(send, int(parts[1]), 401, challenge)
    elif parts[0] == "echo":
        await _echo(receive, send)
    elif parts[0] == "delay":
        await asyncio.sleep(int(parts[1]) / 1000)
        await _answer(send, 200, b"ok\n")
    elif parts[0] == "stall":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"first", "more_body": True})
        await asyncio.sleep(int(parts[1]) / 1000)
        await send({"type": "http.response.body", "body": b"rest"})
    elif parts[0] == "bodiless":
        # RFC 9110 section 8.6: a 304 may announce the selected
        # representation's length. hypercorn sends the headers, then an
        # empty DATA frame with END_STREAM.
        headers = [(b"content-length", b"1234"), (b"etag", b'"v1"')]
        await send({"type": "http.response.start", "status": int(parts[1]), "headers": headers})
        await send({"type": "http.response.body", "body": b""})
    elif parts[0] == "gather":
        await _gather(send, int(parts[1]), parts[2])
    elif parts[0] == "version":
        await _answer(send, 200, scope["http_version"].encode())
    elif parts[0] == "headers":
        lines = b"".join(name + b": " + value + b"\n" for name, value in scope["headers"])
        await _answer(send, 200, lines)
    else:
        await _answer(send, 404, b"not found\n")


async def _bytes(
    send: Send, size: int, status: int = 200, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    headers = [(b"content-type", b"application/octet-stream"), *(extra or [])]
    headers.append((b"content-length", str(size).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    sent = 0
    while sent < size:
        piece = PATTERN[: min(len(PATTERN), size - sent)]
        sent += len(piece)
        await send({"type": "http.response.body", "body": piece, "more_body": sent < size})
    if size == 0:
        await send({"type": "http.response.body", "body": b""})


async def _echo(receive: Receive, send: Send) -> None:
    started = False
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return
        if not started:
            headers = [(b"content-type", b"application/octet-stream")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            started = True
        more = message.get("more_body", False)
        await send(
            {"type": "http.response.body", "body": message.get("body", b""), "more_body": more}
        )
        if not more:
            return


async def _gather(send: Send, count: int, key: str) -> None:
    arrived, everyone = _gatherings.get(key, (0, asyncio.Event()))
    arrived += 1
    _gatherings[key] = (arrived, everyone)
    if arrived >= count:
        everyone.set()
    try:
        await asyncio.wait_for(everyone.wait(), GATHER_TIMEOUT)
    except asyncio.TimeoutError:
        arrived = _gatherings[key][0]
        await _answer(send, 503, f"{arrived} of {count} came\n".encode())
        return
    await _answer(send, 200, b"ok\n")


async def _answer(send: Send, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
