"""``asks fetch --shard``, ``--robots``, ``--keep-header`` and bad input, as a user runs them.

Most tests run ``python -m asks`` as a child process (see tests/test_cli.py);
the crawl-delay test runs the command's own run loop in the test's kernel,
so the rate limiter can be given the virtual clock.
"""

from __future__ import annotations

import gc
import socket
from pathlib import Path
from typing import Any

import curio
import pytest

import asks
import asks._cli.fetch as fetch_module
from asks._cli.arguments import parse_args
from asks._cli.fetch import _consume, _fetch_plan, _Outcome, _Stats
from asks._cli.fetch_io import JsonlSink, UrlSource
from asks._cli.output import NoProgress
from asks._partition import shard_of
from asks._rate import limiter_of
from tests.servers import canned, read_request
from tests.test_cli import (
    CHILD_DEADLINE,
    arun_asks,
    assert_one_error_line,
    json_lines,
    run_asks,
    summary,
)
from tests.virtual_time import VirtualTime

pytestmark = CHILD_DEADLINE  # a hung child fails its test, not the deadline

OK = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"


def text(status: str, body: bytes) -> bytes:
    return b"HTTP/1.1 %s\r\nContent-Length: %d\r\n\r\n%s" % (status.encode(), len(body), body)


def dead_urls(count: int) -> list[str]:
    """URLs of *count* distinct loopback hosts nothing listens on (refused at once)."""
    urls = []
    for i in range(count):
        host = f"127.0.{1 + i // 200}.{1 + i % 200}"
        with socket.socket() as probe:
            probe.bind((host, 0))
            urls.append(f"http://{host}:{probe.getsockname()[1]}/page")
    return urls


# -- --help ------------------------------------------------------------------------------


def test_fetch_help_names_the_crawl_options() -> None:
    result = run_asks("fetch", "--help")
    assert result.returncode == 0
    out = " ".join(result.stdout.decode().split())
    for option in ("--resume", "--retry-failed", "--shard K/N", "--robots", "--keep-header"):
        assert option in out
    assert "(default 4)" in out  # --connections-per-host


def test_fetch_help_says_what_docs_cli_says() -> None:
    # The help left out fetch's own --timeout default (60 s, docs/cli.md), the
    # robots.txt skips --retry-failed tries again, and SIGTERM's exit 130.
    out = " ".join(run_asks("fetch", "--help").stdout.decode().split())
    assert "redirects and body (default: none; fetch: 60)" in out
    assert "fetch the URLs that failed (or whose robots.txt was unreachable) again" in out
    assert "130 interrupted (Ctrl-C or SIGTERM)" in out


# -- --shard -----------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["3/2", "0/2", "1/0", "2", "a/b", "-1/2", "1/2/3", ""])
def test_a_bad_shard_is_a_usage_error(value: str) -> None:
    result = run_asks("fetch", "-", "--shard", value)
    assert result.returncode == 2
    assert "--shard" in result.stderr.decode()
    assert result.stdout == b""


def test_the_shard_is_one_based_on_the_command_line() -> None:
    assert _fetch_plan(parse_args(["fetch", "-", "--shard", "1/4"])).shard == (0, 4)
    assert _fetch_plan(parse_args(["fetch", "-", "--shard", "4/4"])).shard == (3, 4)
    assert _fetch_plan(parse_args(["fetch", "-"])).shard is None


async def test_shards_are_disjoint_cover_the_input_and_are_the_same_each_run(
    tmp_path: Path,
) -> None:
    urls = dead_urls(40)
    listing = tmp_path / "urls.txt"
    listing.write_text("# many hosts\n" + "\n".join(urls) + "\n")
    shards: list[set[str]] = []
    for k in (1, 2, 3):
        result = await arun_asks("fetch", str(listing), "--shard", f"{k}/3", "--retries", "0")
        assert result.returncode in (0, 1), result.stderr
        got = {r["url"] for r in json_lines(result.stdout)}
        assert got == {u for u in urls if shard_of(u, 3) == k - 1}
        shards.append(got)
    assert set().union(*shards) == set(urls)
    assert sum(map(len, shards)) == len(urls)
    assert all(shards)  # 40 hosts: every shard got some
    again = await arun_asks("fetch", str(listing), "--shard", "2/3", "--retries", "0")
    assert {r["url"] for r in json_lines(again.stdout)} == shards[1]


# -- --robots ------------------------------------------------------------------------------


def robots_site(robots: bytes, seen: list[str]) -> Any:
    async def handler(sock: Any) -> None:
        while (got := await read_request(sock)) is not None:
            target = got[0].target.decode()
            seen.append(target)
            await sock.sendall(robots if target == "/robots.txt" else OK)

    return handler


async def test_robots_skips_what_is_disallowed_and_fetches_robots_txt_once(
    raw_server: Any,
) -> None:
    seen: list[str] = []
    rules = text("200 OK", b"User-agent: *\nDisallow: /private/\n")
    server = await raw_server(robots_site(rules, seen))
    urls = [f"{server.url}/public/{i}" for i in range(6)] + [
        f"{server.url}/private/{i}" for i in range(4)
    ]
    result = await arun_asks("fetch", "-", "--robots", input="\n".join(urls).encode())
    assert result.returncode == 0, result.stderr
    records = {r["url"]: r for r in json_lines(result.stdout)}
    assert set(records) == set(urls)
    for url, record in records.items():
        if "/private/" in url:
            assert (record["status"], record["skipped"], record["error"]) == (
                None,
                "robots.txt",
                None,
            )
        else:
            assert record["status"] == 200 and "skipped" not in record
    assert seen.count("/robots.txt") == 1
    assert sorted(t for t in seen if t != "/robots.txt") == sorted(
        f"/public/{i}" for i in range(6)
    )
    assert summary(result.stderr)["ok"] == "6"
    assert b"4 skipped (robots.txt)" in result.stderr


async def test_without_robots_nothing_asks_for_robots_txt(raw_server: Any) -> None:
    seen: list[str] = []
    server = await raw_server(robots_site(text("200 OK", b"User-agent: *\nDisallow: /\n"), seen))
    result = await arun_asks("fetch", "-", input=f"{server.url}/x\n".encode())
    assert result.returncode == 0
    assert seen == ["/x"]


async def test_robots_crawl_delay_spaces_the_requests_of_the_command(
    raw_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vt = VirtualTime()
    seen: list[tuple[str, float]] = []

    async def handler(sock: Any) -> None:
        while (got := await read_request(sock)) is not None:
            target = got[0].target.decode()
            seen.append((target, round(vt.now - 1000.0, 6)))
            robots = text("200 OK", b"User-agent: *\nCrawl-delay: 2\n")
            await sock.sendall(robots if target == "/robots.txt" else OK)

    server = await raw_server(handler)
    made: list[asks.Session] = []
    original = fetch_module.polite_session

    def on_virtual_time(concurrency: int, **kwargs: Any) -> asks.Session:
        session = original(concurrency, **kwargs)
        limiter = limiter_of(session)
        limiter.clock = vt.clock
        limiter.sleep = vt.sleep
        made.append(session)
        return session

    monkeypatch.setattr(fetch_module, "polite_session", on_virtual_time)
    listing = tmp_path / "urls.txt"
    listing.write_text("".join(f"{server.url}/{i}\n" for i in range(3)))
    out = tmp_path / "out.jsonl"
    plan = _fetch_plan(parse_args(["fetch", str(listing), "--robots", "--jsonl", str(out)]))
    source = UrlSource.open(str(listing))
    sink = JsonlSink(str(out))
    stats = _Stats()
    try:
        task = await curio.spawn(
            _consume, plan, source, None, sink, stats, NoProgress(), _Outcome()
        )
        await vt.wait_sleeping(3)
        for step in range(1, 4):
            await vt.advance(2)
            while len(seen) < step + 1:
                await curio.sleep(0)
        await task.join()
    finally:
        sink.close()
        source.close()
    assert [t for _, t in seen] == [0.0, 2.0, 4.0, 6.0]
    assert stats.ok == 3
    assert len(json_lines(out.read_bytes())) == 3
    assert len(made) == 1


# -- --keep-header -----------------------------------------------------------------------


async def test_keep_header_adds_the_headers_asked_for(raw_server: Any) -> None:
    server = await raw_server(canned(OK))
    result = await arun_asks(
        "fetch", "-", "--keep-header", "Content-Type", input=f"{server.url}/\n".encode()
    )
    [record] = json_lines(result.stdout)
    assert record["headers"] == {"content-type": "text/plain"}


# -- bad input: refused before any request -----------------------------------------------


async def test_an_unreadable_list_is_an_error_before_any_request(
    raw_server: Any, tmp_path: Path
) -> None:
    server = await raw_server(canned(OK))
    for source in (tmp_path / "missing.txt", tmp_path):
        result = await arun_asks("fetch", str(source))
        assert result.returncode == 2
        assert_one_error_line(result, "cannot read the URL list")
    assert server.accepted == 0


async def test_an_unwritable_output_is_an_error_before_any_request(
    raw_server: Any, tmp_path: Path
) -> None:
    server = await raw_server(canned(OK))
    listing = tmp_path / "urls.txt"
    listing.write_text(f"{server.url}/\n")
    a_file = tmp_path / "file"
    a_file.write_text("")
    cases = [
        (["--jsonl", str(tmp_path / "no" / "such" / "dir.jsonl")], "cannot write --jsonl"),
        (["--jsonl", str(tmp_path)], "cannot write --jsonl"),
        (["--output-dir", str(a_file / "sub")], "cannot create --output-dir"),
        (["--jsonl", str(tmp_path), "--resume"], "--jsonl"),
    ]
    for args, message in cases:
        result = await arun_asks("fetch", str(listing), *args)
        assert result.returncode == 2, (args, result.stderr)
        assert_one_error_line(result, message)
    assert server.accepted == 0


# -- the collector -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "inside"),
    [((700, 10, 10), (10_000, 10, 10)), ((2000, 5, 7), (10_000, 5, 7)), ((50_000, 10, 10), None)],
    ids=["the default up to 3.12", "3.13's young threshold, others kept", "already higher"],
)
def test_the_command_collects_the_young_generation_less_often_and_restores_it(
    before: tuple[int, int, int], inside: tuple[int, int, int] | None
) -> None:
    saved = gc.get_threshold()
    gc.set_threshold(*before)
    try:
        with fetch_module.tuned_collector():
            seen = gc.get_threshold()
        after = gc.get_threshold()
    finally:
        gc.set_threshold(*saved)
    assert seen == (inside or before)
    assert after == before


def test_a_switched_off_collector_stays_off() -> None:
    saved = gc.get_threshold()
    gc.set_threshold(0)
    try:
        with fetch_module.tuned_collector():
            assert gc.get_threshold()[0] == 0
    finally:
        gc.set_threshold(*saved)


def test_the_fetch_run_is_the_one_under_the_tuned_collector(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every fetch goes through run_fetch: one process, and each worker of
    # --processes N. Its kernel runs inside tuned_collector.
    seen: list[int] = []

    def run(*args: Any) -> int:
        seen.append(gc.get_threshold()[0])
        return 0

    monkeypatch.setattr(curio, "run", run)
    urls = tmp_path / "urls.txt"
    urls.write_text("http://127.0.0.1:9/\n")
    args = parse_args(["fetch", str(urls), "--jsonl", str(tmp_path / "out.jsonl")])
    before = gc.get_threshold()
    assert fetch_module.run_fetch(args) == 0
    assert seen == [max(before[0], fetch_module.YOUNG_THRESHOLD)]
    assert gc.get_threshold() == before
