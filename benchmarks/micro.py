"""Micro-benchmarks of the request hot path, without a network.

A scripted socket answers every request at once with the same canned
response, so nothing waits and every microsecond measured is CPU spent in
Python: the bare h11 loop (the ceiling the end-to-end benchmark compares
against), asks' connection layer, and a whole ``Session.get``. The
difference between the rows is what each asks layer costs per request.
Two more rows give every request a URL of its own, as a scraper does: the
URL is parsed and the request event built each time, for asks and for the
bare loop alike. (The "x ceiling" column divides by the first row.)

    python benchmarks/micro.py            # all rows
    python benchmarks/micro.py --n 20000  # more requests per round

Numbers are per request, the best of several rounds (the least disturbed
by other work on the machine).
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import curio
import h11

import asks
from asks._headers import ResponseHeaders
from asks._transport.backend import Stream
from asks._transport.http11 import HTTP11Connection

# What nginx sends for a 100-byte static file.
RESPONSE = (
    b"HTTP/1.1 200 OK\r\n"
    b"Server: nginx/1.22.1\r\n"
    b"Date: Tue, 24 Nov 2026 14:33:13 GMT\r\n"
    b"Content-Type: application/octet-stream\r\n"
    b"Content-Length: 100\r\n"
    b"Last-Modified: Tue, 24 Nov 2026 14:33:13 GMT\r\n"
    b"Connection: keep-alive\r\n"
    b'ETag: "6744c0a9-64"\r\n'
    b"Accept-Ranges: bytes\r\n"
    b"\r\n" + b"x" * 100
)


class ScriptedSocket:
    """Just enough of a curio socket: every recv returns the canned response.

    It is not a plain TCP socket, so asks drives it through curio's generic
    socket calls; the system calls the plain-socket path saves (see
    docs/performance.md) show only end to end.
    """

    def __init__(self) -> None:
        self._r, self._w = os.pipe()  # a descriptor that is never readable
        self.sent = 0

    def fileno(self) -> int:
        return self._r

    async def sendall(self, data: bytes) -> None:
        self.sent += len(data)

    async def recv(self, size: int) -> bytes:
        return RESPONSE

    async def close(self) -> None:
        if self._r >= 0:
            os.close(self._r)
            os.close(self._w)
            self._r = self._w = -1


async def bare_h11(n: int, *, distinct: bool = False) -> float:
    """The end-to-end benchmark's ceiling loop, on the scripted socket.

    With *distinct*, every request has its own target, so the request event
    is built (and its headers validated) each time, as a raw h11 client
    fetching many URLs would.
    """
    sock = ScriptedSocket()
    conn = h11.Connection(h11.CLIENT)
    headers = [("Host", "bench:80"), ("User-Agent", "x")]
    req = h11.Request(method="GET", target="/small", headers=headers)
    targets = [f"/small?page={i}" for i in range(n)] if distinct else []
    start = time.process_time()
    for i in range(n):
        if distinct:
            req = h11.Request(method="GET", target=targets[i], headers=headers)
        await sock.sendall(conn.send(req) + conn.send(h11.EndOfMessage()))  # type: ignore[operator]
        while True:
            ev = conn.next_event()
            if ev is h11.NEED_DATA:
                conn.receive_data(await sock.recv(65536))
                continue
            if type(ev) is h11.EndOfMessage:
                break
        conn.start_next_cycle()
    elapsed = time.process_time() - start
    await sock.close()
    return elapsed


async def connection_layer(n: int) -> float:
    """asks' HTTP11Connection: send, head (with headers mapping), body, reuse."""
    sock = ScriptedSocket()
    conn = HTTP11Connection(Stream(sock), None, 65536)
    wire = (
        (b"Host", b"bench"),
        (b"User-Agent", b"x"),
        (b"Accept", b"*/*"),
        (b"Accept-Encoding", b"gzip, deflate"),
    )
    start = time.process_time()
    for _ in range(n):
        conn.claim()  # what the pool does when it hands the connection out
        await conn.handle(b"GET", b"/small", wire, None)
        await conn.read_all()  # then it releases itself (here: just goes idle)
    elapsed = time.process_time() - start
    await sock.close()
    return elapsed


async def session_get(n: int, *, distinct: bool = False, proxy: str | None = None) -> float:
    """A whole ``Session.get`` and ``.content``, pool and all.

    With *distinct*, every request is to a URL of its own (a scraper): each
    is parsed and gets its own request event. With *proxy*, every request is
    forwarded through that (scripted) HTTP proxy.
    """
    session = asks.Session(connections=1, proxy=proxy, trust_env=False)

    async def scripted_open(*args: Any) -> Stream:
        return Stream(ScriptedSocket())

    session._dialer.open_stream = scripted_open  # type: ignore[method-assign]
    session._dialer.open_via = scripted_open  # type: ignore[method-assign]
    url = "http://bench/small"
    urls = [f"{url}?page={i}" for i in range(n)] if distinct else [url] * n
    await session.get(url)
    start = time.process_time()
    for one in urls:
        r = await session.get(one)
        r.content  # noqa: B018
    elapsed = time.process_time() - start
    await session.close()
    return elapsed


def headers_from_h11(n: int) -> float:
    """Building the response headers mapping from the headers h11 parsed."""
    conn = h11.Connection(h11.CLIENT)
    conn.send(h11.Request(method="GET", target="/small", headers=[("Host", "bench")]))
    conn.send(h11.EndOfMessage())
    conn.receive_data(RESPONSE)
    event = conn.next_event()
    assert type(event) is h11.Response
    parsed = event.headers
    start = time.process_time()
    for _ in range(n):
        ResponseHeaders.from_h11(parsed)
    return time.process_time() - start


ROWS: dict[str, Callable[[int], Awaitable[float] | float]] = {
    "bare h11 loop (ceiling)": bare_h11,
    "asks connection layer": connection_layer,
    "asks Session.get": session_get,
    "bare h11, a URL per request": functools.partial(bare_h11, distinct=True),
    "asks, a URL per request": functools.partial(session_get, distinct=True),
    "ResponseHeaders.from_h11": headers_from_h11,
}


async def measure(fn: Callable[[int], Awaitable[float] | float], n: int, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        result = fn(n)
        elapsed = await result if not isinstance(result, float) else result
        best = min(best, elapsed)
    return best / n * 1e6


async def main(args: argparse.Namespace) -> None:
    print(f"python {sys.version.split()[0]}, h11 {h11.__version__}, curio {curio.__version__}")
    print(f"{'row':28} {'us/request':>10} {'x ceiling':>10}")
    ceiling = None
    for name, fn in ROWS.items():
        us = await measure(fn, args.n, args.rounds)
        ceiling = ceiling or us
        print(f"{name:28} {us:10.2f} {us / ceiling:10.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10000, help="requests per round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds; the best counts")
    curio.run(main, parser.parse_args())
