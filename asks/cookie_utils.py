"""Cookies: asks' ``CookieTracker``, RFC 6265 rules over a standard jar.

The rules (parsing ``Set-Cookie``, what is stored, what is sent back and in
which order) are RFC 6265's and live in :mod:`asks._cookies`; the standard
library's own parser follows the older Netscape and RFC 2965 rules, so asks
does not use it. The store stays an ``http.cookiejar.CookieJar`` - or a
``MozillaCookieJar`` a user saves and loads - which this module fills and
reads: a domain cookie is kept under ``.example.org`` (the jar's and the
cookies.txt format's "include subdomains"), a host-only cookie under
``example.org``, so a saved file keeps the difference.

Cookies do not separate by port (RFC 6265 section 8.5): a cookie set by
``http://host:8000`` is sent to ``http://host:9000`` too.

``http.cookiejar`` costs milliseconds to import: it is imported when a store
is made, not for reading the cookies of a response.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import _cookies
from ._headers import Headers

if TYPE_CHECKING:
    import http.cookiejar

__all__ = ["Cookie", "CookieTracker"]

# The jar's "nonstandard attribute" names; HTTPOnly is the one
# MozillaCookieJar writes as a "#HttpOnly_" line prefix.
_HTTP_ONLY = "HTTPOnly"
_SAME_SITE = "SameSite"
_CREATED = "asks-created"
# Requests between two sweeps of the whole jar for expired cookies, at
# least: each request looks only at the cookies of its host's domains (see
# _candidates), and a sweep comes after as many requests as the jar held
# cookies at the last one, so it costs O(1) a request.
_SWEEP_EVERY = 1024


@dataclass
class Cookie:
    """A cookie set by a response (the attributes asks always had, and more).

    Attributes:
        name: the name.
        value: the value.
        domain: the host for a host-only cookie, ``.`` and the domain for a
            cookie with a ``Domain`` attribute (as the jar keeps them).
        path: the path it applies to.
        secure: sent over https only.
        expires: seconds since the epoch, or ``None`` for a session cookie.
        comment: always ``None`` (RFC 6265 has no Comment attribute).
        host: the host that set it.
        host_only: sent to that host only, not its subdomains.
        http_only: the ``HttpOnly`` flag.
        same_site: ``"Strict"``, ``"Lax"``, ``"None"`` or ``None``.
    """

    name: str
    value: str | None
    domain: str
    path: str
    secure: bool
    expires: int | None
    comment: str | None
    host: str
    host_only: bool = True
    http_only: bool = False
    same_site: str | None = None


class _Clock:
    """Creation times that never repeat, so the sending order is total."""

    def __init__(self) -> None:
        self._last = 0.0

    def __call__(self, now: float) -> float:
        self._last = max(now, math.nextafter(self._last, math.inf))
        return self._last


_clock = _Clock()


class CookieTracker:
    """The cookie store of a Session with ``persist_cookies=True``.

    Args:
        jar: an existing ``http.cookiejar.CookieJar`` (or ``MozillaCookieJar``)
            to keep the cookies in (a new one by default). Its policy is not
            consulted: asks applies RFC 6265 itself.
    """

    def __init__(self, jar: http.cookiejar.CookieJar | None = None) -> None:
        import http.cookiejar

        self.jar = jar if jar is not None else http.cookiejar.CookieJar()
        self._sweep_in = _SWEEP_EVERY  # requests until the next sweep

    def cookie_header(self, url: str, host: str, scheme: str) -> str | None:
        """The ``Cookie`` header value for a request to *url*, if any cookie matches.

        Args:
            url: the absolute request URL.
            host: its host (IDNA-encoded, lower case).
            scheme: ``"http"`` or ``"https"``.

        Returns:
            ``name=value`` pairs joined by ``"; "`` in RFC 6265 section 5.4
            order, or ``None``.
        """
        now = time.time()
        path = _cookies.request_path(url)
        secure = scheme == "https"
        chosen: list[tuple[int, float, str]] = []
        expired = []
        applies = _cookies.applies
        jar = self.jar
        table = getattr(jar, "_cookies", None)
        cookies: Iterator[http.cookiejar.Cookie]
        if isinstance(table, dict):
            # Only the domains that can match the host: a session over many
            # hosts keeps a jar of many, and walking it all for each
            # request made a crawl quadratic (46 ms a request at 20,000
            # hosts). The walk for expired cookies of other hosts comes
            # now and then instead (RFC 6265 section 5.3: they SHOULD be
            # evicted; when is the store's to choose).
            self._sweep_in -= 1
            if self._sweep_in <= 0:
                self._sweep(now)
            cookies = _candidates(table, host)
        else:
            cookies = iter(jar)
        for position, c in enumerate(cookies):
            if c.expires is not None and c.expires <= now:
                expired.append(c)
                continue
            if c.value is None:
                continue  # a bare name an older parser kept: not a cookie
            domain = c.domain
            host_only = not (c.domain_specified or domain.startswith("."))
            if applies(domain.removeprefix("."), host_only, c.path, c.secure, host, path, secure):
                creation = _creation(c, position)
                chosen.append((-len(c.path), creation, f"{c.name}={c.value}"))
        for c in expired:
            _discard(self.jar, c.domain, c.path, c.name)
        if not chosen:
            return None
        # RFC 6265 section 5.4 step 2 (_cookies.sending_order on the fields).
        chosen.sort(key=lambda entry: (entry[0], entry[1]))
        return "; ".join(entry[2] for entry in chosen)

    def _sweep(self, now: float) -> None:
        """Evict every expired cookie of the jar; the next sweep after as many requests."""
        expired = []
        count = 0
        for c in self.jar:
            count += 1
            if c.expires is not None and c.expires <= now:
                expired.append(c)
        for c in expired:
            _discard(self.jar, c.domain, c.path, c.name)
        self._sweep_in = max(_SWEEP_EVERY, count - len(expired))

    def is_empty(self) -> bool:
        """Whether the jar holds no cookie (cheaper than ``len()``).

        A jar emptied by its own ``clear(domain, path, name)`` may still
        answer False: the request then looks for cookies and finds none.
        """
        table = getattr(self.jar, "_cookies", None)
        if isinstance(table, dict):
            # Not a walk, which starts by sorting every domain of the jar.
            return not table
        for _ in self.jar:
            return False
        return True

    def store(self, headers: Headers, url: str, host: str, scheme: str) -> None:
        """Keep the cookies a response set, line by line, as RFC 6265 says.

        Each ``Set-Cookie`` is applied in the order received, so a later line
        (``Max-Age=0``, say) acts on what an earlier one stored.

        Args:
            headers: the response headers.
            url: the request URL.
            host: its host.
            scheme: its scheme.
        """
        if "set-cookie" not in headers:
            return
        now = time.time()
        path = _cookies.request_path(url)
        secure_origin = _cookies.is_secure_origin(scheme, host)
        for line in headers.get_list("set-cookie"):
            stored = _decide(line, host, path, now, secure_origin)
            if stored is None:
                continue
            if not secure_origin and self._shadows_secure(stored):
                continue
            old = _find(self.jar, stored)
            if old is not None:
                # Section 5.3 step 11: the newer cookie replaces the older
                # and keeps its creation time (and so its place in order).
                found = _from_jar(old, 0)
                if found is not None:
                    stored.creation = found.creation
                _discard(self.jar, old.domain, old.path, old.name)
            if stored.expired(now):
                continue  # a deletion: the older one is gone, nothing to add
            self.jar.set_cookie(_to_jar(stored))

    def _shadows_secure(self, new: _cookies.StoredCookie) -> bool:
        shadows = _cookies.shadows_secure
        table = getattr(self.jar, "_cookies", None)
        if not isinstance(table, dict):
            return any(
                c.secure and shadows(new, c.name, c.domain.removeprefix("."), c.path)
                for c in self.jar
            )
        # The jar's own index (domain -> path -> name, see _find): a crawl's
        # jar of thousands of cookies is not walked for each cookie plain
        # http sets, only its domains and paths, the name looked up in each.
        for paths in table.values():
            for path, names in paths.items():
                c = names.get(new.name)
                if c is not None and c.secure and shadows(new, c.name, c.domain.lstrip("."), path):
                    return True
        return False

    def __iter__(self) -> Iterator[http.cookiejar.Cookie]:
        return iter(self.jar)

    def __len__(self) -> int:
        return len(self.jar)


def _candidates(table: dict[str, Any], host: str) -> Iterator[http.cookiejar.Cookie]:
    """The cookies of the jar's index *table* that may match *host*, in the jar's order.

    A cookie can match only a host that is its domain or a name under it
    (RFC 6265 section 5.1.3), and the jar files it under its domain, with a
    leading dot for a domain cookie: so the host and each name it is under,
    both spellings. The jar iterates its domains sorted; so does this, so a
    loaded cookie's place (its creation, see _creation) keeps its order.
    """
    import http.cookiejar

    keys = []
    name = host
    while True:
        if name in table:
            keys.append(name)
        dotted = "." + name
        if dotted in table:
            keys.append(dotted)
        dot = name.find(".")
        if dot < 0:
            break
        name = name[dot + 1 :]
    keys.sort()
    for key in keys:
        yield from http.cookiejar.deepvalues(table[key])  # type: ignore[attr-defined]


def _decide(
    line: str, host: str, path: str, now: float, secure_origin: bool
) -> _cookies.StoredCookie | None:
    parsed = _cookies.parse_set_cookie(line, now)
    if parsed is None:
        return None
    return _cookies.decide(parsed, host, path, _clock(now), secure_origin=secure_origin)


def _jar_domain(c: _cookies.StoredCookie) -> str:
    # The jar's (and cookies.txt's) spelling of "include subdomains".
    return c.domain if c.host_only else "." + c.domain


def _to_jar(c: _cookies.StoredCookie) -> http.cookiejar.Cookie:
    import http.cookiejar

    rest = {_CREATED: repr(c.creation)}
    if c.http_only:
        rest[_HTTP_ONLY] = ""
    if c.same_site is not None:
        rest[_SAME_SITE] = c.same_site
    return http.cookiejar.Cookie(
        version=0,
        name=c.name,
        value=c.value,
        port=None,
        port_specified=False,
        domain=_jar_domain(c),
        domain_specified=not c.host_only,
        domain_initial_dot=not c.host_only,
        path=c.path,
        path_specified=True,
        secure=c.secure,
        expires=None if c.expiry is None else math.ceil(c.expiry),
        discard=c.expiry is None,
        comment=None,
        comment_url=None,
        rest=rest,
    )


def _from_jar(c: http.cookiejar.Cookie, position: int) -> _cookies.StoredCookie | None:
    if c.value is None:
        # A bare name an older parser stored ("Set-Cookie: foo"): RFC 6265
        # has no such cookie and sends nothing for it.
        return None
    creation = _creation(c, position)
    host_only = not (c.domain.startswith(".") or c.domain_specified)
    same_site = c.get_nonstandard_attr(_SAME_SITE)
    return _cookies.StoredCookie(
        name=c.name,
        value=c.value,
        domain=c.domain.removeprefix("."),
        path=c.path,
        expiry=None if c.expires is None else float(c.expires),
        creation=creation,
        host_only=host_only,
        secure=c.secure,
        http_only=c.has_nonstandard_attr(_HTTP_ONLY) or c.has_nonstandard_attr("HttpOnly"),
        same_site=same_site if isinstance(same_site, str) else None,
    )


def _creation(c: http.cookiejar.Cookie, position: int) -> float:
    # A cookie from a loaded file has no creation time: it sorts before the
    # cookies made since, in the jar's order.
    created = c.get_nonstandard_attr(_CREATED)
    if created is not None:
        try:
            return float(created)
        except ValueError:
            pass
    return position * 1e-9


def _find(jar: http.cookiejar.CookieJar, c: _cookies.StoredCookie) -> http.cookiejar.Cookie | None:
    """The jar's cookie with the name, domain and path of *c*, either spelling."""
    # The jar's own index (domain -> path -> name), which every CookieJar
    # has had since Python 2; one lookup instead of a walk over the jar.
    table = getattr(jar, "_cookies", None)
    for domain in (c.domain, "." + c.domain):
        if isinstance(table, dict):
            found = table.get(domain, {}).get(c.path, {}).get(c.name)
        else:
            found = next(
                (j for j in jar if (j.domain, j.path, j.name) == (domain, c.path, c.name)), None
            )
        if found is not None:
            return found  # type: ignore[no-any-return]
    return None


def _discard(jar: http.cookiejar.CookieJar, domain: str, path: str, name: str) -> None:
    with contextlib.suppress(KeyError):
        jar.clear(domain, path, name)
    # The jar's clear() leaves the path's and the domain's dicts behind when
    # they empty: a crawl whose cookies expire or are deleted would keep an
    # entry per host it ever met, and walk them all.
    table = getattr(jar, "_cookies", None)
    if isinstance(table, dict):
        paths = table.get(domain)
        if paths is not None and not paths.get(path, True):
            del paths[path]
            if not paths:
                del table[domain]


def parse_response_cookies(headers: Headers, url: str, host: str, scheme: str) -> list[Cookie]:
    """The cookies a response sets, as asks :class:`Cookie` objects.

    Those the session's store would take (a cookie whose ``Domain`` does not
    cover the host is left out, and so is a ``Secure`` or ``__Secure-`` /
    ``__Host-`` cookie its origin cannot set; one that deletes, with an
    expiry in the past, is listed), in the order received.

    Args:
        headers: the response headers.
        url: the request URL.
        host: its host.
        scheme: its scheme.

    Returns:
        The cookies.
    """
    if "set-cookie" not in headers:
        return []
    now = time.time()
    path = _cookies.request_path(url)
    out = []
    secure_origin = _cookies.is_secure_origin(scheme, host)
    for line in headers.get_list("set-cookie"):
        c = _decide(line, host, path, now, secure_origin)
        if c is None:
            continue
        out.append(
            Cookie(
                name=c.name,
                value=c.value,
                domain=_jar_domain(c),
                path=c.path,
                secure=c.secure,
                expires=None if c.expiry is None else math.ceil(c.expiry),
                comment=None,
                host=host,
                host_only=c.host_only,
                http_only=c.http_only,
                same_site=c.same_site,
            )
        )
    return out
