"""RFC 6265 cookie rules as pure functions: parse, decide what to store, match.

Nothing here touches a socket, a clock or a jar: every function takes the
request's host, path and "now" as arguments, so the rules are tested on
their own (tests/test_cookie_rules.py) and the adapter over
``http.cookiejar`` (:mod:`asks.cookie_utils`) only moves data in and out.

* :func:`parse_set_cookie` - one ``Set-Cookie`` value, RFC 6265 section 5.2
  (dates by section 5.1.1, the algorithm draft-ietf-httpbis-rfc6265bis keeps).
* :func:`decide` - whether and how that cookie is stored, section 5.3.
* :func:`matches` and :func:`sending_order` - which stored cookies go with a
  request and in what order, section 5.4.

Host names arrive IDNA-encoded and lower case from the URL layer, so the
"canonicalized host name" of section 5.1.2 is the host as given.
"""

from __future__ import annotations

import calendar
import contextlib
import datetime
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

__all__ = [
    "ParsedCookie",
    "StoredCookie",
    "applies",
    "decide",
    "default_path",
    "domain_match",
    "is_ip_address",
    "is_public_suffix",
    "matches",
    "parse_cookie_date",
    "parse_set_cookie",
    "path_match",
    "request_path",
    "sending_order",
]

# The latest expiry kept: a Max-Age of 10**30 must not overflow a float or an
# http.cookiejar int (section 5.2.2 says "the latest representable date").
LATEST = 253402300799.0  # 9999-12-31T23:59:59Z
# "The earliest representable date and time" (section 5.2.2): in the past.
EARLIEST = 0.0

_WSP = " \t"

# Section 5.1.1: delimiter = %x09 / %x20-2F / %x3B-40 / %x5B-60 / %x7B-7E.
_DATE_DELIMITERS = re.compile(r"[\x09\x20-\x2f\x3b-\x40\x5b-\x60\x7b-\x7e]+")
# time = hms-time ( non-digit *OCTET ); hms-time = 1*2DIGIT ":" 1*2DIGIT ":" 1*2DIGIT
_TIME = re.compile(r"([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})(?:[^0-9][\s\S]*)?\Z")
# day-of-month = 1*2DIGIT ( non-digit *OCTET )
_DAY = re.compile(r"([0-9]{1,2})(?:[^0-9][\s\S]*)?\Z")
# year = 2*4DIGIT ( non-digit *OCTET )
_YEAR = re.compile(r"([0-9]{2,4})(?:[^0-9][\s\S]*)?\Z")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
# draft-ietf-httpbis-rfc6265bis section 5.6 step 1: control characters
# other than HTAB make the whole line ignored (they could never be sent back
# in a Cookie header anyway).
_CONTROLS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_SAME_SITE = {"strict": "Strict", "lax": "Lax", "none": "None"}


def parse_cookie_date(text: str) -> float | None:
    """A cookie date (``Expires``) as seconds since the epoch, or ``None``.

    The lenient algorithm of RFC 6265 section 5.1.1: the first token that
    looks like a time, a day of month, a month and a year, in any order,
    with any delimiters between them; two-digit years 70-99 are 19xx, 00-69
    are 20xx.

    Args:
        text: the attribute value.

    Returns:
        The time in seconds (UTC), or ``None`` when the text is not a date.
    """
    time: tuple[int, int, int] | None = None
    day = month = year = None
    for token in _DATE_DELIMITERS.split(text):
        if not token:
            continue
        # Each token is tried against the fields not yet found, in this
        # order, and stops at the first that matches (section 5.1.1 step 2).
        if time is None and (m := _TIME.match(token)):
            time = (int(m[1]), int(m[2]), int(m[3]))
        elif day is None and (m := _DAY.match(token)):
            day = int(m[1])
        elif month is None and token[:3].lower() in _MONTHS:
            month = _MONTHS.index(token[:3].lower()) + 1
        elif year is None and (m := _YEAR.match(token)):
            year = int(m[1])
    if time is None or day is None or month is None or year is None:
        return None
    if 70 <= year <= 99:
        year += 1900
    elif 0 <= year <= 69:
        year += 2000
    hour, minute, second = time
    if not 1 <= day <= 31 or year < 1601 or hour > 23 or minute > 59 or second > 59:
        return None
    try:
        # Refuses dates that do not exist (31 February).
        datetime.date(year, month, day)
    except ValueError:
        return None
    return float(calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)))


@dataclass(frozen=True, slots=True)
class ParsedCookie:
    """One ``Set-Cookie`` line after section 5.2, before any store decision.

    Attributes:
        name: the cookie name (never empty).
        value: the cookie value (may be empty).
        expiry: from the last valid ``Max-Age``, else the last valid
            ``Expires`` (section 5.3 step 3); ``None`` for a session cookie.
        domain: the last non-empty ``Domain``, without a leading dot and in
            lower case; ``None`` when there was none.
        path: the last ``Path`` value; ``""`` when that value was empty or did
            not start with ``/`` (then the default path applies); ``None``
            when there was no ``Path``.
        secure: a ``Secure`` attribute was present (whatever its value).
        http_only: an ``HttpOnly`` attribute was present.
        same_site: ``"Strict"``, ``"Lax"`` or ``"None"`` from the last
            ``SameSite`` with one of those values, else ``None``.
    """

    name: str
    value: str
    expiry: float | None = None
    domain: str | None = None
    path: str | None = None
    secure: bool = False
    http_only: bool = False
    same_site: str | None = None


def parse_set_cookie(line: str, now: float) -> ParsedCookie | None:
    """Parse one ``Set-Cookie`` header value (RFC 6265 section 5.2).

    Args:
        line: the header value.
        now: the current time in seconds, for ``Max-Age``.

    Returns:
        The cookie, or ``None`` when the line is to be ignored entirely (no
        ``=`` in the name-value pair, an empty name, control characters).
    """
    if _CONTROLS.search(line):
        return None
    pair, _, attributes = line.partition(";")
    if "=" not in pair:
        # Step 2: a bare "foo" is not a cookie named foo (old jars kept it).
        return None
    name, _, value = pair.partition("=")
    name = name.strip(_WSP)
    if not name:
        return None
    value = value.strip(_WSP)
    max_age: float | None = None
    expires: float | None = None
    domain: str | None = None
    path: str | None = None
    secure = http_only = False
    same_site: str | None = None
    # Every attribute is read in order and a later one replaces an earlier
    # one of the same name (section 5.3 uses "the last attribute").
    for av in attributes.split(";") if attributes else ():
        av_name, _, av_value = av.partition("=")
        av_name = av_name.strip(_WSP).lower()
        av_value = av_value.strip(_WSP)
        if av_name == "expires":
            # Section 5.2.1: a value that is not a date ignores the attribute.
            when = parse_cookie_date(av_value)
            if when is not None:
                expires = when
        elif av_name == "max-age":
            seconds = _delta_seconds(av_value)
            if seconds is not None:
                max_age = EARLIEST if seconds <= 0 else min(now + seconds, LATEST)
        elif av_name == "domain":
            # Section 5.2.3: an empty value "SHOULD" ignore the attribute (so
            # an earlier Domain still holds); a leading dot is dropped.
            if av_value:
                domain = _ascii_lower(av_value.removeprefix("."))
                if not domain.isascii():
                    # Section 5.1.2 (and rfc6265bis 5.6.3, the host parser): a
                    # name compares as its A-labels, the way the URL's host is
                    # spelled (IDNA 2008, UTS 46); one that has none cannot
                    # name a host, and the cookie is ignored.
                    domain = _a_labels(domain)
                    if domain is None:
                        return None
        elif av_name == "path":
            # Section 5.2.4: empty or not starting with "/" (a quoted
            # "/x" among them) means the default path.
            path = av_value if av_value.startswith("/") else ""
        elif av_name == "secure":
            # Section 5.2.5: "Secure=" and "Secure=no" are Secure too.
            secure = True
        elif av_name == "httponly":
            http_only = True
        elif av_name == "samesite":
            same_site = _SAME_SITE.get(av_value.lower())
        # Anything else (Version, Comment, Priority, ...) is ignored, not a
        # reason to refuse the cookie (section 5.2 step 6).
    return ParsedCookie(
        name=name,
        value=value,
        expiry=max_age if max_age is not None else expires,
        domain=domain,
        path=path,
        secure=secure,
        http_only=http_only,
        same_site=same_site,
    )


def _delta_seconds(text: str) -> int | None:
    # Section 5.2.2: a first character other than a digit or "-", or any
    # later non-digit ("50,399"), ignores the attribute, not the cookie.
    if not text or not (text[0] == "-" or "0" <= text[0] <= "9"):
        return None
    rest = text[1:]
    if not all("0" <= c <= "9" for c in rest) or (text[0] == "-" and not rest):
        return None
    return int(text)


def _a_labels(name: str) -> str | None:
    from ._urls import idna_ascii

    # Header values are read one byte to a character (Latin-1, RFC 9110
    # section 5.5); a server's non-ASCII name is UTF-8 in practice.
    with contextlib.suppress(UnicodeError):  # else not UTF-8: the text as it is
        name = name.encode("latin-1").decode("utf-8")
    try:
        return idna_ascii(name)
    except UnicodeError:
        return None


def _ascii_lower(text: str) -> str:
    # RFC 6265 lower-cases ASCII only; str.lower() would also turn the Kelvin
    # sign into "k", making a non-ASCII Domain match an ASCII host.
    return text.lower() if text.isascii() else text


@dataclass(slots=True)
class StoredCookie:
    """A cookie as the store keeps it (RFC 6265 section 5.3).

    Attributes:
        name: the name.
        value: the value.
        domain: the host (``host_only``) or the domain it applies to, without
            a leading dot.
        path: the path it applies to.
        expiry: seconds since the epoch, or ``None`` for a session cookie.
        creation: when the first cookie of this name, domain and path was
            stored (kept across replacements, section 5.3 step 11); orders
            cookies of equal path length when sent.
        host_only: sent to ``domain`` exactly, never to its subdomains.
        secure: sent over https only.
        http_only: the ``HttpOnly`` flag (kept; asks has no non-HTTP API).
        same_site: ``"Strict"``, ``"Lax"``, ``"None"`` or ``None`` (kept).
    """

    name: str
    value: str
    domain: str
    path: str
    expiry: float | None
    creation: float
    host_only: bool
    secure: bool
    http_only: bool = False
    same_site: str | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        """The identity a newer cookie replaces: (name, domain, path)."""
        return (self.name, self.domain, self.path)

    def expired(self, now: float) -> bool:
        """Whether the cookie's expiry has passed."""
        return self.expiry is not None and self.expiry <= now


def decide(
    cookie: ParsedCookie,
    host: str,
    path: str,
    creation: float,
    is_public: Callable[[str], bool] | None = None,
    secure_origin: bool = True,
) -> StoredCookie | None:
    """What to store for a cookie received from *host* (RFC 6265 section 5.3).

    An expired result is still returned: storing it replaces (removes) an
    older cookie of the same name, domain and path, then it is evicted
    itself - that is how a server deletes a cookie.

    Args:
        cookie: the parsed line.
        host: the request host (IDNA-encoded, lower case).
        path: the request path (no query).
        creation: the creation time to give a new cookie.
        is_public: tells whether a domain is a public suffix; the Public
            Suffix List (:func:`is_public_suffix`) by default. Called only
            for a ``Domain`` attribute on a host name.

        secure_origin: the response came over https (or from a loopback
            host, which no one can stand between): see
            :func:`refused_for_origin`.

    Returns:
        The cookie to store, or ``None`` when it must be ignored (its
        ``Domain`` does not cover *host*, or is a public suffix other than
        *host* itself; it is ``Secure`` or has a name prefix its origin
        cannot set).
    """
    if refused_for_origin(cookie, secure_origin):
        return None
    domain = cookie.domain or ""
    if domain and not is_ip_address(domain):
        check = is_public if is_public is not None else is_public_suffix
        if check(domain):
            # Step 5: a public suffix is only acceptable as the host itself,
            # and then the cookie is host-only.
            if domain != host:
                return None
            domain = ""
    if domain:
        if not domain_match(host, domain):
            return None
        host_only = False
    else:
        host_only = True
        domain = host
    return StoredCookie(
        name=cookie.name,
        value=cookie.value,
        domain=domain,
        path=cookie.path or default_path(path),
        expiry=cookie.expiry,
        creation=creation,
        host_only=host_only,
        secure=cookie.secure,
        http_only=cookie.http_only,
        same_site=cookie.same_site,
    )


def refused_for_origin(cookie: ParsedCookie, secure_origin: bool) -> bool:
    """Whether a cookie asks for more than the channel it came over can vouch for.

    RFC 6265 let plain http set a ``Secure`` cookie, which https then sends:
    whoever sits on a plain http connection (an open Wi-Fi, a proxy) could
    plant or replace the cookies of the https site. draft-ietf-httpbis-
    rfc6265bis closes that, as browsers and curl do, and so does asks:

    * a ``Secure`` cookie from a non-secure origin is ignored (section 5.7
      step 15);
    * a name starting with ``__Secure-`` (any case) needs ``Secure`` and a
      secure origin; one starting with ``__Host-`` needs them too, and no
      ``Domain`` and ``Path=/``, so it stays with the one host that set it
      (section 4.1.3).

    A loopback host (``localhost``, ``127.0.0.0/8``, ``::1``) counts as a
    secure origin, as browsers count it "potentially trustworthy" and curl
    does: nothing can stand between a client and its own machine.
    """
    if cookie.secure and not secure_origin:
        return True
    lowered = cookie.name[:9].lower()
    if lowered.startswith("__secure-"):
        return not (cookie.secure and secure_origin)
    if lowered.startswith("__host-"):
        return not (
            cookie.secure and secure_origin and cookie.domain is None and cookie.path == "/"
        )
    return False


def is_secure_origin(scheme: str, host: str) -> bool:
    """Whether a response from *scheme*://*host* may set ``Secure`` cookies."""
    return scheme == "https" or is_loopback(host)


def is_loopback(host: str) -> bool:
    """``localhost`` (and names under it, RFC 6761 section 6.3) or a loopback address."""
    host = host.rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    if not is_ip_address(host):
        return False
    import ipaddress

    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def shadows_secure(new: StoredCookie, old_name: str, old_domain: str, old_path: str) -> bool:
    """Whether a non-secure origin's *new* cookie would touch a stored ``Secure`` one.

    draft-ietf-httpbis-rfc6265bis section 5.7 step 16 ("leave secure
    cookies alone"): a cookie from plain http is ignored when a ``Secure``
    cookie of the same name is stored for a domain that matches its own
    (either way) and a path its path is under, so plain http can neither
    replace nor shadow it. The caller asks this only of ``Secure`` cookies
    in the store.
    """
    if old_name != new.name:
        return False
    if not (domain_match(new.domain, old_domain) or domain_match(old_domain, new.domain)):
        return False
    return path_match(new.path, old_path)


def matches(cookie: StoredCookie, host: str, path: str, secure: bool) -> bool:
    """Whether *cookie* goes with a request (RFC 6265 section 5.4 step 1).

    Expiry is not looked at here: the store evicts expired cookies.

    Args:
        cookie: a stored cookie.
        host: the request host.
        path: the request path (no query).
        secure: the request goes over a secure channel (https).

    Returns:
        True when domain, path and the Secure flag allow it.
    """
    return applies(cookie.domain, cookie.host_only, cookie.path, cookie.secure, host, path, secure)


def applies(
    domain: str,
    host_only: bool,
    cookie_path: str,
    secure_only: bool,
    host: str,
    path: str,
    secure: bool,
) -> bool:
    """:func:`matches` on the fields of a cookie, for a store that keeps its own.

    Args:
        domain: the cookie's domain (no leading dot).
        host_only: the cookie's host-only flag.
        cookie_path: the cookie's path.
        secure_only: the cookie's Secure flag.
        host: the request host.
        path: the request path.
        secure: the request goes over https.

    Returns:
        True when the cookie goes with the request.
    """
    if host_only:
        if host != domain:
            return False
    elif not domain_match(host, domain):
        return False
    if secure_only and not secure:
        return False
    return path_match(path, cookie_path)


def sending_order(cookie: StoredCookie) -> tuple[int, float]:
    """Sort key for the ``Cookie`` header: longer paths first, then older.

    RFC 6265 section 5.4 step 2.
    """
    return (-len(cookie.path), cookie.creation)


def domain_match(host: str, domain: str) -> bool:
    """RFC 6265 section 5.1.3: *host* is *domain* or a name under it.

    Args:
        host: the request host.
        domain: a cookie domain (no leading dot).

    Returns:
        True on a match; an IP address only matches itself.
    """
    if host == domain:
        return True
    return (
        bool(domain)
        and host.endswith(domain)
        and host[-len(domain) - 1] == "."
        and not is_ip_address(host)
    )


def path_match(request: str, cookie_path: str) -> bool:
    """RFC 6265 section 5.1.4: *request* path is *cookie_path* or below it.

    Args:
        request: the request path.
        cookie_path: the cookie's path.

    Returns:
        True on a match ("/a" matches "/a/b" but not "/ab").
    """
    if request == cookie_path:
        return True
    if not request.startswith(cookie_path):
        return False
    return cookie_path.endswith("/") or request[len(cookie_path)] == "/"


def default_path(path: str) -> str:
    """RFC 6265 section 5.1.4: the directory of the request path.

    Args:
        path: the request path.

    Returns:
        Up to, not including, its last ``/``; ``/`` for ``/``, ``/x`` or an
        empty path.
    """
    if not path.startswith("/") or path.count("/") == 1:
        return "/"
    return path[: path.rindex("/")]


def request_path(url: str) -> str:
    """The path of an absolute URL, without query or fragment.

    Args:
        url: ``scheme://authority/path?query``.

    Returns:
        The path; ``/`` when it is empty.
    """
    start = url.find("://")
    rest = url[start + 3 :] if start >= 0 else url
    slash = rest.find("/")
    if slash < 0:
        return "/"
    path = rest[slash:]
    for mark in "?#":
        path = path.partition(mark)[0]
    return path or "/"


def is_ip_address(host: str) -> bool:
    """Whether *host* is an IPv4 or IPv6 address rather than a name."""
    if ":" in host:
        return True
    parts = host.split(".")
    return len(parts) == 4 and all(p.isdigit() and p.isascii() for p in parts)


@lru_cache(maxsize=1)
def _suffix_list() -> Any:
    # Imported and read (about 340 kB, tens of milliseconds) only when a
    # cookie with a Domain attribute arrives; the package ships the list, so
    # nothing is fetched at run time.
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList()


def is_public_suffix(domain: str) -> bool:
    """Whether *domain* is a public suffix (``com``, ``co.uk``, ``github.io``).

    From the Public Suffix List shipped by the ``publicsuffixlist``
    package, private section included (RFC 6265 section 5.3 step 5 leaves
    the list to the user agent; browsers use this one). A name the list
    does not know falls under its default rule ``*``: a single label such
    as ``localhost`` is a public suffix.

    Args:
        domain: a lower-case domain, no leading dot.

    Returns:
        True when cookies must not be set for the whole of *domain*.
    """
    return bool(_suffix_list().is_public(domain))
