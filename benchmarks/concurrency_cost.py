"""CPU per request as concurrency grows: N workers on N keep-alive connections.

One ``asks.Session(connections=N)`` and N worker tasks, each doing small GETs
one after another against a private nginx (one worker process, keep-alive,
access log off), until the total is done. Client CPU per 1,000 requests
(``time.process_time``) is the number: on a fair client it stays flat as N
grows, since each request does the same work whatever the number of others.
Rounds alternate the concurrencies; medians are printed with the ratio to the
smallest N. Run from the project root:

    python benchmarks/concurrency_cost.py                       # N = 20, 1000, 5000
    python benchmarks/concurrency_cost.py --n 100000 --concurrency 20,1000,5000 --rounds 3
    python benchmarks/concurrency_cost.py --profile 5000        # py-spy this N only
    python benchmarks/concurrency_cost.py --gc                  # + garbage collections per level
    python benchmarks/concurrency_cost.py --client bare         # the bare h11 + curio loop
    python benchmarks/concurrency_cost.py --gc-threshold 10000,50,100  # a tuned collector

``--client bare`` runs the same workers as a hand-written h11 loop over curio
sockets (one ``h11.Connection`` per socket, no asks at all): the growth it
shows is the stack's (curio's kernel, the interpreter's garbage collector),
and the growth asks shows beyond it is asks' own.

Needs nginx (``.ci/system-packages`` installs it) and an open-file limit above
the largest N (raised to the hard limit here).
"""

from __future__ import annotations

import argparse
import gc
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import socket
from urllib.parse import urlsplit

import curio
import h11
from bare_h11 import read_response

import asks
from tests.real.nginx import Listener, Nginx, NginxConfig


class GcClock:
    """Collections and the CPU they took, by generation, while it is installed."""

    def __init__(self) -> None:
        self.started = 0.0
        self.runs: dict[int, list[float]] = {}

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self.started = time.process_time()
        else:
            entry = self.runs.setdefault(info["generation"], [0, 0.0])
            entry[0] += 1
            entry[1] += time.process_time() - self.started


async def run(url: str, total: int, workers: int) -> tuple[float, float]:
    """(requests per second, CPU seconds per request) for *total* GETs by *workers*."""
    async with asks.Session(connections=workers) as s:
        # Warm-up: every connection opened and used once, untimed.
        async with curio.TaskGroup() as group:
            for _ in range(workers):
                await group.spawn(s.get, url)
        left = total

        async def worker() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                r = await s.get(url)
                if r.status_code != 200:
                    raise AssertionError(r.status_code)

        wall, cpu = time.perf_counter(), time.process_time()
        async with curio.TaskGroup() as group:
            for _ in range(workers):
                await group.spawn(worker)
        return total / (time.perf_counter() - wall), (time.process_time() - cpu) / total


async def run_bare(url: str, total: int, workers: int) -> tuple[float, float]:
    """:func:`run` for the bare h11 loop over curio sockets, without asks."""
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or 80
    request = h11.Request(
        method="GET", target=parts.path, headers=[("Host", parts.netloc), ("User-Agent", "bare")]
    )
    end = h11.EndOfMessage()

    async def connect() -> tuple[curio.io.Socket, h11.Connection]:
        sock = await curio.open_connection(host, port)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock, h11.Connection(h11.CLIENT)

    async def get(sock: curio.io.Socket, conn: h11.Connection) -> int:
        await sock.sendall(conn.send(request) + conn.send(end))  # type: ignore[operator]
        status, _ = await read_response(sock, conn)
        conn.start_next_cycle()
        return status

    # Warm-up, as for asks: every connection opened and used once, untimed.
    pairs: list[tuple[curio.io.Socket, h11.Connection]] = []
    for _ in range(workers):
        pairs.append(await connect())
    async with curio.TaskGroup() as group:
        for sock, conn in pairs:
            await group.spawn(get, sock, conn)
    left = total

    async def worker(sock: curio.io.Socket, conn: h11.Connection) -> None:
        nonlocal left
        while left > 0:
            left -= 1
            status = await get(sock, conn)
            if status != 200:
                raise AssertionError(status)

    wall, cpu = time.perf_counter(), time.process_time()
    async with curio.TaskGroup() as group:
        for sock, conn in pairs:
            await group.spawn(worker, sock, conn)
    elapsed, spent = time.perf_counter() - wall, time.process_time() - cpu
    for sock, _ in pairs:
        await sock.close()
    return total / elapsed, spent / total


CLIENTS = {"asks": run, "bare": run_bare}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=50_000, help="requests per run")
    parser.add_argument("--concurrency", default="20,1000,5000")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", type=int, help="one run at this N, for py-spy")
    parser.add_argument(
        "--client", choices=sorted(CLIENTS), default="asks", help="asks, or the bare h11 loop"
    )
    parser.add_argument(
        "--gc", action="store_true", help="also count garbage collections (whole run, warm-up too)"
    )
    parser.add_argument(
        "--gc-threshold",
        metavar="G0,G1,G2",
        help="gc.set_threshold() for the whole run (docs/performance.md: tuning for thousands)",
    )
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]
    if args.gc_threshold:
        gc.set_threshold(*(int(part) for part in args.gc_threshold.split(",")))
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    config = NginxConfig(worker_connections=max(levels) * 2 + 100)
    config.add_listener(
        Listener("http", directives=("keepalive_requests 10000000;", "keepalive_timeout 300s;"))
    )
    config.add_location("= /small", 'access_log off; return 200 "hello world";')
    config.add_location("= /_fence", "access_log off; return 204;")
    with tempfile.TemporaryDirectory() as tmp, Nginx(config, Path(tmp) / "nginx") as server:
        url = server.url("http", "/small")
        client = CLIENTS[args.client]
        if args.profile:
            rate, cpu = curio.run(client, url, args.n, args.profile)
            print(f"N={args.profile}: {rate:,.0f} req/s, {cpu * 1e6:.1f} us CPU per request")
            return
        results: dict[int, list[tuple[float, float]]] = {c: [] for c in levels}
        collections: dict[int, GcClock] = {c: GcClock() for c in levels}
        for _ in range(args.rounds):
            for c in levels:
                if args.gc:
                    gc.callbacks.append(collections[c])
                try:
                    results[c].append(curio.run(client, url, args.n, c))
                finally:
                    if args.gc:
                        gc.callbacks.remove(collections[c])
    base = statistics.median(cpu for _, cpu in results[levels[0]])
    print(
        f"{args.client}: {args.n} small GETs per run, N workers on N connections; "
        f"median of {args.rounds}; gc thresholds {','.join(map(str, gc.get_threshold()))}\n"
    )
    print(f"| N | req/s | CPU ms per 1,000 requests | x N={levels[0]} |")
    print("|---|---|---|---|")
    for c, runs in results.items():
        rate = statistics.median(r for r, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        print(f"| {c:,} | {rate:,.0f} | {cpu * 1e6:.1f} | {cpu / base:.2f} |")
    if args.gc:
        print("\ngarbage collections (all rounds), and their CPU per request:\n")
        print("| N | generation 0 | generation 1 | generation 2 |")
        print("|---|---|---|---|")
        for c, clock in collections.items():
            cells = []
            for generation in (0, 1, 2):
                count, spent = clock.runs.get(generation, [0, 0.0])
                cells.append(f"{count:.0f} ({spent / (args.n * args.rounds) * 1e6:.1f} us)")
            print(f"| {c:,} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
