"""The bulk fetch on the bare stack asks is built on: h11 over curio sockets, no asks.

The floor of ``benchmarks/crawl_nginx.py`` for any client made of curio and
h11: what is left when the client does only what the job needs. Workers pull
URLs from the list, keep every idle connection of every origin (as aiohttp's
connector does; nothing is ever closed for want of room), send a request
h11 frames, read the response through h11, and write the same JSON line per
URL as ``benchmarks/aiohttp_crawl.py`` (one ``write(2)`` each, so an
interrupted run keeps every line it wrote). It skips everything a client
adds for its users: no URL checks beyond ``urlsplit``, no stale check
before reusing a connection, no timeouts, no decoding, no retries, no
per-host limits. A row of this script says how far the stack itself goes;
the distance between it and asks is asks' own cost.

    python benchmarks/h11_curio_crawl.py urls.txt --concurrency 20 --jsonl out.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import curio
import h11
from bare_h11 import read_response

Idle = dict[tuple[str, int], list[tuple[curio.io.Socket, h11.Connection]]]


async def fetch(url: str, idle: Idle) -> dict[str, object]:
    """GET *url* over an idle connection of its origin or a new one; its record."""
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or 80
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    kept = idle.get((host, port))
    if kept:
        sock, conn = kept.pop()
    else:
        sock = await curio.open_connection(host, port)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = h11.Connection(h11.CLIENT)
    try:
        request = h11.Request(
            method="GET",
            target=target,
            headers=[("Host", parts.netloc), ("User-Agent", "h11-curio-crawl")],
        )
        await sock.sendall(conn.send(request) + conn.send(h11.EndOfMessage()))  # type: ignore[operator]
        status, size = await read_response(sock, conn)
    except BaseException:
        await sock.close()
        raise
    if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
        conn.start_next_cycle()
        idle.setdefault((host, port), []).append((sock, conn))
    else:
        await sock.close()
    return {"url": url, "status": status, "bytes": size, "error": None}


async def worker(urls: Iterator[str], idle: Idle, fd: int) -> None:
    """Fetch URLs from the shared iterator until it is exhausted."""
    for url in urls:
        started = time.monotonic()
        try:
            record = await fetch(url, idle)
        except Exception as exc:  # one bad URL must not stop the others
            error = f"{type(exc).__name__}: {exc}"
            record = {"url": url, "status": None, "bytes": 0, "error": error}
        record["elapsed"] = round(time.monotonic() - started, 6)
        data = memoryview((json.dumps(record) + "\n").encode())
        while data:
            data = data[os.write(fd, data) :]


def read_urls(path: str) -> Iterator[str]:
    """The list's URLs, read lazily; blank and comment lines skipped."""
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            url = line.strip()
            if url and not url.startswith("#"):
                yield url


async def crawl(source: str, jsonl: str, concurrency: int) -> None:
    """Fetch every URL of *source* with *concurrency* workers."""
    urls = read_urls(source)
    idle: Idle = {}
    fd = os.open(jsonl, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    try:
        async with curio.TaskGroup() as group:
            for _ in range(concurrency):
                await group.spawn(worker, urls, idle, fd)
    finally:
        os.close(fd)
        for kept in idle.values():
            for sock, _ in kept:
                await sock.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", help="the URL list, one per line")
    parser.add_argument("--concurrency", type=int, default=20, help="requests at once")
    parser.add_argument("--jsonl", default="/dev/stdout", help="where the JSON lines go")
    args = parser.parse_args()
    curio.run(crawl, args.source, args.jsonl, args.concurrency)
    return 0


if __name__ == "__main__":
    sys.exit(main())
