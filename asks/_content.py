"""Request bodies: ``data``, ``json``, ``multipart`` and ``files`` into a :class:`Body`.

No I/O happens here beyond ``os.fstat`` to learn a file's length: reading is
done later, piece by piece, while the request is sent. A body knows

* its length, if it can be known up front - then it is sent with
  Content-Length; otherwise with ``Transfer-Encoding: chunked``;
* whether it can be produced a second time (``replayable``) - which decides
  whether a 307/308 redirect, an auth retry or a retry on a dead connection
  may send it again.

h11 enforces the framing: it refuses to send more or fewer bytes than the
Content-Length announced.
"""

from __future__ import annotations

import inspect
import os
import stat
from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping
from typing import Any, NamedTuple
from urllib.parse import urlencode

__all__ = ["MISSING", "Body", "encode_body"]

MISSING: Any = object()

# Files are read in pieces of this size: big enough that per-read overhead
# vanishes, small enough that memory stays flat.
_FILE_PIECE = 65536


class Body(NamedTuple):
    """A request body: in memory (``content``) or produced by ``stream()``."""

    content: bytes | None
    stream: Callable[[], AsyncIterator[bytes]] | None
    length: int | None
    content_type: str | None
    replayable: bool
    # For a one-shot source: whether it has been read from yet. A body
    # never read (its send was withheld: Expect: 100-continue answered with
    # a final status, or the connection died before it) can still go once.
    pulled: Callable[[], bool] | None = None

    def can_send_again(self) -> bool:
        """Whether a second send can produce the same body."""
        return self.replayable or (self.pulled is not None and not self.pulled())


def _memory(content: bytes, content_type: str | None) -> Body:
    return Body(content, None, len(content), content_type, True)


def encode_body(
    data: Any = None,
    json: Any = MISSING,
    multipart: Any = None,
    files: Any = None,
    encoding: str = "utf-8",
    boundary: str | None = None,
) -> Body | None:
    """Turn the body arguments of a call into a :class:`Body`; None if there is none.

    Args:
        data: a mapping (form-encoded), ``str`` (encoded with *encoding*),
            bytes, an async iterable of bytes, or a binary file object.
        json: any JSON-serialisable value; ``{}`` and ``[]`` are bodies too.
        multipart: a mapping for ``multipart/form-data`` (see asks.multipart).
        files: asks' older multipart API.
        encoding: the text encoding for ``str`` data and form fields.
        boundary: the multipart boundary, when the caller's Content-Type
            chose it (random otherwise).

    Raises:
        TypeError: more than one body argument, or a value that cannot be a body.
    """
    if type(data) is bytes and json is MISSING and multipart is None and files is None:
        # The common upload, checked first: bytes are sent as they are.
        return _memory(data, None)
    given = [
        name
        for name, value in (("data", data), ("multipart", multipart), ("files", files))
        if value is not None
    ]
    if json is not MISSING:
        given.append("json")
    if len(given) > 1:
        raise TypeError(f"{' and '.join(given)} are mutually exclusive")
    if json is not MISSING:
        return _memory(_json_bytes(json), "application/json")
    if multipart is not None or files is not None:
        from .multipart import build_files, build_multipart

        mp = (
            build_multipart(multipart, encoding, boundary)
            if multipart is not None
            else build_files(files, encoding, boundary)
        )
        return Body(None, mp.chunks, mp.length, mp.content_type, mp.replayable)
    if data is None:
        return None
    if isinstance(data, bytes | bytearray | memoryview):
        return _memory(bytes(data), None)
    if isinstance(data, str):
        # Like requests: a str body gets no Content-Type of our choosing.
        return _memory(data.encode(encoding), None)
    if isinstance(data, Mapping):
        form = urlencode(list(_form_pairs(data)), encoding=encoding)
        return _memory(form.encode("ascii"), "application/x-www-form-urlencoded")
    if hasattr(data, "read"):
        return _file_body(data)
    if isinstance(data, AsyncIterable):
        return _one_shot(data)
    raise TypeError(
        "data must be bytes, str, a mapping, a binary file or an async iterable of bytes, "
        f"not {type(data).__name__}"
    )


def _json_bytes(value: Any) -> bytes:
    """*value* as RFC 8259 JSON text in UTF-8 (section 8.1)."""
    import json as _json  # on first use: see docs/performance.md, import time

    try:
        # RFC 8259 section 6 has no NaN or Infinity: Python's own "NaN"
        # tokens are refused by strict parsers (JavaScript's JSON.parse,
        # Go, serde), so they are an error here, as in requests and httpx.
        text = _json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except ValueError as exc:  # NaN or Infinity, or a circular reference
        raise ValueError(
            f"json= is not valid JSON (no NaN, Infinity or circular references): {exc}"
        ) from None
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate has no UTF-8 form; as a \u escape it is still
        # well-formed JSON (RFC 8259 section 8.2), what requests sends.
        return _json.dumps(value, separators=(",", ":"), allow_nan=False).encode("ascii")


def _form_pairs(data: Mapping[Any, Any]) -> Any:
    for key, value in data.items():
        # bytes keys go as they are, like bytes values (str() would send b'k').
        name = key if isinstance(key, (str, bytes)) else str(key)
        values = value if isinstance(value, (list, tuple)) else (value,)
        for v in values:
            if v is not None:
                yield name, v if isinstance(v, (str, bytes)) else str(v)


def _one_shot(source: AsyncIterable[Any]) -> Body:
    used = False

    async def stream() -> AsyncIterator[bytes]:
        nonlocal used
        if used:
            raise RuntimeError("this request body was already consumed")
        used = True
        try:
            async for piece in source:
                if isinstance(piece, str):
                    raise TypeError("an async iterable body must yield bytes, not str")
                if piece:
                    yield bytes(piece)
        finally:
            # An async generator left half-run must be closed inside the
            # kernel (curio refuses to finalise it from the garbage collector).
            aclose = getattr(source, "aclose", None)
            if aclose is not None:
                await aclose()

    return Body(None, stream, None, None, False, lambda: used)


def _file_body(fobj: Any) -> Body:
    """A binary file object, read in pieces; its ``read`` may be sync or async."""
    is_async = inspect.iscoroutinefunction(fobj.read)
    start: int | None = None
    length: int | None = None
    if not is_async:
        try:
            start = fobj.tell()
        except (AttributeError, OSError, ValueError):
            start = None
        if start is not None:
            start, length = _file_extent(fobj, start)

    async def stream() -> AsyncIterator[bytes]:
        if start is not None:
            fobj.seek(start)  # a replay starts where the first send did
        while True:
            piece = await fobj.read(_FILE_PIECE) if is_async else fobj.read(_FILE_PIECE)
            if not piece:
                return
            if isinstance(piece, str):
                raise TypeError("files sent as data must be opened in binary mode")
            yield piece

    # A real file with a known position can be rewound and sent again.
    return Body(None, stream, length, None, start is not None)


def _file_extent(fobj: Any, start: int) -> tuple[int | None, int | None]:
    """Where a sync file body starts (None: it cannot be rewound) and its length."""
    fd = descriptor_of(fobj)
    if fd is None:
        # No descriptor: an in-memory file (BytesIO and the like), whose end
        # is its length. Measured so it goes with Content-Length, as requests
        # and httpx send it: many servers and object stores (S3's presigned
        # PUT among them) refuse a chunked upload.
        length = in_memory_size(fobj, start)
        return (None, None) if length is None else (start, length)
    try:
        info = os.fstat(fd)
    except OSError:
        return None, None
    # Only a regular file's size is its length: /proc files say 0, pipes and
    # devices say nothing useful. Those go chunked.
    if stat.S_ISREG(info.st_mode):
        return start, regular_length(fd, info, start)
    return start, None


def regular_length(fd: int, info: os.stat_result, start: int) -> int | None:
    """The bytes from *start* to the end of a regular file; None if its size says nothing."""
    size = info.st_size
    if size > 0 and getattr(info, "st_blocks", 1) > 0:
        return max(0, size - start)
    # Size 0: an empty file, or a /proc file whose size says nothing. A size
    # with no block behind it: a sparse or inline file, or a sysfs file that
    # says 4096 whatever it holds. A byte or two read in place (the position
    # stays) tells them apart, so an empty upload goes as Content-Length: 0,
    # which object stores need, and a virtual file goes chunked.
    try:
        if (size == 0 or os.pread(fd, 1, size - 1)) and not os.pread(fd, 1, size):
            return max(0, size - start)
    except OSError:
        pass
    return None


def descriptor_of(fobj: Any) -> int | None:
    """The file's descriptor, or None (an in-memory file has none)."""
    try:
        fd = fobj.fileno()
    except (AttributeError, OSError, ValueError):
        return None
    return fd if isinstance(fd, int) else None


def in_memory_size(fobj: Any, start: int) -> int | None:
    """The bytes from *start* to the end of a seekable in-memory file, or None.

    Only for a file without a descriptor: seeking one cannot block, and its
    end is where reading stops. The position is put back at *start*.
    """
    try:
        if not fobj.seekable():
            return None
        end = fobj.seek(0, os.SEEK_END)
        fobj.seek(start)
    except (AttributeError, OSError, ValueError, TypeError):
        return None
    if type(end) is not int:
        return None
    return max(0, end - start)
