"""Other ways to iterate a :class:`~asks.StreamBody`: text, lines, sized chunks.

Each view reads the body's own iteration (so the per-read timeout, the
Content-Encoding and ``decompress_data`` apply unchanged) and passes the
pieces through a cutter of :mod:`asks._lines`. The connection is the body's
business: read to the end it goes back by itself; an error or cancellation
inside the body's read closes it there; an error of a cutter here (a line
too long) closes the body, and its connection, before it propagates. ``body.close()`` is safe to
call more than once, so the connection is released exactly once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from .response_objects import StreamBody

__all__ = ["StreamView"]

In = TypeVar("In")
Out = TypeVar("Out")


class StreamView(Generic[In, Out]):
    """An async iterator over what *feed* and *flush* make of *source*.

    A plain async iterator rather than an async generator, like the body:
    a generator abandoned after ``break`` is finalised by the garbage
    collector outside the kernel, which curio cannot run.
    """

    def __init__(
        self,
        body: StreamBody,
        source: AsyncIterator[In],
        feed: Callable[[In], list[Out]],
        flush: Callable[[], list[Out]],
    ) -> None:
        self._body = body
        self._source = source
        self._feed = feed
        self._flush = flush
        self._ready: list[Out] = []  # complete items, the next one last
        self._done = False

    def __aiter__(self) -> StreamView[In, Out]:
        return self

    async def __anext__(self) -> Out:
        while True:
            if self._ready:
                return self._ready.pop()
            if self._done:
                raise StopAsyncIteration
            try:
                piece = await self._source.__anext__()
            except StopAsyncIteration:
                # The body has ended and its connection has gone back.
                self._done = True
                out = self._flush()
            else:
                try:
                    out = self._feed(piece)
                except BaseException:
                    self._done = True
                    await self._body._abort()  # (what is left unread is given up)
                    raise
            if out:
                out.reverse()
                self._ready = out
