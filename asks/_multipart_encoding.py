"""The wire form of a ``multipart/form-data`` body (RFC 7578, RFC 2046 section 5.1).

Each part's header lines (its name and filename as quoted strings, its
Content-Type), the boundary's rules, and the layout of the whole body as
segments: bytes ready to go, merged where small, and the files
(:class:`~._multipart_files.Source`) read while it is sent. Which value
becomes which part is :mod:`asks.multipart`'s business.
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Mapping
from typing import NamedTuple

from ._headers import TOKEN, check_header_text, encode_value
from ._multipart_files import Source

__all__ = [
    "BOUNDARY_RE",
    "FORBIDDEN",
    "OCTET_STREAM",
    "TOKEN_RE",
    "Part",
    "Segment",
    "guess_type",
    "layout",
    "occurs_in",
    "part_head",
    "part_headers",
]

# In-memory values at least this large stay separate pieces of the body
# instead of being copied into one buffer with their neighbours.
_MERGE_LIMIT = 65536

OCTET_STREAM = "application/octet-stream"

# mimetypes reports compressed files as (type of the content, encoding); what
# is uploaded is the compressed file itself.
_COMPRESSED_TYPES = {
    "gzip": "application/gzip",
    "bzip2": "application/x-bzip2",
    "xz": "application/x-xz",
    "compress": "application/x-compress",
}

# RFC 2046 section 5.1.1: 1 to 70 of these, not ending in a space.
BOUNDARY_RE = re.compile(r"[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]")
TOKEN_RE = re.compile(r"[0-9A-Za-z!#$%&'*+\-.^_`|~]+")
FORBIDDEN = re.compile(r"[\r\n\x00]")

Segment = bytes | Source


class Part(NamedTuple):
    name: str
    content: bytes | Source
    filename: str | None
    content_type: str | None
    # More header lines of the part, checked and encoded (part_headers).
    headers: tuple[bytes, ...] = ()


# The part's own header fields, which asks writes from the field's name, the
# filename and the content type: a caller's copy would make a second one.
_WRITTEN = frozenset({"content-disposition", "content-type"})


def part_headers(field: str, headers: object) -> tuple[bytes, ...]:
    """The fourth item of a requests-style tuple, as the part's extra header lines.

    Names must be tokens and values field values (RFC 9110 sections 5.6.2
    and 5.5: Latin-1, no control characters; spaces around a value are
    dropped), as for a request's own headers: a part's header block is a
    header block (RFC 7578 section 4.8, RFC 2046 section 5.1.1), and a CR or
    LF would end it early and let the value write the part's content.

    Raises:
        TypeError: *headers* is not a mapping of str to str.
        ValueError: a name that is not a token, a value that cannot be sent,
            or ``Content-Disposition`` or ``Content-Type``, which asks writes
            (from the field's name, the filename and the tuple's third item).
    """
    if headers is None:
        return ()
    if not isinstance(headers, Mapping):
        raise TypeError(
            f"multipart field {field!r}: a tuple's fourth item is a mapping of header "
            f"names to values, not {type(headers).__name__}"
        )
    lines = []
    for name, value in headers.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise TypeError(
                f"multipart field {field!r}: part header names and values must be str, "
                f"not {type(name).__name__}: {type(value).__name__}"
            )
        check_header_text(f"multipart field {field!r}: a part header name", name)
        if not TOKEN.fullmatch(name):
            raise ValueError(f"multipart field {field!r}: invalid part header name: {name!r}")
        if name.lower() in _WRITTEN:
            raise ValueError(
                f"multipart field {field!r}: the part header {name!r} is asks' own, "
                "written from the field's name, the filename and the tuple's third item "
                "(the content type); it cannot be given twice"
            )
        # (Messages name the header, never its value, as for request headers.)
        check_header_text(f"multipart field {field!r}: part header {name!r}", value)
        data = encode_value(name, value)
        lines.append(name.encode("ascii") + b": " + data + b"\r\n")
    return tuple(lines)


def _header_text(value: str, what: str, encoding: str) -> bytes:
    """A name or filename as the inside of a quoted string."""
    if FORBIDDEN.search(value):
        raise ValueError(f"multipart {what} must not contain CR, LF or NUL: {value!r}")
    escaped = value.replace("\\", "\\\\").replace('"', "%22")
    return escaped.encode(encoding, "surrogateescape")


def part_head(part: Part, encoding: str = "utf-8") -> bytes:
    """The part's header lines, names and types encoded with *encoding*."""
    head = b'Content-Disposition: form-data; name="' + _header_text(
        part.name, "field name", encoding
    )
    if part.filename is not None:
        head += b'"; filename="' + _header_text(part.filename, "filename", encoding)
    head += b'"\r\n'
    if part.content_type is not None:
        if FORBIDDEN.search(part.content_type):
            raise ValueError(
                f"multipart content type must not contain CR, LF or NUL: {part.content_type!r}"
            )
        head += b"Content-Type: " + part.content_type.encode(encoding) + b"\r\n"
    if part.headers:
        # After the two asks writes, in the caller's order (as requests).
        head += b"".join(part.headers)
    return head + b"\r\n"


def guess_type(filename: str) -> str:
    mime, compression = mimetypes.guess_type(filename)
    if compression is not None:
        return _COMPRESSED_TYPES.get(compression, OCTET_STREAM)
    return mime or OCTET_STREAM


def occurs_in(marker: bytes, parts: list[Part], heads: list[bytes]) -> bool:
    """Whether *marker* is in a head or an in-memory content (files are not read)."""
    in_memory = heads + [part.content for part in parts if isinstance(part.content, bytes)]
    return any(marker in piece for piece in in_memory)


def layout(parts: list[Part], heads: list[bytes], marker: bytes) -> list[Segment]:
    """The body as segments: delimiters, heads and contents (RFC 2046 section 5.1.1)."""
    delimiter = b"--" + marker + b"\r\n"
    segments: list[Segment] = []
    pending: list[bytes] = []

    def flush() -> None:
        if pending:
            segments.append(b"".join(pending))
            pending.clear()

    for part, head in zip(parts, heads, strict=True):
        pending += (delimiter, head)
        if isinstance(part.content, bytes) and len(part.content) < _MERGE_LIMIT:
            pending.append(part.content)
        else:
            flush()
            segments.append(part.content)
        pending.append(b"\r\n")
    pending.append(b"--" + marker + b"--\r\n")
    flush()
    return segments
