"""The receive path of an HTTP/1.1 connection: the socket's reads and the response head.

h11 parses every response head and decides how the body is framed; this
path reads the socket for it, checks the first bytes of an answer and bounds
the head (``max_head_size``). It also sets up the body fast path when h11
frames a body as Content-Length bytes: h11 is handed the head alone, and
the bytes that came in the same read after it are held as the body's start
(:mod:`.http11_body` reads the body, on top of this layer).

It is the lowest layer of :class:`~.http11.HTTP11Connection`, which owns the
state it reads and writes and ends each cycle.
"""

from __future__ import annotations

import re
import ssl

import h11

from .._headers import ResponseHeaders
from .backend import READ_SIZE, AnyStream
from .interfaces import PeerClosedEarly

__all__ = ["ReceivePath", "head_end"]

# Where a response head ends: the first empty line, by h11's own rule (a bare
# LF is accepted as a line end, as h11 accepts it; RFC 9112 section 2.2).
_HEAD_END = re.compile(b"\n\r?\n")


def head_end(data: bytes, start: int) -> int | None:
    """Where the response head in *data* ends (the index past its empty line), if it does."""
    end = _HEAD_END.search(data, start)
    return None if end is None else end.end()


class ReceivePath:
    """Reading the response head, and the socket for whoever reads after it."""

    # The connection's state this path reads and writes; HTTP11Connection's
    # __init__ sets it (and says what the body fast path's part means).
    __slots__ = (
        "_body_held",
        "_body_left",
        "_body_seen",
        "_eof",
        "_fixed_length",
        "_h11",
        "_max_head_size",
        "_method",
        "_must_close",
        "_response_started",
        "_stream",
    )

    _stream: AnyStream
    _h11: h11.Connection
    _max_head_size: int
    _must_close: bool
    _response_started: bool
    _eof: bool
    _method: bytes
    _fixed_length: int | None
    _body_seen: int
    _body_left: int | None
    _body_held: bytes

    async def _fill(self) -> int:
        data = await self._read()
        self._h11.receive_data(data)
        return len(data)

    async def _read(self) -> bytes:
        """The socket's next bytes; the first of a response are checked here."""
        started = self._response_started
        try:
            data = await self._stream.receive(READ_SIZE, not started)
        except ssl.SSLEOFError:
            # TCP closed without TLS close_notify (see backend). Before any
            # answer that is simply a dead connection; inside one it is a
            # truncation and must not pass for the end of the body.
            if not started:
                raise PeerClosedEarly(before_response=True) from None
            self._eof = True
            raise
        self._arrived(data, started)
        return data

    def _arrived(self, data: bytes, started: bool) -> None:
        # What a read brought, checked. Its own plain function, not part of
        # a coroutine: the head's first read calls it inline, so a request
        # waiting for its answer - the state thousands are in at once - holds
        # one coroutine less for the garbage collector to walk.
        if data:
            if not started:
                self._response_started = True
                # Every HTTP/1.x response starts with "HTTP/". Anything else
                # (an HTTP/0.9 body, TLS bytes, a banner) is refused at once
                # instead of waiting for a blank line that may never come.
                prefix = data[:5]
                if not b"HTTP/".startswith(prefix):
                    raise h11.RemoteProtocolError(
                        f"not an HTTP/1.x response: {bytes(data[:32])!r}"
                    )
        elif not started:
            # EOF before a single byte of the answer. h11 would call this a
            # protocol error; it is the one case where the request was
            # certainly not processed, so it gets its own exception.
            raise PeerClosedEarly(before_response=True)
        else:
            # EOF inside the response: h11 decides whether that ends the body
            # (HTTP/1.0 style) or cuts it short; if h11 then fails, this is
            # how we know it was for lack of bytes.
            self._eof = True

    async def receive_response_head(self) -> tuple[h11.Response, ResponseHeaders]:
        """Read up to and including the final (non-1xx) response head.

        Returns:
            h11's event and the headers as a case-insensitive mapping.
        """
        conn = self._h11
        # Bytes of the first read past the end of the first head; see below.
        held = b""
        split = False
        if self._response_started:
            head_bytes = 0
        else:
            # Before the first byte of a response h11 holds nothing (a
            # connection is reused only with an empty buffer, see
            # finish_cycle), so asking it for an event could only say
            # NEED_DATA: read first (_read, spelled out: see _arrived).
            try:
                data = await self._stream.receive(READ_SIZE, True)
            except ssl.SSLEOFError:
                raise PeerClosedEarly(before_response=True) from None
            self._arrived(data, False)
            head_bytes = len(data)
            # A small response usually arrives whole in this one read. h11
            # is given the head only, up to the empty line that ends it;
            # the rest is held back. If h11 then frames the body by its
            # Content-Length, those bytes are the body's start and go to the
            # caller as they are, without h11 (the fast path, see
            # http11_body): each event h11 makes of a body costs more than
            # the whole fast path. Otherwise h11 gets them at once.
            end = _HEAD_END.search(data)
            if end is not None:
                split = True
                cut = end.end()
                if cut < len(data):
                    held = data[cut:]
                    data = data[:cut]
            conn.receive_data(data)
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                if held:
                    # The head read was a 1xx one, or h11 ended it elsewhere:
                    # what followed is h11's to read after all.
                    conn.receive_data(held)
                    held = b""
                    split = False
                    continue
                # h11 bounds an incomplete event only per buffer check, so a
                # head arriving in large reads could pass its limit; count.
                if head_bytes > self._max_head_size:
                    raise h11.RemoteProtocolError(
                        f"response head larger than {self._max_head_size} bytes (max_head_size)"
                    )
                head_bytes += await self._fill()
                continue
            if type(event) is h11.Response:
                if head_bytes > self._max_head_size:
                    # The head completed within reads that held more than
                    # the limit: measure the head itself.
                    raw = event.headers.raw_items()
                    size = len(event.reason) + 15 + sum(len(n) + len(v) + 4 for n, v in raw)
                    if size > self._max_head_size:
                        raise h11.RemoteProtocolError(
                            f"response head larger than {self._max_head_size} bytes "
                            "(max_head_size)"
                        )
                if event.http_version not in (b"1.1", b"1.0"):
                    # h11 parses any digit.digit; an HTTP/2 or HTTP/3 status
                    # line on this connection means the server speaks
                    # something else.
                    raise h11.RemoteProtocolError(
                        f"unsupported HTTP version {event.http_version.decode('ascii', 'replace')}"
                    )
                headers = ResponseHeaders.from_h11(event.headers)
                self._body_left = None
                self._fixed_length = None
                self._body_seen = 0
                if headers.has(b"transfer-encoding"):
                    if headers.has(b"content-length"):
                        # RFC 9112 section 6.3: Transfer-Encoding wins, but
                        # such a message may be a smuggling attempt; read it,
                        # then never trust this connection with another request.
                        self._must_close = True
                elif self._method != b"HEAD" and event.status_code not in (204, 304):
                    length = headers.last_raw(b"content-length")
                    if length is not None:
                        # RFC 9112 section 6.3 rules 1-5 all end in "the body
                        # is Content-Length bytes" here (no CONNECT is ever
                        # sent), as h11 decided too; h11 has checked the value
                        # (digits only, copies equal) and kept one copy.
                        fixed = self._fixed_length = int(length)
                        if split and len(held) <= fixed and not conn.trailing_data[0]:
                            # h11 took every byte it was given into this
                            # head, so the held bytes are the body's first,
                            # no more than the body (bytes past its end go
                            # to h11 below, which then refuses to reuse the
                            # connection, see finish_cycle).
                            self._body_held = held
                            self._body_left = fixed - len(held)
                            return event, headers
                if held:
                    conn.receive_data(held)
                return event, headers
            if type(event) is h11.InformationalResponse:
                # 100 Continue and friends precede the real answer (RFC 9110
                # section 15.2); nothing to do with them.
                continue
            if type(event) is h11.ConnectionClosed:
                raise PeerClosedEarly(before_response=not self._response_started)
            raise h11.RemoteProtocolError(f"unexpected event before the response: {event!r}")
