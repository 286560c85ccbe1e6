"""``asks fetch --resume`` and ``--retry-failed``: the earlier output as the checkpoint.

The kill test runs ``asks fetch`` as a child process against a server in the
test's kernel, SIGKILLs it once half the URLs have their line, and resumes;
the server counts what was asked for in each run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
from pathlib import Path
from typing import Any

import curio
import pytest

import asks._cli.resume as resume_module
from asks._cli.exits import UsageError
from asks._cli.resume import DoneSet, prepare_resume, url_digest
from tests.cli_children import (
    ASKS,
    CHILD_DEADLINE,
    CHILD_TIMEOUT,
    asks_child,
    dead_pid,
    held_elsewhere,
    kill_while_writing,
)
from tests.servers import read_request
from tests.test_cli import arun_asks, json_lines, summary

pytestmark = CHILD_DEADLINE  # a hung child fails its test, not the deadline

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"


def line(url: str, error: str | None = None, **extra: Any) -> str:
    record = {"url": url, "status": None if error else 200, "bytes": 5, "elapsed": 0.1}
    record["error"] = error
    record.update(extra)
    return json.dumps(record) + "\n"


# -- the done set ---------------------------------------------------------------------


def test_the_done_set_finds_what_it_holds_and_nothing_else(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(resume_module, "_CHUNK", 7)  # several sorted runs, merged
    urls = [f"http://h{i % 13}.example/{i}" for i in range(100)]
    done = DoneSet(url_digest(u) for u in urls[::2])
    assert len(done) == 50
    assert done.nbytes == 50 * 8  # 8 bytes a URL, no strings kept
    for i, url in enumerate(urls):
        assert (url in done) is (i % 2 == 0)
    assert 42 not in done
    assert list(done._digests) == sorted(done._digests)
    assert "x" not in DoneSet()


def test_the_digest_is_stable() -> None:
    # The same on every machine and Python (no hash() salt): resuming on
    # another host or after an upgrade finds the same URLs.
    assert url_digest("http://example.com/") == 0xFB22_4116_0C9D_AD06
    assert 0 <= url_digest("http://a/") < 2**64


# -- reading and repairing the earlier output -----------------------------------------


def test_a_missing_output_is_a_fresh_start(tmp_path: Path) -> None:
    previous = prepare_resume(str(tmp_path / "none.jsonl"), retry_failed=False)
    assert (len(previous.done), previous.kept, previous.torn) == (0, 0, False)


def test_a_torn_last_line_without_its_newline_is_cut_away(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    whole = line("http://h/1") + line("http://h/2")
    out.write_text(whole + '{"url": "http://h/3", "sta')
    previous = prepare_resume(str(out), retry_failed=False)
    assert previous.torn
    assert out.read_text() == whole
    assert "http://h/1" in previous.done and "http://h/2" in previous.done
    assert "http://h/3" not in previous.done


def test_a_complete_last_line_that_is_not_json_is_cut_away_too(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    whole = line("http://h/1")
    out.write_bytes(whole.encode() + b'{"url": "http://h/2"\x00\x00\n')
    previous = prepare_resume(str(out), retry_failed=False)
    assert previous.torn
    assert out.read_text() == whole
    assert previous.kept == 1


def test_a_bad_line_in_the_middle_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    content = line("http://h/1") + "not json\n" + line("http://h/2")
    out.write_text(content)
    with pytest.raises(UsageError, match="line 2"):
        prepare_resume(str(out), retry_failed=False)
    assert out.read_text() == content  # left as it was


@pytest.mark.parametrize("retry_failed", [False, True])
def test_an_output_that_cannot_be_appended_to_is_refused_before_any_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, retry_failed: bool
) -> None:
    # (Permissions do not stop root, which CI runs as: the append is refused
    # here as a read-only file system would refuse it.)
    out = tmp_path / "out.jsonl"
    content = line("http://h/1") + line("http://h/2", error="ConnectFailed: no") + '{"torn'
    out.write_text(content)
    real_open = open

    def refusing_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if "a" in mode or "w" in mode:
            raise OSError(30, "Read-only file system", str(file))
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr("builtins.open", refusing_open)
    with pytest.raises(UsageError, match="cannot append to --jsonl"):
        prepare_resume(str(out), retry_failed=retry_failed)
    monkeypatch.undo()
    assert out.read_text() == content  # not repaired, not rewritten
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]  # no temporary left


def test_retry_failed_drops_the_failed_lines_and_keeps_the_rest_exactly(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    kept = [line("http://h/1"), line("http://h/3", skipped="robots.txt")]
    failed = [
        line("http://h/2", error="ConnectFailed: no"),
        line("http://h/4", skipped="robots.txt unreachable"),
    ]
    out.write_text(kept[0] + failed[0] + kept[1] + failed[1] + '{"torn')
    os.chmod(out, 0o640)
    previous = prepare_resume(str(out), retry_failed=True)
    assert (previous.kept, previous.dropped_failed, previous.torn) == (2, 2, True)
    assert out.read_text() == "".join(kept)
    assert os.stat(out).st_mode & 0o777 == 0o640
    assert sorted(os.listdir(tmp_path)) == ["out.jsonl"]  # no temporary file left
    assert "http://h/1" in previous.done and "http://h/3" in previous.done
    assert "http://h/2" not in previous.done and "http://h/4" not in previous.done


def test_without_retry_failed_the_failed_ones_count_as_done(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_text(line("http://h/1", error="ConnectFailed: no"))
    previous = prepare_resume(str(out), retry_failed=False)
    assert "http://h/1" in previous.done


# -- the command line -------------------------------------------------------------------


def counting(answers: dict[str, bytes] | None = None) -> tuple[Any, list[str]]:
    seen: list[str] = []

    async def handler(sock: Any) -> None:
        while (got := await read_request(sock)) is not None:
            target = got[0].target.decode()
            seen.append(target)
            await sock.sendall((answers or {}).get(target, OK))

    return handler, seen


async def test_resume_fetches_only_the_urls_not_done(raw_server: Any, tmp_path: Path) -> None:
    handler, seen = counting()
    server = await raw_server(handler)
    urls = [f"{server.url}/{i}" for i in range(10)]
    listing = tmp_path / "urls.txt"
    listing.write_text("\n".join(urls) + "\n")
    out = tmp_path / "out.jsonl"
    out.write_text("".join(line(u) for u in urls[:6]) + '{"url": "' + urls[6])  # torn
    result = await arun_asks("fetch", str(listing), "--jsonl", str(out), "--resume")
    assert result.returncode == 0, result.stderr
    assert sorted(seen) == sorted(f"/{i}" for i in range(6, 10))
    records = json_lines(out.read_bytes())
    assert sorted(r["url"] for r in records) == sorted(urls)
    assert summary(result.stderr)["total"] == "4"
    assert b"6 already done" in result.stderr


async def test_retry_failed_fetches_the_failed_ones_again(raw_server: Any, tmp_path: Path) -> None:
    handler, seen = counting()
    server = await raw_server(handler)
    urls = [f"{server.url}/{i}" for i in range(4)]
    listing = tmp_path / "urls.txt"
    listing.write_text("\n".join(urls))
    out = tmp_path / "out.jsonl"
    out.write_text(line(urls[0]) + line(urls[1], error="ConnectFailed: no") + line(urls[2]))
    result = await arun_asks(
        "fetch", str(listing), "--jsonl", str(out), "--resume", "--retry-failed"
    )
    assert result.returncode == 0, result.stderr
    assert sorted(seen) == ["/1", "/3"]
    records = {r["url"]: r for r in json_lines(out.read_bytes())}
    assert len(records) == 4 == len(out.read_text().splitlines())
    assert all(r["error"] is None for r in records.values())


async def test_resume_needs_a_file_and_retry_failed_needs_resume(tmp_path: Path) -> None:
    for args in (["--resume"], ["--retry-failed", "--jsonl", str(tmp_path / "o")]):
        result = await arun_asks("fetch", "-", *args, input=b"http://127.0.0.1:1/\n")
        assert result.returncode == 2
        assert result.stderr.decode().startswith("asks: error: ")
    assert os.listdir(tmp_path) == []


async def test_resume_refuses_an_output_that_is_not_ours(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_text("hello\nworld\n")
    result = await arun_asks("fetch", "-", "--jsonl", str(out), "--resume", input=b"")
    assert result.returncode == 2
    assert b"line 1 is not a JSON record" in result.stderr
    assert out.read_text() == "hello\nworld\n"


# -- killed half way ----------------------------------------------------------------------


def _line_count(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


@pytest.mark.curio_timeout(CHILD_TIMEOUT + 30)
async def test_resume_after_a_kill_fetches_only_what_was_missing(
    raw_server: Any, tmp_path: Path
) -> None:
    total, half = 200, 100
    first_run: list[str] = []
    second_run: list[str] = []
    resumed = curio.Event()
    answered = 0

    async def handler(sock: Any) -> None:
        nonlocal answered
        while (got := await read_request(sock)) is not None:
            target = got[0].target.decode()
            if resumed.is_set():
                second_run.append(target)
            else:
                first_run.append(target)
                if answered >= half:
                    await resumed.wait()  # in flight when the kill comes
                    return
                answered += 1
            await sock.sendall(OK)

    server = await raw_server(handler)
    urls = [f"{server.url}/{i}" for i in range(total)]
    listing = tmp_path / "urls.txt"
    listing.write_text("\n".join(urls) + "\n")
    out = tmp_path / "out.jsonl"
    args = ["fetch", str(listing), "--jsonl", str(out), "--connections", "8"]

    def kill_at_half() -> int:
        with asks_child(args, stdout=None, stderr=subprocess.DEVNULL) as proc:
            # Synchronised on the output: the child writes a line per answer.
            while _line_count(out) < half and proc.poll() is None:
                threading.Event().wait(0.01)
            proc.send_signal(signal.SIGKILL)
            return proc.wait()

    code = await curio.run_in_thread(kill_at_half)
    assert code == -signal.SIGKILL
    written = json_lines(out.read_bytes().rsplit(b"\n", 1)[0] + b"\n")
    assert len(written) == half
    await resumed.set()

    result = await arun_asks(*args, "--resume")
    assert result.returncode == 0, result.stderr
    done_first = {r["url"].removeprefix(server.url) for r in written}
    # Only the URLs without a line were asked for again...
    assert sorted(second_run) == sorted(f"/{i}" for i in range(total) if f"/{i}" not in done_first)
    # ...so at most the ones in flight at the kill were asked for twice.
    twice = set(first_run) & set(second_run)
    assert twice == set(first_run) - done_first
    assert len(twice) <= 4  # connections_per_host: the most in flight to this host
    final = json_lines(out.read_bytes())
    assert sorted(r["url"] for r in final) == sorted(urls)  # every URL exactly once


# --------------------------------------------------------------------------
# .part files a one-process run killed on the spot left in --output-dir


class StallFirstBody:
    """A server whose first answer sends half its body and holds the rest; later ones are whole.

    ``streaming`` is set (for a thread) once that half went out: the client
    reads a body only into its ``.part`` file, and the server's send buffer
    is pinned small, so that many bytes sent means the file exists.
    """

    HALF = 4 * 1024 * 1024

    def __init__(self) -> None:
        self.answers = 0
        self.streaming = threading.Event()
        self.release = curio.UniversalEvent()

    async def __call__(self, sock: Any) -> None:
        import socket

        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
        while await read_request(sock) is not None:
            self.answers += 1
            head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (2 * self.HALF)
            await sock.sendall(head + b"x" * self.HALF)
            if self.answers == 1:
                self.streaming.set()
                await self.release.wait()
                return
            await sock.sendall(b"y" * self.HALF)

    async def kill_mid_body(self, command: list[str], directory: Path) -> tuple[int, str]:
        """Run *command* and SIGKILL it half way through the first body (kill_while_writing).

        Returns:
            the dead child's pid and the name of the ``.part`` file it left in *directory*.
        """
        try:
            dead, code, writing = await curio.run_in_thread(
                kill_while_writing, command, self.streaming, directory
            )
        finally:
            await self.release.set()
        assert code == -signal.SIGKILL
        return dead, writing


@pytest.mark.curio_timeout(CHILD_TIMEOUT + 30)
@pytest.mark.parametrize("resume", [True, False], ids=["resume", "fresh"])
async def test_a_killed_runs_partial_files_go_with_the_next_run(
    raw_server: Any, tmp_path: Path, resume: bool
) -> None:
    server = StallFirstBody()
    started = await raw_server(server)
    listing = tmp_path / "urls.txt"
    listing.write_text(f"{started.url}/big\n")
    out = tmp_path / "pages"
    out.mkdir()
    jsonl = tmp_path / "out.jsonl"
    command = [*ASKS, "fetch", str(listing), "--processes", "1", "--output-dir", str(out)]
    command += ["--jsonl", str(jsonl)]

    dead, _ = await server.kill_mid_body(command, out)
    left = [name for name in os.listdir(out) if name.endswith(f".{dead}.{name[-13:-5]}.part")]
    assert len(left) == 1, (dead, os.listdir(out))  # what kill -9 left, named for its pid
    # Two that are not stale: a live process's (this one), and one whose pid
    # is gone here but whose writer holds its lock (a run in another pid
    # namespace or on another machine sharing the directory).
    live = out / f".other.{os.getpid()}.abcdefgh.part"
    live.write_bytes(b"half")
    elsewhere = out / f".other.{dead}.ijklmnop.part"
    with held_elsewhere(elsewhere):
        result = await arun_asks(*command[3:], *(["--resume"] if resume else []))
    assert result.returncode == 0, result.stderr
    assert sorted(os.listdir(out)) == sorted([live.name, elsewhere.name, *_saved(jsonl)])
    (saved,) = _saved(jsonl)
    body = (out / saved).read_bytes()
    assert body == b"x" * StallFirstBody.HALF + b"y" * StallFirstBody.HALF


def _saved(jsonl: Path) -> list[str]:
    return [record["file"] for record in json_lines(jsonl.read_bytes())]


def test_the_stale_partial_files_are_only_the_dead_writers_own(tmp_path: Path) -> None:
    from asks._cli.partials import remove_stale_partial_files

    pid = dead_pid()
    names = [
        f".a_b-0123456789ab.{pid}.k2j4h5g6.part",  # removed
        f".a_b-0123456789ab.{os.getpid()}.k2j4h5g6.part",  # alive
        f".a_b-0123456789ab.{pid}.k2j4h5g6.partial",
        f"a_b-0123456789ab.{pid}.k2j4h5g6.part",  # a saved body's own name
        f".{pid}.part",
        ".a_b-0123456789ab.\u0661\u0662.k2j4h5g6.part",  # not ASCII digits
    ]
    for name in names:
        (tmp_path / name).write_bytes(b"")
    (tmp_path / f".dir.{pid}.k2j4h5g6.part").mkdir()
    (tmp_path / f".link.{pid}.k2j4h5g6.part").symlink_to(tmp_path / names[1])
    assert remove_stale_partial_files(str(tmp_path)) == 1
    assert sorted(os.listdir(tmp_path)) == sorted(
        [*names[1:], f".dir.{pid}.k2j4h5g6.part", f".link.{pid}.k2j4h5g6.part"]
    )
    assert remove_stale_partial_files(str(tmp_path / "gone")) == 0


def test_a_zombie_writers_partial_file_is_stale(tmp_path: Path) -> None:
    # Exited, not reaped (as a killed --processes parent's workers stay under
    # a pid 1 that never reaps): its pid exists, but it holds no file.
    from asks._cli.partials import remove_stale_partial_files

    child = subprocess.Popen(["true"])
    try:
        os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # exited, left unreaped
        os.kill(child.pid, 0)  # the pid still exists
        stale = tmp_path / f".a_b-0123456789ab.{child.pid}.k2j4h5g6.part"
        stale.write_bytes(b"half")
        assert remove_stale_partial_files(str(tmp_path)) == 1
        assert not stale.exists()
    finally:
        child.wait()
