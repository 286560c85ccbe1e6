"""Fetch a URL with asks on curio - the README's first command.

    python examples/quickstart.py                 # against a local demo server
    python examples/quickstart.py https://host/   # against any URL

With no URL, a small HTTP/1.1 server is started on 127.0.0.1 (a free port)
so the example runs anywhere, network or not. It then shows what a Session
does for you: ten requests, one TCP connection.
"""

from __future__ import annotations

import http.server
import sys
import threading

import curio

import asks


class _Demo(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like any real server

    def do_GET(self) -> None:
        body = b'{"hello": "from a local server", "path": "%s"}' % self.path.encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def start_demo_server() -> tuple[http.server.ThreadingHTTPServer, str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Demo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


async def main(url: str) -> None:
    # One request, one temporary session.
    r = await asks.get(url)
    print(f"GET {r.url} -> {r.status_code} {r.reason_phrase}, {len(r.content)} bytes")
    print(r.text[:200])

    # Many requests: a Session keeps the connection alive between them.
    async with asks.Session(connections=4) as session:
        for i in range(10):
            r = await session.get(url, params={"i": i})
            r.raise_for_status()
        pool = session.pool_stats()
        print(f"10 requests through one Session: {pool.open} connection(s) open, {pool.idle} idle")


if __name__ == "__main__":
    server = None
    if len(sys.argv) > 1:
        target = sys.argv[1]
    else:
        server, target = start_demo_server()
    try:
        curio.run(main, target)
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()
