"""The ``.part`` files of ``--output-dir`` and ``-o FILE``: whose, and which to remove.

``fetch_many(output_dir=...)`` and ``-o FILE`` write a body to
``.NAME.PID.RANDOM.part`` beside its name (PID: the writing process) and
rename it once whole, holding an exclusive ``flock`` on it the while. A
process ended on the spot (``kill -9``, out of memory) runs no clean-up and
leaves its bodies in flight behind. Two removers:

* :func:`remove_partial_files`, for a process known dead: ``--processes``'s
  parent, which reaped the worker, removes that pid's files.
* :func:`remove_stale_partial_files`, run as ``asks fetch`` starts (all the
  directory's) and as ``-o FILE`` opens its file (``FILE``'s alone: the
  directory is the user's, not asks's), for the files of runs that ended
  so: a file goes only when its pid is no live process here *and* no one
  holds its lock. Two runs may share a directory: a live one's files stay,
  on this machine by their pid, and from another machine or pid namespace
  (a shared volume), where the pid says nothing, by their lock.
"""

from __future__ import annotations

import contextlib
import os

from .._filenames import partial_stem

try:
    import fcntl
except ImportError:  # not on Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["remove_partial_files", "remove_stale_partial_files"]


def _writer(name: str, stem: str | None = None) -> int | None:
    """The pid in a ``.NAME.PID.RANDOM.part`` name (whose NAME is *stem*, if given).

    ``None`` for any other name.
    """
    if not (name.startswith(".") and name.endswith(".part")):
        return None
    # From the right: NAME may hold dots itself (".page.tar.gz.PID.RANDOM.part").
    parts = name[: -len(".part")].rsplit(".", 2)
    if len(parts) != 3 or not (parts[1].isascii() and parts[1].isdigit()):
        return None
    if stem is not None and parts[0][1:] != stem:
        return None
    return int(parts[1])


def remove_partial_files(directory: str, pid: int) -> int:
    """Remove the ``.part`` files process *pid* left in *directory*; how many.

    For a process known to be dead (its parent reaped it): only its files go,
    another process's, or any other file, stay.

    Args:
        directory: the ``--output-dir``.
        pid: the dead process.

    Returns:
        the number of files removed (0 if *directory* cannot be read).
    """
    removed = 0
    with contextlib.suppress(OSError), os.scandir(directory) as entries:
        for entry in entries:
            if _writer(entry.name) == pid and entry.is_file(follow_symlinks=False):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
                    removed += 1
    return removed


def remove_stale_partial_files(directory: str, *, name: str | None = None) -> int:
    """Remove the ``.part`` files of writers gone from *directory*; how many.

    A file goes when its pid is no live process and its lock is free; any
    doubt (a pid alive, perhaps reused; a lock held or not to be had; a file
    that cannot be opened) keeps it.

    Args:
        directory: the ``--output-dir``, or the directory of ``-o FILE``.
        name: only the ``.part`` files of this target name (``-o FILE``'s
            base name); every target's when ``None``.

    Returns:
        the number of files removed (0 if *directory* cannot be read, and
        on Windows).
    """
    if fcntl is None:
        # Windows: no flock to tell a live writer elsewhere, and os.kill
        # there ends the process it is given, whatever the signal.
        return 0
    # The NAME its .part files have (a cut of a very long name), made once.
    stem = None if name is None else partial_stem(name)
    removed = 0
    with contextlib.suppress(OSError), os.scandir(directory) as entries:
        for entry in entries:
            pid = _writer(entry.name, stem)
            if pid is None or pid <= 0 or _alive(pid):
                continue
            if entry.is_file(follow_symlinks=False) and _remove_unlocked(entry.path):
                removed += 1
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: no signal, the existence check alone
    except ProcessLookupError:
        return False
    except OSError:
        pass  # EPERM: another user's process
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    # A process that exited but was not reaped still has its pid: the
    # workers of a killed --processes parent, adopted by a container's pid 1
    # that never reaps, stay so. It holds no file any more (Linux's /proc;
    # elsewhere, or unreadable, taken as alive).
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read()
    except OSError:
        return False
    # "PID (COMM) STATE ...": COMM may hold spaces and parentheses, the
    # state follows its last ")" (proc_pid_stat(5)).
    return fields[fields.rfind(b")") + 2 :][:1] in (b"Z", b"X")


def _remove_unlocked(path: str) -> bool:
    flags = os.O_CLOEXEC | os.O_NOFOLLOW
    try:
        # Read-write: over NFS, flock is a whole-file byte-range lock, and
        # an exclusive one needs a file open for writing (flock(2), NOTES).
        fd = os.open(path, os.O_RDWR | flags)
    except PermissionError:
        try:
            fd = os.open(path, os.O_RDONLY | flags)
        except OSError:
            return False
    except OSError:
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False  # held (a live writer elsewhere), or no locks here: keep
        # Still the file locked (not renamed away and another made under the
        # name meanwhile), then gone while the lock is ours.
        opened, named = os.fstat(fd), os.stat(path, follow_symlinks=False)
        if (opened.st_dev, opened.st_ino) != (named.st_dev, named.st_ino):
            return False
        os.unlink(path)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)
