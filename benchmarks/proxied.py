"""CPU per request through a proxy, as a ratio to the same requests made direct.

    python benchmarks/proxied.py --proxy http://127.0.0.1:3128 --url http://127.0.0.1:8080/small
    python benchmarks/proxied.py --proxy http://127.0.0.1:3128 \\
        --url https://127.0.0.1:8443/small --cacert ca.pem

Runs N sequential GETs over one Session direct, then N through the proxy
(forwarded for an http:// URL, through one CONNECT tunnel for https://),
after an untimed warm-up each, and prints this process's CPU time per request
(user + system: what the client spends, whatever the server and the proxy
spend). Start the proxy and the origin yourself (tests/real/ shows squid's
and tinyproxy's command lines).
"""

from __future__ import annotations

import argparse
import os
import ssl
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import curio

import asks


async def cpu_per_request(url: str, n: int, **session: object) -> float:
    async with asks.Session(trust_env=False, **session) as s:  # type: ignore[arg-type]
        for _ in range(20):
            (await s.get(url)).raise_for_status()
        start = time.process_time()
        for _ in range(n):
            await s.get(url)
        return (time.process_time() - start) / n


async def main(args: argparse.Namespace) -> None:
    context = ssl.create_default_context(cafile=args.cacert) if args.cacert else None
    direct = await cpu_per_request(args.url, args.n, ssl_context=context)
    proxied = await cpu_per_request(args.url, args.n, ssl_context=context, proxy=args.proxy)
    print(f"direct        {direct * 1e6:8.1f} us CPU per request")
    print(f"through proxy {proxied * 1e6:8.1f} us CPU per request  ({proxied / direct:.2f}x)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--proxy", required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--cacert")
    parser.add_argument("--n", type=int, default=3000)
    curio.run(main, parser.parse_args())
