"""Safe names for saved bodies: ``fetch_many(output_dir=...)`` and ``asks fetch``.

Also what the files written on the way share with ``asks get -o FILE``: the
mode a plain ``open`` would give, and the lock held until the rename.

A URL may hold anything (``..``, separators, control characters, a name
thousands of characters long), so the name of the file its body goes to is
made from it, never taken from it: it can never leave the directory.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from urllib.parse import urlsplit

__all__ = ["file_mode", "open_partial", "partial_stem", "safe_filename"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_EXTENSION = re.compile(r"\.[A-Za-z0-9]{1,8}$")
_STEM_LIMIT = 80


def safe_filename(url: str) -> str:
    """A file name for the body of *url* that is safe to create in any directory.

    The name keeps a readable part of the host and path, limited to
    ``[A-Za-z0-9._-]`` (so no separator, no ``..`` component, no hidden
    file), and ends with a hash of the whole URL, so different URLs get
    different names. A short extension of the last path segment is kept.

    Args:
        url: the URL as given.

    Returns:
        e.g. ``example.com_docs_index-3f2a9c0d1e7b.html``.
    """
    digest = hashlib.sha256(url.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    try:
        parts = urlsplit(url)
        segments = [s for s in parts.path.split("/") if s not in ("", ".", "..")]
        readable = "/".join([parts.hostname or "", *segments])
        last = segments[-1] if segments and not parts.path.endswith("/") else ""
    except ValueError:
        readable, last = url, ""
    match = _EXTENSION.search(last)
    extension = match.group(0).lower() if match else ""
    stem = _UNSAFE.sub("_", readable[: len(readable) - len(extension)])
    stem = stem.strip("._-")[:_STEM_LIMIT].rstrip("._-") or "index"
    return f"{stem}-{digest}{extension}"


def file_mode() -> int:
    """The mode a new file gets under the current umask (mkstemp makes 0600)."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def _hold_lock(fd: int) -> None:
    """Take an exclusive ``flock`` on *fd*'s file, if the system has them.

    A ``.part`` file is locked by its writer until it is renamed, so that a
    later run sweeping the files of dead writers leaves it alone whatever
    its pid says (another machine's, on a shared disk). ``flock`` belongs to
    the open file, not to the descriptor: it lasts until the last descriptor
    of that file (one from ``os.dup`` included) is closed.
    """
    try:
        import fcntl  # not for `import asks`
    except ImportError:  # Windows: no flock, nor any sweep that would ask
        return
    with contextlib.suppress(OSError):  # a file system without locks
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


# NAME_MAX (255 bytes on Linux's and macOS's file systems) bounds the whole
# ".NAME.PID.RANDOM.part"; the rest of it takes 23 bytes at most (a pid of 7
# digits, mkstemp's 8 characters, the dots and ".part"). A longer NAME is cut
# and ends in a digest of the whole, so that two long names sharing their
# start still make distinct files (and one's sweep leaves the other's alone).
_PARTIAL_NAME_BYTES = 200
_DIGEST_CHARS = 16


def partial_stem(name: str) -> str:
    """The NAME of *name*'s ``.NAME.PID.RANDOM.part`` file: *name*, or a cut of it.

    Args:
        name: the file name the body is for (``-o FILE``'s, or a safe name).

    Returns:
        *name* itself, or, when its bytes would make the ``.part`` name longer
        than a file name may be, its start followed by ``~`` and a digest of it.
    """
    encoded = os.fsencode(name)
    if len(encoded) <= _PARTIAL_NAME_BYTES:
        return name
    digest = hashlib.sha256(encoded).hexdigest()[:_DIGEST_CHARS]
    stem = name
    # Whole characters only: a cut UTF-8 sequence would be a name no tool shows.
    while len(os.fsencode(stem)) > _PARTIAL_NAME_BYTES - _DIGEST_CHARS - 1:
        stem = stem[:-1]
    return f"{stem}~{digest}"


def open_partial(directory: str | os.PathLike[str], name: str) -> tuple[int, str, int]:
    """A new ``.NAME.PID.RANDOM.part`` file in *directory* for the body of *name*, locked.

    NAME is :func:`partial_stem` of *name* (itself, unless very long).

    Named for this process (PID): one killed on the spot (``kill -9``) runs no
    clean-up, and a later run tells its files from a live writer's by that
    pid and by the lock (``asks._cli.partials``). The lock is held through a
    second descriptor of the same open file, so that it outlives the close of
    the first, which reports the file's errors before the rename.

    Returns:
        the file's descriptor (mode 0600, as ``mkstemp`` makes it), its path,
        and the descriptor holding the lock: close that one once the file is
        renamed or removed.

    Raises:
        OSError: the file cannot be made (nothing is left behind).
    """
    import tempfile  # not for `import asks`

    prefix = f".{partial_stem(name)}.{os.getpid()}."
    fd, temp = tempfile.mkstemp(dir=directory, prefix=prefix, suffix=".part")
    try:
        lock = os.dup(fd)
    except OSError:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    _hold_lock(lock)
    return fd, temp, lock
