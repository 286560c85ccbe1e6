"""Stopping cleanly: the ``--timeout`` deadline, Ctrl-C and SIGTERM.

Both commands run their work inside one curio kernel, and both must be able
to stop it half way and still clean up: close the session, remove a partial
download, print the summary of what was fetched. Python's default SIGINT
handling raises ``KeyboardInterrupt`` wherever the main thread happens to be,
which may be inside the kernel's own bookkeeping; so the first Ctrl-C is
turned into an ordinary event a task waits for (:class:`SigintWatch`), and
:func:`supervise` cancels the work when it fires, which runs the work's
``finally`` blocks as a cancellation always does. A second Ctrl-C ends the
process at once (exit 130), for when the clean stop itself hangs. SIGTERM (what
``kill``, ``timeout`` and job runners send) is taken the same way: left to
its default, it ended the process on the spot, leaving a download's
temporary ``.part`` files behind and no summary.

The deadline is curio's ``timeout_after`` around the whole transfer
(request, redirects and body), which is what a person means by "give up
after 10 seconds".
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import FrameType, TracebackType
from typing import Any, Generic, TypeVar

import curio
import curio.io

from .exits import EXIT_INTERRUPTED

T = TypeVar("T")


def deadline(seconds: float | None) -> contextlib.AbstractAsyncContextManager[Any]:
    """A context that cancels its body after *seconds* (``None``: never).

    Args:
        seconds: the limit, or ``None`` for no limit.

    Returns:
        an async context manager; when the time runs out its body gets
        ``curio.TaskTimeout``.
    """
    if seconds is None:
        return contextlib.nullcontext()
    return curio.timeout_after(seconds)  # type: ignore[no-any-return]


# The signals that stop a run cleanly: Ctrl-C, and the polite "terminate".
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class SigintWatch:
    """Turns the first SIGINT or SIGTERM into something a task can wait for.

    The handler only writes a byte to a socket pair, which wakes the kernel
    out of its ``select``; a second one ends the process at once, for when
    the clean stop itself hangs.

    The socket pair is also the interpreter's wakeup fd
    (:func:`signal.set_wakeup_fd`): the C-level handler writes to it at
    once. Without it a SIGINT that lands after the main thread's last check
    for signals and before the kernel blocks in ``select`` (or on another
    thread) runs the Python handler only when ``select`` returns for some
    other reason, which for an idle kernel may be never.
    """

    def __init__(self) -> None:
        self.fired = False
        self._reader: Any = None
        self._writer: socket.socket | None = None
        self._previous: dict[int, Any] = {}
        self._previous_wakeup = -1

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        """The handler: wake the waiting task, or end the process on the second signal."""
        if self.fired:
            # The clean stop did not come: a task holds the kernel's thread (a
            # write to a stdout nobody reads blocks it, and the waiting task
            # never runs). KeyboardInterrupt raised here lands in that task:
            # curio prints it as a crash, then its kernel's and tasks' own
            # errors at exit. Stopping "at once" is what was asked.
            os._exit(EXIT_INTERRUPTED)
        self.fired = True
        if self._writer is not None:
            with contextlib.suppress(OSError):
                self._writer.send(b"\0")

    async def wait(self) -> None:
        """Return once SIGINT or SIGTERM arrived."""
        # A byte of the wakeup fd may come before the Python handler has run,
        # or be another signal's: only the handler's `fired` says it was ours
        # (the handler writes a byte of its own, so this wakes again).
        while not self.fired:
            await self._reader.recv(64)

    async def __aenter__(self) -> SigintWatch:
        reader, self._writer = socket.socketpair()
        self._writer.setblocking(False)
        self._reader = curio.io.Socket(reader)
        self._previous = {signum: signal.signal(signum, self._handle) for signum in STOP_SIGNALS}
        self._previous_wakeup = signal.set_wakeup_fd(
            self._writer.fileno(), warn_on_full_buffer=False
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        signal.set_wakeup_fd(self._previous_wakeup)
        for signum, previous in self._previous.items():
            signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
        await self._reader.close()
        if self._writer is not None:
            self._writer.close()


@dataclass
class Outcome(Generic[T]):
    """How a supervised piece of work ended."""

    result: T | None
    interrupted: bool


async def supervise(
    work: Callable[[], Awaitable[T]], stop: Callable[[], Awaitable[Any]] | None = None
) -> Outcome[T]:
    """Run *work* until it returns, SIGINT or SIGTERM arrives, or *stop* returns.

    Whichever comes first cancels the others; cancelling *work* runs its
    clean-up (closing the session, removing partial files).

    Args:
        work: the coroutine function doing the job.
        stop: another coroutine function whose return also ends the run
            (``asks fetch`` uses it when its output fails).

    Returns:
        the result of *work* with ``interrupted=False``; or no result, with
        ``interrupted`` saying whether a signal (rather than *stop*) ended it.

    Raises:
        Exception: whatever *work* raised.
    """
    async with SigintWatch() as sigint, curio.TaskGroup(wait=any) as group:
        task = await group.spawn(work)
        await group.spawn(sigint.wait)
        if stop is not None:
            await group.spawn(stop)
    if group.completed is task:
        if task.exception is not None:
            raise task.exception
        return Outcome(task.result, False)
    return Outcome(None, sigint.fired)
