"""The two files of ``asks fetch``: the URL list it reads and the JSON lines it writes.

The list (a file or stdin) is read in a thread, 64 KiB at a time, so a slow
pipe never blocks the kernel and a list of a million lines is never held
whole. The output gets one line per URL, written whole with a single
``write`` of the line and its newline and flushed at once, so an
interrupted run keeps every line it wrote and a crash can tear at most the
last one (which ``--resume`` cuts away, see :mod:`.resume`).

An output that is a pipe (``asks fetch ... | consumer``) may stop taking
bytes: its reader paused or stuck. A write that waits for it on the kernel's
thread holds off Ctrl-C and SIGTERM (the task that stops the run never
runs), so a line for a pipe is written only once the kernel's select says
the pipe takes bytes: a write of at most ``PIPE_BUF`` bytes then goes whole
at once (POSIX), and the wait itself can be cancelled.
"""

from __future__ import annotations

import os
import select
import stat
import sys
from collections import deque
from collections.abc import Callable
from typing import IO, Any

import curio
from curio.traps import _write_wait

from .._lines import DEFAULT_MAX_LINE_LENGTH
from .._transport.threads import run_blocking
from .._urls import url_text
from .exits import UsageError, standard_stream

__all__ = [
    "BOM",
    "MAX_LINE",
    "PIPE_BUF",
    "JsonlSink",
    "LineTooLong",
    "PipeWriter",
    "UrlSource",
    "check_lines",
    "check_not_the_list",
    "count_urls",
    "is_pipe",
    "write_all",
]


BOM = b"\xef\xbb\xbf"  # UTF-8's byte order mark, which some editors put first

#: The longest line of a URL list: 8 times the 8 KiB request line servers take
#: (nginx, Apache), the limit ``lines()`` has too. A longer one means the file
#: is no list of URLs (an image, a database dump), and held whole it would cost
#: memory without bound and time as its square (each read joined to it).
MAX_LINE = DEFAULT_MAX_LINE_LENGTH

#: The most bytes a write to a pipe that has room takes whole, without waiting
#: (POSIX; 4096 on Linux).
PIPE_BUF: int = getattr(select, "PIPE_BUF", 512)


class LineTooLong(ValueError):
    """A line of the URL list is longer than :data:`MAX_LINE`: the run stops."""


def check_lines(lines: list[bytes], partial: bytes) -> None:
    """Refuse a list whose whole *lines* or unfinished *partial* line is too long.

    Raises:
        LineTooLong: one is longer than :data:`MAX_LINE` bytes.
    """
    if len(partial) > MAX_LINE or (lines and max(map(len, lines)) > MAX_LINE):
        raise LineTooLong(
            f"a line is longer than {MAX_LINE:,} bytes: is this a list of URLs, one per line?"
        )


class UrlSource:
    """URLs read from a file descriptor, one per line, without blocking the kernel."""

    def __init__(self, fd: int, owned: bool) -> None:
        self._fd = fd
        self._owned = owned
        self._lines: deque[bytes] = deque()
        self._partial = b""
        self._eof = False
        self._first = True

    @classmethod
    def open(cls, source: str) -> UrlSource:
        """The source of ``FILE`` (``-``: stdin, which is never closed here).

        Raises:
            UsageError: the file cannot be read, or is a directory; stdin is closed.
        """
        if source == "-":
            return cls(standard_stream("stdin", "read the URL list").fileno(), owned=False)
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
        if self._first:
            self._first = False
            raw = raw.removeprefix(BOM)
        text = url_text(raw).strip()
        if not text or text.startswith("#"):
            return None
        return text

    async def next_url(self) -> str | None:
        """The next URL, or None at the end of the input.

        Raises:
            OSError: reading failed.
            LineTooLong: the input is no list of URLs.
        """
        while True:
            while self._lines:
                url = self._url(self._lines.popleft())
                if url is not None:
                    return url
            if self._eof:
                return None
            # A thread of its own: a read still waiting on a slow pipe when
            # the run stops ends quietly whenever it returns (.threads).
            data = await run_blocking(os.read, self._fd, 65536, name="asks-url-list")
            if not data:
                self._eof = True
                self._lines.append(self._partial)
                self._partial = b""
                continue
            pieces = (self._partial + data).split(b"\n")
            self._partial = pieces.pop()
            check_lines(pieces, self._partial)
            self._lines.extend(pieces)

    def close(self) -> None:
        """Close the file, if this source opened it."""
        if self._owned:
            os.close(self._fd)
            self._owned = False

    def __aiter__(self) -> UrlSource:
        return self

    async def __anext__(self) -> str:
        url = await self.next_url()
        if url is None:
            raise StopAsyncIteration
        return url


def check_not_the_list(source: str, target: str) -> None:
    """Refuse an output that is the URL list itself (``--jsonl urls.txt``, ``>> urls.txt``).

    Opened for writing, the list would be emptied before it is read (the run
    then "succeeds" with nothing done and the list gone); appended to, its own
    JSON lines would be read back as URLs. ``cat`` refuses the same.

    Args:
        source: the list (``-``: stdin).
        target: ``--jsonl`` (``-``: stdout).

    Raises:
        UsageError: both are the same regular file.
    """
    try:
        listed = os.fstat(0) if source == "-" else os.stat(source)
        written = os.fstat(1) if target == "-" else os.stat(target)
    except (OSError, ValueError):
        return  # one is missing or closed: not the same file (its open says why)
    if stat.S_ISREG(listed.st_mode) and os.path.samestat(listed, written):
        where = "stdout" if target == "-" else f"--jsonl {target!r}"
        name = "stdin" if source == "-" else repr(source)
        raise UsageError(f"{where} is the URL list {name} itself: write the JSON lines elsewhere")


def count_urls(path: str, keep: Callable[[str], bool]) -> int | None:
    """How many URLs of a regular file *keep* keeps (for the progress bar), else None."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return None
        count = 0
        with open(path, "rb") as lines:
            for raw in lines:
                text = url_text(raw.strip().removeprefix(BOM)).strip()
                if text and not text.startswith("#") and keep(text):
                    count += 1
        return count
    except OSError:
        return None


def is_pipe(out: int | IO[Any]) -> bool:
    """Whether *out* (a descriptor or a file) is a pipe or a socket, whose reader may stall."""
    try:
        mode = os.fstat(out if isinstance(out, int) else out.fileno()).st_mode
    except (OSError, ValueError):
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


class PipeWriter:
    """Writes to the pipe *fd* without holding the kernel's thread.

    Each piece of at most :data:`PIPE_BUF` bytes goes once the pipe takes
    bytes, whole in one ``write``. Whether it does is asked first with a poll
    that does not wait (one system call): only a full pipe sends the task to
    wait in the kernel, where a cancellation (Ctrl-C) can reach it. (Lines of
    100 bytes written to ``cat`` on Linux: 20 microseconds a line when each
    waited in the kernel, 2.5 to 4 with the poll first, 1 for a bare blocking
    write.)
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._poll: Any = None
        if hasattr(select, "poll"):
            self._poll = select.poll()
            self._poll.register(fd, select.POLLOUT)

    def _takes_bytes(self) -> bool:
        """Whether a write goes at once (also when it would fail: the reader gone)."""
        try:
            if self._poll is not None:
                return bool(self._poll.poll(0))
            return bool(select.select([], [self.fd], [], 0)[1])
        except (OSError, ValueError):  # no poll for this fd (Windows pipes): write
            return True

    async def wait(self) -> None:
        """Return once the pipe takes a piece of ``PIPE_BUF`` bytes at once."""
        if not self._takes_bytes():
            await _write_wait(self.fd)

    async def write_piece(self, data: memoryview) -> int:
        """Write at most ``PIPE_BUF`` bytes of *data* once the pipe takes them; how many."""
        await self.wait()
        return os.write(self.fd, data[:PIPE_BUF])

    async def write_line(self, data: bytes) -> None:
        """Write one whole line.

        A cancellation while its first piece waits writes nothing of the line.
        A line longer than ``PIPE_BUF`` (a 64 KiB URL, big kept headers) goes
        in several; once its first piece is out the rest follows whatever
        comes, so no stop tears a line (the second Ctrl-C, which ends the
        process at once, may).

        Raises:
            OSError: the write failed (``BrokenPipeError``: the reader is gone).
        """
        view = memoryview(data)
        view = view[await self.write_piece(view) :]
        if not view:
            return
        async with curio.disable_cancellation():
            while view:
                view = view[await self.write_piece(view) :]


def write_all(fd: int, data: bytes) -> None:
    """Write *data* to *fd*, unbuffered: what failed to go is never written later.

    One write(2) for the whole block; a regular file takes it at once, and
    only an error (disk full, a signal) can leave it short, which is then
    retried for the rest rather than left torn. No buffer holds back what
    failed (a buffered file would try it again on close, and fail again).

    Raises:
        OSError: the write failed (``ENOSPC`` for a full disk).
    """
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


class JsonlSink:
    """One JSON line per URL, each written whole and flushed at once.

    Args:
        target: the ``--jsonl`` path, or ``-`` for stdout.
        append: add to the file (``--resume``) instead of replacing it.
        wait_for_pipe: write a pipe only once it takes bytes (see the module);
            False for a worker of ``--processes``, whose stdout is the parent.

    Raises:
        UsageError: the file cannot be opened for writing; stdout is closed.
    """

    def __init__(self, target: str, append: bool = False, wait_for_pipe: bool = True) -> None:
        self._fd: int | None = None
        # A pipe (stdout or a FIFO named by --jsonl): its reader may stall.
        self._pipe: PipeWriter | None = None
        if target == "-":
            stdout = standard_stream("stdout", "write the JSON lines")
            if wait_for_pipe and is_pipe(stdout):
                stdout.flush()  # what is buffered (nothing, normally) goes first
                self._pipe = PipeWriter(stdout.fileno())
        else:
            flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
            try:
                self._fd = os.open(target, flags | getattr(os, "O_CLOEXEC", 0), 0o666)
            except OSError as exc:
                raise UsageError(f"cannot write --jsonl {target!r}: {exc}") from None
            if wait_for_pipe and is_pipe(self._fd):
                self._pipe = PipeWriter(self._fd)

    async def write(self, line: str) -> None:
        """Write one line (a newline is added) and flush it.

        Raises:
            OSError: the output failed (``BrokenPipeError`` for a closed stdout).
        """
        if self._pipe is not None:
            # The record is ASCII (JSON's escapes), whatever stdout's encoding.
            await self._pipe.write_line((line + "\n").encode("utf-8", "backslashreplace"))
        elif self._fd is None:
            # sys.stdout is looked up each time: a progress bar may have wrapped it.
            out: IO[str] = sys.stdout
            out.write(line + "\n")
            out.flush()
        else:
            write_all(self._fd, (line + "\n").encode("utf-8", "backslashreplace"))

    def close(self) -> None:
        """Close the ``--jsonl`` file (stdout stays open)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
