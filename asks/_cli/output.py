"""Output and progress: where bodies, heads and progress bars go.

The streams are split the way curl splits them, so that ``asks URL > file``
and ``asks URL | jq`` always get the body and nothing else: the body (or
``fetch``'s JSON lines) on stdout, everything meant for the person (``-i``
heads, progress bars, the fetch summary, errors) on stderr.

A body written to a file (``-o FILE``, ``fetch --output-dir``) goes to a
temporary file beside it, renamed over the target only once the body is
whole, so an interrupted or failed download never leaves a cut file under
the real name, nor destroys the previous one. The temporary file gets the
mode a plain ``open`` would have given (``mkstemp`` makes 0600). For
``-o FILE`` it is ``.FILE.PID.RANDOM.part``, locked until renamed, as
``--output-dir``'s are: a run killed on the spot (``kill -9``) runs no
clean-up, and the next ``-o FILE`` run removes what it left (see
:mod:`.partials`).

Progress bars are drawn by ``rich`` and only on a terminal; everything that
needs ``rich`` imports it inside the function, so that ``import asks._cli``
(and ``asks --help``) never does. Code that reports progress talks to the
small :class:`Progress` protocol, so that "no bar" is an object, not an ``if``
at every chunk.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

from .._filenames import file_mode, open_partial
from ..response_objects import BaseResponse, StreamResponse
from .partials import remove_stale_partial_files

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress as RichProgressBar
    from rich.progress import TaskID


def stderr_console() -> Console:
    """A rich console on stderr, without rich's guessing at highlights."""
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def human_bytes(count: float) -> str:
    """A byte count for people: ``512 B``, ``1.5 KiB``... up to TiB."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if count < 1024 or unit == "TiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    raise AssertionError("unreachable")


# --------------------------------------------------------------------------
# Progress


class Progress(Protocol):
    """What the commands need of a progress bar."""

    def advance(self, amount: int, **fields: Any) -> None:
        """Count *amount* more done, and update the bar's extra *fields*."""

    def finish(self) -> None:
        """Take the bar off the terminal."""


class NoProgress:
    """The progress bar of a run that shows none."""

    def advance(self, amount: int, **fields: Any) -> None:
        """Do nothing."""

    def finish(self) -> None:
        """Do nothing."""


class RichProgress:
    """One rich progress task on stderr."""

    def __init__(self, progress: RichProgressBar, description: str, total: int | None) -> None:
        self._progress = progress
        progress.start()
        self._task: TaskID = progress.add_task(description, total=total, failed=0)

    def advance(self, amount: int, **fields: Any) -> None:
        """Move the bar by *amount* and update its *fields*."""
        self._progress.update(self._task, advance=amount, **fields)

    def finish(self) -> None:
        """Stop the live display (the last state stays on the terminal)."""
        self._progress.stop()


def download_progress(console: Console, name: str, total: int | None) -> Progress:
    """A download bar: bytes, speed and time left (a spinner-like bar without *total*).

    Args:
        console: the stderr console.
        name: what is downloaded, shown at the left.
        total: the expected size in bytes, if announced.

    Returns:
        the started bar.
    """
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )
    from rich.progress import Progress as Bar

    progress = Bar(
        TextColumn("[bold blue]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        redirect_stdout=False,
        redirect_stderr=False,
    )
    return RichProgress(progress, name, total)


def fetch_progress(console: Console, total: int | None, capture_stdout: bool) -> Progress:
    """The bar of ``asks fetch``: URLs done of *total*, failures, time.

    Args:
        console: the stderr console.
        total: how many URLs there are, when the list is a regular file.
        capture_stdout: print what goes to stdout above the bar (the JSON
            lines, when stdout is the same terminal), not through it.

    Returns:
        the started bar.
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.progress import Progress as Bar

    progress = Bar(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("[red]{task.fields[failed]} failed"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        # JSON lines for a terminal are printed above the bar, not through it.
        redirect_stdout=capture_stdout,
        redirect_stderr=False,
    )
    return RichProgress(progress, "fetching", total)


# --------------------------------------------------------------------------
# Bodies and heads


class BodyTarget:
    """Where a body goes: stdout, or a file replaced only when the body is whole."""

    def __init__(self, output: str | None) -> None:
        self.is_stdout = output in (None, "-")
        self.name = "stdout" if self.is_stdout else str(output)
        self._path = None if self.is_stdout else Path(str(output))
        self._temp: Path | None = None
        self._file: IO[bytes] | None = None
        self._lock = -1  # a second descriptor of the temporary file, holding its flock

    def open(self) -> IO[bytes]:
        """The binary stream to write the body to.

        Returns:
            stdout's buffer; the target itself when it exists and is not a
            regular file (``/dev/null``, a FIFO); else a temporary file beside
            the target.

        Raises:
            OSError: the file cannot be created, or stdout is closed.
        """
        if self._path is None:
            if sys.stdout is None:  # closed by the shell (>&-): nowhere to write
                raise OSError(errno.EBADF, "stdout is closed")
            return sys.stdout.buffer
        if self.name.endswith(("/", os.sep)):
            # Path() drops a trailing slash: "-o new/" would create a file
            # named "new". A name ending in "/" means a directory, as for curl.
            raise IsADirectoryError(errno.EISDIR, "a file name is needed, not a directory")
        try:
            mode = os.stat(self._path).st_mode
        except FileNotFoundError:
            mode = None
        if mode is not None and not stat.S_ISREG(mode):
            # /dev/null, a FIFO...: write in place, never rename over it.
            self._file = open(self._path, "wb")  # noqa: SIM115
            return self._file
        directory, name = self._path.parent, self._path.name
        # What a run killed on the spot left while writing this same file;
        # the directory's other files (another target's, whatever they look
        # like) are not asks's to judge. A live writer's stay (pid, lock).
        remove_stale_partial_files(str(directory), name=name)
        # Named for this process and locked until renamed or removed, so
        # that a later run can tell it dead, or a live writer's.
        fd, temp, self._lock = open_partial(directory, name)
        self._temp = Path(temp)
        with contextlib.suppress(OSError):
            os.fchmod(fd, file_mode())
        self._file = os.fdopen(fd, "wb")
        return self._file

    def commit(self) -> None:
        """The body is whole: close the file and move it over the target."""
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._temp is not None and self._path is not None:
            os.replace(self._temp, self._path)
            self._temp = None
            self._unlock()

    def abort(self) -> None:
        """The body will not be whole: close and remove the temporary file."""
        try:
            if self._file is not None:
                self._file.close()
        finally:
            self._file = None
            self._forget()

    def _forget(self) -> None:
        """Remove the temporary file, then let its lock go."""
        if self._temp is not None:
            with contextlib.suppress(OSError):
                self._temp.unlink()
            self._temp = None
        self._unlock()

    def _unlock(self) -> None:
        if self._lock >= 0:
            os.close(self._lock)
            self._lock = -1


def head_text(response: BaseResponse) -> str:
    """The status line and headers as received, one per line, then a blank line.

    What ``asks head URL`` writes, as ``curl -I`` does; :func:`print_head`
    shows the same on stderr (``-i``), coloured.
    """
    status = f"HTTP/{response.http_version} {response.status_code} {response.reason_phrase}"
    lines = [status.rstrip()]
    lines += [f"{name}: {value}" for name, value in response.headers.multi_items()]
    return "\r\n".join(lines) + "\r\n\r\n"


def print_head(console: Console, response: BaseResponse) -> None:
    """Print the status line and headers of *response* (``-i``), then a blank line."""
    from rich.text import Text

    status = response.status_code
    colour = "green" if status < 300 else "yellow" if status < 400 else "red"
    line = Text(f"HTTP/{response.http_version} ")
    line.append(f"{status} {response.reason_phrase}".rstrip(), style=f"bold {colour}")
    console.print(line)
    for name, value in response.headers.multi_items():
        text = Text()
        text.append(name, style="cyan")
        text.append(f": {value}")
        console.print(text)
    console.print()


def expected_size(response: StreamResponse, decompress: bool) -> int | None:
    """The number of bytes the body will write, when the response says so.

    Args:
        response: the response whose body is about to be read.
        decompress: whether Content-Encoding will be undone (the decoded size
            is then unknown).

    Returns:
        ``Content-Length``, or ``None``.
    """
    if decompress and response.headers.get("content-encoding"):
        return None  # the decoded size is not announced
    try:
        size = int(response.headers.get("content-length", ""))
    except ValueError:
        return None
    return size if size >= 0 else None
