"""The send path of an HTTP/1.1 connection: a request's head and body onto the socket.

h11 frames what is sent (Content-Length or chunks) and checks the request;
this path builds h11's events once per header block and URL (cached: a
client sends the same block to URL after URL), writes a small body in the
same write as the head and a large one gathered with it, waits for
``100 Continue`` when the request asked for it, and notices a server that
answered before it read the whole body. A bodiless request sent again is
written from the bytes h11 made of its event, h11 told right after.

It is built on the receive path (:mod:`.http11_receive`, the head, and
:mod:`.http11_body`, the body): ``Expect: 100-continue`` and an early
answer are read while sending.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator

import h11

from .expect_continue import wait_for_continue
from .http11_body import BodyPath
from .http11_receive import head_end
from .interfaces import PeerClosedEarly, next_piece

__all__ = ["SendPath", "request_event"]


class _Prepared:
    """A request's h11 event, and the bytes h11 made of it once it had no body."""

    __slots__ = ("event", "wire")

    def __init__(self, event: h11.Request) -> None:
        self.event = event
        self.wire: bytes | None = None


@functools.lru_cache(maxsize=256)
def request_event(
    method: bytes, target: bytes, headers: tuple[tuple[bytes, bytes], ...]
) -> _Prepared:
    # The event is immutable, so a client polling or benchmarking the same
    # request reuses it whole.
    return _Prepared(h11.Request(method=method, target=target, headers=_checked(headers).headers))


# One block per origin (Host is in it): sized for a crawl's thousand origins
# (asks.crawl.KEPT_CONNECTIONS), at about 1 KiB a block.
@functools.lru_cache(maxsize=1024)
def _checked(headers: tuple[tuple[bytes, bytes], ...]) -> h11.Request:
    # h11 validates every header of a new Request, which costs more than the
    # rest of building it, and a scraper sends one header block to URL after
    # URL. So a block is validated once, in the first event that carries it;
    # later events take that event's headers, which h11 accepts as they are
    # (it checks only the method and target of the new request). Were h11 to
    # stop recognising its own headers object, it would validate them again
    # and send the names in lower case: correct, just slower.
    return h11.Request(method=b"GET", target=b"/", headers=list(headers))


async def _close_source(stream: AsyncIterator[bytes]) -> None:
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        await aclose()


# h11 events are immutable, so one end-of-message event serves every request
# (building one re-validates its empty trailers each time).
_END_OF_MESSAGE = h11.EndOfMessage()


class SendPath(BodyPath):
    """Sending the request: its head and body, through h11."""

    __slots__ = ()

    async def _answered_early(self) -> bool:
        """After a failed send: did the server answer before it stopped reading?"""
        self._must_close = True
        if self._response_started:
            return True
        try:
            data = await self._read()
        except (OSError, PeerClosedEarly, h11.RemoteProtocolError):
            return False  # nothing (or nothing HTTP) came back: the send's error stands
        self._h11.receive_data(data)
        return True

    async def _send_request(
        self,
        method: bytes,
        target: bytes,
        headers: tuple[tuple[bytes, bytes], ...],
        body: bytes | None,
        stream: AsyncIterator[bytes] | None,
    ) -> bool:
        """Send the request; False when its body was withheld (Expect refused)."""
        conn = self._h11
        self._response_started = False
        # (_eof is False here: a cycle that met the end of the stream fails
        # finish_cycle, so its connection carries no other request.)
        self._method = method
        prepared = request_event(method, target, headers)
        wire = prepared.wire
        if wire is not None and body is None and stream is None:
            # h11 made these bytes of this very event before (its output
            # depends on the event alone). They leave first, and h11 takes
            # note of the request while the server reads it: its
            # bookkeeping costs no wait for the answer.
            try:
                await self._stream.send(wire)
            finally:
                conn.send(prepared.event)
                conn.send(_END_OF_MESSAGE)
            return True
        data = conn.send(prepared.event)
        assert data is not None
        if conn.client_is_waiting_for_100_continue and (body or stream is not None):
            await self._stream.send(data)
            data = b""
            if not await wait_for_continue(self._read, conn.receive_data, head_end):
                # A final answer instead of 100 Continue: the body stays
                # unsent, so this connection cannot carry another request.
                self._must_close = True
                if stream is not None:
                    await _close_source(stream)
                return False
        if body:
            # Small bodies ride in the same write as the head (one syscall,
            # one packet); large ones leave in one gathered write with it,
            # not copied into it.
            if len(body) <= 16384:
                framed = conn.send(h11.Data(data=body))
                assert framed is not None
                data += framed
            else:
                await self._send_data(body, head=data)
                data = b""
        elif stream is not None:
            await self._stream.send(data)
            data = b""
            try:
                # (The source's own failure leaves as BodySourceFailed.)
                while (piece := await next_piece(stream)) is not None:
                    await self._send_data(piece)
            finally:
                await _close_source(stream)
        end = conn.send(_END_OF_MESSAGE)
        if end:
            data += end
        if body is None and stream is None:
            prepared.wire = data  # all of it: the next time it leaves first
        if data:
            await self._stream.send(data)
        return True

    async def _send_data(self, piece: bytes, head: bytes = b"") -> None:
        # h11 counts the bytes against Content-Length (or frames a chunk)
        # without copying the payload. A request *head* given here leaves
        # in the same write as the body's pieces.
        pieces = self._h11.send_with_data_passthrough(h11.Data(data=piece))
        assert pieces is not None
        await self._stream.send_pieces([head, *pieces] if head else pieces)
