"""The outgoing side of an HTTP/2 connection: one writer, the bytes in h2's order.

Every byte of the connection leaves through :meth:`FrameWriter.run`, the
connection's writer task, in the order h2 produced it. A request task only
queues bytes (:meth:`FrameWriter.flush`) and never sends them itself, so one
that is cancelled never stops in the middle of a frame: the byte stream
stays whole whoever is cancelled (a cancelled ``sendall`` would otherwise
cut a frame in two). Uploads wait while too much is queued
(:meth:`FrameWriter.wait_for_room`), so a fast producer cannot fill memory
ahead of a slow socket.

What ends the writer (a failed send, a cancellation) is the connection's to
handle: :mod:`.http2` runs the task and fails or retires the connection.
"""

from __future__ import annotations

from collections.abc import Callable

import curio
import h2.connection

from .backend import AnyStream

__all__ = ["HIGH_WATER", "FrameWriter"]

# An upload waits while this much is queued for the writer.
HIGH_WATER = 1 << 20


class FrameWriter:
    """The bytes h2 made, queued for the one task that sends them.

    Args:
        stream: the connection's byte stream.
        engine: the connection's h2 state machine, whose output is queued.
        failed: whether the connection has failed (an upload waiting for
            room then stops waiting: the writer may never drain).
    """

    __slots__ = ("_drained", "_engine", "_failed", "_stream", "_want_write", "buffer")

    def __init__(
        self,
        stream: AnyStream,
        engine: h2.connection.H2Connection,
        failed: Callable[[], bool],
    ) -> None:
        self._stream = stream
        self._engine = engine
        self._failed = failed
        # What is queued to send; h2's GOAWAY handler also queues here
        # (http2_engine.survive_goaway), so it is one bytearray for good.
        self.buffer = bytearray()
        self._want_write = curio.Event()
        self._drained = curio.Event()

    async def flush(self) -> None:
        """Queue what h2 has to send for the writer."""
        data = self._engine.data_to_send()
        if data:
            self.buffer += data
            await self._want_write.set()

    async def wake(self) -> None:
        """Have the writer look at the buffer (bytes were queued there without :meth:`flush`)."""
        await self._want_write.set()

    async def run(self) -> None:
        """Send what is queued, as it is queued; returns only by raising (the socket's error)."""
        outbuf = self.buffer
        while True:
            # Cleared before looking, so a flush in between is never missed.
            self._want_write.clear()
            if not outbuf:
                await self._drained.set()
                await self._want_write.wait()
                continue
            self._drained.clear()
            data = bytes(outbuf)
            outbuf.clear()
            await self._stream.send(data)

    async def wait_for_room(self) -> None:
        """Back-pressure for uploads: wait until the writer caught up."""
        # The event may still be set from the last time the writer ran dry,
        # and waiting on a set event does not yield: cleared first, or an
        # upload over HIGH_WATER spins here and the writer never gets to run.
        while len(self.buffer) > HIGH_WATER and not self._failed():
            self._drained.clear()
            await self._drained.wait()

    async def release_waiters(self) -> None:
        """The connection failed: uploads waiting for room wake (and see it)."""
        await self._drained.set()
