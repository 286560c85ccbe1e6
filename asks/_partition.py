"""Which shard a URL belongs to: the same answer on every machine and run.

A bulk fetch split over processes (``asks fetch --processes N``) or machines
(``--shard K/N``) partitions its URLs by host, so every request to one host
goes through one session and that session's per-host connection limit and
rate limit hold for the whole crawl, not once per shard.

The hash is BLAKE2b of the host, never Python's ``hash()``: that one is
salted per process (``PYTHONHASHSEED``), so two machines would disagree.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from urllib.parse import urlsplit

from ._urls import is_dotted_quad, parse_url

__all__ = ["host_key", "parse_shard", "shard_of"]

# The URL a crawl list is made of: scheme://host[:port] then a path, query,
# fragment or the end, the host plain ASCII. For it the host is the match,
# without urlsplit's general parse (a crawl keys every URL it reads; this
# is a third of urlsplit's cost). Anything else takes urlsplit, and
# tests/test_partition.py checks that the two agree.
_SIMPLE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://([A-Za-z0-9.-]+)(?::[0-9]*)?(?:[/?#]|\Z)")


def host_key(url: str) -> str:
    """The part of *url* that decides its shard: the host name in lower case.

    The port is left out: ``example.com:80`` and ``example.com:8443`` are one
    machine to be polite to. A line that is not a URL with a host keys on the
    whole stripped line, so it still lands in exactly one shard (where it
    becomes a result saying what is wrong with it).

    Args:
        url: a URL as read from the input list.

    Returns:
        The host name, lower-cased (a non-ASCII one in its IDNA form, an
        IP address in the one spelling requests go out with), or the line
        itself.
    """
    url = url.strip()
    simple = _SIMPLE.match(url)
    if simple is not None:
        host = simple.group(1).lower().rstrip(".")
        if not host[-1:].isdigit() or is_dotted_quad(host):
            # A name (no top-level domain is all digits), or an IPv4
            # address already in the one spelling asks sends.
            return host
    try:
        host = urlsplit(url).hostname
    except ValueError:
        host = None
    if host and (not host.isascii() or ":" in host or host[-1:].isdigit()):
        # The pool, the rate limiter and robots.txt know a host by the
        # spelling asks._urls gives it: its IDNA form ("bücher.example" and
        # "xn--bcher-kva.example" are one server), an address written one way
        # ("127.1" is 127.0.0.1, "[0:0::1]" is [::1]). One server must be one
        # partition (one worker, one shard).
        with contextlib.suppress(ValueError):
            host = parse_url(url).host
    return host.rstrip(".") if host else url


def shard_of(url: str, count: int) -> int:
    """The shard, from 0 to ``count - 1``, that fetches *url*.

    Args:
        url: a URL as read from the input list.
        count: how many shards the crawl is split into (at least 1).

    Returns:
        The shard index, the same on every machine, Python version and run.

    Raises:
        ValueError: *count* is below 1.
    """
    if count < 1:
        raise ValueError(f"the shard count must be at least 1, not {count}")
    if count == 1:
        return 0
    digest = hashlib.blake2b(host_key(url).encode("utf-8", "surrogatepass"), digest_size=8)
    return int.from_bytes(digest.digest(), "big") % count


def parse_shard(text: str) -> tuple[int, int]:
    """``"K/N"`` (K from 1 to N, as job runners count) as ``(K - 1, N)``.

    Args:
        text: the ``--shard`` argument, e.g. ``"3/8"``.

    Returns:
        The zero-based shard index and the shard count.

    Raises:
        ValueError: not of the form ``K/N`` with ``1 <= K <= N``.
    """
    index, sep, count = text.partition("/")
    try:
        k, n = int(index), int(count)
    except ValueError:
        k = n = 0
    if not sep or n < 1 or not 1 <= k <= n:
        raise ValueError(f"--shard wants K/N with 1 <= K <= N (e.g. 1/4), not {text!r}")
    return k - 1, n
