"""CPU per request over a Unix domain socket, as a ratio to loopback TCP.

Sequential small GETs through one ``asks.Session`` against one nginx that has
both a TCP and a ``unix:`` listener (the tests' own nginx builder,
``tests/real/nginx.py``), alternating the two in rounds. Client CPU
(``time.process_time``) per request is the number that matters: it is what
the client's own code and the kernel's socket path cost, and it is steadier
than wall time on a shared machine. Run from the project root:

    python benchmarks/uds.py               # 3 rounds of 5,000 each
    python benchmarks/uds.py --n 20000 --rounds 5

Needs nginx (``.ci/system-packages`` installs it).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import curio

import asks
from tests.real.nginx import Nginx, NginxConfig


async def run(n: int, base: str, uds: str | None) -> float:
    """CPU seconds per request for *n* sequential GETs (after a warm-up)."""
    async with asks.Session(base, uds=uds) as s:
        for _ in range(200):
            await s.get(path="/")
        start = time.process_time()
        for _ in range(n):
            r = await s.get(path="/")
            r.content  # noqa: B018
        return (time.process_time() - start) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    tcp: list[float] = []
    unix: list[float] = []
    config = NginxConfig.default(None)
    with tempfile.TemporaryDirectory() as tmp, Nginx(config, Path(tmp)) as nginx:
        for _ in range(args.rounds):
            tcp.append(curio.run(run, args.n, nginx.url("http"), None))
            uds = os.fspath(nginx.unix_path)
            unix.append(curio.run(run, args.n, "http://localhost", uds))
    t, u = statistics.median(tcp), statistics.median(unix)
    print(f"sequential GETs, n={args.n}, {args.rounds} rounds (median CPU per request)")
    print(f"  loopback TCP   {t * 1e6:7.1f} us")
    print(f"  Unix socket    {u * 1e6:7.1f} us")
    print(f"  ratio UDS/TCP  {u / t:7.2f}")


if __name__ == "__main__":
    main()
