"""An auth challenge's body, read up to a bound with the rest left in its connection.

A streamed call (or one with a callback) reads the responses it passes on
its way - a redirect, a response it retries, an auth challenge - whole, to
keep them in ``history``, but bounded: past the bound
(``_call_loop._PASSED_BODY_LIMIT``, or ``max_body_size`` if smaller) the
body is dropped with its connection (``CallLoop._passed``), since the caller
was promised memory bounded whatever the server sends.

A challenge differs: it is read before anyone knows whether it is passed.
If the auth object declines to answer it, it is the call's final response,
and a streamed call must then get every byte the server sent, as it would
from any other final response. So a challenge's connection is not dropped
at the bound. :class:`HeldChallenge` stops reading there, keeping what it
read (the bound and at most one piece more) and the connection; the auth
object is shown the response with an empty body, as any passed response
past the bound. Then either

* the auth object declines: :meth:`HeldChallenge.final_body` serves what was
  read from memory, then the rest from the connection, in order; the
  connection goes back (or closes) as any stream's does, once; or
* it answers, or anything raises: :meth:`HeldChallenge.abort` closes the
  connection, whose unread rest could take any time to read (the retry
  goes out on a new one).

Stopping at the bound, rather than reading the whole body into memory
first, keeps a streamed call's memory bounded on this path too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from ._transport.interfaces import BodyOverLimit
from .response_objects import BodyInMemory

if TYPE_CHECKING:
    from .response_objects import BodySource

__all__ = ["HeldChallenge", "HeldRest", "ReadsWhole"]


class ReadsWhole(Protocol):
    """What a response read whole is read from: a connection, or a :class:`HeldChallenge`."""

    async def read_all(self, limit: int | None = None) -> bytes: ...


class HeldChallenge:
    """A challenge's body source for ``CallLoop._passed``: stops at the bound, keeps the rest.

    Args:
        conn: the connection (or HTTP/2 stream) the challenge came on.
    """

    __slots__ = ("_conn", "held")

    def __init__(self, conn: BodySource) -> None:
        self._conn = conn
        # What was read, once the body went past the bound (the connection
        # is then still open, leased to this call); None otherwise.
        self.held: bytes | None = None

    async def read_all(self, limit: int | None = None) -> bytes:
        """The whole body if it ends within *limit* bytes (the connection goes back).

        Raises:
            BodyOverLimit: past *limit*; what was read is kept in
                :attr:`held` and the connection is left open, unread.
        """
        conn = self._conn
        chunks: list[bytes] = []
        total = 0
        # Piece by piece (a connection's read_all would close it past the
        # limit): at the end of the body receive_data releases the connection.
        while data := await conn.receive_data():
            chunks.append(data)
            total += len(data)
            if limit is not None and total > limit:
                self.held = b"".join(chunks)
                raise BodyOverLimit(f"response body exceeds {limit} bytes")
        return b"".join(chunks)

    def final_body(self, read: bytes) -> BodySource:
        """The body source of the challenge as the final response (*read*: its body as read)."""
        held = self.held
        if held is None:
            return BodyInMemory(read)
        self.held = None  # the connection is the returned source's now
        return HeldRest(held, self._conn)

    async def abort(self) -> None:
        """Close the connection if the body was left unread past the bound; else nothing."""
        if self.held is not None:
            self.held = None
            await self._conn.abort()


class HeldRest:
    """A body served from the bytes already read, then from its connection.

    Ends as the connection's own body does: read to the end, the connection
    goes back to its pool (or closes), on a failure or an early stop it is
    closed; the connection releases itself exactly once (its own guard).
    """

    __slots__ = ("_conn", "_held")

    def __init__(self, held: bytes, conn: BodySource) -> None:
        self._held = held
        self._conn = conn

    async def receive_data(self, at_end: Callable[[], object] | None = None) -> bytes:
        held = self._held
        if held:
            # Never empty here (past a bound, so at least one byte): an
            # empty piece would read as the end of the body.
            self._held = b""
            return held
        return await self._conn.receive_data(at_end)

    async def read_all(self, limit: int | None = None) -> bytes:
        held, self._held = self._held, b""
        if limit is not None and len(held) > limit:
            await self._conn.abort()
            raise BodyOverLimit(f"response body exceeds {limit} bytes (max_body_size)")
        rest = await self._conn.read_all(None if limit is None else limit - len(held))
        return held + rest

    def body_in_hand(self) -> bool:
        # The rest is in the socket (or the connection's buffer) until read.
        return not self._held and self._conn.body_in_hand()

    async def stop_reading(self) -> None:
        # Bytes in memory unread are not "nothing left": the connection
        # decides on what is left in it only once they were taken.
        if self._held:
            self._held = b""
            await self._conn.abort()
        else:
            await self._conn.stop_reading()

    async def abort(self) -> None:
        self._held = b""
        await self._conn.abort()
