"""``asks fetch --processes N``: the URLs split by host over worker processes.

The servers run in the test's kernel, one per loopback address (127.0.0.1,
127.0.0.2, ...: distinct hosts to the partition, which keys on the host
name), and count what the workers do to them; ``asks`` runs as a child
process, waited for in a thread while the kernel serves.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import curio
import curio.io
import pytest

from asks._cli.processes import WORKER_ARGS, usable_cores, worker_namespace, worker_of
from asks._partition import shard_of
from tests.cli_children import (
    ASKS,
    CHILD_DEADLINE,
    CHILD_TIMEOUT,
    asks_child,
    interrupt_over_a_full_pipe,
)
from tests.hosts import Hosts
from tests.servers import canned, read_request

pytestmark = CHILD_DEADLINE  # a hung child fails its test, not the deadline

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def children_of(pid: int) -> list[int]:
    """The child processes of *pid*, now (Linux's /proc)."""
    with open(f"/proc/{pid}/task/{pid}/children") as children:
        return [int(word) for word in children.read().split()]


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def run_asks(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [*ASKS, *args], stdin=subprocess.DEVNULL, capture_output=True, timeout=CHILD_TIMEOUT
    )


async def arun_asks(*args: str) -> subprocess.CompletedProcess[bytes]:
    return await curio.run_in_thread(lambda: run_asks(*args))


def records(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in data.decode().splitlines()]


# --------------------------------------------------------------------------


@pytest.mark.curio_timeout(90)
async def test_partition_keeps_per_host_limits_across_processes(tmp_path: Path) -> None:
    limit = 2
    open_now: collections.Counter[str] = collections.Counter()
    most: collections.Counter[str] = collections.Counter()

    async def slow_server(sock: curio.io.Socket) -> None:
        host = sock.getsockname()[0]
        open_now[host] += 1
        most[host] = max(most[host], open_now[host])
        try:
            while await read_request(sock) is not None:
                # A slow server (10 ms an answer), so connections overlap.
                await curio.sleep(0.01)
                await sock.sendall(OK)
        finally:
            open_now[host] -= 1

    hosts = await Hosts(6).start(slow_server)
    try:
        urls = hosts.urls(100)
        listing = tmp_path / "urls.txt"
        listing.write_text("\n".join(urls) + "\n")
        # Both workers get hosts: the test means nothing if one gets all six.
        assert {shard_of(url, 2) for url in urls} == {0, 1}
        options = ("--connections", "12", "--connections-per-host", str(limit), "--quiet")
        result = await arun_asks("fetch", str(listing), "--processes", "2", *options)
        assert result.returncode == 0, result.stderr
        assert len(records(result.stdout)) == len(urls)
        assert set(most) == set(hosts.names)
        assert max(most.values()) == limit, most

        # The same list fetched by two processes that do not share the
        # partition: the server sees the per-host limit broken. This is
        # what the test above would see if --processes split URLs blindly.
        most.clear()

        def two_unpartitioned_runs() -> list[subprocess.CompletedProcess[bytes]]:
            procs = [
                subprocess.Popen(
                    [*ASKS, "fetch", str(listing), "--processes", "1", *options],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                )
                for _ in range(2)
            ]
            ends = [p.communicate(timeout=CHILD_TIMEOUT) for p in procs]
            return [
                subprocess.CompletedProcess(p.args, p.returncode, out, err)
                for p, (out, err) in zip(procs, ends, strict=True)
            ]

        for control in await curio.run_in_thread(two_unpartitioned_runs):
            assert control.returncode == 0, control.stderr
        assert max(most.values()) > limit, most
    finally:
        await hosts.aclose()


async def test_every_url_exactly_once_in_the_one_output(tmp_path: Path) -> None:
    seen: collections.Counter[tuple[str, bytes]] = collections.Counter()

    async def counting_server(sock: curio.io.Socket) -> None:
        host = sock.getsockname()[0]
        while (received := await read_request(sock)) is not None:
            seen[host, received[0].target] += 1
            await sock.sendall(OK)

    hosts = await Hosts(5).start(counting_server)
    try:
        urls = hosts.urls(60)
        listing = tmp_path / "urls.txt"
        listing.write_text("# a comment\n\n" + "\n".join(urls) + "\n")
        out = tmp_path / "out.jsonl"
        result = await arun_asks(
            "fetch", str(listing), "--processes", "2", "--connections", "8", "--jsonl", str(out)
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout == b""
        lines = records(out.read_bytes())
        assert sorted(r["url"] for r in lines) == sorted(urls)
        assert all((r["status"], r["bytes"], r["error"]) == (200, 2, None) for r in lines)
        # The server agrees: each URL was requested once, none twice.
        assert sum(seen.values()) == len(urls)
        assert set(seen.values()) == {1}
        summary = result.stderr.decode()
        assert f"{len(urls)} URLs, {len(urls)} ok, 0 failed" in summary
        assert "2 processes" in summary
    finally:
        await hosts.aclose()


@pytest.mark.parametrize(
    ("value", "message"),
    [("0", "must be at least 1: '0'"), ("-3", "must be at least 1: '-3'"), ("two", "not a whole")],
)
def test_processes_argument_errors(value: str, message: str) -> None:
    result = run_asks("fetch", "-", "--processes", value)
    assert result.returncode == 2
    assert result.stdout == b""
    assert "--processes" in result.stderr.decode()
    assert message in result.stderr.decode()


def test_bad_options_are_refused_before_any_worker(tmp_path: Path) -> None:
    # The parent checks what the workers would refuse: one error, exit 2.
    for args, fragment in (
        (["--method", "BAD METHOD"], "invalid --method"),
        (["--cacert", str(tmp_path / "missing.pem")], "cannot load --cacert"),
        (["--jsonl", str(tmp_path / "no" / "such" / "dir" / "out")], "cannot write --jsonl"),
    ):
        listing = tmp_path / "urls.txt"
        listing.write_text("http://127.0.0.1:9/\n")
        result = run_asks("fetch", str(listing), "--processes", "2", *args)
        assert result.returncode == 2, (args, result.stderr)
        lines = result.stderr.decode().splitlines()
        assert len(lines) == 1 and fragment in lines[0], lines
    result = run_asks("fetch", str(tmp_path / "missing.txt"), "--processes", "2")
    assert result.returncode == 2
    assert "cannot read the URL list" in result.stderr.decode()


def test_worker_options_leave_the_parents_work_to_the_parent() -> None:
    parent = argparse.Namespace(
        source="urls.txt", jsonl="out.jsonl", quiet=False, processes=4, resume=True,
        retry_failed=True, shard=(0, 2), connections=20,
    )  # fmt: skip
    worker = worker_namespace(parent)
    assert (worker.source, worker.jsonl, worker.quiet, worker.processes) == ("-", "-", True, 1)
    assert (worker.resume, worker.retry_failed, worker.shard) == (False, False, None)
    assert worker.connections == 20
    assert worker.to_parent is True
    assert parent.processes == 4 and parent.resume is True  # the parent's are untouched
    assert usable_cores() == len(os.sched_getaffinity(0))


def run_worker_entry(
    env: dict[str, str], stdin: bytes = b""
) -> subprocess.CompletedProcess[bytes]:
    """``asks._cli.worker`` run by hand as a child, with *env* and *stdin*."""
    code = "import sys; from asks._cli.worker import worker_main; sys.exit(worker_main())"
    return subprocess.run(
        [sys.executable, "-c", code],
        input=stdin,
        capture_output=True,
        timeout=CHILD_TIMEOUT,
        env=env,
    )


def test_the_worker_entry_refuses_to_run_on_its_own() -> None:
    result = run_worker_entry({k: v for k, v in os.environ.items() if k != WORKER_ARGS})
    assert result.returncode == 1
    assert "started by asks fetch --processes" in result.stderr.decode()


def test_a_worker_stopped_while_its_interpreter_starts_exits_quietly(
    capfd: pytest.CaptureFixture[str],
) -> None:
    # A run that stops at once (a full disk, a closed pipe, a Ctrl-C) signals
    # workers still starting: SIGINT then raised KeyboardInterrupt inside
    # `site`, and the user saw "Fatal Python error" and a traceback.
    from asks._cli.arguments import parse_args
    from asks._cli.output import NoProgress
    from asks._cli.processes import _Output, _Run, _Worker

    run = _Run(parse_args(["fetch", "--processes", "2", "--quiet"]), _Output("-"), NoProgress())
    worker = _Worker(0, run)
    run.workers.append(worker)
    worker.signal(signal.SIGINT)  # at once: the new interpreter has only begun
    worker.queue.put(None)
    worker.reader.join(CHILD_TIMEOUT)
    worker.writer.join(CHILD_TIMEOUT)
    run.close()
    assert worker.process.returncode == 130  # the worker's own quiet exit
    assert capfd.readouterr().err == ""


def test_a_worker_never_makes_the_output_dir_again(tmp_path: Path) -> None:
    # The parent makes --output-dir before any worker starts. A worker that
    # made it again (as its own plan used to) would, starting late, bring
    # back a directory that vanished during the run, and the run that should
    # stop (test_cli.py::test_fetch_stops_when_the_output_dir_goes) went on.
    from asks._cli.arguments import parse_args
    from asks._cli.fetch import _fetch_plan

    out_dir = tmp_path / "saved"
    args = parse_args(["fetch", "--processes", "2", "--output-dir", str(out_dir)])
    assert _fetch_plan(args).output_dir == out_dir
    assert out_dir.is_dir()  # the parent's plan makes it
    out_dir.rmdir()
    assert _fetch_plan(worker_namespace(args)).output_dir == out_dir
    assert not out_dir.exists()


async def test_a_worker_starting_after_the_output_dir_went_does_not_make_it_again(
    raw_server: Any, tmp_path: Path
) -> None:
    # The whole worker, not only its plan: fetch_many also makes a missing
    # output_dir. A worker whose interpreter started slowly (a loaded machine)
    # brought back the directory another worker's run had seen vanish, and
    # the run went on saving bodies (test_cli.py::
    # test_fetch_stops_when_the_output_dir_goes[2] failed that way in CI).
    from asks._cli.arguments import parse_args

    handler = canned(OK)
    server = await raw_server(handler)
    out_dir = tmp_path / "saved"  # made by the parent, gone since
    args = parse_args(["fetch", "--processes", "2", "--output-dir", str(out_dir)])
    env = dict(os.environ, **{WORKER_ARGS: pickle.dumps(worker_namespace(args)).hex()})
    result = await curio.run_in_thread(run_worker_entry, env, f"{server.url}/one\n".encode())
    text = result.stderr.decode()
    assert not out_dir.exists(), text
    assert result.returncode == 1, text
    assert f"saving the bodies in --output-dir: cannot write in {str(out_dir)!r}: " in text
    assert "Traceback" not in text
    assert result.stdout == b""  # no line: the URL was not done
    assert [request.target for request, _ in handler.requests] == [b"/one"]


class Stall:
    """A server that answers ``/fast`` at once and holds ``/hold`` until released.

    ``held`` is set (for a thread) once a ``/hold`` request of each wanted
    shard has arrived and every ``/fast`` one was answered.
    """

    def __init__(self, fast: int, shards: set[int]) -> None:
        self.fast = fast
        self.answered = 0
        self.waiting: set[int] = set()
        self.shards = shards
        self.held = threading.Event()
        self.release = curio.UniversalEvent()

    def check(self) -> None:
        if self.answered == self.fast and self.waiting >= self.shards:
            self.held.set()

    async def __call__(self, sock: curio.io.Socket) -> None:
        port = sock.getsockname()
        while (received := await read_request(sock)) is not None:
            if received[0].target.startswith(b"/hold"):
                url = f"http://{port[0]}:{port[1]}/"
                self.waiting.add(shard_of(url, 2))
                self.check()
                await self.release.wait()
            else:
                self.answered += 1
                self.check()
            await sock.sendall(OK)


def stalled_run(
    tmp_path: Path, hosts: Hosts, stall: Stall, act: Callable[[subprocess.Popen[bytes]], None]
) -> tuple[int, bytes, bytes]:
    """Run fetch --processes 2 until the stall holds it, then *act* on it; its end."""
    listing = tmp_path / "urls.txt"
    listing.write_text("\n".join(hosts.urls(4, "/fast") + hosts.urls(10, "/hold")) + "\n")
    try:
        with asks_child(["fetch", str(listing), "--processes", "2", "--connections", "8"]) as proc:
            assert stall.held.wait(CHILD_TIMEOUT)
            # The answered URLs' lines, through the parent: only then is the run
            # stuck on the held requests alone (no line of them can be lost).
            assert proc.stdout is not None
            first = b"".join(proc.stdout.readline() for _ in range(stall.fast))
            act(proc)
            rest, err = proc.communicate(timeout=CHILD_TIMEOUT)
            out = first + rest
    finally:
        stall.release.set()
    return proc.returncode, out, err


@pytest.mark.curio_timeout(CHILD_TIMEOUT + 30)
async def test_a_worker_killed_mid_run_fails_the_run_clearly(tmp_path: Path) -> None:
    hosts = Hosts(4)
    stall = Stall(fast=16, shards={0, 1})
    await hosts.start(stall)
    workers: list[int] = []
    victim: list[int] = []

    def kill_one(proc: subprocess.Popen[bytes]) -> None:
        workers.extend(children_of(proc.pid))
        assert len(workers) == 2
        victim.append(workers[0])
        os.kill(workers[0], signal.SIGKILL)

    try:
        code, out, err = await curio.run_in_thread(stalled_run, tmp_path, hosts, stall, kill_one)
    finally:
        await hosts.aclose()
    text = err.decode()
    assert code == 1, text
    assert "Traceback" not in text
    assert f"(pid {victim[0]}) was killed by SIGKILL with " in text
    assert "URLs unanswered" in text
    assert "asks fetch --resume fetches what is missing" in text
    # What was answered before is all there, every line whole.
    done = records(out)
    assert sum(r["url"].rsplit("/", 2)[1] == "fast" for r in done) == 16
    assert all(gone(pid) for pid in workers)


# What a server sends of a body it then holds: enough that its sendall ends
# only once the client has read body bytes, whatever the buffers hold (the
# server's send buffer is pinned small; the client's grows only as it reads,
# and the body is read only once its .part file is made).
BIG = 4 * 1024 * 1024


class HalfBodies:
    """A server whose ``/big`` answers send half their body and hold the rest.

    ``streaming`` is set (for a thread) once *count* of them have sent that half.
    """

    def __init__(self, count: int) -> None:
        self.count = count
        self.sent = 0
        self.streaming = threading.Event()
        self.release = curio.UniversalEvent()

    async def __call__(self, sock: curio.io.Socket) -> None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
        while await read_request(sock) is not None:
            await sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (2 * BIG))
            await sock.sendall(b"x" * BIG)
            self.sent += 1
            if self.sent == self.count:
                self.streaming.set()
            await self.release.wait()


@pytest.mark.curio_timeout(CHILD_TIMEOUT + 30)
async def test_a_killed_workers_partial_files_are_removed(tmp_path: Path) -> None:
    # A worker killed with SIGKILL runs no clean-up: the bodies it was saving
    # stayed in --output-dir as .part files, which nothing ever removed.
    hosts = Hosts(4)
    server = HalfBodies(count=4)
    await hosts.start(server)
    listing = tmp_path / "urls.txt"
    listing.write_text("\n".join(hosts.urls(1, "/big")) + "\n")
    assert {shard_of(url, 2) for url in hosts.urls(1, "/big")} == {0, 1}
    out = tmp_path / "pages"
    out.mkdir()
    # Another process's partial file, which is not the worker's to remove.
    theirs = out / f".other.{os.getpid()}.abcdefgh.part"
    theirs.write_bytes(b"")
    victim: list[int] = []

    def kill_one() -> tuple[int | None, bytes, bytes]:
        args = ["fetch", str(listing), "--processes", "2", "--output-dir", str(out)]
        try:
            with asks_child(args) as proc:
                if server.streaming.wait(CHILD_TIMEOUT):
                    workers = children_of(proc.pid)
                    assert len(workers) == 2
                    victim.append(workers[0])
                    # Named for the victim, but no partial file: not removed either.
                    (out / f".other.{workers[0]}.abcdefgh.keep").write_bytes(b"")
                    os.kill(workers[0], signal.SIGKILL)
                lines, err = proc.communicate()
        finally:
            server.release.set()
        return proc.returncode, lines, err

    try:
        code, lines, err = await curio.run_in_thread(kill_one)
    finally:
        await hosts.aclose()
    text = err.decode()
    assert code == 1, text
    assert f"(pid {victim[0]}) was killed by SIGKILL with " in text
    assert "asks fetch --resume fetches what is missing" in text
    assert lines == b""  # no URL was answered: --resume fetches them all
    assert sorted(os.listdir(out)) == sorted([theirs.name, f".other.{victim[0]}.abcdefgh.keep"])


def test_only_the_dead_processes_partial_files_are_removed(tmp_path: Path) -> None:
    from asks._cli.partials import remove_partial_files

    names = [
        ".127.0.0.1_a-0123456789ab.12.k2j4h5g6.part",  # process 12's: removed
        ".127.0.0.1_a-0123456789ab.123.k2j4h5g6.part",  # process 123's
        ".127.0.0.1_a-0123456789ab.12.k2j4h5g6.partial",
        "127.0.0.1_a-0123456789ab.12.k2j4h5g6.part",  # a saved body's own name
        ".12.part",
    ]
    for name in names:
        (tmp_path / name).write_bytes(b"")
    (tmp_path / ".dir.12.k2j4h5g6.part").mkdir()
    assert remove_partial_files(str(tmp_path), 12) == 1
    assert sorted(os.listdir(tmp_path)) == sorted([*names[1:], ".dir.12.k2j4h5g6.part"])
    assert remove_partial_files(str(tmp_path / "gone"), 12) == 0  # no directory: nothing


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("processes", ["1", "2"])
async def test_a_full_disk_under_jsonl_is_one_clear_error(raw_server: Any, processes: str) -> None:
    server = await raw_server(canned(OK))
    listing = "".join(f"{server.url}/{n}\n" for n in range(5)).encode()

    def run() -> subprocess.CompletedProcess[bytes]:
        command = [*ASKS, "fetch", "--processes", processes, "--jsonl", "/dev/full"]
        return subprocess.run(command, input=listing, capture_output=True, timeout=CHILD_TIMEOUT)

    result = await curio.run_in_thread(run)
    # ENOSPC said once: a buffered --jsonl tried the failed lines again on
    # close and ended the parent with a traceback.
    assert result.returncode == 1
    summary, error = result.stderr.decode().splitlines()
    assert error == "asks: error: writing the JSON lines: [Errno 28] No space left on device"
    # No line was written, so no URL is done (one process counted the first).
    assert summary.startswith("asks fetch: 0 URLs, 0 ok, 0 failed")


@pytest.mark.curio_timeout(CHILD_TIMEOUT + 30)
async def test_sigterm_stops_the_workers_and_keeps_the_lines(tmp_path: Path) -> None:
    hosts = Hosts(4)
    stall = Stall(fast=16, shards={0, 1})
    await hosts.start(stall)
    workers: list[int] = []

    def terminate(proc: subprocess.Popen[bytes]) -> None:
        workers.extend(children_of(proc.pid))
        proc.send_signal(signal.SIGTERM)

    try:
        code, out, err = await curio.run_in_thread(stalled_run, tmp_path, hosts, stall, terminate)
    finally:
        await hosts.aclose()
    text = err.decode()
    assert code == 130, text
    assert "Traceback" not in text
    assert "interrupted: 16 URLs, 16 ok, 0 failed" in text
    assert "unanswered" not in text  # stopped by the parent: not a death
    done = records(out)
    assert len(done) == 16
    assert all(r["status"] == 200 for r in done)
    assert len(workers) == 2 and all(gone(pid) for pid in workers)


@pytest.mark.curio_timeout(CHILD_TIMEOUT + 30)
async def test_ctrl_c_stops_a_run_whose_stdout_reader_stalled(tmp_path: Path) -> None:
    # `asks fetch urls.txt | consumer` whose consumer stopped reading: the
    # parent's copy of the workers' lines waited for the full pipe with the
    # first Ctrl-C as with none, and so did the second (its killed workers
    # did not unblock the write): the run never ended.
    hosts = Hosts(4)
    stall = Stall(fast=16, shards={0, 1})
    await hosts.start(stall)
    listing = tmp_path / "urls.txt"
    listing.write_text("\n".join(hosts.urls(4, "/fast") + hosts.urls(10, "/hold")) + "\n")
    workers: list[int] = []

    def drive() -> tuple[int | None, bytes, bytes]:
        # One connection a worker: each asks for /hold once its /fast ones
        # are answered and their lines are out to the parent, whose copy of
        # them waits on the full pipe.
        return interrupt_over_a_full_pipe(
            ["fetch", str(listing), "--processes", "2", "--connections", "1"],
            stall.held,
            before_signal=lambda proc: workers.extend(children_of(proc.pid)),
            after=stall.release.set,
        )

    try:
        code, written, err = await curio.run_in_thread(drive)
    finally:
        await hosts.aclose()
    text = err.decode()
    assert code == 130, text
    assert "Traceback" not in text
    # No line found room: none was written, no part of one, and none counted.
    assert written == b""
    assert "interrupted: 0 URLs, 0 ok, 0 failed" in text
    assert len(workers) == 2 and all(gone(pid) for pid in workers)


# Two waits of CHILD_TIMEOUT in its thread: a hang fails one of its asserts,
# not the deadline (which would leave the thread running past the test).
@pytest.mark.curio_timeout(2 * CHILD_TIMEOUT + 30)
async def test_urls_from_a_slow_stdin_are_fetched_as_they_come(raw_server: Any) -> None:
    asked = threading.Event()

    async def handler(sock: curio.io.Socket) -> None:
        while await read_request(sock) is not None:
            asked.set()
            await sock.sendall(OK)

    server = await raw_server(handler)

    def run() -> tuple[int, bytes, bool]:
        # A producer that writes one URL and then takes its time: the URL is
        # fetched now, not once 256 have come for its worker or stdin ends.
        proc = subprocess.Popen(
            [*ASKS, "fetch", "--processes", "2", "--quiet"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert proc.stdin is not None
        try:
            proc.stdin.write(f"{server.url}/first\n".encode())
            proc.stdin.flush()
            fetched_before_eof = asked.wait(CHILD_TIMEOUT)
            out, _ = proc.communicate(timeout=CHILD_TIMEOUT)  # closes stdin
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        return proc.returncode, out, fetched_before_eof

    code, out, fetched_before_eof = await curio.run_in_thread(run)
    assert fetched_before_eof
    assert code == 0
    assert [r["url"] for r in records(out)] == [f"{server.url}/first"]


def test_worker_of_splits_a_shard_over_every_worker() -> None:
    urls = [f"http://host-{i}.example/page" for i in range(400)]
    in_shard = [url for url in urls if shard_of(url, 2) == 0]
    # hash % 2 alone would send the whole shard to worker 0: the reason for worker_of.
    assert {shard_of(url, 2) for url in in_shard} == {0}
    spread = collections.Counter(worker_of(url, 2, 2) for url in in_shard)
    assert set(spread) == {0, 1}
    assert min(spread.values()) > len(in_shard) // 4
    # One host, one worker; without a shard it is the plain partition.
    assert {worker_of(f"http://host-7.example/{n}", 4, 3) for n in range(20)} == {
        worker_of("http://HOST-7.example:8080/", 4, 3)
    }
    assert all(worker_of(url, 3) == shard_of(url, 3) for url in urls)


async def test_shard_then_processes_then_resume(tmp_path: Path) -> None:
    seen: collections.Counter[str] = collections.Counter()

    async def counting_server(sock: curio.io.Socket) -> None:
        host, port = sock.getsockname()
        while (received := await read_request(sock)) is not None:
            seen[f"http://{host}:{port}{received[0].target.decode()}"] += 1
            await sock.sendall(OK)

    hosts = await Hosts(6).start(counting_server)
    try:
        urls = hosts.urls(20)
        listing = tmp_path / "urls.txt"
        listing.write_text("\n".join(urls) + "\n")
        out = tmp_path / "out.jsonl"
        command = ("fetch", str(listing), "--shard", "1/2", "--processes", "2")
        command += ("--jsonl", str(out))
        first = await arun_asks(*command)
        assert first.returncode == 0, first.stderr
        mine = sorted(url for url in urls if shard_of(url, 2) == 0)
        assert 0 < len(mine) < len(urls)
        assert sorted(r["url"] for r in records(out.read_bytes())) == mine
        assert sorted(seen) == mine and set(seen.values()) == {1}
        # Resumed: nothing left to fetch, nothing asked twice, the file as it was.
        before = out.read_bytes()
        again = await arun_asks(*command, "--resume")
        assert again.returncode == 0, again.stderr
        assert set(seen.values()) == {1}
        assert out.read_bytes() == before
        assert "0 URLs, 0 ok, 0 failed, 0 bytes" in again.stderr.decode()
        assert f"{len(mine)} already done, 2 processes" in again.stderr.decode()
    finally:
        await hosts.aclose()


def wait_exit(pid: int, within: float) -> bool:
    """Whether process *pid* (not necessarily our child) exits within *within* s."""
    import select

    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        # A pidfd turns readable when the process exits: no polling loop.
        return bool(select.select([fd], [], [], within)[0])
    finally:
        os.close(fd)


@pytest.mark.curio_timeout(CHILD_TIMEOUT + 30)
async def test_the_workers_die_with_a_killed_parent(tmp_path: Path) -> None:
    hosts = Hosts(4)
    stall = Stall(fast=16, shards={0, 1})
    await hosts.start(stall)
    workers: list[int] = []

    def kill_parent(proc: subprocess.Popen[bytes]) -> None:
        workers.extend(children_of(proc.pid))
        proc.kill()

    try:
        code, _out, _err = await curio.run_in_thread(
            stalled_run, tmp_path, hosts, stall, kill_parent
        )
        assert code == -signal.SIGKILL
        assert len(workers) == 2
        # Orphans would go on fetching their queued URLs for nobody.
        exited = [await curio.run_in_thread(wait_exit, pid, 10.0) for pid in workers]
        assert exited == [True, True]
    finally:
        await hosts.aclose()


def test_the_totals_count_the_records_keys_not_a_kept_header_named_like_one() -> None:
    # The parent counts the workers' lines without parsing them: a header kept
    # with --keep-header skipped (or error, or bytes) must not count.
    from asks._cli.processes import _Totals
    from asks.crawl import FetchResult

    fetched = FetchResult(
        "http://h/1",
        status=200,
        headers={"skipped": "yes", "error": "none", "bytes": "9"},
        size=2,
        elapsed=0.1,
    )
    refused = FetchResult("http://h/2", elapsed=0.1, skipped="robots.txt")
    saved = FetchResult("http://h/3", elapsed=0.1, skipped="robots.txt")
    failed = FetchResult(
        "http://h/4", elapsed=0.1, error="ConnectFailed: no", error_type="ConnectFailed"
    )
    lines = b"".join(
        (r.as_json(with_file=(r is saved)) + "\n").encode()
        for r in (fetched, refused, saved, failed)
    )
    totals = _Totals()
    assert totals.add(lines) == 4
    assert (totals.ok, totals.skipped, totals.failed, totals.nbytes) == (1, 2, 1, 2)


@pytest.mark.curio_timeout(CHILD_TIMEOUT + 30)
async def test_a_killed_parents_workers_partial_files_go_with_the_next_run(
    tmp_path: Path,
) -> None:
    # kill -9 of the parent takes its workers with it (PR_SET_PDEATHSIG): no
    # one is left to remove their .part files but the next run.
    hosts = Hosts(4)
    server = HalfBodies(count=4)
    await hosts.start(server)
    listing = tmp_path / "urls.txt"
    listing.write_text("\n".join(hosts.urls(1, "/big")) + "\n")
    out = tmp_path / "pages"
    command = [*ASKS, "fetch", str(listing), "--processes", "2", "--output-dir", str(out)]
    workers: list[int] = []

    def kill_parent() -> int:
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        killer = threading.Timer(CHILD_TIMEOUT, proc.kill)
        killer.start()
        try:
            assert server.streaming.wait(CHILD_TIMEOUT)
            workers.extend(children_of(proc.pid))
            proc.kill()
            return proc.wait()
        finally:
            killer.cancel()

    try:
        code = await curio.run_in_thread(kill_parent)
        assert code == -signal.SIGKILL
        assert len(workers) == 2
        assert [await curio.run_in_thread(wait_exit, pid, 10.0) for pid in workers] == [True] * 2
        left = sorted(os.listdir(out))
        assert len(left) == 4 and all(name.endswith(".part") for name in left)
        assert {name.rsplit(".", 3)[1] for name in left} == {str(pid) for pid in workers}
    finally:
        await server.release.set()
        await hosts.aclose()
    # The next run into the directory, whatever it fetches (here nothing).
    empty = tmp_path / "none.txt"
    empty.write_text("")
    again = await arun_asks("fetch", str(empty), "--processes", "1", "--output-dir", str(out))
    assert again.returncode == 0, again.stderr
    assert os.listdir(out) == []
