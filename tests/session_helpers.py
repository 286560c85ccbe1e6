"""Helpers for tests that watch what a session does: its dials, its concurrency, its kernel."""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from typing import Any

import curio

import asks


def connect_starts() -> tuple[list[str], Callable[[str, Any], None]]:
    """A list of the session's ``connect.start`` events, and the ``trace=`` that fills it.

    Each event is a connection asks dialled, whatever the pool counts afterwards.
    """
    starts: list[str] = []

    def trace(event: str, info: Any) -> None:
        if event == "connect.start":
            starts.append(event)

    return starts, trace


async def get_at_once(
    session: asks.Session, url: str, count: int, timeout: float
) -> tuple[list[asks.Response], int]:
    """*count* concurrent GETs of *url*.

    Returns:
        their responses, and the most connections the session had open as
        any of them ended.
    """
    most_open = 0

    async def one() -> asks.Response:
        nonlocal most_open
        r = await session.get(url, timeout=timeout)
        most_open = max(most_open, session.pool_stats().open)
        return r

    async with curio.TaskGroup() as group:
        tasks = [await group.spawn(one) for _ in range(count)]
    return [task.result for task in tasks], most_open


def cancel_once_the_kernel_sleeps(sleeper: Callable[[], Awaitable[Any]]) -> None:
    """Run *sleeper* in a kernel of its own; cancel it once the kernel sleeps on it.

    For a wait too long for curio's kernel in one go (over 2**31 - 1 ms): the
    kernel would crash with OverflowError in the select that starts it. The
    kernel is the test's own, with no deadline of the harness's in it, so the
    sleeper's is the one it waits for.
    """
    asleep = threading.Event()

    class Watch(curio.kernel.Activation):
        def suspended(self, task: Any, trap: Any) -> None:
            if task.state == "TIME_SLEEP":
                asleep.set()

    async def main() -> None:
        woken = curio.UniversalEvent()
        waker = threading.Thread(target=lambda: (asleep.wait(10), woken.set()))
        waker.start()
        task = await curio.spawn(sleeper)
        await woken.wait()
        await task.cancel()
        waker.join()
        assert task.cancelled

    with curio.Kernel(activations=[Watch()]) as kernel:
        kernel.run(main)
