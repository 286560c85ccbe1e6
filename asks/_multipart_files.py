"""The files of a multipart body: what each sends, how long it is, how it is opened.

A path or an open file becomes a :class:`Source`: its size when it can be
known up front (so the body can go with a Content-Length), whether it can be
read a second time (a replay), how a pass gets the file object, and whether
reading it can block. Nothing is read
when a body is built (only ``stat``-ed); the passes over the body that read
the files while it is sent are :mod:`asks.multipart`'s.
"""

from __future__ import annotations

import inspect
import io
import os
import stat
from collections.abc import Callable
from typing import IO, Any, Protocol

from ._content import descriptor_of, in_memory_size, regular_length

__all__ = ["AsyncReadable", "Source", "SyncReadable", "file_content"]


class SyncReadable(Protocol):
    """A binary file object with a plain ``read``."""

    def read(self, size: int = ..., /) -> bytes:
        """Read up to *size* bytes; ``b""`` at the end."""
        ...


class AsyncReadable(Protocol):
    """A binary file object whose ``read`` is a coroutine function."""

    async def read(self, size: int = ..., /) -> bytes:
        """Read up to *size* bytes; ``b""`` at the end."""
        ...


class Source:
    """The content of a file part that is read while the body is sent.

    Attributes:
        description: how messages name it (``file 'a.txt'``).
        size: its length in bytes; None when it is only known once read.
        one_shot: it cannot be read a second time (a pipe, an unseekable
            file, a file whose ``read`` is a coroutine function).
        opener: gives the file object one pass reads, positioned where the
            first pass started.
        blocking: reading it can block (it has a descriptor, and a plain
            ``read``): a pass reads it in worker threads.
        owns: a pass closes what ``opener`` gave (a file asks opened).
        started: a pass over it has begun.
    """

    def __init__(
        self,
        description: str,
        size: int | None,
        one_shot: bool,
        opener: Callable[[], Any],
        blocking: bool,
        owns: bool = False,
    ) -> None:
        self.description = description
        self.size = size
        self.one_shot = one_shot
        self.opener = opener
        self.blocking = blocking
        self.owns = owns
        self.started = False


def file_content(name: str, source: object) -> bytes | Source:
    """What a file part sends: bytes as they are, a path or file read while sending."""
    content: bytes | Source
    if isinstance(source, bytes | bytearray | memoryview):
        content = bytes(source)
    elif isinstance(source, os.PathLike):
        content = path_source(source)
    elif isinstance(source, str):
        raise TypeError(
            f"multipart field {name!r}: a str is not a binary source; "
            "pass bytes, a pathlib.Path or an open binary file"
        )
    elif callable(getattr(source, "read", None)):
        content = file_source(source)
    else:
        raise TypeError(
            f"multipart field {name!r}: cannot send {type(source).__name__} as a file; "
            "pass bytes, a pathlib.Path or an open binary file"
        )
    return content


def path_source(path: os.PathLike[Any]) -> Source:
    st = os.stat(path)
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(f"cannot send a directory in a multipart body: {path!s}")
    regular = stat.S_ISREG(st.st_mode)
    size = _regular_size(path, st) if regular else None

    def opener() -> IO[bytes]:
        return open(path, "rb")  # closed by the pass that reads it (owns)

    return Source(f"file {os.fsdecode(path)!r}", size, not regular, opener, True, owns=True)


def _regular_size(path: os.PathLike[Any], st: os.stat_result) -> int | None:
    """A regular file's size; None for one whose size says nothing (/proc, /sys)."""
    if st.st_size > 0 and getattr(st, "st_blocks", 1) > 0:
        return st.st_size  # the usual case: no need to open it
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return st.st_size  # unreadable: the send reports it, with the real error
    try:
        return regular_length(fd, st, 0)
    finally:
        os.close(fd)


def file_source(fobj: Any) -> Source:
    name = getattr(fobj, "name", None)
    description = f"file {name!r}" if isinstance(name, str | bytes) else repr(fobj)
    if isinstance(fobj, io.TextIOBase):
        raise TypeError(f"{description} must be opened in binary mode to be sent")
    if getattr(fobj, "closed", False) is True:
        raise ValueError(f"{description} is closed")
    if inspect.iscoroutinefunction(fobj.read):
        # Its other methods (tell, seek) are unknown territory: send it once.
        return Source(description, None, True, lambda: fobj, False)

    start: int | None = None
    try:
        if fobj.seekable():
            start = fobj.tell()
    except (AttributeError, OSError, ValueError):
        start = None
    size: int | None = None
    fd = descriptor_of(fobj)
    if fd is not None and start is not None:
        try:
            st = os.fstat(fd)
        except OSError:
            fd = None
        else:
            if stat.S_ISREG(st.st_mode):
                size = regular_length(fd, st, start)

    def opener() -> Any:
        if start is not None:
            fobj.seek(start)  # a replay starts where the first send did
        return fobj

    if fd is None:
        # No descriptor (BytesIO and the like): reading cannot block, and its
        # end is its size, so the body can go with a Content-Length.
        if start is not None:
            size = in_memory_size(fobj, start)
        return Source(description, size, start is None, opener, False)
    return Source(description, size, start is None, opener, True)
