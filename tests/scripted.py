"""A scripted stand-in for a connection's byte stream, and a way to drive one.

``ScriptedStream`` has what a connection uses of ``asks._transport.backend.Stream``
(``receive``, ``send``, ``send_pieces``, ``is_readable``, ``close``) and answers
each request with the pieces its script gives for
that turn, one piece (or the part of one that was asked for) per ``recv``, as
a server's separate writes arrive. When a turn's pieces are used up it either
reports the end of the stream (the server closed) or raises ``Blocked``: a
real socket would wait for bytes that are never coming. Nothing suspends, so
a whole exchange runs to the end in one ``drive()`` call, with no event loop,
no timing, and the same result every time - what a test comparing two ways
of reading the same bytes needs.
"""

from __future__ import annotations

from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


class Blocked(Exception):
    """The client waited for bytes the script never sends."""


class ScriptedStream:
    """What a connection uses of its stream, answering from a script.

    Args:
        turns: for each request, the pieces of the answer, in order.
        close_after: the stream ends (EOF) after the last turn instead of
            blocking.
        send_limit: the peer stops reading after this many bytes: a send
            past it fails with ``BrokenPipeError`` (a server that answered
            early and closed), the answer still there to read.
    """

    def __init__(
        self,
        turns: Sequence[Sequence[bytes]],
        *,
        close_after: bool = False,
        send_limit: int | None = None,
    ) -> None:
        self._turns = [[p for p in pieces if p] for pieces in turns]
        self._turn = -1
        self._pieces: list[bytes] = []
        self._close_after = close_after
        self.sent = bytearray()
        self.closed = False
        self.tls = None
        self._send_limit = send_limit

    def next_turn(self) -> None:
        """The server has read the next request: its answer starts arriving."""
        self._turn += 1
        self._pieces = list(self._turns[self._turn]) if self._turn < len(self._turns) else []

    def is_readable(self) -> bool:
        """What a poll of an idle connection would say: bytes (or EOF) are waiting."""
        return bool(self._pieces) or self.closed

    async def send(self, data: bytes | memoryview) -> None:
        limit = self._send_limit
        if limit is not None and len(self.sent) + len(data) > limit:
            self.sent += bytes(data[: max(0, limit - len(self.sent))])
            raise BrokenPipeError(32, "Broken pipe")
        self.sent += data

    async def send_pieces(self, pieces: Sequence[bytes]) -> None:
        for piece in pieces:
            await self.send(piece)

    async def close(self) -> None:
        self.closed = True

    async def receive(self, size: int = 65536, wait_first: bool = False) -> bytes:
        if not self._pieces:
            if self._close_after and self._turn >= len(self._turns) - 1:
                return b""
            raise Blocked
        piece = self._pieces[0]
        if len(piece) <= size:
            del self._pieces[0]
            return piece
        self._pieces[0] = piece[size:]
        return piece[:size]


def drive(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never suspends (a ScriptedStream never waits)."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    coro.close()
    raise AssertionError("the coroutine suspended; only a real event loop can run it")
