"""A pipe whose reader has stopped reading: full, so the next write waits.

For the command line's behaviour with a stalled consumer (``asks fetch |
slow-thing`` where the thing stops reading): a write to such a pipe blocks
until the reader takes bytes, which here it never does.
"""

from __future__ import annotations

import contextlib
import os

#: What fills the pipe: whole lines, so what follows can be checked to be whole too.
FILLER = b"filler\n"


def full_pipe() -> tuple[int, int, bytes]:
    """A new pipe, filled to the brim: its read end, its (blocking) write end, the filling."""
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    filled = bytearray()
    with contextlib.suppress(BlockingIOError):
        while True:
            # Linux takes a write of at most PIPE_BUF whole or not at all.
            filled += FILLER[: os.write(write_end, FILLER)]
    # The mode is the open file's, which the child inherits: blocking, as a
    # shell's pipe is.
    os.set_blocking(write_end, True)
    return read_end, write_end, bytes(filled)


def drain(read_end: int) -> bytes:
    """Everything left in the pipe once its every write end is closed."""
    chunks = []
    while chunk := os.read(read_end, 65536):
        chunks.append(chunk)
    return b"".join(chunks)
