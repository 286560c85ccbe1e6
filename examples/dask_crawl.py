"""Crawl a URL list on a Dask cluster: one task per shard, one file per shard.

Each task takes one host-partitioned shard of the list (``fetch_many``'s
``shard=(k, n)``, the same split on every machine) and fetches it with
:func:`asks.fetch_many` on a curio kernel of its own (``curio.run`` inside
the task), writing its results to ``OUT/shard-K-of-N.jsonl``. Every URL of
one host lands in one task, so the per-host connection limit and any rate
limit hold for the whole crawl, on however many machines.

    python examples/dask_crawl.py urls.txt results/ --shards 8 --workers 2
    python examples/dask_crawl.py urls.txt results/ --shards 64 --scheduler tcp://10.0.0.5:8786

Without ``--scheduler`` it starts a ``LocalCluster`` of ``--workers``
processes on 127.0.0.1. Needs ``pip install 'asks[dask]'`` (the
``distributed`` package). See docs/crawling.md, "Dask".
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import curio

import asks


def fetch_shard(
    urls_path: str, shard: int, shards: int, out_dir: str, concurrency: int = 20
) -> dict[str, Any]:
    """Fetch shard *shard* (zero-based) of *shards* of the list into its own file.

    Runs inside a Dask task: it starts and ends its own curio kernel, so it
    works on any worker thread. The file is written as ``.part`` and renamed
    when the shard is complete, so a file that exists is a whole shard, and
    a task that Dask runs again (its worker died) starts its shard afresh.

    Args:
        urls_path: the URL list, one per line, readable on every worker.
        shard: which shard this task fetches, from 0 to ``shards - 1``.
        shards: how many shards the list is split into.
        out_dir: the directory for the results (created if need be).
        concurrency: URLs fetched at once by this task.

    Returns:
        the shard's summary: its number, its file, URLs done, URLs failed.
    """
    out = Path(out_dir) / f"shard-{shard + 1:05d}-of-{shards:05d}.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    part = out.with_name(out.name + ".part")

    async def crawl() -> dict[str, int]:
        counts = {"urls": 0, "failed": 0}
        # Plain file I/O in the kernel: a line to a local file is a short write.
        with open(urls_path, encoding="utf-8") as urls, open(part, "w", encoding="utf-8") as lines:  # noqa: ASYNC230
            async with asks.fetch_many(
                urls, shard=(shard, shards), concurrency=concurrency
            ) as results:
                async for result in results:
                    lines.write(result.as_json() + "\n")
                    counts["urls"] += 1
                    counts["failed"] += result.failed
        return counts

    counts: dict[str, int] = curio.run(crawl)
    os.replace(part, out)
    return {"shard": shard, "file": str(out), **counts}


def main(argv: list[str] | None = None) -> int:
    """Map every shard of the list to a Dask task and wait for them all."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("urls", help="the URL list (a path every worker can read)")
    parser.add_argument("out", help="the directory for the shard files")
    parser.add_argument("--shards", type=int, default=8, help="host-partitioned shards")
    parser.add_argument("--concurrency", type=int, default=20, help="URLs at once per task")
    parser.add_argument("--scheduler", help="a running scheduler (default: a LocalCluster)")
    parser.add_argument("--workers", type=int, default=2, help="LocalCluster processes")
    args = parser.parse_args(argv)

    from distributed import Client, LocalCluster

    if args.scheduler:
        client, cluster = Client(args.scheduler), None
    else:
        cluster = LocalCluster(
            n_workers=args.workers,
            processes=True,  # one process, one kernel, one core per worker
            threads_per_worker=1,
            host="127.0.0.1",
            dashboard_address=None,
        )
        client = Client(cluster)
    try:
        n = args.shards
        futures = client.map(
            fetch_shard,
            [os.path.abspath(args.urls)] * n,
            range(n),
            [n] * n,
            [os.path.abspath(args.out)] * n,
            [args.concurrency] * n,
            retries=2,  # a shard whose worker died runs again elsewhere
        )
        failed = 0
        for summary in client.gather(futures):
            print(json.dumps(summary), flush=True)
            failed += summary["failed"]
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
