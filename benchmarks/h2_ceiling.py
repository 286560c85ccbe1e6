"""CPU per request of asks over HTTP/2, as a ratio to h2 alone on curio.

"h2 alone" is the least a curio program needs to do C concurrent GETs over one
HTTP/2 connection with h2: one reader task feeding ``receive_data`` and waking
the stream's task, requests sent with ``send_headers`` and written under a
lock, data acknowledged as it comes; no pool, no session, no response object,
no limits, no error handling. Its CPU per request is h2 + TLS + curio, the
floor for any curio client on h2. asks runs the same requests through
``Session(http2=True)``. Both talk to one private nginx (``ssl http2``, one
worker, ``keepalive_requests`` high enough that no GOAWAY comes), rounds
alternate, medians are printed. Run from the project root:

    python benchmarks/h2_ceiling.py                  # 3 rounds of 10,000, 20 workers
    python benchmarks/h2_ceiling.py --n 20000 --concurrency 50 --rounds 5
"""

from __future__ import annotations

import argparse
import ssl
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import curio
import h2.config
import h2.connection
import h2.events
import trustme

import asks
from tests.real.nginx import Certificate, Listener, Nginx, NginxConfig

BODY = b"hello world"


async def timed(n: int, c: int, one: Callable[[], Awaitable[bytes]]) -> tuple[float, float]:
    """(requests per second, CPU seconds per request) of *n* calls of *one* by *c* tasks."""
    for _ in range(200):
        await one()
    left = n

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            if await one() != BODY:
                raise AssertionError("wrong body")

    wall, cpu = time.perf_counter(), time.process_time()
    async with curio.TaskGroup() as group:
        for _ in range(c):
            await group.spawn(worker)
    return n / (time.perf_counter() - wall), (time.process_time() - cpu) / n


async def with_asks(url: str, context: ssl.SSLContext, n: int, c: int) -> tuple[float, float]:
    async with asks.Session(ssl_context=context, http2=True) as s:

        async def one() -> bytes:
            return (await s.get(url)).content

        return await timed(n, c, one)


async def with_h2_alone(port: int, context: ssl.SSLContext, n: int, c: int) -> tuple[float, float]:
    context.set_alpn_protocols(["h2"])
    sock = await curio.open_connection("127.0.0.1", port, ssl=context, server_hostname="127.0.0.1")
    conn = h2.connection.H2Connection(
        h2.config.H2Configuration(client_side=True, header_encoding=None)
    )
    conn.initiate_connection()
    await sock.sendall(conn.data_to_send())
    streams: dict[int, tuple[curio.Event, list[bytes]]] = {}
    lock = curio.Lock()

    async def reader() -> None:
        while data := await sock.recv(65536):
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.DataReceived):
                    conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                    streams[event.stream_id][1].append(event.data)
                elif isinstance(event, h2.events.StreamEnded):
                    await streams.pop(event.stream_id)[0].set()
            if out := conn.data_to_send():
                async with lock:
                    await sock.sendall(out)

    headers = [
        (b":method", b"GET"),
        (b":scheme", b"https"),
        (b":authority", f"127.0.0.1:{port}".encode()),
        (b":path", b"/small"),
        (b"user-agent", b"h2-alone"),
        (b"accept", b"*/*"),
        (b"accept-encoding", b"gzip, deflate"),
    ]

    async def one() -> bytes:
        stream_id = conn.get_next_available_stream_id()
        done: tuple[curio.Event, list[bytes]] = (curio.Event(), [])
        streams[stream_id] = done
        conn.send_headers(stream_id, headers, end_stream=True)
        async with lock:
            await sock.sendall(conn.data_to_send())
        await done[0].wait()
        return b"".join(done[1])

    task = await curio.spawn(reader, daemon=True)
    try:
        return await timed(n, c, one)
    finally:
        await task.cancel()
        await sock.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1")
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        chain, key = directory / "chain.pem", directory / "key.pem"
        chain.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
        leaf.private_key_pem.write_to_path(str(key))
        config = NginxConfig(certificate=Certificate(chain, key))
        config.add_listener(Listener("http"))
        config.add_listener(
            Listener(
                "h2",
                tls=True,
                listen_params=("http2",),
                directives=("keepalive_requests 10000000;", "http2_max_concurrent_streams 128;"),
            )
        )
        config.add_location("= /small", f'access_log off; return 200 "{BODY.decode()}";')
        config.add_location("= /_fence", "access_log off; return 204;")
        results: dict[str, list[tuple[float, float]]] = {"h2 alone": [], "asks": []}
        with Nginx(config, directory / "nginx") as server:
            url, port = server.url("h2", "/small"), server.port("h2")
            for _ in range(args.rounds):
                for name in results:
                    context = ssl.create_default_context()
                    ca.configure_trust(context)
                    if name == "asks":
                        got = curio.run(with_asks, url, context, args.n, args.concurrency)
                    else:
                        got = curio.run(with_h2_alone, port, context, args.n, args.concurrency)
                    results[name].append(got)
    floor = statistics.median(cpu for _, cpu in results["h2 alone"])
    print(
        f"{args.n} GETs by {args.concurrency} workers over one HTTP/2 connection "
        f"(nginx, TLS 1.3); median of {args.rounds} rounds\n"
    )
    print("| client | req/s | CPU us/req | CPU x h2 alone |")
    print("|---|---|---|---|")
    for name, runs in results.items():
        rate = statistics.median(r for r, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        print(f"| {name} | {rate:,.0f} | {cpu * 1e6:.0f} | {cpu / floor:.2f} |")


if __name__ == "__main__":
    main()
