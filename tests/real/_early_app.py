"""A tiny ASGI app for hypercorn: answers an upload before reading its body.

``/early/NNN`` (any method) answers status NNN with a short body without ever
calling ``receive()``, the way an app refuses a too-large or unauthorised
upload up front; hypercorn then closes the connection with the body unread.
``/`` answers ``ok``; ``/upload`` reads the whole body and answers its length.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

EARLY_BODY = b"refused before reading the body\n"


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
    path: str = scope["path"]
    if path.startswith("/early/"):
        await _answer(send, int(path.split("/")[2]), EARLY_BODY)
    elif path == "/upload":
        size = 0
        while True:
            message = await receive()
            size += len(message.get("body", b""))
            if not message.get("more_body", False):
                break
        await _answer(send, 200, f"{size}\n".encode())
    elif path == "/":
        await _answer(send, 200, b"ok\n")
    else:
        await _answer(send, 404, b"not found\n")


async def _answer(send: Send, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
