"""Helpers shared by the hostile-server tests (tests/test_hostile_*.py).

Those tests cover the cases of /work/shared/reliability.md. Every case is a
scripted raw server on 127.0.0.1 (or a caller doing something bad), and every
case checks, besides the documented outcome:

* the session holds no slot afterwards and pooled nothing that saw an error
  (``assert_released``), or - where the request succeeds - whether the
  connection was reused or replaced (``server.accepted``);
* nothing hangs: every call carries ``timeout=`` and every test a small
  ``curio_timeout``, so a hang shows up as the wrong exception, quickly;
* no file descriptor is left open (the harness checks that after each test).

Most cases run twice, buffered and with ``stream=True`` (the stream read to
the end), through :func:`fetch` (parametrised by ``MODES``).
"""

from __future__ import annotations

import contextlib
import gc
import socket
import struct
from collections.abc import Callable, Iterator

import pytest

import asks
from asks.errors import BadHttpResponse
from tests.servers import read_request

# Long enough never to fire when asks behaves, short enough that a hang fails fast.
CALL_TIMEOUT = 3.0

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

MODES = pytest.mark.parametrize("stream", [False, True], ids=["buffered", "stream"])


# --------------------------------------------------------------------------
# Helpers


async def fetch(s: asks.Session, url: str, *, stream: bool, method: str = "GET", **kwargs):
    """Make one request and read its body to the end; return (response, content).

    Buffered: ``r.content`` (so decoding errors surface too). Stream: the
    decoded chunks of ``r.body``, each read bounded by ``CALL_TIMEOUT``.
    """
    kwargs.setdefault("timeout", CALL_TIMEOUT)
    r = await s.request(method, url, stream=stream, **kwargs)
    if not stream:
        return r, r.content
    content = bytearray()
    async for chunk in r.body(timeout=CALL_TIMEOUT):
        content += chunk
    return r, bytes(content)


@contextlib.contextmanager
def cyclic_garbage(kept: Callable[[object], bool]) -> Iterator[list[object]]:
    """The objects *kept* picks among what only the collector could free, made inside.

    The collector is off inside, and what it finds at the end is kept for
    the check instead of freed (``DEBUG_SAVEALL``): anything there was a
    reference cycle. The list fills in when the block ends.
    """
    found: list[object] = []
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        yield found
        gc.collect()
        found.extend(o for o in gc.garbage if kept(o))
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


def assert_released(s: asks.Session) -> None:
    """No slot taken, nothing pooled, nobody waiting: the failed connection is gone."""
    pool = s._pool
    assert (pool.open, pool.idle, pool.waiting) == (0, 0, 0)


async def drain(sock) -> None:
    """Read and drop everything until the client closes (or resets) the connection."""
    try:
        while await sock.recv(65536):
            pass
    except OSError:
        pass


def reset_on_close(sock) -> None:
    """Make the coming close send a TCP RST instead of a FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


class Answer:
    """A handler: per connection, read one request, send ``response``, then

    * ``then="hold"``: keep the connection open until the client closes it
      (a client that waits for more bytes would hang - and time out);
    * ``then="close"``: close it (FIN);
    * ``then="reset"``: reset it (RST).

    ``response`` may be empty (close or reset before any byte).
    """

    def __init__(self, response: bytes, then: str = "hold") -> None:
        assert then in ("hold", "close", "reset")
        self.response = response
        self.then = then
        self.requests = 0

    async def __call__(self, sock) -> None:
        if await read_request(sock) is None:
            return
        self.requests += 1
        if self.response:
            await sock.sendall(self.response)
        if self.then == "hold":
            await drain(sock)
        elif self.then == "reset":
            reset_on_close(sock)


# --------------------------------------------------------------------------
# Protocol violations (rows 1-5 and others)


async def expect_bad_response(raw_server, stream: bool, response: bytes, then: str = "hold"):
    handler = Answer(response, then)
    server = await raw_server(handler)
    async with asks.Session() as s:
        with pytest.raises(BadHttpResponse):
            await fetch(s, server.url, stream=stream)
        assert_released(s)
    # A protocol violation is not a connection failure: no retry.
    assert server.accepted == 1


CHUNKED_HEAD = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
