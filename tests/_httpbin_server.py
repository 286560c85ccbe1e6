"""Serve httpbin with hypercorn on 127.0.0.1, on a port the kernel picks.

Run by ``tests.servers.HttpbinProcess``. Prints the port as one line on
stdout once hypercorn is accepting connections, then serves until stdin is
closed (so the server goes away when the test process does).

    python tests/_httpbin_server.py [--certfile CHAIN.pem --keyfile KEY.pem] [--alpn h2,http/1.1]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys

import httpbin
from hypercorn.asyncio import serve
from hypercorn.config import Config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--certfile", help="PEM certificate chain; enables TLS")
    parser.add_argument("--keyfile", help="PEM private key for --certfile")
    parser.add_argument(
        "--alpn",
        default="http/1.1",
        help="comma-separated ALPN protocols to offer (h2,http/1.1 for the HTTP/2 tests)",
    )
    args = parser.parse_args()

    # The parent reads only the port line from our stdout and never drains the
    # pipe after it; anything else printed there (hypercorn's access log, which
    # it writes to stdout) would eventually fill the pipe and block the server.
    # So keep a private handle for the port line and send fd 1 to the log.
    port_out = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())

    # Binding here rather than letting hypercorn bind "127.0.0.1:0" is what
    # lets us learn the port: hypercorn only logs it.
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    port = listener.getsockname()[1]

    config = Config()
    # hypercorn wraps the descriptor in its own socket object; detach ours so
    # that the descriptor is closed exactly once.
    config.bind = [f"fd://{listener.detach()}"]
    config.accesslog = "-"
    config.errorlog = "-"
    # Only the HTTP/2 tests let TLS negotiate h2 (--alpn h2,http/1.1). Over
    # plain TCP hypercorn speaks h2c to a client that opens with the HTTP/2
    # preface whatever this says.
    config.alpn_protocols = args.alpn.split(",")
    # Connections the tests left idle must not hold up the shutdown long.
    config.graceful_timeout = 1.0
    if args.certfile:
        config.certfile = args.certfile
        config.keyfile = args.keyfile

    async def serve_until_stdin_closes() -> None:
        # hypercorn awaits this trigger only once its servers are started, so
        # announcing the port here means "ready", not just "bound".
        print(port, file=port_out, flush=True)
        port_out.close()
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.buffer.read)

    asyncio.run(serve(httpbin.app, config, shutdown_trigger=serve_until_stdin_closes, mode="wsgi"))


if __name__ == "__main__":
    main()
