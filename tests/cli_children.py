"""``python -m asks`` as a child of a test: the command, its bounds, its scaffolding.

A child that hangs is killed after its bound (``CHILD_TIMEOUT``, or
``PROMPTLY`` for one that must stop quickly), so it fails its test instead
of the whole run; no test waits for that bound on purpose.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import pytest

from tests.pipes import drain, full_pipe

ASKS = [sys.executable, "-m", "asks"]
# Bounds a child that hangs; no test waits for it on purpose.
CHILD_TIMEOUT = 60.0
# A stuck child is killed after this long: far more than a clean stop takes.
PROMPTLY = 20.0
# The deadline of an async test that waits for a child in a thread: longer
# than one CHILD_TIMEOUT, so that a hung child fails the test with
# TimeoutExpired, and the test's own deadline never cancels the wait (which
# would lose that message and leave the thread and the child running on).
# Every module of CLI tests takes it as its pytestmark.
CHILD_DEADLINE = pytest.mark.curio_timeout(CHILD_TIMEOUT + 30)

_Target = int | IO[Any] | None


@contextlib.contextmanager
def asks_child(
    args: list[str],
    *,
    stdout: _Target = subprocess.PIPE,
    stderr: _Target = subprocess.PIPE,
    kill_after: float = CHILD_TIMEOUT,
) -> Iterator[subprocess.Popen[bytes]]:
    """``python -m asks ARGS`` started with no stdin, killed if it runs past *kill_after*."""
    proc = subprocess.Popen([*ASKS, *args], stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr)
    killer = threading.Timer(kill_after, proc.kill)
    killer.start()
    try:
        yield proc
    finally:
        killer.cancel()


def interrupt_over_a_full_pipe(
    args: list[str],
    ready: threading.Event,
    *,
    before_signal: Callable[[subprocess.Popen[bytes]], object] = lambda proc: None,
    after: Callable[[], object] = lambda: None,
) -> tuple[int | None, bytes, bytes]:
    """Run asks writing to a full pipe nobody reads; SIGINT once *ready* is set.

    *before_signal* is given the child just before the signal, *after* runs
    once it has ended. Returns its exit code, what it wrote past the pipe's
    filling (checked to be left whole), and its stderr.
    """
    read_end, write_end, filled = full_pipe()
    try:
        with asks_child(args, stdout=write_end, kill_after=PROMPTLY) as proc:
            os.close(write_end)
            try:
                if ready.wait(PROMPTLY):
                    before_signal(proc)
                    proc.send_signal(signal.SIGINT)
                _out, err = proc.communicate()
            finally:
                after()
        left = drain(read_end)
    finally:
        os.close(read_end)
    assert left.startswith(filled)
    return proc.returncode, left[len(filled) :], err


def kill_while_writing(
    command: list[str], streaming: threading.Event, directory: Path
) -> tuple[int, int, str]:
    """Start *command*; once the server is *streaming* its body, SIGKILL it.

    Before the kill, the one file in *directory* (the body's ``.part``) must
    be locked by its writer: what tells a sweeping run a live writer whose
    pid means nothing there (another machine, a shared disk).

    Returns:
        the child's pid, its exit status and the name of the file it wrote.
    """
    import fcntl  # not on Windows; only the tests of .part files use this

    proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    killer = threading.Timer(CHILD_TIMEOUT, proc.kill)
    killer.start()
    try:
        assert streaming.wait(CHILD_TIMEOUT)
        (writing,) = os.listdir(directory)
        probe = os.open(directory / writing, os.O_RDWR)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(probe)
        proc.send_signal(signal.SIGKILL)
        return proc.pid, proc.wait(), writing
    finally:
        killer.cancel()


def dead_pid() -> int:
    """The pid of a process that ran and was reaped: no process has it (until reused)."""
    ended = subprocess.Popen(["true"])
    ended.wait()
    return ended.pid


@contextlib.contextmanager
def held_elsewhere(path: Path) -> Iterator[None]:
    """*path* made and ``flock``-ed for the while, as by a live writer elsewhere.

    A run on another machine or in another pid namespace (a shared disk)
    holds its ``.part`` file so; its pid means nothing here, its lock does.
    """
    import fcntl  # not on Windows; only the tests of .part files use this

    held = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(held, fcntl.LOCK_EX)
        yield
    finally:
        os.close(held)
