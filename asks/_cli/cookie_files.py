"""``-b``/``--cookie`` and ``-c``/``--cookie-jar``: cookies in and out, as curl takes them.

``-b 'NAME=VALUE; NAME2=VALUE2'`` sends those cookies with the request;
``-b FILE`` (an argument without ``=``, as curl tells them apart) loads a
cookie file in the Netscape format curl and browsers' exporters write, whose
cookies then go wherever they apply (domain, path, secure, expiry), redirects
included. ``-c FILE`` writes every cookie the session holds at the end of the
run, in the same format, so ``-b FILE -c FILE`` carries a login from one run
to the next. Session cookies (no expiry) are written too, as curl does.

``-b`` may be given several times, as curl takes it since 7.76: every
``NAME=VALUE`` string goes, joined by ``; `` in the order given, and every
file is read into the one store (a later file's cookie of the same domain,
path and name replaces an earlier one's).

``-b ''`` (an empty argument) reads no file: as curl's (an empty
``CURLOPT_COOKIEFILE``), it turns the cookie store on with nothing in it, so
the cookies the responses set are kept for the run and ``-c`` writes them.
"""

from __future__ import annotations

import http.cookiejar
import os
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

from ..cookie_utils import _discard as discard
from .exits import UsageError

__all__ = ["CookieFiles", "cookie_files"]


@dataclass
class CookieFiles:
    """What ``-b`` and ``-c`` asked for, checked."""

    #: ``-b NAME=VALUE...``: the ``Cookie`` header sent with the request.
    send: str | None
    #: The session's store when ``-b FILE`` or ``-c FILE`` is given.
    jar: http.cookiejar.MozillaCookieJar | None
    #: ``-c FILE``.
    save_to: str | None

    def save(self) -> None:
        """Write the session's cookies to ``-c FILE`` (nothing without it).

        Raises:
            OSError: the file cannot be written.
        """
        if self.jar is None or self.save_to is None:
            return
        # A new jar is made readable by its owner alone: it holds logins.
        # The standard library's save does so itself only in its recent
        # releases (3.10's makes it 0644 under the usual umask); an existing
        # file keeps its mode, as there.
        os.close(os.open(self.save_to, os.O_WRONLY | os.O_CREAT, 0o600))
        jar = self.jar
        if any(_unwritable(kept) for kept in jar):
            jar = http.cookiejar.MozillaCookieJar()
            for kept in self.jar:
                if not _unwritable(kept):
                    jar.set_cookie(kept)
        jar.save(self.save_to, ignore_discard=True, ignore_expires=False)


def _unwritable(kept: http.cookiejar.Cookie) -> bool:
    # The format's fields are split by tabs: a cookie with one in its name,
    # value or path (a Set-Cookie line may hold one: draft-ietf-httpbis-
    # rfc6265bis section 5.6 refuses the other control characters only)
    # would make a line of too many fields, and the whole file one the next
    # -b refuses. Such a cookie is left out.
    return "\t" in f"{kept.name}{kept.value or ''}{kept.path}{kept.domain}"


def _pairs(text: str) -> str:
    # A header's value, not a mapping: a Cookie header copied from a browser
    # may hold one name twice (two paths or domains, RFC 6265 section 5.4),
    # and each pair goes as given, in its order.
    pairs: list[str] = []
    for item in text.split(";"):
        name, equals, value = item.strip().partition("=")
        if not item.strip():
            continue
        if not equals or not name.strip():
            raise UsageError(f"invalid --cookie {item.strip()!r}: NAME=VALUE expected")
        pairs.append(f"{name.strip()}={value.strip()}")
    return "; ".join(pairs)


def cookie_files(cookies: Sequence[str], cookie_jar: str | None) -> CookieFiles:
    """Check ``-b`` and ``-c`` before any request.

    Args:
        cookies: each ``-b``'s argument, in order: ``NAME=VALUE`` pairs, a
            file, or ``''`` (no file: the store alone).
        cookie_jar: ``-c``'s file.

    Returns:
        what to send, the store to give the session, where to save it.

    Raises:
        UsageError: a ``-b`` file that cannot be read or is not a cookie
            file, a ``-c`` file in a place that cannot be written.
    """
    # "-" is stdin or stdout everywhere else on this command line (-o -,
    # --jsonl -, a list from -): here it would be a file of that name.
    if "-" in cookies:
        raise UsageError("--cookie - (stdin) is not supported: give a cookie file")
    if cookie_jar == "-":
        raise UsageError("--cookie-jar - (stdout) is not supported: give a file")
    sent = [_pairs(given) for given in cookies if "=" in given]
    jar = None
    for path in (given for given in cookies if "=" not in given):
        if jar is None:
            jar = http.cookiejar.MozillaCookieJar()
        if not path:
            continue  # -b '': the store on, no file to read (curl's meaning)
        for kept in _load(path):
            jar.set_cookie(kept)
    if cookie_jar is not None:
        _check_writable(cookie_jar)
        if jar is None:
            jar = http.cookiejar.MozillaCookieJar()
    return CookieFiles("; ".join(pair for pair in sent if pair) or None, jar, cookie_jar)


def _load(path: str) -> http.cookiejar.MozillaCookieJar:
    jar = http.cookiejar.MozillaCookieJar()
    try:
        with warnings.catch_warnings():
            # A line it cannot read makes the standard library warn of a bug
            # of its own, with a traceback, before it raises LoadError.
            warnings.filterwarnings("ignore", "http.cookiejar bug", UserWarning)
            # Expiry is sorted out below: curl writes 0 for a session cookie,
            # which the standard library would read as long expired.
            jar.load(path, ignore_discard=True, ignore_expires=True)
    except http.cookiejar.LoadError:
        # Not the LoadError's text: it quotes the line, a cookie's value (a
        # login) for all the file is known to hold, into a terminal or a log.
        raise UsageError(
            f"invalid --cookie file {path!r}: not a Netscape-format cookie file (a first line "
            "'# Netscape HTTP Cookie File', then one cookie a line, 7 fields split by tabs)"
        ) from None
    except OSError as exc:
        raise UsageError(f"cannot read --cookie file {path!r}: {exc.strerror}") from None
    now = time.time()
    for kept in list(jar):
        if kept.expires == 0:
            kept.expires = None
            kept.discard = True
        elif kept.expires is not None and kept.expires <= now:
            discard(jar, kept.domain, kept.path, kept.name)  # (no empty entry left)
    return jar


def _check_writable(path: str) -> None:
    # Before the request: a jar that cannot be written would lose the
    # cookies of a request (a login) that cannot be made again.
    if os.path.isdir(path):
        raise UsageError(f"cannot write --cookie-jar {path!r}: it is a directory")
    directory = os.path.dirname(path) or "."
    target = path if os.path.exists(path) else directory
    if not os.access(target, os.W_OK):
        raise UsageError(f"cannot write --cookie-jar {path!r}: permission denied or no such place")
