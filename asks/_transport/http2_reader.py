"""The incoming side of an HTTP/2 connection: the socket's bytes as h2's events.

curio allows one reader per socket, so one task of the connection
(:mod:`.http2`) reads every frame, through :meth:`FrameReader.receive`, and
hands each event to its stream. What comes is checked before h2 parses it:
an HTTP/1.x answer on the first read (a server that does not speak h2c), a
frame longer than our SETTINGS_MAX_FRAME_SIZE (found before h2 would buffer
it). The end of the stream, and whatever h2 or these checks refuse, are
raised as the transport's own classes; the connection fails with them.
"""

from __future__ import annotations

import ssl
from typing import Any

import h2.connection
import h2.errors
import h2.exceptions

from .backend import AnyStream
from .http2_engine import FrameLengths
from .http2_writer import FrameWriter
from .interfaces import PeerClosedEarly, ProtocolViolation

__all__ = ["FrameReader"]

_READ_SIZE = 65536


class FrameReader:
    """One read of the socket at a time, checked, then parsed by h2.

    Args:
        stream: the connection's byte stream.
        engine: the connection's h2 state machine, which parses what comes.
        out: the connection's writer: a GOAWAY h2 queues when it refuses
            the bytes leaves through it before the error is raised.
    """

    __slots__ = ("_engine", "_first", "_frames", "_out", "_stream")

    def __init__(
        self, stream: AnyStream, engine: h2.connection.H2Connection, out: FrameWriter
    ) -> None:
        self._stream = stream
        self._engine = engine
        self._out = out
        self._first = True
        self._frames = FrameLengths()

    async def receive(self) -> list[Any]:  # h2.events.Event
        """The events of the socket's next bytes.

        Raises:
            PeerClosedEarly: the server closed the connection.
            ProtocolViolation: it sent what is not HTTP/2, or broke its rules.
        """
        conn = self._engine
        try:
            data = await self._stream.receive(_READ_SIZE)
        except ssl.SSLEOFError:
            # TCP closed without a TLS close_notify, as servers drop
            # idle connections: the server's close, as over HTTP/1.1
            # (whose streams each tell "before their answer" apart).
            data = b""
        if not data:
            raise PeerClosedEarly(before_response=True)
        if self._first:
            self._first = False
            if data.startswith(b"HTTP/"):
                status = data.split(b"\r\n", 1)[0][:80].decode("ascii", "replace")
                raise ProtocolViolation(
                    f"the server answered in HTTP/1.x ({status!r}): it does not "
                    "speak HTTP/2 without TLS (http2='prior-knowledge')"
                )
        frames = self._frames
        if not frames.feed(data, conn.max_inbound_frame_size):
            conn.close_connection(h2.errors.ErrorCodes.FRAME_SIZE_ERROR)
            await self._out.flush()
            raise ProtocolViolation(
                f"HTTP/2 frame of {frames.overlong} bytes, over the "
                f"{conn.max_inbound_frame_size} allowed (SETTINGS_MAX_FRAME_SIZE)"
            )
        try:
            return conn.receive_data(data)
        except h2.exceptions.ProtocolError as exc:
            # h2 queued a GOAWAY naming the error: send it on the way out.
            await self._out.flush()
            raise ProtocolViolation(f"HTTP/2 protocol error: {exc}") from exc
