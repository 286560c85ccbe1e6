"""A blocking call in a thread of its own, awaited without ``curio.run_in_thread``.

curio's ``run_in_thread`` hands a result back by waking the kernel through the
kernel's own notification socket. A task cancelled while its thread still
runs (a timeout during a DNS lookup that takes seconds) leaves the call to
return later, and if ``curio.run()`` has returned by then that socket is
closed: the thread raises ``OSError: [Errno 9] Bad file descriptor``, printed
on stderr as "Exception in thread ..." in a program that has moved on.

Here each call answers through a socket pair of its own: the thread owns one
end, the waiting task the other. A task that is gone has closed its end, and
the late answer is dropped without a sound. Each end is closed only by its
owner, so neither is ever used after the other side closed it. The thread is
a daemon: a lookup still hanging never holds the interpreter's exit.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import curio
import curio.io

__all__ = ["run_blocking"]

T = TypeVar("T")


async def run_blocking(func: Callable[..., T], *args: Any, name: str = "asks-blocking") -> T:
    """``func(*args)`` in a new daemon thread; its result or its exception.

    Cancelling the waiting task leaves the call to finish on its own; its
    outcome is then dropped.

    Args:
        func: the blocking function.
        *args: its arguments.
        name: the thread's name (shown by debuggers and ``threading.enumerate``).

    Returns:
        what *func* returned.

    Raises:
        BaseException: what *func* raised.
    """
    theirs, ours = socket.socketpair()
    outcome: list[tuple[bool, Any]] = []

    def call() -> None:
        try:
            outcome.append((True, func(*args)))
        except BaseException as exc:  # handed to the task, which raises it
            outcome.append((False, exc))
        try:
            theirs.send(b"\0")
        except OSError:
            pass  # the task's end is closed: nobody waits for this answer
        finally:
            theirs.close()

    waiter = curio.io.Socket(ours)  # non-blocking, waited on by curio
    try:
        try:
            threading.Thread(target=call, name=name, daemon=True).start()
        except BaseException:
            theirs.close()  # no thread owns it
            raise
        await waiter.recv(1)
    finally:
        async with curio.disable_cancellation():
            await waiter.close()
    if not outcome:  # pragma: no cover - the thread always answers before it closes
        raise RuntimeError(f"{name}: the thread ended without an answer")
    ok, value = outcome.pop()
    if ok:
        result: T = value
        return result
    raise value
