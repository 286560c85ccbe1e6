"""``asks.Proxy``: where a proxy is, how to authenticate to it, and nothing secret in sight.

A proxy is given as a URL string or as a :class:`Proxy`; both end up as a
:class:`Proxy`, checked once, before any socket is touched (CR, LF or NUL in
any part is a ``ValueError``: they would let a caller's input write extra
lines into a ``CONNECT`` or a SOCKS request).

The credentials live only in the object's private fields and in the ready
``Proxy-Authorization`` value; ``repr``, ``str`` and every message asks
writes show the proxy's scheme, host and port only. Two proxies with
different credentials are different routes (their connections are never
shared), so :attr:`Proxy.identity` carries a digest of the credentials,
never the credentials themselves.
"""

from __future__ import annotations

import hashlib
import ssl
from collections.abc import Hashable
from urllib.parse import unquote, urlsplit

from ._headers import TOKEN, Headers, HeadersInput, is_field_value
from ._urls import idna_ascii
from .auth import basic_credentials

__all__ = ["PROXY_SCHEMES", "Proxy", "coerce_proxy"]

# The default port of each proxy scheme: HTTP proxies as the web does (80 and
# 443, like urllib3 and httpx), SOCKS at its IANA port 1080 (RFC 1928).
PROXY_SCHEMES = {
    "http": 80,
    "https": 443,
    "socks4": 1080,
    "socks4a": 1080,
    "socks5": 1080,
    "socks5h": 1080,
}
_FORBIDDEN = ("\r", "\n", "\0")


def _check_text(what: str, value: str) -> None:
    if any(c in value for c in _FORBIDDEN):
        # The value itself is not repeated: it may be a password.
        raise ValueError(f"proxy {what} must not contain CR, LF or NUL")


class Proxy:
    """A proxy for a Session or a call (``proxy=``).

    Args:
        url: ``scheme://[user:password@]host[:port]`` with scheme ``http``,
            ``https``, ``socks4``, ``socks4a``, ``socks5`` or ``socks5h``
            (without a scheme, ``http://``). Percent-escapes in the user and
            password are decoded. Default ports: 80, 443, 1080 for SOCKS.
            A non-ASCII host is IDNA 2008 encoded, as an origin's is.
        auth: ``(user, password)``; replaces credentials in the URL. Basic
            authentication for HTTP proxies, username/password (RFC 1929)
            for SOCKS5; SOCKS4 sends the user as its user id.
        headers: extra headers for the proxy only (on ``CONNECT``, or on
            requests forwarded through it), never sent to an origin.
        ssl_context: verifies an ``https://`` proxy's own certificate
            (default: the system trust store). The origin's TLS inside a
            tunnel uses the session's ``ssl_context``.

    Raises:
        ValueError: an unsupported scheme, no host, a bad port, CR, LF or
            NUL anywhere, or a header that cannot be sent (RFC 9110 section 5).
        TypeError: ``auth`` is not a pair of strings.
    """

    __slots__ = (
        "_authorization",
        "_password",
        "_username",
        "headers",
        "host",
        "identity",
        "port",
        "scheme",
        "ssl_context",
    )

    def __init__(
        self,
        url: str,
        *,
        auth: tuple[str, str] | None = None,
        headers: HeadersInput = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if not isinstance(url, str):
            raise TypeError(f"a proxy URL must be a string, not {type(url).__name__}")
        _check_text("URL", url)
        # Stripped before the scheme is guessed: " proxy:3128" (a line of a
        # config file) is http://proxy:3128, not http:// proxy:3128, whose
        # host " proxy" no resolver knows.
        url = url.strip()
        if "://" not in url:
            url = "http://" + url  # as curl and requests read "host:port"
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in PROXY_SCHEMES:
            raise ValueError(
                f"unsupported proxy scheme {scheme!r}: use http, https, socks4, socks4a, "
                "socks5 or socks5h"
            )
        host = parts.hostname  # lower-cased, IPv6 brackets removed
        if not host:
            raise ValueError(f"a proxy URL needs a host: {scheme}://...")
        if not host.isascii():
            # As DNS and SNI must see it: IDNA 2008 (UTS 46), as for every
            # origin. Left to getaddrinfo and the ssl module, Python's "idna"
            # codec (IDNA 2003) turns faß.de into fass.de, another domain,
            # which would be sent the proxy's credentials (UTS 46 section 4).
            # The host as written: urlsplit's str.lower() is not UTS 46's.
            written = parts.netloc.rpartition("@")[2].rpartition(":")
            try:
                host = idna_ascii((written[0] if written[1] else written[2]) or host)
            except UnicodeError:
                raise ValueError(
                    f"the host of a {scheme}:// proxy URL is not a valid IDNA 2008 name"
                ) from None
        try:
            port = parts.port
        except ValueError:
            raise ValueError(f"bad port in proxy URL {scheme}://{host}:...") from None
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError(f"a proxy URL is scheme://host:port only: {scheme}://{host}")
        username = unquote(parts.username) if parts.username is not None else None
        password = unquote(parts.password) if parts.password is not None else None
        if auth is not None:
            if (
                not isinstance(auth, tuple)
                or len(auth) != 2
                or not all(isinstance(a, str) for a in auth)
            ):
                raise TypeError("proxy auth must be a (user, password) pair of strings")
            username, password = auth
        for what, text in (("user", username), ("password", password)):
            if text is not None:
                _check_text(what, text)
        if ssl_context is not None and not isinstance(ssl_context, ssl.SSLContext):
            raise TypeError("a proxy's ssl_context must be an ssl.SSLContext")
        self.scheme = scheme
        self.host = host
        self.port = port if port is not None else PROXY_SCHEMES[scheme]
        self._username = username
        self._password = password
        self.headers = Headers(headers)
        for name, value in self.headers.items():
            _check_text("header", name)
            _check_text("header", value)
            if not TOKEN.fullmatch(name):
                raise ValueError(
                    f"proxy header name {name!r} is not a token (RFC 9110 section 5.1)"
                )
            if not is_field_value(value):
                # Checked here, before anything is sent: h11 would refuse the
                # value later with a message repeating it, and a proxy header
                # may be a credential (Proxy-Authorization: Bearer ...).
                raise ValueError(
                    f"proxy header {name!r}: the value cannot be sent (RFC 9110 section 5.5: "
                    "Latin-1 visible characters, with spaces and tabs only between them)"
                )
        self.ssl_context = ssl_context
        self._authorization: str | None = None
        if username is not None and scheme in ("http", "https"):
            self._authorization = basic_credentials(username, password or "")
        # Digests tell routes with different credentials apart without
        # keeping the credentials (a user's password, or a token in the
        # proxy's own Proxy-Authorization header) in a key that may be logged
        # or shown.
        secret = b""
        if username is not None:
            # repr() of the pair, not the two joined: no password (None) and
            # the password "None" are different credentials, and must not
            # share a tunnel opened with the other's.
            secret = hashlib.sha256(repr((username, password)).encode()).digest()
        header_digest = b""
        if self.headers:
            pairs = sorted((k.lower(), v) for k, v in self.headers.items())
            header_digest = hashlib.sha256(repr(pairs).encode()).digest()
        self.identity: Hashable = (
            scheme,
            host,
            self.port,
            secret,
            header_digest,
            id(ssl_context) if ssl_context is not None else None,
        )

    @property
    def has_credentials(self) -> bool:
        """Whether a user (and password) were given."""
        return self._username is not None

    @property
    def username(self) -> str | None:
        """The user name for the proxy, or None."""
        return self._username

    @property
    def password(self) -> str | None:
        """The password for the proxy, or None. Never shown by ``repr``."""
        return self._password

    @property
    def authorization(self) -> str | None:
        """The ``Proxy-Authorization`` value for an HTTP proxy (Basic), or None."""
        return self._authorization

    @property
    def is_socks(self) -> bool:
        """Whether this is a SOCKS proxy (else an HTTP or HTTPS proxy)."""
        return self.scheme.startswith("socks")

    @property
    def url(self) -> str:
        """``scheme://host:port``, without credentials: safe to show."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    def __repr__(self) -> str:
        auth = ", auth=<hidden>" if self._username is not None else ""
        return f"Proxy({self.url!r}{auth})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Proxy):
            return NotImplemented
        return self.identity == other.identity and self.ssl_context is other.ssl_context

    def __hash__(self) -> int:
        return hash(self.identity)


def coerce_proxy(value: object) -> Proxy | None:
    """``proxy=`` as given (None, a URL string or a :class:`Proxy`) as a Proxy or None.

    Raises:
        TypeError: anything else.
        ValueError: a bad proxy URL (see :class:`Proxy`).
    """
    if value is None or isinstance(value, Proxy):
        return value
    if isinstance(value, str):
        return Proxy(value)
    raise TypeError(f"proxy must be a URL string or an asks.Proxy, not {type(value).__name__}")
