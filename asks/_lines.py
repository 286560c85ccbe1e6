"""Cutting a streamed body into text, lines or fixed-size chunks.

Pure logic, no I/O: each cutter is fed the body's pieces as they arrive
(however the network split them) and hands back what is complete, and
``flush`` gives what is left at the end. The result never depends on where
the pieces were split, which is what the tests check by feeding every input
in every split. :mod:`asks._stream_views` puts these behind async iterators.
"""

from __future__ import annotations

import codecs
import re
from typing import AnyStr, Generic

from ._numbers import check_int
from .errors import LineTooLong

__all__ = [
    "DEFAULT_MAX_LINE_LENGTH",
    "LineSplitter",
    "Rechunker",
    "TextDecoder",
    "byte_line_splitter",
    "check_size",
    "text_line_splitter",
]

#: The longest line ``lines()`` accepts unless told otherwise: 64 KiB holds
#: any log line, CSV row or JSON record a stream is normally cut into, and
#: bounds what a server that never sends a line end can make the caller keep.
DEFAULT_MAX_LINE_LENGTH = 64 * 1024

# The three line ends of Python's universal newlines and of the HTML
# standard's text/event-stream (section 9.2.5, "end-of-line"): CR LF, a lone
# LF and a lone CR. Only these: str.splitlines() would also cut at form
# feeds, U+2028 and other separators no line protocol uses.
# The longest match comes first, so CR LF in one piece is one end.
_TEXT_ENDS = re.compile(r"\r\n?|\n")
_BYTE_ENDS = re.compile(rb"\r\n?|\n")


def check_size(value: object, name: str) -> int:
    """*value* as a positive int, or the error a wrong argument deserves.

    Args:
        value: what the caller passed.
        name: the argument's name, for the message.

    Returns:
        The value.

    Raises:
        TypeError: not an int (``bool`` included: ``True`` is no size).
        ValueError: zero or negative.
    """
    value = check_int(value, name)
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")
    return value


class TextDecoder:
    """Decodes byte pieces into text with *encoding*, replacing bad bytes.

    Incremental, so a multi-byte character split between two pieces comes
    out whole once its last byte arrives; ``errors="replace"`` as
    ``Response.text`` does, so a bad byte becomes U+FFFD rather than an
    error in the middle of a stream, and so does a character the body
    leaves incomplete at its end.

    Args:
        encoding: a text encoding Python knows, e.g. ``"utf-8"``.

    Raises:
        ValueError: *encoding* is unknown, or a codec that is not a text
            encoding (``base64``, ``rot13``...).
    """

    def __init__(self, encoding: str) -> None:
        try:
            info = codecs.lookup(encoding)
        except LookupError:
            raise ValueError(f"unknown text encoding {encoding!r}") from None
        if not getattr(info, "_is_text_encoding", True):
            raise ValueError(f"{encoding!r} is not a text encoding")
        self.encoding = info.name
        self._decoder = info.incrementaldecoder(errors="replace")

    def feed(self, data: bytes) -> list[str]:
        """Take the next piece; return its text (nothing if none is complete yet)."""
        text = self._decoder.decode(data)
        return [text] if text else []

    def flush(self) -> list[str]:
        """What is left at the end (U+FFFD for an incomplete character)."""
        text = self._decoder.decode(b"", True)
        return [text] if text else []


class LineSplitter(Generic[AnyStr]):
    """Cuts a stream of ``str`` or ``bytes`` pieces into lines.

    A line ends at CR LF, LF or CR; the end is not part of the line. A CR
    that ends one piece and an LF that starts the next are one line end: the
    line is handed over at the CR (a caller reading an interactive stream
    should not wait for the next piece) and the LF is then skipped. A last
    line without an end is still a line; an empty body has none
    (``bytes.splitlines`` gives the same lines for the same input).

    Memory is bounded: a line longer than *max_length* (its end not
    counted) raises :class:`asks.errors.LineTooLong` as soon as that many
    have been kept, whatever the split, instead of waiting for an end a
    server may never send.
    """

    def __init__(
        self, ends: re.Pattern[AnyStr], cr: AnyStr, lf: AnyStr, max_length: int, what: str
    ) -> None:
        self._ends: re.Pattern[AnyStr] = ends
        self._cr: AnyStr = cr
        self._lf: AnyStr = lf
        self._empty: AnyStr = cr[:0]
        self._max = max_length
        self._what = what
        self._pending: list[AnyStr] = []  # the start of a line not ended yet
        self._held = 0  # the length of _pending together
        self._after_cr = False  # the last piece ended with CR: skip one LF

    def feed(self, data: AnyStr) -> list[AnyStr]:
        """Take the next piece; return the lines it completes, in order.

        Raises:
            LineTooLong: a line is over the limit.
        """
        if self._after_cr and data:
            self._after_cr = False
            if data[:1] == self._lf:
                data = data[1:]
        if not data:
            return []
        parts: list[AnyStr] = self._ends.split(data)
        # A CR at the very end may be the first half of CR LF.
        self._after_cr = data.endswith(self._cr)
        tail = parts.pop()
        if parts:
            if self._pending:
                self._pending.append(parts[0])
                parts[0] = self._empty.join(self._pending)
                self._pending = []
                self._held = 0
            if max(map(len, parts)) > self._max:
                raise self._too_long()
        if tail:
            self._held += len(tail)
            if self._held > self._max:
                raise self._too_long()
            self._pending.append(tail)
        return parts

    def flush(self) -> list[AnyStr]:
        """The last line, if the body did not end with a line end."""
        self._after_cr = False
        if not self._pending:
            return []
        line = self._empty.join(self._pending)
        self._pending = []
        self._held = 0
        return [line]

    def _too_long(self) -> LineTooLong:
        return LineTooLong(f"{self._what}a line is longer than {self._max:,} {self._unit}")

    @property
    def _unit(self) -> str:
        return "bytes" if isinstance(self._cr, bytes) else "characters"


def text_line_splitter(max_length: int, what: str = "") -> LineSplitter[str]:
    """A :class:`LineSplitter` for decoded text; *max_length* in characters.

    Args:
        max_length: the longest line accepted.
        what: a prefix for the error message (the request, ``"GET url: "``).

    Returns:
        The splitter.
    """
    return LineSplitter(_TEXT_ENDS, "\r", "\n", max_length, what)


def byte_line_splitter(max_length: int, what: str = "") -> LineSplitter[bytes]:
    """A :class:`LineSplitter` for bytes; *max_length* in bytes.

    Args:
        max_length: the longest line accepted.
        what: a prefix for the error message (the request, ``"GET url: "``).

    Returns:
        The splitter.
    """
    return LineSplitter(_BYTE_ENDS, b"\r", b"\n", max_length, what)


class Rechunker:
    """Regroups byte pieces into chunks of exactly *size* bytes.

    Every chunk has *size* bytes except the last, which has what is left
    (one to *size* bytes; never an empty chunk). At most ``size - 1`` bytes
    wait between pieces, plus the piece being cut.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        """Take the next piece; return the whole chunks now available."""
        size = self._size
        buf = self._buf
        if not buf and len(data) == size:
            # Pieces that already have the size pass without a copy.
            return [data]
        buf += data
        whole = len(buf) - len(buf) % size
        if not whole:
            return []
        out = [bytes(buf[i : i + size]) for i in range(0, whole, size)]
        del buf[:whole]
        return out

    def flush(self) -> list[bytes]:
        """The last, shorter chunk, if bytes are left."""
        if not self._buf:
            return []
        last = bytes(self._buf)
        self._buf.clear()
        return [last]
