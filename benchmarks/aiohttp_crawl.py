"""The bulk fetch of ``asks fetch``, written the way an aiohttp user would.

The comparison peer of ``benchmarks/crawl_nginx.py``: one ``ClientSession``,
a semaphore bounding the requests in flight, the URL list read line by line,
one JSON line per URL written and flushed as it completes (the same record
and the same guarantee as ``asks fetch``: an interrupted run keeps every line
it wrote). A task is created only once the semaphore lets it in, so memory
stays bounded by the concurrency, not by the length of the list.

    python benchmarks/aiohttp_crawl.py urls.txt --concurrency 20 --jsonl out.jsonl
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import IO

import aiohttp


async def fetch(session: aiohttp.ClientSession, url: str, out: IO[str]) -> None:
    """GET *url*, read its body, write its JSON line (an error is a record too)."""
    started = time.monotonic()
    record: dict[str, object]
    try:
        async with session.get(url) as response:
            body = await response.read()
        record = {"url": url, "status": response.status, "bytes": len(body), "error": None}
    except Exception as exc:  # one bad URL must not stop the others
        record = {"url": url, "status": None, "bytes": 0, "error": f"{type(exc).__name__}: {exc}"}
    record["elapsed"] = round(time.monotonic() - started, 6)
    out.write(json.dumps(record) + "\n")
    out.flush()


async def crawl(source: str, jsonl: str, concurrency: int, timeout: float) -> None:
    """Fetch every URL of *source*, at most *concurrency* at once."""
    semaphore = asyncio.Semaphore(concurrency)
    tasks: set[asyncio.Task[None]] = set()

    def done(task: asyncio.Task[None]) -> None:
        tasks.discard(task)
        semaphore.release()

    connector = aiohttp.TCPConnector(limit=concurrency)
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    async with aiohttp.ClientSession(connector=connector, timeout=client_timeout) as session:
        # Plain blocking file I/O, as such scripts do: a local file reads fast.
        with open(source, encoding="utf-8") as urls, open(jsonl, "w", encoding="utf-8") as out:  # noqa: ASYNC230
            for line in urls:
                url = line.strip()
                if not url or url.startswith("#"):
                    continue
                await semaphore.acquire()
                task = asyncio.create_task(fetch(session, url, out))
                tasks.add(task)
                task.add_done_callback(done)
            await asyncio.gather(*tasks)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", help="the URL list, one per line")
    parser.add_argument("--concurrency", type=int, default=20, help="requests at once")
    parser.add_argument("--jsonl", default="/dev/stdout", help="where the JSON lines go")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per URL")
    args = parser.parse_args()
    asyncio.run(crawl(args.source, args.jsonl, args.concurrency, args.timeout))
    return 0


if __name__ == "__main__":
    sys.exit(main())
