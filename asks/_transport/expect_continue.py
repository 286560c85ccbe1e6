"""``Expect: 100-continue``: hold a request's body until the server wants it.

A client that sends ``Expect: 100-continue`` asks the server to look at the
request head first (RFC 9110 section 10.1.1): the server answers ``100
Continue`` to have the body, or a final status (``401``, ``413``, ``417``...)
to refuse it before it is sent. The client should not wait forever for
either, since a server may ignore the expectation; like curl, asks waits
one second, then sends the body anyway.

The caller's headers decide: asks sends the expectation only when the
caller's request carries it (so no server that mishandles it is met by
surprise), over HTTP/1.1. A ``417`` to it is the call loop's to act on: the
request goes again without the expectation when its body can. This module
only decides whether the body goes; the bytes read while deciding are handed
to h11 as they arrive, and h11 reads the 1xx and final heads out of them as
usual.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import curio

__all__ = ["CONTINUE_WAIT", "wait_for_continue"]

# Seconds to wait for 100 Continue (or a final answer) before sending the
# body anyway (curl's default for --expect100-timeout).
CONTINUE_WAIT = 1.0


async def wait_for_continue(
    read: Callable[[], Awaitable[bytes]],
    feed: Callable[[bytes], None],
    head_end: Callable[[bytes, int], int | None],
    wait: float | None = None,
) -> bool:
    """Whether to send the body: True on ``100 Continue`` or after *wait* seconds.

    Args:
        read: the connection's next bytes (b"" at the end of the stream).
        feed: gives those bytes to the parser, which reads the heads later.
        head_end: where the head starting at an offset ends (the offset
            past its empty line), or None while it is incomplete.
        wait: the most seconds to wait for an answer (None: ``CONTINUE_WAIT``).

    Returns:
        True to send the body (``100 Continue`` came, or nothing in time);
        False when a final answer (any non-1xx status) came first, or the
        server closed the connection: the body is then not sent.
    """
    deadline = time.monotonic() + (CONTINUE_WAIT if wait is None else wait)
    seen = b""
    start = 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return True
        data = await curio.ignore_after(left, read)
        if data is None:
            return True  # no word from the server: it may ignore Expect
        feed(data)
        if not data:
            return False
        seen += data
        while (end := head_end(seen, start)) is not None:
            # "HTTP/1.1 100 ...": the status code follows the version. A
            # head that is not HTTP at all was refused on its first bytes
            # already; a malformed status line is h11's to refuse.
            status = seen[start + 9 : start + 12]
            start = end
            if status == b"100":
                return True
            if not (status[:1] == b"1" and status.isdigit()):
                return False
            # Another 1xx (102, 103): the answer is still to come.
