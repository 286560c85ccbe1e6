"""Bulk fetch: ``asks fetch FILE``, every URL of a list through one session.

The shape is a bounded producer/consumer: one task reads URLs from the list
(a file or stdin, read in a thread so a slow pipe never blocks the kernel)
into a queue of twice ``--connections`` places, and ``--connections``
worker tasks take from it, each doing one request at a time through the one
session. So the list is never held whole (a million lines cost a queue), at
most N requests are in flight, and the session's pool keeps their
connections alive between URLs.

A URL is a record, never a stop: whatever happens to one URL (a bad line, a
refused connection, a timeout, a 404) becomes its JSON line, written and
flushed as soon as it is done, so an interrupted run keeps every line it
wrote. Only the output itself failing (stdout closed, disk full) stops the
run, through the ``stop`` event the supervisor also waits on.

Bodies saved with ``--output-dir`` get names made from the URL by
:func:`safe_filename`, which can never leave the directory whatever the URL
holds, and appear only once complete (a temporary file renamed).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import stat
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import curio

from .._filenames import file_mode, safe_filename
from ..response_objects import StreamResponse
from ..sessions import Session
from .arguments import request_kwargs, session_kwargs
from .exits import (
    EXIT_BROKEN_PIPE,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    UsageError,
    describe,
    print_error,
    silence_stdout,
)
from .output import NoProgress, Progress, fetch_progress, human_bytes, stderr_console
from .stopping import deadline, supervise

if TYPE_CHECKING:
    from rich.console import Console


@dataclass
class FetchRecord:
    """What ``asks fetch`` reports for one URL."""

    url: str
    status: int | None
    bytes: int
    elapsed: float
    error: str | None
    file: str | None = None

    def as_json(self, with_file: bool) -> str:
        """The record as one JSON line (without the newline)."""
        data: dict[str, Any] = {
            "url": self.url,
            "status": self.status,
            "bytes": self.bytes,
            "elapsed": self.elapsed,
            "error": self.error,
        }
        if with_file:
            data["file"] = self.file
        return json.dumps(data)


@dataclass
class _Stats:
    """The running totals of a fetch, for the summary line."""

    started: float = field(default_factory=time.monotonic)
    done: int = 0
    ok: int = 0
    failed: int = 0
    nbytes: int = 0

    def add(self, record: FetchRecord) -> None:
        """Count one finished URL."""
        self.done += 1
        self.nbytes += record.bytes
        if record.error is None:
            self.ok += 1
        else:
            self.failed += 1


class _UrlSource:
    """URLs read from a file descriptor, one per line, without blocking the kernel."""

    def __init__(self, fd: int, owned: bool) -> None:
        self._fd = fd
        self._owned = owned
        self._lines: deque[bytes] = deque()
        self._partial = b""
        self._eof = False
        self._first = True

    @classmethod
    def open(cls, source: str) -> _UrlSource:
        """The source of ``FILE`` (``-``: stdin, which is never closed here).

        Raises:
            UsageError: the file cannot be read, or is a directory.
        """
        if source == "-":
            return cls(sys.stdin.fileno(), owned=False)
        try:
            fd = os.open(source, os.O_RDONLY)
        except OSError as exc:
            raise UsageError(f"cannot read the URL list {source!r}: {exc}") from None
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            os.close(fd)
            raise UsageError(f"cannot read the URL list {source!r}: it is a directory")
        return cls(fd, owned=True)

    def _url(self, raw: bytes) -> str | None:
        """The URL of one line, or None for a blank or ``#`` line (a first BOM dropped)."""
        text = raw.decode("utf-8", "replace")
        if self._first:
            self._first = False
            text = text.removeprefix("\ufeff")
        text = text.strip()
        if not text or text.startswith("#"):
            return None
        return text

    async def next_url(self) -> str | None:
        """The next URL, or None at the end of the input."""
        while True:
            while self._lines:
                url = self._url(self._lines.popleft())
                if url is not None:
                    return url
            if self._eof:
                return None
            data = await curio.run_in_thread(os.read, self._fd, 65536)
            if not data:
                self._eof = True
                self._lines.append(self._partial)
                self._partial = b""
                continue
            pieces = (self._partial + data).split(b"\n")
            self._partial = pieces.pop()
            self._lines.extend(pieces)

    def close(self) -> None:
        """Close the file, if this source opened it."""
        if self._owned:
            os.close(self._fd)
            self._owned = False


def _count_urls(path: str) -> int | None:
    """How many URLs a regular file holds (for the progress bar), else None."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return None
        count = 0
        with open(path, "rb") as lines:
            for raw in lines:
                text = raw.decode("utf-8", "replace").strip().removeprefix("\ufeff").strip()
                if text and not text.startswith("#"):
                    count += 1
        return count
    except OSError:
        return None


class _JsonlSink:
    """One JSON line per URL, flushed at once so an interrupted run keeps them."""

    def __init__(self, target: str) -> None:
        self._file: IO[str] | None = None
        if target != "-":
            try:
                self._file = open(target, "w", encoding="utf-8")  # noqa: SIM115
            except OSError as exc:
                raise UsageError(f"cannot write --jsonl {target!r}: {exc}") from None

    def write(self, line: str) -> None:
        """Write one line and flush it.

        Raises:
            OSError: the output failed (``BrokenPipeError`` for a closed stdout).
        """
        # sys.stdout is looked up each time: a progress bar may have wrapped it.
        out = self._file if self._file is not None else sys.stdout
        out.write(line + "\n")
        out.flush()

    def close(self) -> None:
        """Close the ``--jsonl`` file (stdout stays open)."""
        if self._file is not None:
            self._file.close()
            self._file = None


@dataclass
class _FetchJob:
    """What every worker of one run shares."""

    session: Session
    method: str
    kwargs: dict[str, Any]
    timeout: float | None
    connections: int
    output_dir: Path | None
    sink: _JsonlSink
    stats: _Stats
    progress: Progress
    stop: Any  # curio.Event: set when the run cannot go on (output failed)
    file_mode: int = 0o644
    fatal: BaseException | None = None
    fatal_context: str = "writing the JSON lines"


async def _save_body(job: _FetchJob, url: str, response: StreamResponse) -> tuple[int, str]:
    """Stream the body into ``--output-dir``; the byte count and the file's name."""
    assert job.output_dir is not None
    name = safe_filename(url)
    fd, temp = tempfile.mkstemp(dir=job.output_dir, prefix=f".{name}.", suffix=".part")
    received = 0
    try:
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), job.file_mode)
            async for chunk in response.body:
                out.write(chunk)
                received += len(chunk)
        os.replace(temp, job.output_dir / name)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    return received, name


async def _count_body(response: StreamResponse) -> int:
    """Read the body to its end; its size."""
    received = 0
    async for chunk in response.body:
        received += len(chunk)
    return received


async def _fetch_one(job: _FetchJob, url: str) -> FetchRecord:
    """Fetch one URL; whatever happens becomes its record, never an exception."""
    started = time.monotonic()
    received = 0
    saved: str | None = None
    status: int | None = None
    error: str | None = None
    try:
        async with deadline(job.timeout):
            response = await job.session.request(job.method, url, stream=True, **job.kwargs)
            async with response:
                if job.output_dir is not None:
                    received, saved = await _save_body(job, url, response)
                else:
                    received = await _count_body(response)
            status = response.status_code
    except curio.TaskTimeout:
        error = f"RequestTimeout: no complete response within {job.timeout:g} s"
    except Exception as exc:  # one bad URL must not stop the others
        error = describe(exc)
    elapsed = round(time.monotonic() - started, 6)
    return FetchRecord(url, status if error is None else None, received, elapsed, error, saved)


async def _report(job: _FetchJob, record: FetchRecord) -> bool:
    """Count and write one record; False (and the run stopped) when the output failed."""
    job.stats.add(record)
    job.progress.advance(1, failed=job.stats.failed)
    try:
        job.sink.write(record.as_json(with_file=job.output_dir is not None))
    except OSError as exc:
        job.fatal = exc
        await job.stop.set()
        return False
    return True


async def _worker(job: _FetchJob, queue: Any) -> None:
    """Fetch URLs from *queue* one at a time until a None (or the output fails)."""
    while (url := await queue.get()) is not None:
        record = await _fetch_one(job, url)
        if not await _report(job, record):
            return


async def _fetch_all(job: _FetchJob, source: _UrlSource) -> None:
    """N workers take URLs from a bounded queue that the reader fills."""
    queue = curio.Queue(maxsize=2 * job.connections)
    async with curio.TaskGroup() as workers:
        for _ in range(job.connections):
            await workers.spawn(_worker, job, queue)
        try:
            while (url := await source.next_url()) is not None:
                await queue.put(url)
        except OSError as exc:
            job.fatal = exc
            job.fatal_context = "reading the URL list"
        for _ in range(job.connections):
            await queue.put(None)


def _print_summary(console: Console, stats: _Stats, interrupted: bool) -> None:
    """The summary line on stderr: URLs, ok, failed, bytes, requests per second."""
    from rich.text import Text

    elapsed = time.monotonic() - stats.started
    rate = stats.done / elapsed if elapsed > 0 else 0.0
    text = Text()
    text.append("asks fetch: ", style="bold")
    if interrupted:
        text.append("interrupted: ", style="bold yellow")
    text.append(f"{stats.done} URLs, ")
    text.append(f"{stats.ok} ok", style="green")
    text.append(", ")
    text.append(f"{stats.failed} failed", style="bold red" if stats.failed else "")
    text.append(
        f", {stats.nbytes} bytes ({human_bytes(stats.nbytes)}) in {elapsed:.2f} s, "
        f"{rate:.1f} req/s"
    )
    console.print(text)


@dataclass
class _FetchPlan:
    """Everything a fetch needs, checked before the kernel starts."""

    source: str
    method: str
    kwargs: dict[str, Any]
    timeout: float | None
    connections: int
    connections_per_host: int | None
    rate: float | None
    session_kwargs: dict[str, Any]
    output_dir: Path | None
    jsonl: str
    quiet: bool


def _fetch_plan(args: argparse.Namespace) -> _FetchPlan:
    """Check the arguments of ``fetch`` (creating ``--output-dir``) and gather them."""
    output_dir: Path | None = None
    if args.output_dir is not None:
        output_dir = Path(args.output_dir)
        try:
            output_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot create --output-dir {args.output_dir!r}: {exc}") from None
    return _FetchPlan(
        source=args.source,
        method=args.method,
        kwargs=request_kwargs(args),
        timeout=args.timeout,
        connections=args.connections,
        connections_per_host=args.connections_per_host,
        rate=args.rate,
        session_kwargs=session_kwargs(args),
        output_dir=output_dir,
        jsonl=args.jsonl,
        quiet=args.quiet,
    )


async def _fetch(plan: _FetchPlan, source: _UrlSource, sink: _JsonlSink) -> int:
    """The whole run in the kernel: bar, session, workers, summary; the exit code."""
    console = stderr_console()
    progress: Progress = NoProgress()
    if not plan.quiet and sys.stderr.isatty():
        total = None if plan.source == "-" else _count_urls(plan.source)
        capture = plan.jsonl == "-" and sys.stdout.isatty()
        progress = fetch_progress(console, total, capture)
    stats = _Stats()
    stop = curio.Event()
    try:
        session = Session(
            connections=plan.connections,
            connections_per_host=plan.connections_per_host,
            rate_limit=plan.rate,
            **plan.session_kwargs,
        )
        async with session:
            job = _FetchJob(
                session=session,
                method=plan.method,
                kwargs=plan.kwargs,
                timeout=plan.timeout,
                connections=plan.connections,
                output_dir=plan.output_dir,
                sink=sink,
                stats=stats,
                progress=progress,
                stop=stop,
                file_mode=file_mode(),
            )
            outcome = await supervise(lambda: _fetch_all(job, source), stop.wait)
    finally:
        progress.finish()
    if not plan.quiet:
        _print_summary(console, stats, outcome.interrupted)
    if outcome.interrupted:
        return EXIT_INTERRUPTED
    if job.fatal is not None:
        if isinstance(job.fatal, BrokenPipeError):
            silence_stdout()
            return EXIT_BROKEN_PIPE
        print_error(f"{job.fatal_context}: {job.fatal}")
        return EXIT_FAILED
    return EXIT_OK if stats.failed == 0 else EXIT_FAILED


def run_fetch(args: argparse.Namespace) -> int:
    """Run ``asks fetch`` from the parsed command line.

    Args:
        args: the parsed command line of ``fetch``.

    Returns:
        the exit code: 0 when every URL was fetched (whatever its status), 1
        when one failed or the output did, 130 after Ctrl-C, 141 for a
        closed stdout.

    Raises:
        UsageError: the list, ``--jsonl``, ``--output-dir``, ``--method`` or
            ``--cacert`` cannot be used.
    """
    plan = _fetch_plan(args)
    if not plan.method or not re.fullmatch(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+", plan.method):
        raise UsageError(f"invalid --method {plan.method!r}")
    source = _UrlSource.open(plan.source)
    try:
        sink = _JsonlSink(plan.jsonl)
        try:
            result: int = curio.run(_fetch, plan, source, sink)
            return result
        finally:
            sink.close()
    finally:
        source.close()
