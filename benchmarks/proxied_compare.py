"""CPU per request, direct and through squid, for asks, aiohttp and httpx.

    python benchmarks/proxied_compare.py [--n 2000] [--rounds 3]

Starts nginx (http and TLS listeners, a trustme certificate) and squid on
free loopback ports (tests/real/ starts them the same way), then for each
client and each route -- direct http, forwarded http, direct https, https
through one CONNECT tunnel -- runs N sequential GETs of ``/echo`` over one
session after an untimed warm-up, and records this process's CPU time
(user + system) per request. Rounds are interleaved (every client and route
once per round) and the table shows medians. aiohttp and httpx are optional:
a client that is not installed is skipped and named.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import ssl
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import curio
import trustme

import asks
from tests.real.debian_proxies import Squid
from tests.real.nginx import Certificate, Nginx, NginxConfig

ROUTES = ("http direct", "http forwarded", "https direct", "https CONNECT")
WARMUP = 50


def _timed(get: Callable[[], Awaitable[object]], n: int) -> Callable[[], Awaitable[float]]:
    async def run() -> float:
        for _ in range(WARMUP):
            await get()
        start = time.process_time()
        for _ in range(n):
            await get()
        return (time.process_time() - start) / n

    return run


async def _asks(url: str, proxy: str | None, context: ssl.SSLContext, n: int) -> float:
    async with asks.Session(trust_env=False, ssl_context=context, proxy=proxy) as s:

        async def get() -> object:
            response = await s.get(url)
            response.raise_for_status()
            return response

        return await _timed(get, n)()


async def _aiohttp(url: str, proxy: str | None, context: ssl.SSLContext, n: int) -> float:
    import aiohttp

    connector = aiohttp.TCPConnector(ssl=context, limit=1)
    async with aiohttp.ClientSession(connector=connector) as s:

        async def get() -> object:
            async with s.get(url, proxy=proxy) as response:
                response.raise_for_status()
                return await response.read()

        return await _timed(get, n)()


async def _httpx(url: str, proxy: str | None, context: ssl.SSLContext, n: int) -> float:
    import httpx

    async with httpx.AsyncClient(verify=context, proxy=proxy, trust_env=False) as s:

        async def get() -> object:
            response = await s.get(url)
            response.raise_for_status()
            return response

        return await _timed(get, n)()


def _available() -> tuple[dict[str, Callable[..., Awaitable[float]]], list[str]]:
    clients: dict[str, Callable[..., Awaitable[float]]] = {"asks": _asks}
    missing = []
    for name, runner in (("aiohttp", _aiohttp), ("httpx", _httpx)):
        try:
            __import__(name)
        except ImportError:
            missing.append(name)
        else:
            clients[name] = runner
    return clients, missing


def _measure(client: str, runner: Callable[..., Awaitable[float]], *args: object) -> float:
    if client == "asks":
        return curio.run(runner, *args)
    return asyncio.run(runner(*args))


def main(args: argparse.Namespace) -> None:
    clients, missing = _available()
    if missing:
        print(f"not installed, skipped: {', '.join(missing)}")
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        ca = trustme.CA()
        leaf = ca.issue_cert("127.0.0.1", "localhost")
        chain, key = directory / "chain.pem", directory / "key.pem"
        chain.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
        leaf.private_key_pem.write_to_path(str(key))
        context = ssl.create_default_context()
        ca.configure_trust(context)
        (directory / "nginx").mkdir()
        (directory / "squid").mkdir()
        nginx = Nginx(NginxConfig.default(Certificate(chain, key)), directory / "nginx")
        with nginx, Squid(directory / "squid") as squid:
            urls = {
                "http direct": (nginx.url("http", "/echo"), None),
                "http forwarded": (nginx.url("http", "/echo"), squid.url),
                "https direct": (nginx.url("tls", "/echo"), None),
                "https CONNECT": (nginx.url("tls", "/echo"), squid.url),
            }
            results: dict[tuple[str, str], list[float]] = {}
            for round_ in range(args.rounds):
                for client, runner in clients.items():
                    for route in ROUTES:
                        url, proxy = urls[route]
                        cpu = _measure(client, runner, url, proxy, context, args.n)
                        results.setdefault((client, route), []).append(cpu)
                print(f"round {round_ + 1}/{args.rounds} done", file=sys.stderr)
    print(f"CPU us per request, median of {args.rounds} rounds of {args.n} GETs")
    print(f"{'client':8} {'route':15} {'us/req':>8} {'proxied/direct':>15}")
    for client in clients:
        for route in ROUTES:
            cpu = statistics.median(results[(client, route)])
            ratio = ""
            if route.endswith(("forwarded", "CONNECT")):
                direct = statistics.median(results[(client, route.split()[0] + " direct")])
                ratio = f"{cpu / direct:.2f}x"
            print(f"{client:8} {route:15} {cpu * 1e6:8.1f} {ratio:>15}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    main(parser.parse_args())
