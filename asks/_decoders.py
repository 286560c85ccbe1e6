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
import zlib
from email.message import Message
from typing import Any, Protocol

from .errors import DecodingError, ResponseTooLarge

__all__ = [
    "ACCEPT_ENCODING",
    "Decoder",
    "charset_from_content_type",
    "make_decoder",
]

import importlib


def _optional(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:  # pragma: no cover - depends on the extra
        return None


_brotli = _optional("brotli")
_zstd = _optional("zstandard")


class _Codec(Protocol):
    def decode(self, data: bytes) -> bytes: ...
    def flush(self) -> bytes: ...


class _Zlib:
    """gzip, and deflate in both its zlib-wrapped and raw forms."""

    def __init__(self, gzip: bool) -> None:
        self._gzip = gzip
        # 16 + MAX_WBITS: gzip header and trailer; MAX_WBITS: zlib-wrapped.
        self._obj: Any = zlib.decompressobj(16 + zlib.MAX_WBITS if gzip else zlib.MAX_WBITS)
        self._first = True

    def decode(self, data: bytes) -> bytes:
        if self._first and data:
            self._first = False
            if not self._gzip and (data[0] & 0x0F) != 8:
                # Not a zlib header: many servers send raw DEFLATE under
                # "deflate" (RFC 9110 section 8.4.1.2 means zlib; reality
                # differs).
                self._obj = zlib.decompressobj(-zlib.MAX_WBITS)
        return bytes(self._obj.decompress(data))

    def flush(self) -> bytes:
        out = bytes(self._obj.flush())
        if not self._first and not self._obj.eof:
            raise zlib.error("compressed data ended before the end-of-stream marker")
        return out


class _Brotli:
    def __init__(self) -> None:
        self._obj = _brotli.Decompressor()

    def decode(self, data: bytes) -> bytes:
        return bytes(self._obj.process(data))

    def flush(self) -> bytes:
        if not self._obj.is_finished():
            raise ValueError("brotli stream ended early")
        return b""


class _Zstd:
    def __init__(self) -> None:
        self._obj = _zstd.ZstdDecompressor().decompressobj()

    def decode(self, data: bytes) -> bytes:
        return bytes(self._obj.decompress(data))

    def flush(self) -> bytes:
        return b""


def _available() -> dict[str, Any]:
    table: dict[str, Any] = {
        "gzip": lambda: _Zlib(gzip=True),
        "x-gzip": lambda: _Zlib(gzip=True),
        "deflate": lambda: _Zlib(gzip=False),
    }
    if _brotli is not None:
        table["br"] = _Brotli
    if _zstd is not None:
        table["zstd"] = _Zstd
    return table


_CODECS = _available()
ACCEPT_ENCODING = ", ".join(k for k in _CODECS if k != "x-gzip")


class Decoder:
    """Undo a Content-Encoding (possibly a chain) piece by piece.

    Args:
        codings: the codings in the order the server applied them.
        max_size: the most decoded bytes this decoder will produce.
    """

    def __init__(self, codings: list[str], max_size: int | None) -> None:
        # The server applied them left to right, so undo them right to left
        # (RFC 9110 section 8.4).
        self._chain: list[_Codec] = [_CODECS[c]() for c in reversed(codings)]
        self._max = max_size
        self._total = 0

    def _count(self, out: bytes) -> bytes:
        self._total += len(out)
        if self._max is not None and self._total > self._max:
            raise ResponseTooLarge(
                f"decoded body exceeds the limit of {self._max} bytes (max_decoded_size)"
            )
        return out

    def decode(self, data: bytes) -> bytes:
        try:
            for codec in self._chain:
                data = codec.decode(data)
        except (zlib.error, ValueError, OSError) as exc:
            raise DecodingError(f"could not decode the response body: {exc}") from exc
        except Exception as exc:  # brotli.error, zstd.ZstdError are not ValueErrors
            raise DecodingError(f"could not decode the response body: {exc}") from exc
        return self._count(data)

    def flush(self) -> bytes:
        out = b""
        try:
            for codec in self._chain:
                out = codec.decode(out) if out else b""
                out += codec.flush()
        except Exception as exc:
            raise DecodingError(f"could not decode the response body: {exc}") from exc
        return self._count(out)


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


def charset_from_content_type(content_type: str | None) -> str | None:
    """The charset parameter of a Content-Type value, if it names a known codec.

    Parameters are parsed properly (quotes, case, other parameters around
    it); an unknown charset is ignored so the fallback encoding applies.
    """
    if not content_type:
        return None
    msg = Message()
    msg["content-type"] = content_type
    charset = msg.get_param("charset")
    if not isinstance(charset, str) or not charset:
        return None
    charset = charset.strip().strip("'\"")
    try:
        return codecs.lookup(charset).name
    except LookupError:
        return None
