"""Exit codes and the one-line error: how every command ends.

A command line is judged by what it leaves behind when something goes wrong: a
script checks the exit code, a person reads one line. So every failure the
commands expect ends here, as one of the codes below and at most one line
``asks: error: ...`` on stderr, never a traceback. The codes follow curl and
the shells: 2 for bad arguments (argparse's own), 130 for Ctrl-C (128 +
SIGINT), 141 for a closed stdout (128 + SIGPIPE); a 4xx or 5xx answer gives 4
or 5 so that ``asks URL || ...`` works without parsing the output.

The messages are the library's own, flattened to one line, with the
system's words for an errno added (``Connection refused`` is what a user
searches for, not ``[Errno 111]``).
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Literal, TextIO

from .._describe import describe, explain

__all__ = [
    "EXIT_BROKEN_PIPE",
    "EXIT_CLIENT_ERROR",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_SERVER_ERROR",
    "EXIT_USAGE",
    "RICH_MISSING",
    "UsageError",
    "describe",
    "explain",
    "print_error",
    "quiet_closed_stderr",
    "silence_stdout",
    "standard_stream",
    "status_exit",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_CLIENT_ERROR = 4
EXIT_SERVER_ERROR = 5
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141

RICH_MISSING = (
    "the asks command line needs the 'rich' package; install it with: pip install 'asks[cli]'"
)


class UsageError(Exception):
    """A problem with the command line found after parsing (exit code 2)."""


def print_error(message: str) -> None:
    """Print a one-line error on stderr.

    Args:
        message: the text; runs of whitespace (newlines included) become one space.
    """
    one_line = " ".join(str(message).split())
    print(f"asks: error: {one_line}", file=sys.stderr, flush=True)


def status_exit(status: int) -> int:
    """The exit code of a final response with this status (0, 4 or 5)."""
    if status >= 500:
        return EXIT_SERVER_ERROR
    if status >= 400:
        return EXIT_CLIENT_ERROR
    return EXIT_OK


def standard_stream(name: Literal["stdin", "stdout"], use: str) -> TextIO:
    """``sys.stdin`` or ``sys.stdout``, to *use* it; refused if the shell closed it.

    Python sets the stream to None when its descriptor was closed at start
    (``<&-``, ``>&-``). Reading nothing or writing nowhere would end in a
    success with nothing done, so it is refused, as ``cat <&-`` refuses.

    Args:
        name: ``"stdin"`` or ``"stdout"``.
        use: what it is for, in the message (``"read the URL list"``).

    Raises:
        UsageError: the stream is closed.
    """
    stream: TextIO | None = getattr(sys, name)
    if stream is None:
        raise UsageError(f"cannot {use}: {name} is closed")
    return stream


def quiet_closed_stderr() -> None:
    """A stderr the shell closed (``2>&-``) becomes ``/dev/null``, as ``2>/dev/null``.

    Python sets ``sys.stderr`` to None then; ``print(file=None)`` writes to
    stdout, so an error line would land in the body or the JSON lines, and
    the progress bar's ``isatty()`` would fail. The free descriptor 2 is
    filled too: the worker processes inherit it, and no file opened later
    takes its number.
    """
    if sys.stderr is not None:
        return
    with contextlib.suppress(OSError):
        try:
            os.fstat(2)
        except OSError:  # still free: fill it
            devnull = os.open(os.devnull, os.O_WRONLY)
            if devnull != 2:
                os.dup2(devnull, 2)
                os.close(devnull)
    sys.stderr = open(os.devnull, "w")  # noqa: SIM115 (for the life of the process)


def silence_stdout() -> None:
    """Point fd 1 at /dev/null after the reader of stdout went away.

    Without it, the interpreter's final flush of ``sys.stdout`` fails a
    second time and prints a traceback of its own.
    """
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
