"""``multipart/form-data`` request bodies (RFC 7578), produced piece by piece.

Pass a mapping to ``multipart=`` and asks encodes it here::

    await asks.post(url, multipart={
        "title": "holiday",                      # a text field
        "photo": Path("beach.jpg"),              # a file, read asynchronously
        "raw": b"\\x00\\x01",                      # bytes, sent as a file named "blob"
        "log": open("app.log", "rb"),            # an open binary file (sync or async read)
        "doc": MultipartData(b"{}", mime_type="application/json", basename="d.json"),
    })

How each value is sent:

* :class:`pathlib.Path` (any :class:`os.PathLike`): a file part; the filename
  is the path's last component, the Content-Type is guessed from it with
  :mod:`mimetypes` (``application/octet-stream`` when unknown). The file is
  opened and read in a worker thread, 64 KiB at a time, while the request is
  sent.
* ``bytes`` (or ``bytearray``, ``memoryview``): a file part with Content-Type
  ``application/octet-stream`` and the filename ``"blob"`` - what browsers
  send for a ``Blob`` appended to a ``FormData``. Web frameworks (Werkzeug,
  Django, Starlette, aiohttp) treat a part as an uploaded file exactly when
  it has a filename, and asks always documented bytes as sent as files.
* an open binary file object, whose ``read`` is a plain method or a
  coroutine function: a file part named after the basename of its ``name``
  attribute (``"blob"`` without one).
* :class:`MultipartData`: a file part whose Content-Type and filename you
  choose.
* a tuple ``(filename, content)`` or ``(filename, content, content_type)``,
  the form requests and httpx take: a file part with that filename (and
  type: guessed from the filename when not given). *content* is bytes, a
  ``str`` (sent encoded, not read as a path), a path or an open binary
  file. ``(None, content)`` is the requests idiom for an ordinary field:
  no filename, no Content-Type unless given. requests' fourth item, a
  mapping of more header fields for the part (``{"X-Part": "v"}``), is sent
  after Content-Disposition and Content-Type, in its order; names must be
  tokens and values Latin-1 without control characters (``ValueError``),
  and Content-Disposition or Content-Type there is refused
  (``ValueError``): asks writes them, the type from the third item.
* a list: one part per item, under the same name (as ``data=`` repeats a
  form field).
* ``None``: no part at all (as ``data=`` leaves it out).
* anything else: a text field, ``str(value)`` encoded with the request
  encoding, with no Content-Type header (RFC 7578 section 4.4: it defaults
  to ``text/plain``).

Field names and filenames travel in quoted strings: ``"`` is sent as
``%22`` (as browsers do, RFC 7578 section 4.2 and the HTML form encoding),
``\\`` as ``\\\\`` (a quoted-pair, which every common server-side parser
unescapes), and non-ASCII characters as raw UTF-8 (again what browsers do;
RFC 7578 forbids the ``filename*`` form). CR, LF and NUL cannot be sent
safely and raise :class:`ValueError` before anything is sent.

Code written for asks 2.4 may still ``await build_multipart_body(values,
encoding, boundary_data)``: it returns the whole body as bytes, exactly as
asks 2.4 built it (its own rules for filenames and types), assembled by the
same encoder.
"""

from __future__ import annotations

import inspect
import mimetypes
import os
import secrets
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from pathlib import Path, PurePath
from typing import IO, Any, NamedTuple

import curio

from ._multipart_encoding import (
    BOUNDARY_RE,
    FORBIDDEN,
    OCTET_STREAM,
    TOKEN_RE,
    Part,
    Segment,
    guess_type,
    layout,
    occurs_in,
    part_head,
    part_headers,
)
from ._multipart_files import AsyncReadable, Source, SyncReadable, file_content
from .errors import AsksException

__all__ = [
    "MultipartBody",
    "MultipartData",
    "build_files",
    "build_multipart",
    "build_multipart_body",
]

# Files are read in pieces of this size.
_PIECE = 65536

# The filename for file parts with nothing to name them after (the WHATWG
# FormData name for a Blob that is not a File).
_DEFAULT_FILENAME = "blob"


_BinarySource = bytes | bytearray | memoryview | os.PathLike[str] | SyncReadable | AsyncReadable


class MultipartData(NamedTuple):
    """A file part with a chosen Content-Type and filename.

    Example::

        MultipartData(b"{}", mime_type="application/json", basename="data.json")

    Attributes:
        binary_source: the content: ``bytes``, a :class:`pathlib.Path`, or an
            open binary file object whose ``read`` is sync or a coroutine
            function.
        mime_type: the part's Content-Type. ``None`` guesses it from the
            filename, falling back to ``application/octet-stream``.
        basename: the filename sent. ``None`` uses the path's or file's own
            name (``"blob"`` for bytes and nameless files); an empty string
            sends no filename at all, which makes the part an ordinary field
            with a Content-Type rather than an upload.
    """

    binary_source: _BinarySource
    mime_type: str | None = None
    basename: str | None = None


# -- reading the files while the body is sent ----------------------------------


class _ThreadedReader:
    """Reads a blocking file in curio's worker threads, one piece per call.

    Closing is safe at any moment, even while a read that was cancelled is
    still running in its thread: the file is then closed by that thread when
    the read returns, so no file is leaked and none is closed under a read.
    """

    def __init__(self, opener: Callable[[], IO[bytes] | SyncReadable], owns: bool) -> None:
        self._opener = opener
        self._owns = owns
        self._file: Any = None
        self._lock = threading.Lock()
        self._busy = False
        self._closed = False

    def _read_blocking(self) -> Any:
        with self._lock:
            if self._closed:
                return b""
            self._busy = True
        try:
            if self._file is None:
                self._file = self._opener()
            return self._file.read(_PIECE)
        finally:
            with self._lock:
                self._busy = False
                if self._closed:
                    self._release()

    async def read(self) -> bytes:
        return _check_piece(await curio.run_in_thread(self._read_blocking))

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if not self._busy:
                self._release()

    def _release(self) -> None:
        fobj, self._file = self._file, None
        if fobj is not None and self._owns:
            fobj.close()


class _DirectReader:
    """Reads a file that cannot block (no descriptor, or an async ``read``) in the calling task."""

    def __init__(self, opener: Callable[[], Any]) -> None:
        self._opener = opener
        self._fobj: Any = None

    async def read(self) -> bytes:
        if self._fobj is None:
            self._fobj = self._opener()
        piece = self._fobj.read(_PIECE)
        if inspect.isawaitable(piece):
            piece = await piece
        return _check_piece(piece)

    def close(self) -> None:
        pass  # the caller's file: it stays open


# What reads a file part in one pass of the body.
_Reader = _ThreadedReader | _DirectReader


def _check_piece(piece: object) -> bytes:
    if isinstance(piece, bytes):
        return piece
    if isinstance(piece, bytearray | memoryview):
        return bytes(piece)
    if isinstance(piece, str):
        raise TypeError("files sent in a multipart body must be opened in binary mode")
    raise TypeError(f"read() of a multipart file returned {type(piece).__name__}, not bytes")


class _BodyStream:
    """One pass over a multipart body: an async iterator of byte pieces."""

    def __init__(self, body: MultipartBody, segments: list[Segment]) -> None:
        self._body = body
        self._segments = iter(segments)
        self._enforce = body.length is not None
        self._reader: _Reader | None = None
        self._source: Source | None = None
        self._count = 0
        self._done = False

    def __aiter__(self) -> _BodyStream:
        return self

    async def __anext__(self) -> bytes:
        try:
            while not self._done:
                if self._reader is not None:
                    piece = await self._read()
                    if piece:
                        return piece
                    self._finish_source()
                    continue
                segment = next(self._segments, None)
                if segment is None:
                    self._done = True
                elif isinstance(segment, bytes):
                    return segment
                else:
                    self._start_source(segment)
        except BaseException:
            self._close()
            raise
        raise StopAsyncIteration

    def _start_source(self, source: Source) -> None:
        if source.one_shot:
            if source.started:
                raise RuntimeError(f"{source.description} was already sent and cannot be re-read")
            source.started = True
        self._source = source
        self._count = 0
        self._reader = (
            _ThreadedReader(source.opener, source.owns)
            if source.blocking
            else _DirectReader(source.opener)
        )

    async def _read(self) -> bytes:
        assert self._reader is not None and self._source is not None
        try:
            piece = await self._reader.read()
        except OSError as exc:
            raise AsksException(
                f"reading {self._source.description} for a multipart body failed: {exc}"
            ) from exc
        if piece and self._enforce:
            self._count += len(piece)
            if self._source.size is not None and self._count > self._source.size:
                raise AsksException(
                    f"{self._source.description} grew while being sent "
                    f"(Content-Length announced {self._source.size} bytes)"
                )
        return piece

    def _finish_source(self) -> None:
        source = self._source
        self._close_reader()
        if (
            self._enforce
            and source is not None
            and source.size is not None
            and self._count != source.size
        ):
            raise AsksException(
                f"{source.description} shrank while being sent "
                f"(Content-Length announced {source.size} bytes, read {self._count})"
            )

    def _close_reader(self) -> None:
        reader, self._reader, self._source = self._reader, None, None
        if reader is not None:
            reader.close()

    def _close(self) -> None:
        self._done = True
        self._close_reader()

    async def aclose(self) -> None:
        """Stop early and close any file this pass opened."""
        self._close()

    def __del__(self) -> None:
        self._close()


class MultipartBody:
    """An encoded ``multipart/form-data`` body, produced on demand.

    Made by :func:`build_multipart` or :func:`build_files`; nothing is read
    until :meth:`chunks` is iterated.

    Attributes:
        boundary: the boundary string (random per body unless given).
        content_type: the value for the Content-Type header.
        length: the total size in bytes when every part's size is known up
            front, else ``None`` (then the body must be sent chunked).
        replayable: whether :meth:`chunks` may be called again and yields
            the same bytes (false when a part is a one-shot file object).
    """

    def __init__(self, boundary: str, segments: list[Segment]) -> None:
        self.boundary = boundary
        quoted = boundary if TOKEN_RE.fullmatch(boundary) else f'"{boundary}"'
        self.content_type = f"multipart/form-data; boundary={quoted}"
        self._segments = segments
        length: int | None = 0
        replayable = True
        for segment in segments:
            if isinstance(segment, bytes):
                if length is not None:
                    length += len(segment)
            else:
                replayable = replayable and not segment.one_shot
                length = None if length is None or segment.size is None else length + segment.size
        self.length = length
        self.replayable = replayable

    def chunks(self) -> AsyncIterator[bytes]:
        """Iterate over the encoded body, piece by piece.

        Files are read 64 KiB at a time as the iteration advances; the
        iterator must run inside a curio kernel. Close it (``aclose()``) to
        stop early; files it opened are closed then, or when it is exhausted
        or fails.

        Raises:
            RuntimeError: a one-shot file object of this body was already sent.
        """
        for segment in self._segments:
            if isinstance(segment, Source) and segment.one_shot and segment.started:
                raise RuntimeError(f"{segment.description} was already sent and cannot be re-read")
        return _BodyStream(self, self._segments)

    def __repr__(self) -> str:
        return (
            f"<MultipartBody boundary={self.boundary!r} length={self.length} "
            f"replayable={self.replayable}>"
        )


# -- building -------------------------------------------------------------------


def _own_name(source: object) -> str | None:
    """The basename a path or file object carries, if any."""
    if isinstance(source, os.PathLike):
        name: object = os.fspath(source)
    else:
        name = getattr(source, "name", None)
    if not isinstance(name, str | bytes):
        return None
    return os.path.basename(os.fsdecode(name)) or None


def _check_metadata(mime_type: object, basename: object) -> None:
    for what, given in (("mime_type", mime_type), ("basename", basename)):
        if given is not None and not isinstance(given, str):
            raise TypeError(f"MultipartData {what} must be a str or None, not {given!r}")


def _file_part(
    name: str,
    source: object,
    mime_type: str | None,
    basename: str | None,
    headers: tuple[bytes, ...] = (),
) -> Part:
    _check_metadata(mime_type, basename)
    filename = (_own_name(source) or _DEFAULT_FILENAME) if basename is None else basename
    if mime_type is None:
        mime_type = guess_type(filename) if filename else OCTET_STREAM
    return Part(name, file_content(name, source), filename or None, mime_type, headers)


def _field_name(name: object) -> str:
    if isinstance(name, bytes):
        return name.decode("utf-8")
    return name if isinstance(name, str) else str(name)


def _is_file_value(value: object) -> bool:
    return isinstance(value, bytes | bytearray | memoryview | os.PathLike) or callable(
        getattr(value, "read", None)
    )


def _parts(fields: Mapping[str, Any] | Iterable[tuple[str, Any]], encoding: str) -> list[Part]:
    """One part per value; a list gives one per item, None none."""
    parts = []
    for name, value in _items(fields):
        if value is None:
            continue
        if type(value) is list:
            parts += [_to_part(name, each, encoding) for each in value if each is not None]
        else:
            parts.append(_to_part(name, value, encoding))
    return parts


def _to_part(name: object, value: object, encoding: str) -> Part:
    name = _field_name(name)
    if isinstance(value, MultipartData):
        return _file_part(name, value.binary_source, value.mime_type, value.basename)
    if type(value) is tuple:
        return _tuple_part(name, value, encoding)
    if isinstance(value, str):
        return Part(name, value.encode(encoding), None, None)
    if _is_file_value(value):
        return _file_part(name, value, None, None)
    return Part(name, str(value).encode(encoding), None, None)


def _tuple_part(name: str, value: tuple[Any, ...], encoding: str) -> Part:
    """``(filename, content[, content_type[, headers]])``, as requests takes it
    (httpx takes the first three)."""
    if not 2 <= len(value) <= 4:
        raise TypeError(
            f"multipart field {name!r}: a tuple is (filename, content), "
            f"(filename, content, content_type) or (filename, content, content_type, "
            f"headers), not {len(value)} items"
        )
    filename, content = value[0], value[1]
    mime_type = value[2] if len(value) >= 3 else None
    headers = part_headers(name, value[3]) if len(value) == 4 else ()
    if filename is not None and not isinstance(filename, str):
        raise TypeError(f"multipart field {name!r}: the filename must be a str or None")
    if isinstance(content, str):
        # In a tuple a str is the content (as in requests and httpx), never
        # a path: a path is given as a pathlib.Path.
        content = content.encode(encoding)
    if filename is None and mime_type is None and isinstance(content, bytes):
        return Part(name, content, None, None, headers)  # requests' (None, value): a field
    return _file_part(name, content, mime_type, "" if filename is None else filename, headers)


def _items(fields: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> Iterable[tuple[Any, Any]]:
    if isinstance(fields, Mapping):
        return fields.items()
    if isinstance(fields, str | bytes) or not isinstance(fields, Iterable):
        raise TypeError(
            f"multipart fields must be a mapping of name to value, not {type(fields).__name__}"
        )
    return list(fields)


def build_multipart(
    fields: Mapping[str, Any] | Iterable[tuple[str, Any]],
    encoding: str = "utf-8",
    boundary: str | None = None,
) -> MultipartBody:
    """Encode *fields* as a ``multipart/form-data`` body (see the module docs).

    Nothing is read here: files are only ``os.stat``-ed (or ``os.fstat``-ed)
    to learn their sizes, and one that reports size 0 or no blocks has a
    byte or two read in place to tell an empty or sparse file from a
    ``/proc`` or ``/sys`` file (sent chunked).

    Args:
        fields: field name -> value; a sequence of ``(name, value)`` pairs
            also works and may repeat a name.
        encoding: the encoding of text field values. Names and filenames
            are always sent as UTF-8.
        boundary: the boundary to use instead of a random one (RFC 2046
            characters, at most 70).

    Returns:
        the body, ready to be sent.

    Raises:
        ValueError: a name, filename or content type contains CR, LF or NUL;
            a part header of a tuple's fourth item is not a token and a
            field value, or is Content-Disposition or Content-Type; a given
            boundary is invalid or occurs in the content.
        TypeError: a value cannot be sent (e.g. a text-mode file, a tuple
            of another length, a fourth item that is not a mapping of str).
        OSError: a path cannot be ``stat``-ed (missing file) or is a directory.
    """
    parts = _parts(fields, encoding)
    heads = [part_head(part) for part in parts]

    if boundary is None:
        boundary = new_boundary()
        while occurs_in(boundary.encode("ascii"), parts, heads):
            boundary = new_boundary()  # pragma: no cover - 2**-128 odds
    else:
        if not BOUNDARY_RE.fullmatch(boundary):
            raise ValueError(f"invalid multipart boundary: {boundary!r}")
        if occurs_in(boundary.encode("ascii"), parts, heads):
            raise ValueError(f"the multipart boundary {boundary!r} occurs in the content")
    return MultipartBody(boundary, layout(parts, heads, boundary.encode("ascii")))


def new_boundary() -> str:
    """A random boundary: 128 bits, so no file content can hold it but by chance."""
    return secrets.token_hex(16)


def build_files(
    files: Mapping[str, Any] | Iterable[tuple[str, Any]],
    encoding: str = "utf-8",
    boundary: str | None = None,
) -> MultipartBody:
    """Encode asks' older ``files=`` argument as ``multipart/form-data``.

    A ``str`` naming an existing file is sent as that file (like a
    :class:`pathlib.Path`); every other value is treated as by
    :func:`build_multipart`, so other strings become text fields.

    Args:
        files: field name -> path or value.
        encoding: the encoding of text field values.
        boundary: as for :func:`build_multipart`.

    Returns:
        the body, ready to be sent.
    """
    converted = [
        (name, [_as_path(each) for each in value] if type(value) is list else _as_path(value))
        for name, value in _items(files)
    ]
    return build_multipart(converted, encoding, boundary)


def _as_path(value: object) -> object:
    return Path(value) if isinstance(value, str) and os.path.isfile(value) else value


# -- asks 2.4's whole-body builder ----------------------------------------------------


def _legacy_part(name: object, value: object, encoding: str) -> Part:
    """A part with the metadata asks 2.4 gave *value* (see build_multipart_body)."""
    name = _field_name(name)
    if isinstance(value, MultipartData):
        _check_metadata(value.mime_type, value.basename)
        content = file_content(name, value.binary_source)
        chosen = OCTET_STREAM if value.mime_type is None else value.mime_type
        return Part(name, content, value.basename, chosen)
    if not _is_file_value(value):
        return Part(name, str(value).encode(encoding), None, None)
    own = value if isinstance(value, os.PathLike) else getattr(value, "name", None)
    filename = (
        PurePath(os.fsdecode(own)).name if isinstance(own, str | bytes | os.PathLike) else None
    )
    # No Content-Type at all when mimetypes knows none (asks 2.4 did so).
    guessed = OCTET_STREAM if filename is None else mimetypes.guess_type(filename)[0]
    return Part(name, file_content(name, value), filename, guessed)


async def build_multipart_body(
    values: Mapping[Any, Any], encoding: str, boundary_data: str
) -> bytes:
    """The whole ``multipart/form-data`` body, as asks 2.4 built it.

    Kept for code written against asks 2.4 (and its tests): the result is
    byte for byte what asks 2.4.12 returned for the same values, with one
    exception: a ``"`` or ``\\`` in a name or filename is escaped as
    :func:`build_multipart` does (asks 2.4 sent them bare, which ends the
    quoted string early). New code should pass ``multipart=`` to a request,
    or use :func:`build_multipart`, which streams files instead of reading
    them into memory.

    Example::

        body = await build_multipart_body(
            values={"title": "holiday", "photo": Path("beach.jpg")},
            encoding="utf8",
            boundary_data="8banana133744910kmmr13a56",
        )

    Args:
        values: field name -> value: a :class:`pathlib.Path`, an open binary
            file (plain or async ``read``), ``bytes``, a
            :class:`MultipartData`, or anything else, sent as the text
            ``str(value)``. asks 2.4's rules, which differ from
            :func:`build_multipart`'s: bytes and nameless files get no
            filename and Content-Type ``application/octet-stream``; a named
            path or file gets its basename and :mod:`mimetypes`' guess from
            it, and no Content-Type when there is none (``.tar.gz`` is
            ``application/x-tar``, the type of what is inside); a
            :class:`MultipartData` sends exactly its ``basename`` (no
            filename for ``None``, ``filename=""`` for ``""``) and its
            ``mime_type``, ``application/octet-stream`` for ``None`` (asks
            2.4's default).
        encoding: encodes names, filenames, text values and the boundary.
        boundary_data: the boundary, without the leading ``--``.

    Returns:
        the encoded body, closing delimiter included.

    Raises:
        ValueError: the boundary is empty, contains CR, LF or NUL, or occurs
            in a name or an in-memory value; a name or filename contains CR,
            LF or NUL.
        TypeError: a value cannot be sent (e.g. a text-mode file).
        OSError: a path cannot be read.
        AsksException: a file failed while it was read.
    """
    if not isinstance(boundary_data, str):
        raise TypeError(f"boundary_data must be a str, not {type(boundary_data).__name__}")
    if not boundary_data or FORBIDDEN.search(boundary_data):
        raise ValueError(f"invalid multipart boundary: {boundary_data!r}")
    parts = [_legacy_part(name, value, encoding) for name, value in _items(values)]
    heads = [part_head(part, encoding) for part in parts]
    marker = boundary_data.encode(encoding)
    if occurs_in(marker, parts, heads):
        raise ValueError(f"the multipart boundary {boundary_data!r} occurs in the content")
    body = MultipartBody(boundary_data, layout(parts, heads, marker))
    return b"".join([piece async for piece in body.chunks()])
