"""Helpers for tests that watch what a session does: its dials, its concurrency."""

from __future__ import annotations

from collections.abc import Callable
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
