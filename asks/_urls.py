"""URLs: parsing, joining, query parameters and the pool key.

Everything here is pure. A :class:`URL` is parsed once per distinct string
(an LRU cache keeps the hot path of "the same URL ten thousand times" free of
``urlsplit``) and is immutable, so sharing it is safe.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic, NamedTuple, TypeAlias, TypeVar, overload
from urllib.parse import quote, unquote, urlencode, urljoin, urlsplit

__all__ = ["URL", "Origin", "ParamsInput", "build_url", "encode_params", "parse_url"]

ParamsInput: TypeAlias = "Mapping[str, Any] | Iterable[tuple[str, Any]] | str | bytes | None"

_DEFAULT_PORTS = {"http": 80, "https": 443}

# Characters left alone when re-quoting a path or query given by the caller:
# the RFC 3986 reserved and unreserved sets plus "%" so existing escapes stay
# as they are. Anything else (spaces, non-ASCII) is percent-encoded.
_SAFE_PATH = "/:@!$&'()*+,;=-._~%"
_SAFE_QUERY = _SAFE_PATH + "?"
# A "%" that starts no escape ("%" HEXDIG HEXDIG, RFC 3986 section 2.1)
# is data, so it is sent as "%25" (as requests and httpx send it): left
# bare it makes the target invalid, and nginx answers "/100%" with a 400.
_STRAY_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
# What urlencode leaves as it is: ASCII letters, digits and "-._~".
_ALL_UNRESERVED = re.compile(r"[A-Za-z0-9._~-]*").fullmatch


class Origin(NamedTuple):
    """What makes two requests able to share a connection (RFC 6454 origin)."""

    scheme: str
    host: str
    port: int


_T = TypeVar("_T")


class _derived(Generic[_T]):
    """A value computed from a URL on first use and kept in its ``__dict__``.

    ``functools.cached_property`` does the same, but before Python 3.12 it
    takes a lock on every first use - a cost every distinct URL pays four
    times. Nothing needs the lock: the values are pure, so two computations
    racing would store equal ones.
    """

    def __init__(self, func: Callable[[Any], _T]) -> None:
        self._func = func
        self._name = func.__name__
        self.__doc__ = func.__doc__

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> _derived[_T]: ...
    @overload
    def __get__(self, obj: object, owner: type | None = None) -> _T: ...
    def __get__(self, obj: object, owner: type | None = None) -> _derived[_T] | _T:
        if obj is None:
            return self
        # Stored under the same name: the instance dict wins over this
        # (non-data) descriptor from then on, so later reads are plain
        # attribute lookups.
        value = obj.__dict__[self._name] = self._func(obj)
        return value


class _URLFields(NamedTuple):
    scheme: str
    host: str  # IDNA-encoded, lower case; IPv6 without brackets
    port: int
    target: str
    userinfo: str


class URL(_URLFields):
    """A parsed absolute http(s) URL.

    ``target`` is the request-target sent on the request line: path and query,
    already percent-encoded; the fragment is dropped (RFC 9110 section 4.2.4).

    A tuple of its five parts (compared and replaced as one), plus what every
    request derives from them - the origin, the Host header, the text, the
    target as bytes - each computed on first use and kept: parse_url hands
    out the same instance for the same string, so a URL requested again and
    again derives them once.
    """

    # No __slots__: the instance dict holds the derived values (a tuple
    # subclass cannot have slots of its own).

    @_derived
    def origin(self) -> Origin:
        return Origin(self.scheme, self.host, self.port)

    @_derived
    def host_header(self) -> str:
        """The ``Host`` header value: the port only when it is not the default.

        An IPv6 address loses its zone: RFC 6874 section 4 has a client
        remove it from what it sends, as it means something on this host only.
        """
        host = self.host
        if ":" in host:
            host = f"[{host.partition('%')[0]}]"
        if _DEFAULT_PORTS[self.scheme] == self.port:
            return host
        return f"{host}:{self.port}"

    @_derived
    def authority(self) -> str:
        """Host and port as the URL's text spells them (a zone written ``%25``)."""
        address, _, zone = self.host.partition("%")
        if not zone or ":" not in address:  # no zone (a name's "%" is an escape)
            return self.host_header
        host = f"[{address}%25{quote(zone, safe='')}]"
        if _DEFAULT_PORTS[self.scheme] == self.port:
            return host
        return f"{host}:{self.port}"

    @_derived
    def text(self) -> str:
        """The URL as a string (what ``str()`` gives)."""
        return f"{self.scheme}://{self.authority}{self.target}"

    @_derived
    def absolute_target(self) -> bytes:
        """The request target in absolute form, as a forward proxy is sent it.

        RFC 9112 section 3.2.2. The URL's text, but an IPv6 address without
        its zone, as in ``host_header``: the zone names an interface of this
        machine, nothing the proxy could use (RFC 6874 section 4).
        """
        return f"{self.scheme}://{self.host_header}{self.target}".encode("ascii")

    @_derived
    def target_bytes(self) -> bytes:
        """``target`` as it goes on the request line."""
        return self.target.encode("ascii")

    def __str__(self) -> str:
        return self.text

    def with_params(self, params: ParamsInput) -> URL:
        """The same URL with *params* appended to its query."""
        extra = encode_params(params)
        if not extra:
            return self
        sep = "&" if "?" in self.target else "?"
        return self._replace(target=self.target + sep + extra)


def _check(url: str) -> None:
    for ch in ("\r", "\n", "\0"):
        if ch in url:
            raise ValueError(f"URL must not contain CR, LF or NUL: {url!r}")


def parse_url(url: str) -> URL:
    """Parse an absolute http or https URL.

    Raises:
        ValueError: not a string, not http(s), no host, a bad port, or CR/LF/NUL.
    """
    if not isinstance(url, str):
        raise ValueError(f"URL must be a string, not {type(url).__name__}")
    return _parse_url(url)


# The URL most calls make: a lower-case scheme, a plain ASCII host name or
# IPv4 address, maybe a port, and a path and query made only of characters
# that quote() leaves alone (letters, digits, the _SAFE_PATH set). For such
# a string the general parse below gives exactly these parts unchanged
# (tests/test_properties.py checks the two against each other); matching
# them with one regex costs a fraction of urlsplit, two netloc parses and two
# quote() calls. Anything else - userinfo, IPv6, a fragment, spaces,
# non-ASCII, upper-case schemes - takes the general parse.
# The path and query classes are built from the same safe sets the general
# parse hands to quote(), so the two cannot drift apart.
_SIMPLE_URL = re.compile(
    r"(https?)://([A-Za-z0-9.-]+)(?::([0-9]{1,5}))?"
    rf"(/[A-Za-z0-9{re.escape(_SAFE_PATH)}]*)?"
    rf"(?:\?([A-Za-z0-9{re.escape(_SAFE_QUERY)}]*))?"
)


@functools.lru_cache(maxsize=512)
def _parse_url(url: str) -> URL:
    parsed = _parse_simple(url)
    return parsed if parsed is not None else _parse_general(url)


def _parse_simple(url: str) -> URL | None:
    """The parse of a URL that matches ``_SIMPLE_URL``; None for any other."""
    simple = _SIMPLE_URL.fullmatch(url)
    if simple is None:
        return None
    if "%" in url and _STRAY_PERCENT.search(url):
        return None  # the general parse encodes the stray "%"
    scheme, host, port_text, path, query = simple.groups()
    if path and "/." in path:
        return None  # maybe a dot segment: the general parse removes them
    if _ends_in_number(host) and not is_dotted_quad(host):
        return None  # an IPv4 address spelled otherwise: the general parse rewrites it
    port = int(port_text) if port_text else _DEFAULT_PORTS[scheme]
    if not 0 < port < 65536:
        return None  # the general parse words the error
    target = path or "/"
    if query:
        target += "?" + query
    return URL(scheme, host.lower(), port, target, "")


# C0 controls and DEL (RFC 3986 section 2: no URL holds them). urlsplit
# silently drops a tab (a WHATWG rule for pasted links), so "/a\tb" would
# fetch "/ab", and the others would go out as escapes of what was never
# meant as data: refused, as CR, LF and NUL are (httpx and curl refuse them too).
_CONTROL = re.compile(r"[\x00-\x1f\x7f]").search


def _parse_general(url: str) -> URL:
    _check(url)
    text = url.strip()  # surrounding whitespace (and tabs) is no part of it
    control = _CONTROL(text)
    if control is not None:
        raise ValueError(f"URL must not contain control characters ({control[0]!r}): {url!r}")
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        if not scheme:
            raise ValueError(f"URL has no scheme (expected http:// or https://): {url!r}")
        raise ValueError(f"unsupported URL scheme {scheme!r} in {url!r}")
    try:
        hostname = parts.hostname
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"invalid URL {url!r}: {exc}") from None
    if not hostname:
        raise ValueError(f"URL has no host: {url!r}")
    if port == 0:
        raise ValueError(f"port 0 cannot be connected to: {url!r}")
    netloc = parts.netloc
    if netloc.rpartition("@")[2].startswith("[") and not _is_ipv6(hostname):
        # RFC 3986 section 3.2.2: brackets hold an IP literal. Python checks
        # this itself only from 3.11.4 on; before, "[a.example:80]" passed.
        raise ValueError(f"invalid URL {url!r}: brackets must hold an IPv6 address")
    host = _encode_host(hostname, netloc, url)
    userinfo = netloc.rpartition("@")[0] if "@" in netloc else ""
    path = _quote(parts.path, _SAFE_PATH) or "/"
    if "/." in path:
        path = _remove_dot_segments(path)
    target = path
    if parts.query:
        target += "?" + _quote(parts.query, _SAFE_QUERY)
    return URL(scheme, host, port or _DEFAULT_PORTS[scheme], target, userinfo)


def _quote(text: str, safe: str) -> str:
    """*text* percent-encoded where it must be; its escapes kept, a stray "%" encoded."""
    quoted = quote(text, safe=safe)
    if "%" in text:
        quoted = _STRAY_PERCENT.sub("%25", quoted)
    return quoted


def _remove_dot_segments(path: str) -> str:
    """*path* without its "." and ".." segments (RFC 3986 section 5.2.4).

    They name a place relative to the path, so the path the caller means is
    the resolved one: curl, requests, httpx and browsers send that, and a
    server given "/static/../admin" may resolve it otherwise than its own
    access rules, or not at all. Other segments, empty ones ("//") among
    them, stay as they are.
    """
    segments = path.split("/")[1:]  # the path starts with "/"
    kept: list[str] = []
    last = len(segments) - 1
    for i, segment in enumerate(segments):
        if segment == "..":
            if kept:
                kept.pop()
        elif segment != ".":
            kept.append(segment)
            continue
        if i == last:
            kept.append("")  # "/a/.." is "/", "/a/." is "/a/": the slash stays
    return "/" + "/".join(kept)


def _is_ipv6(text: str) -> bool:
    import ipaddress

    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


# What an ASCII reg-name may hold (RFC 3986 section 3.2.2): unreserved
# characters, "%" escapes and sub-delims.
_HOST_TEXT = re.compile(r"[A-Za-z0-9\-._~%!$&'()*+,;=]*")


def _encode_host(hostname: str, netloc: str, url: str) -> str:
    """The host as it goes on the wire: DNS, SNI, ``Host``, pool key, cookies.

    An ASCII host is only lower-cased: it is what the caller means, ``xn--``
    labels included, and checking it would cost every request. Any other
    host is converted per IDNA 2008 with the UTS 46 mapping, non-transitional
    (UTS 46 section 4, as browsers and the WHATWG URL standard do):
    ``faß.de`` is ``xn--fa-hia.de``, where Python's own ``idna`` codec
    (IDNA 2003) would send it to ``fass.de``, another domain.
    """
    if hostname.isascii():
        if ":" in hostname:
            # Only an address in brackets holds a ":" (_parse_general checked it).
            return _ipv6_host(netloc, url)
        if not _HOST_TEXT.fullmatch(hostname) and not _is_ipv6(hostname):
            # RFC 3986 section 3.2.2: a reg-name is unreserved characters,
            # escapes and sub-delims. A space, a quote or a "<" cannot name a
            # host: sent on, it would only fail later as "cannot resolve", or
            # go into a Host header another parser reads otherwise.
            bad = sorted({ch for ch in hostname if not _HOST_TEXT.fullmatch(ch)})
            raise ValueError(
                f"invalid host name {hostname!r} in {url!r}: "
                f"{', '.join(repr(ch) for ch in bad)} cannot be in a host"
            )
        return _address_or_name(hostname.lower())
    # The host as written, not urlsplit's str.lower() of it: case is UTS 46's
    # mapping to do (the two differ for a few characters).
    written = netloc.rpartition("@")[2].partition(":")[0] or hostname
    try:
        # UTS 46 maps digits too: full-width ones, and "²", may spell an address.
        return _address_or_name(idna_ascii(written))
    except UnicodeError as exc:
        raise ValueError(
            f"invalid host name {written!r} in {url!r} (not a valid IDNA 2008 name: {exc})"
        ) from None


def _address_or_name(host: str) -> str:
    """*host*, or the dotted-quad IPv4 address it spells (see :func:`_ipv4_host`)."""
    if _ends_in_number(host):
        return _ipv4_host(host) or host
    return host


# Whether a host is an IPv4 address as RFC 3986 section 3.2.2 writes it
# (dec-octet "." ...): the one spelling asks sends an address in.
is_dotted_quad = re.compile(
    r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}"
    r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
).fullmatch
# One part of an IPv4 address as inet_aton reads it: hex, octal or decimal.
_IPV4_PART = re.compile(r"0[xX][0-9A-Fa-f]+|0[0-7]*|[1-9][0-9]*").fullmatch


def _ends_in_number(host: str) -> bool:
    """Whether *host* may be an IPv4 address: its last label starts with a digit.

    No top-level domain does (every one starts with a letter), while every
    spelling of an address's last part - decimal, octal, ``0x`` hex - does.
    """
    return host.removesuffix(".").rpartition(".")[2][:1].isdigit()


def _ipv4_host(host: str) -> str | None:
    """*host* as a dotted-quad IPv4 address if it spells one otherwise, else None.

    The socket layer (inet_aton) reads ``127.1``, ``2130706433``,
    ``0x7f.0.0.1`` and ``0177.0.0.1`` as 127.0.0.1, so that is where such a
    URL goes; it is written so everywhere else too (the Host header, the
    pool key, cookies, ``NO_PROXY``'s address ranges), as curl and the
    WHATWG URL standard write it. Anything else is left a name.
    """
    parts = host.removesuffix(".").split(".")
    if len(parts) > 4 or not all(_IPV4_PART(part) for part in parts):
        return None
    numbers = [
        int(part[2:], 16) if part[1:2] in ("x", "X") else int(part, 8 if part[:1] == "0" else 10)
        for part in parts
    ]
    *leading, last = numbers
    if any(n > 255 for n in leading) or last >= 256 ** (4 - len(leading)):
        return None
    value = last
    for i, n in enumerate(leading):
        value += n << (8 * (3 - i))
    return f"{value >> 24}.{(value >> 16) & 255}.{(value >> 8) & 255}.{value & 255}"


def _ipv6_host(netloc: str, url: str) -> str:
    """An IPv6 address as the socket layer takes it, in one spelling.

    The address is written in its canonical form (RFC 5952 section 4, as
    curl writes it): ``[::1]`` and
    ``[0:0:0:0:0:0:0:1]`` are one host, with one pool key, one Host header
    and one set of cookies. A zone follows as ``fe80::1%eth0``: RFC 6874
    writes it after ``%25`` (the escaped ``%``); a bare ``%`` is taken as
    well, as curl takes it. The zone is kept as written (interface names
    have a case), its escapes decoded.
    """
    import ipaddress

    inside = netloc.rpartition("@")[2][1:].partition("]")[0]
    address, percent, zone = inside.partition("%")
    ip = ipaddress.IPv6Address(address)
    mapped = ip.ipv4_mapped
    # RFC 5952 section 5: an IPv4-mapped address ends in dotted decimal (which
    # Python's own spelling does only from 3.13 on).
    address = ip.compressed if mapped is None else f"::ffff:{mapped}"
    if not percent:
        return address
    if zone.startswith("25"):
        zone = zone[2:]
    zone = unquote(zone)
    if not zone or not _ZONE.fullmatch(zone):
        raise ValueError(f"invalid IPv6 zone {zone!r} in {url!r}")
    return f"{address}%{zone}"


# An interface name or number: what a zone names (RFC 6874 section 2).
_ZONE = re.compile(r"[A-Za-z0-9._~-]+")


def idna_ascii(name: str) -> str:
    """A non-ASCII host name as DNS spells it: IDNA 2008, UTS 46, non-transitional.

    Every place that compares host names (the URL, ``NO_PROXY`` entries) uses
    this one conversion, so that ``faß.de`` means ``xn--fa-hia.de`` in each.

    Raises:
        UnicodeError: not a valid IDNA 2008 name (``idna.IDNAError`` is one).
    """
    import idna  # only for non-ASCII hosts: it costs import time

    return idna.encode(name, uts46=True, transitional=False).decode("ascii")


def url_text(raw: bytes) -> str:
    """The URL text some bytes spell: UTF-8 decoded, other bytes percent-encoded.

    A URL met as bytes (a Location header, a line of a list cut from an old
    log) is UTF-8 in practice; decoded, the URL layer encodes each character
    once (and IDNA-encodes a host). Bytes that are no UTF-8 (Latin-1's
    ``\xe9``) are percent-encoded one by one, as browsers do (RFC 3986
    section 2.1), never replaced by U+FFFD, which would make them another URL.
    """
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return "".join(chr(b) if b < 0x80 else f"%{b:02X}" for b in raw)


def join_url(base: URL, location: str) -> URL:
    """Resolve a (possibly relative) reference against *base* (RFC 3986 section 5)."""
    return parse_url(urljoin(str(base), location))


def build_url(base_location: str | None, endpoint: str | None, path: str) -> str:
    """asks' URL building: ``base_location + endpoint + path``.

    ``base_location`` loses a trailing ``/``; ``endpoint`` gains a leading
    ``/`` and loses a trailing one, as asks always did.

    Raises:
        ValueError: there is no ``base_location`` to build on.
    """
    if not base_location:
        raise ValueError("no URL given and the Session has no base_location")
    url = base_location.rstrip("/")
    endpoint = (endpoint or "").strip("/")
    if endpoint:
        url += "/" + endpoint
    if path:
        url += path if path.startswith("/") else "/" + path
    return url


def encode_params(params: ParamsInput) -> str:
    """Encode query parameters.

    A mapping or a list of pairs is form-encoded; ``None`` values are
    skipped and list or tuple values repeat the key. A string is used as
    given, percent-encoding only what may not appear in a query.
    """
    if params is None:
        return ""
    if isinstance(params, bytes):
        params = params.decode("utf-8")
    if isinstance(params, str):
        _check(params)
        return _quote(params.lstrip("?"), _SAFE_QUERY)
    items: Iterable[Any] = params.items() if isinstance(params, Mapping) else params
    pairs: list[tuple[str, str]] = []
    for key, value in items:
        if value is None:
            continue
        values = value if isinstance(value, (list, tuple)) else (value,)
        for v in values:
            if v is None:
                continue
            pairs.append((_param_text(key), _param_text(v)))
    # Unreserved characters (RFC 3986 section 2.3) are never encoded. When
    # the names and values hold nothing else (all of them together do
    # exactly when each one does), urlencode would hand each back unchanged
    # after several quote calls per pair: join them as they are.
    if _ALL_UNRESERVED("".join(itertools.chain.from_iterable(pairs))):
        return "&".join([name + "=" + value for name, value in pairs])
    return urlencode(pairs)


def _param_text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, bool):
        # Spelled the way JSON and most web frameworks expect.
        return "true" if value else "false"
    return str(value)
