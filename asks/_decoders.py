"""Content-Encoding decoders and the choice of text charset.

Decoders are incremental (feed pieces, get pieces) so a streamed body is
decoded in constant memory, and every decoder is flushed at the end so the
last bytes are not lost. Each call is bounded: a decoder never returns more
than ``max_size`` bytes in total, so a small compressed body that expands to
gigabytes (a decompression bomb) raises instead of exhausting memory.

``br`` and ``zstd`` work when their optional packages are installed
(``asks[brotli]``, ``asks[zstd]``); they are only advertised in
Accept-Encoding then.
"""

from __future__ import annotations

import codecs
import importlib
import importlib.util
import zlib
from typing import Any, Protocol

from .errors import DecodingError, ResponseTooLarge

__all__ = [
    "ACCEPT_ENCODING",
    "Decoder",
    "charset_from_content_type",
    "make_decoder",
]


def _installed(name: str) -> bool:
    # Only looked up, not imported: brotli and zstandard cost milliseconds
    # to import, and most responses are gzip or nothing (see the import
    # time notes in docs/performance.md). They are imported on first use.
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # pragma: no cover - a broken install
        return False


class _Codec(Protocol):
    """One coding undone incrementally, its output bounded per read.

    ``feed`` hands over compressed input; ``read(n)`` returns at most about
    *n* decoded bytes, or ``b""`` once it needs more input; ``finish`` checks
    that the stream ended where the format says it ends.
    """

    def feed(self, data: bytes) -> None: ...
    def read(self, limit: int) -> bytes: ...
    def finish(self) -> None: ...


class _Zlib:
    """gzip (every member), and deflate in both its zlib-wrapped and raw forms."""

    def __init__(self, gzip: bool) -> None:
        self._gzip = gzip
        # 16 + MAX_WBITS: gzip header and trailer; MAX_WBITS: zlib-wrapped.
        self._obj: Any = zlib.decompressobj(16 + zlib.MAX_WBITS if gzip else zlib.MAX_WBITS)
        self._first = True
        self._pending = b""
        self._between = False  # a gzip member ended: what follows starts one, or is junk
        self._trailing = False  # bytes after the last member: ignored

    def feed(self, data: bytes) -> None:
        if self._trailing:
            return
        if self._first and data:
            self._first = False
            if not self._gzip and (data[0] & 0x0F) != 8:
                # Not a zlib header: many servers send raw DEFLATE under
                # "deflate" (RFC 9110 section 8.4.1.2 means zlib; reality
                # differs).
                self._obj = zlib.decompressobj(-zlib.MAX_WBITS)
        self._pending = self._pending + data if self._pending else data

    def read(self, limit: int) -> bytes:
        while self._pending:
            if self._between:
                pending = self._pending
                if pending == b"\x1f":
                    return b""  # the next member's magic, split across pieces
                if not pending.startswith(b"\x1f\x8b"):
                    # Bytes after a complete, checked member that start no
                    # other (RFC 1952 section 2.2 knows only members): zero
                    # padding or junk, which gzip(1), urllib3 and browsers
                    # ignore. The body before them is whole.
                    self._trailing = True
                    self._pending = b""
                    return b""
                self._between = False
            # max_length bounds the output: a bomb is inflated only as far as
            # it is read, never all at once.
            out = self._obj.decompress(self._pending, limit)
            self._pending = self._obj.unconsumed_tail
            if self._gzip and self._obj.eof and self._obj.unused_data:
                # Several gzip members back to back (RFC 1952 section 2.2).
                self._pending = self._obj.unused_data
                self._obj = zlib.decompressobj(16 + zlib.MAX_WBITS)
                self._between = True
            if out:
                return bytes(out)
        return b""

    def finish(self) -> None:
        if self._between or self._trailing:
            return  # a member ended, and nothing but junk came after it
        if not self._first and not self._obj.eof:
            raise zlib.error("compressed data ended before the end-of-stream marker")


class _Brotli:
    def __init__(self) -> None:
        self._obj = importlib.import_module("brotli").Decompressor()
        self._pending = b""

    def feed(self, data: bytes) -> None:
        self._pending += data

    def read(self, limit: int) -> bytes:
        obj = self._obj
        data = b""
        if self._pending and obj.can_accept_more_data():
            data, self._pending = self._pending, b""
        elif obj.is_finished():
            return b""
        # With no new input this still runs: output held back by the last
        # limit comes first, and can_accept_more_data() turns True once the
        # decoder has taken in all its input, not once it has handed out all
        # its output. Returning b"" there would end a body that decodes to
        # more than a few pieces early (RFC 7932 section 9.2: the stream ends
        # only at its ISLAST meta-block), a valid body then failing finish().
        return bytes(obj.process(data, output_buffer_limit=limit))

    def finish(self) -> None:
        if not self._obj.is_finished():
            raise ValueError("brotli stream ended early")


class _Zstd:
    # zstandard's decompressobj cannot bound its output, so input is fed in
    # small slices: the output of one slice is bounded by the format's block
    # size, not by how much compressed data arrived at once.
    _SLICE = 64

    def __init__(self) -> None:
        self._new()
        self._pending = b""
        # Where the next slice of _pending starts. Taking the rest as a new
        # bytes object at every slice copied it each time: a body of n bytes
        # cost n * n / 128 bytes of copying (seconds for a few MiB fed whole,
        # as Response.content does).
        self._at = 0

    def _new(self) -> None:
        self._obj = importlib.import_module("zstandard").ZstdDecompressor().decompressobj()
        self._fed = False

    def feed(self, data: bytes) -> None:
        if self._at:
            self._pending, self._at = self._pending[self._at :], 0
        self._pending += data

    def read(self, limit: int) -> bytes:
        pending = self._pending
        while self._at < len(pending):
            start = self._at
            self._at = start + self._SLICE
            piece = pending[start : self._at]
            if self._obj.eof:
                # Several frames back to back: each one its own decompressor.
                self._new()
            self._fed = True
            out = self._obj.decompress(piece)
            if self._obj.eof and self._obj.unused_data:
                pending = self._pending = self._obj.unused_data + pending[self._at :]
                self._at = 0
            if out:
                return bytes(out)
        self._pending, self._at = b"", 0
        return b""

    def finish(self) -> None:
        if self._fed and not self._obj.eof:
            raise ValueError("zstd stream ended early")


def _available() -> dict[str, Any]:
    table: dict[str, Any] = {
        "gzip": lambda: _Zlib(gzip=True),
        "x-gzip": lambda: _Zlib(gzip=True),
        "deflate": lambda: _Zlib(gzip=False),
    }
    if _installed("brotli"):
        table["br"] = _Brotli
    if _installed("zstandard"):
        table["zstd"] = _Zstd
    return table


_CODECS = _available()
ACCEPT_ENCODING = ", ".join(k for k in _CODECS if k != "x-gzip")


# Decoded bytes are produced in pieces of at most this size, so one
# compressed read that expands a thousandfold never lands in memory at once.
PIECE = 256 * 1024


class Decoder:
    """Undo a Content-Encoding (possibly a chain) piece by piece.

    Feed compressed data with :meth:`feed`, take decoded pieces with
    :meth:`read` until it returns ``b""``, and call :meth:`finish` at the end
    of the body. :meth:`decode` and :meth:`flush` do both at once for buffered
    bodies.

    Args:
        codings: the codings in the order the server applied them.
        max_size: the most decoded bytes this decoder will produce.
    """

    def __init__(self, codings: list[str], max_size: int | None) -> None:
        # The server applied them left to right, so undo them right to left
        # (RFC 9110 section 8.4): _chain[0] sees the bytes off the wire.
        self._chain: list[_Codec] = [_CODECS[c]() for c in reversed(codings)]
        self._max = max_size
        self._total = 0

    def feed(self, data: bytes) -> None:
        """Hand over compressed bytes."""
        if data:
            self._chain[0].feed(data)

    def read(self) -> bytes:
        """The next decoded piece (at most :data:`PIECE` bytes), or ``b""`` for more input.

        Raises:
            DecodingError: corrupt data.
            ResponseTooLarge: more than ``max_size`` bytes decoded.
        """
        limit = PIECE
        if self._max is not None:
            # One byte past the budget is enough to know it was exceeded.
            limit = max(1, min(limit, self._max - self._total + 1))
        try:
            out = self._pull(len(self._chain) - 1, limit)
        except (DecodingError, ResponseTooLarge):
            raise
        except Exception as exc:  # zlib.error, brotli.error, ZstdError, ValueError
            raise DecodingError(f"could not decode the response body: {exc}") from exc
        self._total += len(out)
        if self._max is not None and self._total > self._max:
            raise ResponseTooLarge(
                f"decoded body exceeds the limit of {self._max} bytes (max_decoded_size)"
            )
        return out

    def _pull(self, stage: int, limit: int) -> bytes:
        codec = self._chain[stage]
        while True:
            out = codec.read(limit)
            if out or stage == 0:
                return out
            upstream = self._pull(stage - 1, PIECE)
            if not upstream:
                return b""
            codec.feed(upstream)

    def finish(self) -> None:
        """Check every coding ended properly (a truncated body is an error)."""
        try:
            for codec in self._chain:
                codec.finish()
        except Exception as exc:
            raise DecodingError(f"could not decode the response body: {exc}") from exc

    def decode(self, data: bytes) -> bytes:
        """Feed *data* and return everything it decodes to (bounded by ``max_size``)."""
        self.feed(data)
        pieces = []
        while piece := self.read():
            pieces.append(piece)
        return b"".join(pieces)

    def flush(self) -> bytes:
        """End of the body: check it was complete. Returns ``b""`` (kept for symmetry)."""
        self.finish()
        return b""


def make_decoder(content_encoding: str, max_size: int | None) -> Decoder | None:
    """A decoder for a Content-Encoding header value, or None for identity.

    Raises:
        DecodingError: a coding asks cannot undo.
    """
    codings = [c.strip().lower() for c in content_encoding.split(",")]
    codings = [c for c in codings if c and c != "identity"]
    if not codings:
        return None
    unknown = [c for c in codings if c not in _CODECS]
    if unknown:
        hint = ""
        if "br" in unknown or "zstd" in unknown:
            hint = " (install asks[brotli] or asks[zstd])"
        raise DecodingError(f"unsupported Content-Encoding {', '.join(unknown)}{hint}")
    return Decoder(codings, max_size)


def content_type_param(content_type: str, name: str) -> str | None:
    """The parameter *name* of a Content-Type value, unquoted; None if absent.

    Parameters are parsed properly (quotes, case, other parameters around
    it) by email's parser, which handles quoting and RFC 2231; it is
    imported here, on first use, because importing it costs more than the
    rest of asks' own modules together.
    """
    from email.message import Message

    msg = Message()
    msg["content-type"] = content_type
    value = msg.get_param(name)
    return value if isinstance(value, str) else None


def charset_from_content_type(content_type: str | None) -> str | None:
    """The charset parameter of a Content-Type value, if it names a known codec.

    An unknown charset is ignored so the fallback encoding applies.
    """
    if not content_type:
        return None
    charset = content_type_param(content_type, "charset")
    if not charset:
        return None
    charset = charset.strip().strip("'\"")
    try:
        info = codecs.lookup(charset)
    except LookupError:
        return None
    # base64, rot13 and friends are codecs but not text encodings.
    return info.name if getattr(info, "_is_text_encoding", True) else None
