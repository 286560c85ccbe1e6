"""``asks fetch --processes N``: one bulk fetch on N worker processes.

One curio kernel runs on one core; a crawl of many hosts has work for all of
them. So the parent process starts N workers, each an ordinary ``asks
fetch`` reading URLs on its stdin and writing JSON lines on its stdout (so
each has its own kernel, session and pool), and does only what must be done
once for the whole run:

- it reads the URL list once and routes each URL to worker
  :func:`worker_of` (:mod:`asks._partition`'s host hash): every URL of one host goes
  to the same worker, so that worker's per-host connection limit and rate
  limit hold for the whole run, not once per process;
- it writes the workers' lines, each one whole, to the one output (stdout or
  ``--jsonl``): there is one output file, written by the parent only, so
  lines of two workers never interleave mid-line and a crash leaves at most
  a torn last line of a worker's *pipe*, which is never copied;
- it draws the one progress bar and prints the one summary, counted from the
  lines themselves.

The parent moves bytes between pipes and a file and makes no request, so it
is plain blocking I/O in threads (a router, one writer and one reader per
worker) rather than a kernel: the main thread is left free to take signals,
which Python delivers only there. Each worker's queue of routed URLs is
bounded, so memory stays bounded whatever the list's size; a worker that
falls behind (a slow or rate-limited host) eventually holds the router up,
which is the back-pressure a bounded crawl needs.

Stopping: Ctrl-C or SIGTERM on the parent sends one SIGINT to each worker
(they run in their own process group, so a terminal's Ctrl-C reaches them
only through the parent, exactly once), which stops it the way Ctrl-C stops
``asks fetch``: the requests in flight are abandoned, every finished line has
been written. The parent copies what they wrote and exits 130. A second
signal kills the workers at once. A worker that dies on its own (killed,
crashed) is reported with its URLs left unanswered, the others are stopped
the same way, and the run fails (exit 1); ``--resume`` can finish it.
"""

from __future__ import annotations

import argparse
import contextlib

try:
    import fcntl
except ImportError:  # not on Windows
    fcntl = None  # type: ignore[assignment]
import os
import pickle
import queue
import re
import select
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import FrameType
from typing import IO, Any

from .._partition import shard_of
from .._urls import url_text
from .exits import (
    EXIT_BROKEN_PIPE,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    UsageError,
    print_error,
    silence_stdout,
    standard_stream,
)
from .fetch_io import BOM, PIPE_BUF, LineTooLong, check_lines, is_pipe, write_all
from .output import NoProgress, Progress, fetch_progress, stderr_console
from .partials import remove_partial_files

# The environment variable that carries a worker's parsed options (pickled,
# hex-encoded): the worker then runs exactly the options the parent parsed,
# whatever options ``fetch`` has, with no command line to rebuild.
WORKER_ARGS = "ASKS_FETCH_WORKER_ARGS"
# The parent's pid, for the worker to notice it is already gone.
WORKER_PARENT = "ASKS_FETCH_WORKER_PARENT"

# URLs per write to a worker's stdin, and batches queued per worker: at most
# _BATCH * _QUEUED URLs wait in the parent for one worker.
_BATCH = 256
_QUEUED = 16
_READ_SIZE = 65536
# A worker's stdout pipe and the parent's reads of it: one page (see _shrink_pipe).
_LINES_READ_SIZE = 4096

# The directory holding the asks package the parent runs; the worker puts it
# first on sys.path instead of the current directory, which ``-c`` would add.
_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# A SIGINT before the fetch has taken over Ctrl-C (while the worker still
# imports) finds nothing done to keep: the worker just exits, with no traceback.
# The worker starts with SIGINT blocked (see _sigint_blocked), so one sent while
# the interpreter itself starts waits for this handler instead of raising
# KeyboardInterrupt in the middle of `site` ("Fatal Python error" and a traceback).
_WORKER_CODE = (
    "import os, signal, sys; signal.signal(signal.SIGINT, lambda *_: os._exit(130)); "
    "hasattr(signal, 'pthread_sigmask') and "
    "signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT}); "
    "sys.path[0] = sys.argv[1]; "
    "from asks._cli.worker import worker_main; sys.exit(worker_main())"
)


def usable_cores() -> int:
    """The default of ``--processes``: the cores this process may run on.

    Returns:
        ``len(os.sched_getaffinity(0))`` where the platform has it, else
        ``os.cpu_count()``, at least 1.
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def worker_of(url: str, count: int, shard_count: int = 1) -> int:
    """The worker, from 0 to ``count - 1``, that fetches *url*.

    Args:
        url: a URL of the list.
        count: the number of worker processes.
        shard_count: N of ``--shard K/N`` (1 without it).

    Returns:
        the worker's index; every URL of one host gets the same one.
    """
    # With --shard K/N every URL left has hash % N == K, so hash % count would
    # send them all to one worker whenever count and N share a factor;
    # hash % (N * count) // N is a split of its own, uniform within the shard.
    return shard_of(url, count * shard_count) // shard_count


def worker_namespace(args: argparse.Namespace) -> argparse.Namespace:
    """The options of one worker: the parent's, reading stdin and writing stdout.

    What the parent does once for the whole run (the list, the output, the
    bar and summary, skipping done URLs, the shard filter) is switched off.

    Args:
        args: the parent's parsed ``fetch`` command line.

    Returns:
        a copy for the workers.
    """
    options = argparse.Namespace(**vars(args))
    options.source = "-"
    options.jsonl = "-"
    options.quiet = True
    options.processes = 1
    # A worker: its stdout is the parent's pipe (see fetch.run_fetch), and
    # --output-dir was made by the parent (see fetch._fetch_plan).
    options.to_parent = True
    for done_by_parent, value in (("resume", False), ("retry_failed", False), ("shard", None)):
        if hasattr(options, done_by_parent):
            setattr(options, done_by_parent, value)
    return options


# In a line of JSON every quote inside a string is escaped, so these match
# only the record's own keys: the totals are counted without parsing each line.
# A kept response header may be named like a key ("error", "skipped"), but its
# value is a string: never null, never a number. And the record's "skipped"
# comes only after a null (its "error", or its "file"), where a header's key
# follows "{" or a string value.
_OK = re.compile(rb'"error": null[,}]')
_BYTES = re.compile(rb'"bytes": (\d+)')
_SKIPPED = re.compile(rb'null, "skipped": "')


@dataclass
class _Totals:
    """The running totals of the whole run, counted from the workers' lines."""

    started: float = field(default_factory=time.monotonic)
    done: int = 0
    ok: int = 0
    failed: int = 0
    skipped: int = 0
    nbytes: int = 0

    def add(self, lines: bytes) -> int:
        """Count a block of whole JSON lines (as ``asks fetch`` writes them); how many."""
        count = lines.count(b"\n")
        no_error = len(_OK.findall(lines))
        skipped = len(_SKIPPED.findall(lines)) if b'"skipped"' in lines else 0
        self.done += count
        self.ok += no_error - skipped
        self.skipped += skipped
        self.failed += count - no_error
        self.nbytes += sum(map(int, _BYTES.findall(lines)))
        return count


class _Alarm:
    """A flag a thread can also wait for in ``select``: its pipe turns readable once set."""

    def __init__(self) -> None:
        self._read, self._write = os.pipe()
        os.set_blocking(self._write, False)

    def fileno(self) -> int:
        """The end ``select`` waits on."""
        return self._read

    def set(self) -> None:
        """Raise the flag (from a signal handler too: one write, never waiting)."""
        with contextlib.suppress(OSError):
            os.write(self._write, b"\0")

    def close(self) -> None:
        """Close the pipe."""
        os.close(self._read)
        os.close(self._write)


def _wait_writable(fd: int, give_up: _Alarm) -> bool:
    """Wait until the pipe *fd* takes bytes (True), or *give_up* is set first (False)."""
    try:
        _readable, writable, _ = select.select([give_up], [fd], [])
    except (OSError, ValueError):  # no select for this fd (Windows pipes): just write
        return True
    return bool(writable)


class _Output:
    """The one output of the run: stdout or ``--jsonl``, written whole lines at a time.

    A pipe (stdout, or a FIFO named by ``--jsonl``) whose reader stopped
    reading holds a write up until it reads again, maybe never; a thread
    blocked there would hold the end of the run after any signal. So a pipe is
    written only when ``select`` says it takes bytes, at most ``PIPE_BUF`` of
    whole lines at a time (which it then takes at once, POSIX), and the wait
    gives up when the run does: after the first signal a line that finds no
    room is dropped (its URL is one in flight, for ``--resume``); only a line
    longer than ``PIPE_BUF`` whose first piece went out is finished, unless a
    second signal comes.
    """

    def __init__(self, target: str, append: bool = False) -> None:
        self._fd: int | None = None
        self._pipe: int | None = None
        if target == "-":
            stdout = standard_stream("stdout", "write the JSON lines")
            if is_pipe(stdout):
                stdout.flush()  # what is buffered (nothing, normally) goes first
                self._pipe = stdout.fileno()
        else:
            flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
            try:
                self._fd = os.open(target, flags | getattr(os, "O_CLOEXEC", 0), 0o666)
            except OSError as exc:
                raise UsageError(f"cannot write --jsonl {target!r}: {exc}") from None
            if is_pipe(self._fd):
                self._pipe = self._fd

    def write(self, lines: bytes, abandon: _Alarm, abort: _Alarm) -> int:
        """Write complete lines and flush them (an interrupted run keeps them).

        Args:
            lines: whole lines, each ending in a newline.
            abandon: set, a pipe that takes no more bytes gets no more lines.
            abort: set, a line half written to a pipe is left so too.

        Returns:
            how many bytes of *lines* were written: whole lines, unless *abort*.

        Raises:
            OSError: the output failed (``BrokenPipeError`` for a closed stdout).
        """
        if self._pipe is not None:
            return self._write_pipe(self._pipe, lines, abandon, abort)
        if self._fd is not None:
            # Unbuffered, as one process writes: a disk found full is said
            # once, not again by a buffer's flush on close.
            write_all(self._fd, lines)
            return len(lines)
        # sys.stdout is looked up each time: a progress bar may have wrapped it.
        out = sys.stdout
        buffer = getattr(out, "buffer", None)
        if buffer is not None:
            out.flush()
            buffer.write(lines)
            buffer.flush()
        else:
            out.write(lines.decode("utf-8", "replace"))
            out.flush()
        return len(lines)

    @staticmethod
    def _write_pipe(fd: int, lines: bytes, abandon: _Alarm, abort: _Alarm) -> int:
        done = 0
        while done < len(lines):
            # As many whole lines as fit in PIPE_BUF; or one longer line alone.
            end = lines.rfind(b"\n", done, done + PIPE_BUF) + 1
            if end <= done:
                end = lines.index(b"\n", done) + 1
            if not _wait_writable(fd, abandon):
                return done
            piece = memoryview(lines)[done:end]
            piece = piece[os.write(fd, piece[:PIPE_BUF]) :]
            while piece:  # the rest of a long line, once its start is out
                if not _wait_writable(fd, abort):
                    return end - len(piece)
                piece = piece[os.write(fd, piece[:PIPE_BUF]) :]
            done = end
        return done

    def close(self) -> None:
        """Close the ``--jsonl`` file (stdout stays open)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def read_urls(source: str) -> Iterator[str]:
    """The URLs of the list, as ``asks fetch`` reads them (blank and ``#`` lines skipped).

    Args:
        source: a file name, or ``-`` for stdin.

    Yields:
        each URL, stripped; and ``""`` (never a URL) when the next read
        would wait for the input.

    Raises:
        UsageError: the file cannot be opened (raised at the first ``next``).
        OSError: reading failed half way.
        LineTooLong: the input is no list of URLs.
    """
    if source == "-":
        fd, owned = standard_stream("stdin", "read the URL list").fileno(), False
    else:
        try:
            fd, owned = os.open(source, os.O_RDONLY), True
        except OSError as exc:
            raise UsageError(f"cannot read the URL list {source!r}: {exc}") from None
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            os.close(fd)
            raise UsageError(f"cannot read the URL list {source!r}: it is a directory")
    try:
        partial = b""
        first = True
        while True:
            if not _readable(fd):
                # A pipe with nothing to read yet (a producer writing URLs as
                # it finds them): say so before blocking, so the router sends
                # the URLs it holds in part-filled batches now, rather than
                # once a batch fills or the input ends, which may be never.
                yield ""
            data = os.read(fd, _READ_SIZE)
            pieces = (partial + data).split(b"\n")
            partial = b"" if not data else pieces.pop()
            check_lines(pieces, partial)
            for raw in pieces:
                if first:
                    first = False
                    raw = raw.removeprefix(BOM)
                text = url_text(raw).strip()
                if text and not text.startswith("#"):
                    yield text
            if not data:
                return
    finally:
        if owned:
            os.close(fd)


def _readable(fd: int) -> bool:
    """Whether a read of *fd* returns at once (a regular file always does)."""
    try:
        return bool(select.select([fd], [], [], 0)[0])
    except (OSError, ValueError):  # no select for this fd (Windows pipes): just read
        return True


def _shrink_pipe(pipe: IO[bytes] | None) -> None:
    """Linux: make a worker's stdout pipe one page, not 16 (``F_SETPIPE_SZ``).

    Lines a worker wrote that still sit in its pipe are lost if the parent is
    killed (``kill -9``): their URLs are fetched again by ``--resume``. A
    one-page pipe keeps that to a few dozen lines per worker beyond the URLs
    in flight, at the cost of a few more reads; a worker that writes faster
    than the parent copies simply waits.
    """
    set_size = getattr(fcntl, "F_SETPIPE_SZ", None) if fcntl is not None else None
    if pipe is not None and set_size is not None:
        with contextlib.suppress(OSError):
            fcntl.fcntl(pipe.fileno(), set_size, _LINES_READ_SIZE)


@contextlib.contextmanager
def _sigint_blocked() -> Iterator[None]:
    """SIGINT blocked in this thread inside, where the platform can block it.

    A child started inside inherits the mask (POSIX keeps it across exec):
    SIGINT stays pending until the worker's own code unblocks it. A Ctrl-C
    meanwhile is kept for the parent too (another thread takes it, or this
    one once the mask is back).
    """
    sigmask = getattr(signal, "pthread_sigmask", None)
    if sigmask is None:  # not on Windows
        yield
        return
    previous = sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        sigmask(signal.SIG_SETMASK, previous)


class _Worker:
    """One worker process, the queue of URLs routed to it, and its two pipe threads."""

    def __init__(self, index: int, run: _Run) -> None:
        self.index = index
        self.run = run
        self.routed = 0
        self.answered = 0
        self.signalled = False
        self.queue: queue.Queue[bytes | None] = queue.Queue(maxsize=_QUEUED)
        environment = dict(
            os.environ, **{WORKER_ARGS: run.pickled, WORKER_PARENT: str(os.getpid())}
        )
        with _sigint_blocked():
            self.process = subprocess.Popen(
                [sys.executable, "-c", _WORKER_CODE, _PACKAGE_ROOT],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=environment,
                # A process group of its own: a terminal's Ctrl-C reaches the
                # worker only through the parent, once (a second SIGINT would
                # make the worker give up at once instead of stopping cleanly).
                start_new_session=True,
            )
        _shrink_pipe(self.process.stdout)
        self.writer = threading.Thread(target=self._write, name=f"asks-fetch-in-{index}")
        self.reader = threading.Thread(target=self._read, name=f"asks-fetch-out-{index}")
        self.writer.start()
        self.reader.start()

    def _write(self) -> None:
        """Feed the routed batches to the worker's stdin; close it at the end."""
        assert self.process.stdin is not None
        stdin = self.process.stdin
        broken = False
        while (batch := self.queue.get()) is not None:
            if broken or self.run.stopping.is_set():
                continue  # drain, so the router is never held up by a stopped worker
            try:
                stdin.write(batch)
                stdin.flush()
            except OSError:  # the worker is gone; its reader reports it
                broken = True
        with contextlib.suppress(OSError):
            stdin.close()

    def _read(self) -> None:
        """Copy the worker's complete lines to the output; at EOF, see how it ended."""
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        partial = b""
        while data := os.read(fd, _LINES_READ_SIZE):
            data = partial + data
            end = data.rfind(b"\n") + 1
            partial = data[end:]
            if end:
                self.run.deliver(self, data[:end])
        # A torn last line (the worker died mid-write) is never copied.
        self.process.stdout.close()
        self.run.ended(self, self.process.wait())

    def signal(self, signum: int) -> None:
        """Send *signum* to the worker, if it still runs."""
        self.signalled = True
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signum)


class _Run:
    """The whole run: the router, the workers, the output and the totals."""

    def __init__(self, args: argparse.Namespace, output: _Output, progress: Progress) -> None:
        self.args = args
        self.count: int = args.processes
        shard = getattr(args, "shard", None)
        self.shard_count: int = shard[1] if shard is not None else 1
        self.output = output
        self.progress = progress
        self.totals = _Totals()
        self.pickled = pickle.dumps(worker_namespace(args)).hex()
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.interrupted = False
        self.signals = 0
        # Set by the first signal and the second: see _Output.
        self.abandon = _Alarm()
        self.abort = _Alarm()
        self.deaths: list[str] = []
        self.fatal: BaseException | None = None
        self.fatal_context = ""
        self.workers: list[_Worker] = []

    def close(self) -> None:
        """Free what the run holds once its threads are done (the alarms' pipes)."""
        self.abandon.close()
        self.abort.close()

    # -- called from the worker threads

    def deliver(self, worker: _Worker, lines: bytes) -> None:
        """Write a block of one worker's complete lines and count them."""
        with self.lock:
            if self.fatal is not None:
                return
            worker.answered += lines.count(b"\n")
            try:
                written = self.output.write(lines, self.abandon, self.abort)
            except OSError as exc:
                self.fatal, self.fatal_context = exc, "writing the JSON lines"
                self.stop(signal.SIGINT)
                return
            # Only the lines that went out are done (--resume fetches the rest).
            new = self.totals.add(lines[: lines.rfind(b"\n", 0, written) + 1])
            self.progress.advance(new, failed=self.totals.failed)

    def ended(self, worker: _Worker, code: int) -> None:
        """Judge how a worker ended: one that stopped on its own too early fails the run."""
        output_dir = getattr(self.args, "output_dir", None)
        if output_dir is not None and code not in (EXIT_OK, EXIT_FAILED, EXIT_INTERRUPTED):
            # Killed (by a signal, ours or not) or crashed: its clean-up may not
            # have run, and the bodies it was saving would stay half written.
            remove_partial_files(output_dir, worker.process.pid)
        with self.lock:
            missing = worker.routed - worker.answered
            # 0: all fetched; 1: some URL failed (its line says so). Anything
            # else, or URLs without a line, is a worker that did not finish;
            # unless the parent stopped it (Ctrl-C, SIGTERM, another's death).
            if worker.signalled or (code in (EXIT_OK, EXIT_FAILED) and missing == 0):
                return
            how = (
                f"was killed by {signal.Signals(-code).name}"
                if code < 0
                else f"exited with code {code}"
            )
            self.deaths.append(
                f"worker {worker.index + 1} of {self.count} (pid {worker.process.pid}) {how} "
                f"with {missing} of its {worker.routed} URLs unanswered"
            )
        self.stop(signal.SIGINT)

    def stop(self, signum: int) -> None:
        """Stop routing and send *signum* to every worker."""
        self.stopping.set()
        for worker in self.workers:
            worker.signal(signum)

    # -- the router (a thread)

    def route(self, urls: Iterator[str], keep: Callable[[str], bool] | None) -> None:
        """Send each URL to its worker, in batches; then close every worker's input."""
        count = self.count
        spread = self.shard_count
        batches: list[list[str]] = [[] for _ in range(count)]

        def send(index: int) -> None:
            batch = batches[index]
            if batch:
                worker = self.workers[index]
                worker.routed += len(batch)
                worker.queue.put(("\n".join(batch) + "\n").encode("utf-8", "surrogatepass"))
                batches[index] = []

        try:
            for url in urls:
                if self.stopping.is_set():
                    break
                if not url:  # the input is waiting: hand out what is held
                    for index in range(count):
                        send(index)
                    continue
                if keep is not None and not keep(url):
                    continue
                index = worker_of(url, count, spread)
                batches[index].append(url)
                if len(batches[index]) >= _BATCH:
                    send(index)
            if not self.stopping.is_set():
                for index in range(count):
                    send(index)
        except (OSError, LineTooLong) as exc:
            with self.lock:
                if self.fatal is None:
                    self.fatal, self.fatal_context = exc, "reading the URL list"
            self.stop(signal.SIGINT)
        finally:
            for worker in self.workers:
                worker.queue.put(None)

    # -- the main thread

    def on_signal(self, signum: int, frame: FrameType | None) -> None:
        """SIGINT/SIGTERM: stop the workers cleanly; a second one kills them."""
        self.signals += 1
        self.interrupted = True
        self.abandon.set()
        if self.signals > 1:
            self.abort.set()
        self.stop(signal.SIGINT if self.signals == 1 else signal.SIGKILL)

    def execute(self, urls: Iterator[str], keep: Callable[[str], bool] | None) -> None:
        """Start the workers and the router; return when every worker has ended."""
        try:
            for index in range(self.count):
                self.workers.append(_Worker(index, self))
        except OSError as exc:
            self.stop(signal.SIGKILL)
            for worker in self.workers:
                worker.queue.put(None)
            raise UsageError(f"cannot start the worker processes: {exc}") from None
        router = threading.Thread(
            target=self.route, args=(urls, keep), name="asks-fetch-router", daemon=True
        )
        router.start()
        for worker in self.workers:
            worker.reader.join()
        # The workers are gone: a router still reading (a stdin that never
        # ends, after a stop) cannot block the end of the run; it is a daemon.
        for worker in self.workers:
            with contextlib.suppress(queue.Full):
                worker.queue.put_nowait(None)
            worker.writer.join(timeout=5)


def run_processes(
    args: argparse.Namespace,
    *,
    urls: Iterator[str] | None = None,
    keep: Callable[[str], bool] | None = None,
    total: int | None = None,
    already: int = 0,
) -> int:
    """Run ``asks fetch`` on ``args.processes`` worker processes.

    Args:
        args: the parsed ``fetch`` command line (already checked).
        urls: the URLs to route (default: the list ``args.source``, read once).
        keep: a filter the parent applies before routing (``--resume``'s
            done URLs, ``--shard``), or ``None``.
        total: how many URLs the progress bar expects, if known.
        already: URLs done by an earlier run (``--resume``), for the summary.

    Returns:
        the exit code, as for one process: 0, 1 (a URL failed, the output
        failed, or a worker died), 130 (interrupted), 141 (closed stdout).

    Raises:
        UsageError: the list or ``--jsonl`` cannot be used, or the workers
            cannot be started.
    """
    if urls is None:
        urls = read_urls(args.source)
    output = _Output(args.jsonl, append=bool(getattr(args, "resume", False)))
    console = stderr_console()
    progress: Progress = NoProgress()
    try:
        if not args.quiet and sys.stderr.isatty():
            progress = fetch_progress(console, total, args.jsonl == "-" and sys.stdout.isatty())
        run = _Run(args, output, progress)
        handlers = {
            signum: signal.signal(signum, run.on_signal)
            for signum in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            run.execute(urls, keep)
        finally:
            for signum, previous in handlers.items():
                signal.signal(signum, previous)
            progress.finish()
            run.close()
    finally:
        output.close()
    if not args.quiet:
        from .fetch import print_summary

        print_summary(console, run.totals, run.interrupted, already=already, processes=run.count)
    for death in run.deaths:
        print_error(death)
    if run.deaths:
        print_error("the run is incomplete; asks fetch --resume fetches what is missing")
    if run.fatal is not None:
        if isinstance(run.fatal, BrokenPipeError):
            silence_stdout()
            return EXIT_BROKEN_PIPE
        print_error(f"{run.fatal_context}: {run.fatal}")
        return EXIT_FAILED
    if run.interrupted:
        return EXIT_INTERRUPTED
    if run.deaths or run.totals.failed:
        return EXIT_FAILED
    return EXIT_OK


def run_fetch(args: argparse.Namespace) -> int:
    """Run ``asks fetch --processes N`` (N at least 2) from the parsed command line.

    The options are checked as one process checks them, before any worker
    starts. ``--resume`` repairs and reads the earlier output here, once,
    and the output is appended to; ``--shard`` and the done URLs are the
    filter applied before routing, so the workers see only what is left.

    Args:
        args: the parsed command line of ``fetch``.

    Returns:
        the exit code (see :func:`run_processes`).

    Raises:
        UsageError: an option, the list, ``--jsonl`` or the output to resume
            cannot be used.
    """
    from .fetch import _fetch_plan, _keep
    from .fetch_io import count_urls
    from .resume import prepare_resume

    plan = _fetch_plan(args)
    # Open the list first: an unreadable one is refused before the output is touched.
    urls = read_urls(args.source)
    pending: Iterator[str]
    try:
        first = next(urls, None)
    except (OSError, LineTooLong) as exc:
        # Opened, but no list of URLs to read (its first line too long, or a
        # read failing): the run stops as one process's does, exit 1 and
        # "reading the URL list", which the router reports.
        pending = _raising(exc)
    else:
        pending = _prepend(first, urls) if first is not None else iter(())
    done = prepare_resume(plan.jsonl, plan.retry_failed).done if plan.resume else None
    keep = _keep(plan, done) if plan.resume or plan.shard is not None else None
    total = None
    if not args.quiet and sys.stderr.isatty() and args.source != "-":
        total = count_urls(args.source, keep or (lambda url: True))
    return run_processes(
        args,
        urls=pending,
        keep=keep,
        total=total,
        already=len(done) if done is not None else 0,
    )


def _prepend(first: str, rest: Iterator[str]) -> Iterator[str]:
    """*first*, then the rest."""
    yield first
    yield from rest


def _raising(error: BaseException) -> Iterator[str]:
    """An iterator that raises *error* at its first ``next``."""
    raise error
    yield ""  # a generator, for the raise to come at the first next()


def _die_with_parent() -> None:
    """Linux: be killed when the parent dies (``kill -9`` of ``asks fetch`` included).

    A worker left behind would go on fetching the URLs queued on its stdin
    with nobody to write their lines: a ``--resume`` started meanwhile would
    fetch them a second time. ``PR_SET_PDEATHSIG`` has the kernel send
    SIGKILL the moment the parent goes; the parent's pid is checked after
    setting it, in case the parent died first. Elsewhere, the worker stops at
    its first line written to the closed pipe.
    """
    parent = os.environ.pop(WORKER_PARENT, None)
    if not sys.platform.startswith("linux") or parent is None:
        return
    import ctypes

    pr_set_pdeathsig = 1  # <linux/prctl.h>
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != int(parent):
        os._exit(EXIT_FAILED)


def worker_main() -> int:
    """The entry of one worker process (see :mod:`.worker`).

    Returns:
        the exit code of its ``asks fetch`` run.
    """
    from .fetch import run_fetch

    _die_with_parent()
    encoded = os.environ.pop(WORKER_ARGS, None)
    if encoded is None:
        print_error(f"asks._cli.worker is started by asks fetch --processes ({WORKER_ARGS})")
        return EXIT_FAILED
    args: Any = pickle.loads(bytes.fromhex(encoded))
    try:
        return run_fetch(args)
    except UsageError as exc:
        print_error(str(exc))
        return EXIT_FAILED
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
