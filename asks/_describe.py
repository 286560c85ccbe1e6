"""One line for an exception: ``Kind: message``, as the fetch records carry it.

Shared by :func:`asks.fetch_many` (each result's ``error``) and the command
line (its one-line errors), so a failure reads the same in both.
"""

from __future__ import annotations

import os
import socket
import ssl

__all__ = ["describe", "explain"]


def explain(exc: BaseException) -> str:
    """The message of *exc* on one line, with the system's words for its errno.

    curio reports a refused connection as ``[Errno 111] Connect call failed``;
    "Connection refused" is what a user looks for.

    Args:
        exc: the exception; its ``__cause__`` chain is searched for an errno.

    Returns:
        the message, e.g. ``connecting to 127.0.0.1:1: ... (Connection refused)``.
    """
    text = " ".join(str(exc).split())
    cause: BaseException | None = exc
    while cause is not None:
        # An ssl error's errno is OpenSSL's error kind (1 is SSL_ERROR_SSL),
        # not the system's: os.strerror(1) would say "Operation not permitted".
        # A resolver error's is getaddrinfo's EAI_* code (-2 is EAI_NONAME),
        # "Unknown error -2" to os.strerror; its own text says it already.
        if (
            isinstance(cause, OSError)
            and cause.errno
            and not isinstance(cause, (ssl.SSLError, socket.gaierror, socket.herror))
        ):
            reason = os.strerror(cause.errno)
            if reason.lower() not in text.lower():
                text = f"{text} ({reason})"
            break
        cause = cause.__cause__
    return text


def describe(exc: BaseException) -> str:
    """``Kind: message`` on one line, naming the public asks error class.

    Args:
        exc: the exception.

    Returns:
        e.g. ``ConnectFailed: connecting to ...``: the nearest class of
        ``asks.errors`` in its MRO names it (the private subclasses are
        details), else its own class.
    """
    kind = type(exc)
    public = next((c for c in kind.__mro__ if c.__module__ == "asks.errors"), kind)
    text = explain(exc)
    return f"{public.__name__}: {text}" if text else public.__name__
