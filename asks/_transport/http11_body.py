"""The body of an HTTP/1.1 response: through h11's events, or the fast path.

h11 decides how the body is framed (by the response head, which
:mod:`.http11_receive` reads). When it has framed a body as Content-Length
bytes, the body's bytes go from the socket to the caller without passing
through h11 - those that came in the same read as the head (h11 is handed
the head alone), then reads of exactly what is left. Each body event h11
builds costs more than the whole fast path, and for a large body its buffer
costs two copies of every byte. Bytes past the end of the body are never
taken: they go to h11 or stay in the socket, and either way the connection
is not reused.

A layer of :class:`~.http11.HTTP11Connection`, on the receive path, whose
reads it uses; the connection ends the cycle when the body does.
"""

from __future__ import annotations

import ssl

import h11

from .backend import READ_SIZE
from .http11_receive import ReceivePath
from .interfaces import BodyCutShort, BodyOverLimit, ProtocolViolation

__all__ = ["BodyPath"]


class BodyPath(ReceivePath):
    """Reading the response body, directly (the fast path) or through h11."""

    # (Its state is in ReceivePath's slots: the head decides the fast path.)
    __slots__ = ()

    async def _receive_h11(self) -> bytes:
        conn = self._h11
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                if self._go_direct():
                    return await self._receive_direct()
                await self._fill()
                continue
            if type(event) is h11.Data:
                data = event.data
                self._body_seen += len(data)
                # h11 may hand out a memoryview-backed bytearray slice; the
                # caller keeps what we return, so make it bytes.
                return data if type(data) is bytes else bytes(data)
            if type(event) is h11.EndOfMessage:
                return b""
            if type(event) is h11.ConnectionClosed:
                raise BodyCutShort("server closed the connection inside the body")
            raise h11.RemoteProtocolError(f"unexpected event in the body: {event!r}")

    def body_in_hand(self) -> bool:
        """Whether the rest of the body is already in memory (it came with the head).

        Then :meth:`read_all` returns it with no read from the socket.
        """
        return self._body_left == 0

    async def _read_body(self, limit: int | None) -> bytes:
        # _receive_h11's loop, inlined: the call per piece showed in profiles.
        conn = self._h11
        chunks = []
        total = 0
        while True:
            if self._body_left is not None:
                data = await self._receive_direct()
                if not data:
                    break
            else:
                event = conn.next_event()
                if type(event) is h11.Data:
                    data = event.data
                elif type(event) is h11.EndOfMessage:
                    break
                elif event is h11.NEED_DATA:
                    self._body_seen = total
                    if not self._go_direct():
                        await self._fill()
                    continue
                elif type(event) is h11.ConnectionClosed:
                    raise BodyCutShort("server closed the connection inside the body")
                else:
                    raise h11.RemoteProtocolError(f"unexpected event in the body: {event!r}")
            total += len(data)
            if limit is not None and total > limit:
                raise BodyOverLimit(f"response body exceeds {limit} bytes (max_body_size)")
            chunks.append(data)
        if len(chunks) == 1:
            data = chunks[0]
            return data if type(data) is bytes else bytes(data)
        return b"".join(chunks)

    def _classify(self, exc: BaseException) -> BaseException:
        """A failed read of the body (h11's complaint, a TLS cut) as the transport's own class."""
        if isinstance(exc, h11.RemoteProtocolError):
            if self._eof:
                # h11 refused because the bytes ran out: the body (or the
                # chunked framing) was cut short by the server closing.
                return BodyCutShort(f"server closed the connection: {exc}")
            return ProtocolViolation(str(exc))
        if isinstance(exc, ssl.SSLEOFError):
            # TCP closed inside the body without TLS close_notify: the body
            # is cut short, as far as anyone can tell (RFC 9112 section 9.8),
            # exactly as a plain close there; the handshake had long succeeded.
            return BodyCutShort(
                "server closed the connection inside the body (without a TLS close_notify)"
            )
        return exc

    def _go_direct(self) -> bool:
        """h11 wants more of a fixed-length body: read the rest directly?"""
        length = self._fixed_length
        if length is None:
            return False
        left = length - self._body_seen
        if left <= 0:
            return False
        self._body_left = left
        return True

    async def _receive_direct(self) -> bytes:
        # The body fast path. h11 decided the framing (a fixed-length body,
        # see receive_response_head) and holds no byte of the body: it was
        # given the head alone, or asked for more data with the body still
        # short. Feeding it the rest would cost two copies of every piece
        # (into its buffer, out of it) and a conversion to bytes; instead the
        # bytes that came with the head, then the socket's own, go to the
        # caller, never past the end of the body, so the next response stays
        # in the socket. finish_cycle then does what h11 would have done at
        # the end of the message.
        held = self._body_held
        if held:
            self._body_held = b""
            return held
        left = self._body_left
        assert left is not None
        if left == 0:
            return b""
        data = await self._stream.receive(left if left < READ_SIZE else READ_SIZE)
        if not data:
            raise BodyCutShort(
                f"server closed the connection with {left} bytes of the body missing "
                "(incomplete message body)"
            )
        self._body_left = left - len(data)
        return data

    def _nothing_left(self) -> bool:
        # Without a read: the direct path knows its count; h11 is asked for
        # its next event, which ends the message only if every byte of it
        # was already given (any other event means unread data, or data to
        # wait for: the connection is closed then, so consuming it is fine).
        if self._body_left is not None:
            return self._body_left == 0 and not self._body_held
        try:
            return type(self._h11.next_event()) is h11.EndOfMessage
        except h11.RemoteProtocolError:
            return False
