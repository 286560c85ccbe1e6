"""``asks fetch --resume``: what an earlier run already did, read from its JSON lines.

The output of ``asks fetch`` is its own checkpoint: every line is written
whole, with one ``write`` of the line and its newline, as soon as its URL is
done. A run killed half way (``kill -9``, a power cut) therefore leaves every
finished URL's line, plus at most one torn last line: one without its
newline, or, if the file system kept a partial block, one that is not JSON.
:func:`prepare_resume` cuts that line away (its URL is fetched again) and
collects the URLs done, so the new run appends only what is missing.

The set of done URLs has to fit a crawl of millions in little memory, so it
keeps no strings: each URL is an 8-byte BLAKE2b digest, and the digests sit
sorted in an ``array('Q')`` searched by bisection (8 MB for a million URLs;
a ``set`` of the strings would take well over 100 MB). Sorting is done in
chunks merged at the end, so even building it never holds a list of Python
ints of the whole size. Two different URLs share a digest with a chance of
about n^2 / 2^65 (3 in 100 million for a million URLs); the cost of such a
collision is one URL not fetched again.

With ``--retry-failed`` the lines of the URLs that failed (an ``error``, or
no robots.txt to go by) are dropped too, so the new run fetches those again
and the output still has one line per URL: the file is rewritten without
them, into a temporary file renamed over it (a crash during the rewrite
leaves the old file whole).
"""

from __future__ import annotations

import contextlib
import hashlib
import heapq
import json
import os
import tempfile
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from .._robots import UNREACHABLE
from .exits import UsageError

__all__ = ["DoneSet", "Previous", "prepare_resume", "url_digest"]

_CHUNK = 65536  # digests sorted at a time while building


def url_digest(url: str) -> int:
    """The 8-byte digest that stands for *url* in a :class:`DoneSet`."""
    digest = hashlib.blake2b(url.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big")


class DoneSet:
    """URLs already done, as sorted 8-byte digests.

    Args:
        digests: the digests (:func:`url_digest`), in any order, any number.
    """

    def __init__(self, digests: Iterable[int] = ()) -> None:
        runs: list[array[int]] = []
        chunk: list[int] = []
        for digest in digests:
            chunk.append(digest)
            if len(chunk) >= _CHUNK:
                runs.append(array("Q", sorted(chunk)))
                chunk = []
        if chunk:
            runs.append(array("Q", sorted(chunk)))
        if len(runs) == 1:
            self._digests = runs[0]
        else:
            self._digests = array("Q", heapq.merge(*runs))

    def __contains__(self, url: object) -> bool:
        if not isinstance(url, str):
            return False
        digest = url_digest(url)
        digests = self._digests
        at = bisect_left(digests, digest)
        return at < len(digests) and digests[at] == digest

    def __len__(self) -> int:
        return len(self._digests)

    @property
    def nbytes(self) -> int:
        """Bytes the digests take."""
        return len(self._digests) * self._digests.itemsize


@dataclass
class Previous:
    """What :func:`prepare_resume` found in the earlier output."""

    done: DoneSet
    kept: int  # lines kept: the URLs not fetched again
    dropped_failed: int  # lines of failed URLs dropped (--retry-failed)
    torn: bool  # a torn last line was cut away


def _lines(out: IO[bytes]) -> Iterator[tuple[int, bytes]]:
    """Each line with the offset it starts at (the last may lack its newline)."""
    offset = 0
    for line in out:
        yield offset, line
        offset += len(line)


def _record(line: bytes) -> dict[str, Any] | None:
    """The record of a whole line, or None when it is not one of ours."""
    if not line.endswith(b"\n"):
        return None
    try:
        record = json.loads(line)
    except ValueError:
        return None
    if not isinstance(record, dict) or not isinstance(record.get("url"), str):
        return None
    return record


def _failed(record: dict[str, Any]) -> bool:
    return record.get("error") is not None or record.get("skipped") == UNREACHABLE


def prepare_resume(path: str, retry_failed: bool) -> Previous:
    """Read and repair the output of an earlier run; the URLs it did.

    A missing file is a run that never wrote anything: nothing is done.

    Args:
        path: the ``--jsonl`` file.
        retry_failed: drop the lines of failed URLs, so they are fetched again.

    Returns:
        the done set and what was changed in the file.

    Raises:
        UsageError: the file cannot be read or repaired, or a line before the
            last is not a record of ``asks fetch``.
    """
    try:
        out = open(path, "rb")  # noqa: SIM115
    except FileNotFoundError:
        return Previous(DoneSet(), 0, 0, False)
    except OSError as exc:
        raise UsageError(f"cannot read --jsonl {path!r} to resume: {exc}") from None
    try:
        # The run appends to it: a file it cannot write is the clear error
        # now, before a repair or --retry-failed has changed a byte of it.
        open(path, "ab").close()
    except OSError as exc:
        out.close()
        raise UsageError(f"cannot append to --jsonl {path!r} to resume: {exc}") from None
    copy: IO[bytes] | None = None
    temp: str | None = None
    try:
        with out:
            if retry_failed:
                directory = os.path.dirname(os.path.abspath(path))
                fd, temp = tempfile.mkstemp(dir=directory, prefix=".asks-resume-")
                copy = os.fdopen(fd, "wb")
            previous, torn_at = _scan(out, copy, path)
        if copy is not None and temp is not None:
            copy.close()
            if previous.dropped_failed:
                os.chmod(temp, os.stat(path).st_mode & 0o777)
                os.replace(temp, path)  # the torn line went with the others
                temp = None
                return previous
        if torn_at is not None:
            os.truncate(path, torn_at)
        return previous
    except OSError as exc:
        raise UsageError(f"cannot repair --jsonl {path!r} to resume: {exc}") from None
    finally:
        if copy is not None:
            copy.close()
        if temp is not None:
            with contextlib.suppress(OSError):
                os.unlink(temp)


def _scan(out: IO[bytes], copy: IO[bytes] | None, path: str) -> tuple[Previous, int | None]:
    """One pass over the lines: digests of the done URLs, the torn line's offset."""
    kept = dropped = 0
    torn_at: int | None = None
    bad: tuple[int, int] | None = None  # (line number, offset) of a line not ours

    def digests() -> Iterator[int]:
        nonlocal kept, dropped, torn_at, bad
        number = 0
        for offset, line in _lines(out):
            number += 1
            if bad is not None:
                # A bad line followed by another: not a torn last line.
                raise UsageError(
                    f"--jsonl {path!r} line {bad[0]} is not a JSON record of asks fetch; "
                    "cannot resume from it"
                )
            record = _record(line)
            if record is None:
                bad = (number, offset)
                continue
            if retry_failed_line := (copy is not None and _failed(record)):
                dropped += 1
            else:
                kept += 1
                yield url_digest(record["url"])
            if copy is not None and not retry_failed_line:
                copy.write(line)
        if bad is not None:
            torn_at = bad[1]

    done = DoneSet(digests())
    return Previous(done, kept, dropped, torn_at is not None), torn_at
