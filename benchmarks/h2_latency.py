"""Latency hiding: one HTTP/2 connection against HTTP/1.1 with 1 and 50 connections.

100 requests to an endpoint that answers after 50 ms, 50 at a time, through one
``asks.Session`` each: over one HTTP/2 connection (``http2=True``), and over
HTTP/1.1 with ``connections=1`` (the default: a queue) and ``connections=50``.
The server is hypercorn with the tests' app (``tests/real/_h2_app.py``,
``/delay/50``) over TLS, ALPN h2 and http/1.1. Wall time is the number: the
work is waiting. Rounds alternate the three; medians are printed as a
Markdown table. Run from the project root:

    python benchmarks/h2_latency.py                 # 3 rounds
    python benchmarks/h2_latency.py --rounds 5 --delay 100
"""

from __future__ import annotations

import argparse
import ssl
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import curio
import trustme

import asks
from tests.real.hypercorn import H2_APP, Hypercorn
from tests.real.nginx import Certificate

SHAPES = {
    "HTTP/2, one connection": {"http2": True, "connections": 1},
    "HTTP/1.1, connections=1": {"connections": 1},
    "HTTP/1.1, connections=50": {"connections": 50},
}


async def run(
    url: str, context: ssl.SSLContext, shape: dict[str, object], n: int, c: int
) -> tuple[float, int, str]:
    """Wall seconds for *n* GETs by *c* workers, and the connections it opened."""
    async with asks.Session(ssl_context=context, **shape) as s:  # type: ignore[arg-type]
        first = await s.get(url)  # the first connection (and its ALPN answer) is not timed
        left = n
        most_open = 0

        async def worker() -> None:
            nonlocal left, most_open
            while left > 0:
                left -= 1
                r = await s.get(url)
                assert r.status_code == 200
                most_open = max(most_open, s.pool_stats().open)

        start = time.perf_counter()
        async with curio.TaskGroup() as group:
            for _ in range(c):
                await group.spawn(worker)
        return time.perf_counter() - start, most_open, first.http_version


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--delay", type=int, default=50, help="ms the endpoint waits")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1")
    context = ssl.create_default_context()
    ca.configure_trust(context)
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        chain, key = directory / "chain.pem", directory / "key.pem"
        chain.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
        leaf.private_key_pem.write_to_path(str(key))
        server = Hypercorn(
            H2_APP, directory / "hc", certificate=Certificate(chain, key), alpn=("h2", "http/1.1")
        )
        with server:
            url = server.url(f"/delay/{args.delay}")
            results: dict[str, list[float]] = {name: [] for name in SHAPES}
            facts: dict[str, tuple[int, str]] = {}
            for _ in range(args.rounds):
                for name, shape in SHAPES.items():
                    wall, most_open, version = curio.run(
                        run, url, context, shape, args.n, args.concurrency
                    )
                    results[name].append(wall)
                    facts[name] = (most_open, version)
    floor = args.n / args.concurrency * args.delay / 1000
    print(
        f"{args.n} requests, {args.concurrency} at a time, to an endpoint answering after "
        f"{args.delay} ms (hypercorn, TLS); median of {args.rounds} rounds; the floor "
        f"(only the server's waits) is {floor:.2f} s\n"
    )
    print("| client | protocol | connections open | wall time | x the floor |")
    print("|---|---|---|---|---|")
    for name, walls in results.items():
        wall = statistics.median(walls)
        most_open, version = facts[name]
        print(f"| {name} | HTTP/{version} | {most_open} | {wall:.2f} s | {wall / floor:.1f} |")


if __name__ == "__main__":
    main()
