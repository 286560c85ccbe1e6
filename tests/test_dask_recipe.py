"""The Dask recipe (examples/dask_crawl.py, docs/crawling.md, "Dask") on a real cluster.

The recipe runs as a user runs it, in a child process: a ``LocalCluster`` of
two worker processes on 127.0.0.1, one task per shard, each task fetching its
shard with ``asks.fetch_many`` on its own curio kernel. The servers, in the
test's kernel, count every request, so a URL fetched twice (or by two
shards) or never shows; each shard's file must hold exactly its shard.
"""

from __future__ import annotations

import collections
import json
import subprocess
import sys
from pathlib import Path

import curio
import curio.io
import distributed  # noqa: F401  # the test extra has it: a missing one fails, never skips
import pytest

from asks._partition import shard_of
from tests.hosts import Hosts
from tests.servers import read_request

ROOT = Path(__file__).resolve().parent.parent
RECIPE = ROOT / "examples" / "dask_crawl.py"
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def read_lines(path: str) -> list[dict[str, object]]:
    with open(path, encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


@pytest.mark.curio_timeout(90)
async def test_the_dask_recipe_on_a_local_cluster_fetches_each_url_once(tmp_path: Path) -> None:
    seen: collections.Counter[str] = collections.Counter()

    async def counting_server(sock: curio.io.Socket) -> None:
        host, port = sock.getsockname()
        while (received := await read_request(sock)) is not None:
            seen[f"http://{host}:{port}{received[0].target.decode()}"] += 1
            await sock.sendall(OK)

    hosts = await Hosts(6).start(counting_server)
    shards = 3
    try:
        urls = hosts.urls(20)
        listing = tmp_path / "urls.txt"
        listing.write_text("\n".join(urls) + "\n")
        out = tmp_path / "results"
        command = [sys.executable, str(RECIPE), str(listing), str(out)]
        command += ["--shards", str(shards), "--workers", "2", "--concurrency", "5"]
        result = await curio.run_in_thread(
            lambda: subprocess.run(
                command, capture_output=True, text=True, timeout=60, cwd=tmp_path
            )
        )
    finally:
        await hosts.aclose()
    assert result.returncode == 0, result.stderr
    # The server's count: every URL once, nothing else.
    assert sorted(seen) == sorted(urls)
    assert set(seen.values()) == {1}
    # One summary per shard, and one complete file per shard holding its hosts' URLs.
    summaries = sorted((json.loads(line) for line in result.stdout.splitlines()), key=str)
    assert sorted(s["shard"] for s in summaries) == list(range(shards))
    assert sorted(p.name for p in out.iterdir()) == [
        f"shard-{k:05d}-of-{shards:05d}.jsonl" for k in range(1, shards + 1)
    ]
    for summary in summaries:
        k = summary["shard"]
        lines = read_lines(summary["file"])
        expected = sorted(url for url in urls if shard_of(url, shards) == k)
        assert sorted(line["url"] for line in lines) == expected
        assert all(line["status"] == 200 and line["error"] is None for line in lines)
        assert (summary["urls"], summary["failed"]) == (len(expected), 0)
