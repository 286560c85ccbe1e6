"""The ``h2`` state machine as an HTTP/2 connection of asks runs it.

Everything here is sans-IO: the configuration and the SETTINGS we send, our
receive windows, the corrections asks makes to h2 (a 204 or 304 has no
content whatever its length says; a GOAWAY spares the streams at or below
its ``last_stream_id``), and :class:`FrameLengths`, which finds an overlong
frame before h2 would. The connection that feeds it bytes and sends what
it makes is :mod:`.http2`.
"""

from __future__ import annotations

from typing import Any

import h2.config
import h2.connection
import h2.settings
import h2.stream
import hyperframe.frame

__all__ = ["ASSUMED_STREAMS", "FrameLengths", "new_engine", "preface", "survive_goaway"]

# Our receive windows. The RFC's 65,535 bytes per stream and per connection
# cap a download at one window per round trip; 1 MiB per stream and 16 MiB
# for the connection keep a fast link busy while bounding what one slow
# reader can leave buffered (one stream window).
_STREAM_WINDOW = 1 << 20
_CONNECTION_WINDOW = 1 << 24
# A server whose SETTINGS name no stream limit allows this many; RFC 9113
# section 6.5.2 recommends servers allow at least 100. Before its first
# SETTINGS arrive only the stream of the request that opened the connection
# goes out, so a burst of requests never opens more streams than a server
# with a lower limit allows (it would refuse the rest).
ASSUMED_STREAMS = 100

# Statuses defined to have no content (RFC 9110 sections 15.3.5, 15.4.5).
_BODILESS = frozenset({b"204", b"304"})


class _Stream(h2.stream.H2Stream):
    """h2's stream, which knows that a 204 or 304 has no content whatever its length says.

    RFC 9113 section 8.1.1: a response defined to have no content can carry
    a non-zero content-length (a 304 names the length of the representation
    it stands for, RFC 9110 section 8.6). h2 excuses only the response to
    HEAD and counts the rest against the length: a server that ends such a
    response with an empty DATA frame (hypercorn does) was an
    InvalidBodyLengthError, a ProtocolError of the whole connection, which
    failed every stream on it. Here, as for HEAD, no content is expected.
    """

    __slots__ = ()

    def _initialize_content_length(self, headers: Any) -> None:
        super()._initialize_content_length(headers)
        if self._expected_content_length:
            for name, value in headers:
                if name == b":status":
                    if value in _BODILESS:
                        self._expected_content_length = 0
                    break


class _H2Connection(h2.connection.H2Connection):
    def _begin_new_stream(
        self, stream_id: int, allowed_ids: h2.connection.AllowedStreamIDs
    ) -> h2.stream.H2Stream:
        stream = super()._begin_new_stream(stream_id, allowed_ids)
        stream.__class__ = _Stream
        return stream


def new_engine() -> h2.connection.H2Connection:
    """A client h2 state machine with the corrections above.

    Header values were checked (no CR, LF, NUL) when the session built the
    block, so h2's own outbound validation is off; what the server sends is
    validated.
    """
    config = h2.config.H2Configuration(
        client_side=True,
        header_encoding=None,
        validate_outbound_headers=False,
        normalize_outbound_headers=False,
        validate_inbound_headers=True,
    )
    return _H2Connection(config=config)


def preface(conn: h2.connection.H2Connection, max_head_size: int) -> bytes:
    """The connection preface and our SETTINGS, with the connection window opened.

    *max_head_size* is sent as SETTINGS_MAX_HEADER_LIST_SIZE and enforced
    on receipt.
    """
    conn.local_settings = h2.settings.Settings(
        client=True,
        initial_values={
            h2.settings.SettingCodes.ENABLE_PUSH: 0,
            h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 100,
            h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: _STREAM_WINDOW,
            h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE: max_head_size,
        },
    )
    # h2 applies MAX_HEADER_LIST_SIZE to its decoder only when an ACK
    # changes it, and settings given as initial values never change: the
    # limit is set here. Our SETTINGS go first, so the server knows it
    # before it answers anything (RFC 9113 section 6.5.2).
    conn.decoder.max_header_list_size = max_head_size
    conn.initiate_connection()
    conn.increment_flow_control_window(_CONNECTION_WINDOW - 65535)
    return conn.data_to_send()


def survive_goaway(conn: h2.connection.H2Connection, keep: bytearray) -> None:
    """Let the streams a GOAWAY spares finish, whatever the h2 4.x release.

    h2 moves its state machine to CLOSED on any GOAWAY and drops what it had
    queued to send; every later frame then raises ProtocolError, even one
    read in the same ``receive_data`` call as the GOAWAY (a server's GOAWAY
    and the rest of its responses often arrive together). RFC 9113 section
    6.8 lets the streams at or below ``last_stream_id`` complete, so h2's
    GOAWAY handler is wrapped: what h2 had queued goes to *keep* (the
    writer's buffer) first, and the state machine is open again before the
    next frame. No stream is started on a connection that got a GOAWAY.
    """
    table = conn._frame_dispatch_table
    receive_goaway = table[hyperframe.frame.GoAwayFrame]

    def receive(frame: hyperframe.frame.GoAwayFrame) -> Any:
        keep.extend(conn.data_to_send())
        result = receive_goaway(frame)
        conn.state_machine.state = h2.connection.ConnectionState.CLIENT_OPEN
        return result

    table[hyperframe.frame.GoAwayFrame] = receive


class FrameLengths:
    """Frame boundaries in what the server sends, to refuse an overlong frame early.

    h2 checks a frame's length against SETTINGS_MAX_FRAME_SIZE only once
    the whole frame is in, so garbage whose first bytes read as a header
    announcing megabytes (RFC 9113 section 4.2: a FRAME_SIZE_ERROR) would
    leave every stream waiting for bytes that never come. This follows the
    9-byte frame headers across reads and says no as soon as one is in.
    """

    __slots__ = ("_head", "_skip", "overlong")

    def __init__(self) -> None:
        self._skip = 0  # bytes of the current frame's payload still to come
        self._head = b""  # the start of a frame header split across reads
        self.overlong = 0  # the length announced by the overlong frame

    def feed(self, data: bytes, limit: int) -> bool:
        """Take the next bytes read; False when a frame header announces over *limit*."""
        size = len(data)
        at = self._skip
        if self._head:
            taken = 9 - len(self._head)
            head = self._head + data[:taken]
            if len(head) < 9:
                self._head = head
                return True
            self._head = b""
            length = int.from_bytes(head[:3], "big")
            if length > limit:
                self.overlong = length
                return False
            at = taken + length
        while at + 9 <= size:
            length = int.from_bytes(data[at : at + 3], "big")
            if length > limit:
                self.overlong = length
                return False
            at += 9 + length
        if at < size:
            self._head = data[at:]
            self._skip = 0
        else:
            self._skip = at - size
        return True
