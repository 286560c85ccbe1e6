"""A call's request as asks prepares it: checked, merged, encoded.

Everything here happens before a socket is touched, so bad input never
costs a connection: the method and URL are checked, the session's headers
and the call's merged and encoded, the body encoded (``_content``). Then,
for every request the call sends (redirects and auth retries included), the
wire header block: defaults, the caller's headers, cookies, auth and the
body's framing.

Two caches keep the common calls cheap: header blocks per (headers, host,
method kind, body framing) for calls without cookies or auth, and the
session's headers merged with a call's own. Both check what they depend on;
a scraper over many hosts, or a caller whose headers change with every
call, just starts them again when one fills up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from ._content import MISSING, Body, encode_body
from ._decoders import ACCEPT_ENCODING, content_type_param
from ._headers import TOKEN, Headers, HeadersInput, check_header_text, encode_value
from ._urls import URL, build_url, parse_url
from ._version import __version__
from .auth import AuthRequest

if TYPE_CHECKING:
    from .cookie_utils import CookieTracker

__all__ = ["BODY_METHODS", "IDEMPOTENT", "Call", "RequestFactory", "SessionDefaults"]

# RFC 9110 section 9.2.2: a request with one of these methods may be sent
# again without changing what it does.
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"})

# Methods already checked (RFC 9110 section 9.1: a method is a token), mapped
# to their upper-case form; the common ones need no regex per request.
_METHODS: dict[str, str] = {
    m: m.upper()
    for name in ("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE")
    for m in (name, name.lower())
}
# Methods whose request says "Content-Length: 0" when it has no body.
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})

_USER_AGENT = f"python-asks/{__version__}"

# Sent unless the caller's headers name them; Host comes first (RFC 9112
# section 3.2 says it should), built per URL.
_DEFAULT_HEADERS = (
    ("User-Agent", b"User-Agent", _USER_AGENT.encode("ascii")),
    ("Accept", b"Accept", b"*/*"),
    ("Accept-Encoding", b"Accept-Encoding", ACCEPT_ENCODING.encode("ascii")),
)

# The keywords that change what a call sends; a call with none of them sends
# the session's request as it is.
_SHAPING = frozenset({"params", "data", "json", "multipart", "files", "headers", "cookies"})

# The two caches' sizes (see the module docstring).
# The wire cache holds a block per origin: large enough for a crawl over a
# thousand origins (asks.crawl.KEPT_CONNECTIONS), or it is cleared every few
# hundred URLs and hits almost never.
_WIRE_CACHE_SIZE = 1024
_MERGE_CACHE_SIZE = 64


class SessionDefaults(Protocol):
    """What preparing a call reads of its session (it may change between calls)."""

    base_location: str | None
    endpoint: str | None
    encoding: str

    @property
    def headers(self) -> Headers: ...


class Call:
    """One call's request as it evolves through redirects and auth retries."""

    __slots__ = (
        "auth_headers",
        "body",
        "cookies",
        "crossed",
        "headers",
        "method",
        "resent",
        "url",
    )

    def __init__(
        self,
        method: str,
        url: URL,
        headers: Headers,
        body: Body | None,
        cookies: dict[str, str] | None,
    ) -> None:
        self.method = method
        self.url = url
        self.headers = headers  # the caller's and the session's, merged
        self.body = body
        self.cookies = cookies
        self.crossed = False  # credentials dropped after a cross-origin redirect
        self.auth_headers: dict[str, str] = {}  # from an auth object, for one send
        # The silent resend after a dead pooled connection was spent on this
        # request (once per request sent: a redirect or auth retry is a new one).
        self.resent = False

    @property
    def where(self) -> str:
        return f"{self.method} {self.url}"

    @property
    def can_resend(self) -> bool:
        return self.body is None or self.body.can_send_again()

    @property
    def resendable(self) -> bool:
        """Sending it again cannot change what it does (RFC 9110 section 9.2.2)."""
        return self.method in IDEMPOTENT and (self.body is None or self.body.can_send_again())

    def auth_request(self) -> AuthRequest:
        # No body hashes as empty (qop=auth-int); a streamed one is unknown.
        body = self.body.content if self.body is not None else b""
        return AuthRequest(self.method, str(self.url), self.url.target, body)


class RequestFactory:
    """Prepares the calls of one session and builds their wire header blocks."""

    def __init__(self) -> None:
        self._wire_cache: dict[
            tuple[int, str, bool, tuple[int | None, str | None] | None],
            tuple[tuple[tuple[bytes, bytes], ...], tuple[tuple[bytes, bytes], ...]],
        ] = {}
        self._merge_cache: dict[
            tuple[tuple[str, str], ...], tuple[tuple[tuple[bytes, bytes], ...], Headers]
        ] = {}

    def prepare(
        self,
        session: SessionDefaults,
        method: str,
        url: str | None,
        path: str,
        kwargs: dict[str, Any],
    ) -> Call:
        """The call's request, checked and encoded; no socket is touched.

        Raises:
            TypeError: conflicting body arguments.
            ValueError: a malformed method, URL, header or cookie.
        """
        upper = _METHODS.get(method) if type(method) is str else None
        if upper is None:
            if not isinstance(method, str) or not TOKEN.fullmatch(method):
                raise ValueError(f"invalid HTTP method: {method!r}")
            upper = method.upper()
        if url is None:
            url = build_url(session.base_location, session.endpoint, path)
        parsed = parse_url(url)
        headers = session.headers
        if not kwargs or _SHAPING.isdisjoint(kwargs):
            # The common call, a bare URL (or one with only options, such as
            # a crawl's stream=True): the session's headers serve as they
            # are (checked and encoded once until they change, see
            # Headers.encoded); _follow copies them before changing any.
            headers.encoded()
            return Call(upper, parsed, headers, None, None)
        params = kwargs.get("params")
        if params is not None:
            parsed = parsed.with_params(params)
        data = kwargs.get("data")
        json_value = kwargs.get("json")
        multipart = kwargs.get("multipart")
        files = kwargs.get("files")
        call_headers = kwargs.get("headers")
        if call_headers:
            headers = self._merge_headers(headers, call_headers)
        else:
            headers.encoded()  # a bad name or value fails here, before any socket
        body = None
        # Most calls with keywords (params, headers) send no body; they skip
        # the encoder's argument checks.
        if (
            data is not None
            or json_value is not None
            or multipart is not None
            or files is not None
        ):
            boundary = None
            if (multipart is not None or files is not None) and "content-type" in headers:
                boundary, headers = _declared_boundary(headers)
            body = encode_body(
                data,
                # json=None means no body, as in requests and asks 2.
                MISSING if json_value is None else json_value,
                multipart,
                files,
                kwargs.get("encoding") or session.encoding,
                boundary,
            )
        cookies = kwargs.get("cookies")
        if cookies:
            cookies = {str(k): str(v) for k, v in dict(cookies).items()}
            for k, v in cookies.items():
                check_header_text("cookie", k + v)
                if not k or ";" in k or "=" in k or ";" in v:
                    raise ValueError(f"invalid cookie {k!r}={v!r}")
        return Call(upper, parsed, headers, body, cookies or None)

    def _merge_headers(self, session_headers: Headers, call_headers: HeadersInput) -> Headers:
        """The session's headers with a call's on top, checked and encoded.

        A call's header replaces the session's of the same name (any case).
        The result is never changed afterwards (``_follow`` copies it), so
        when a call passes the same plain ``str`` headers as an earlier one,
        against unchanged session headers, the earlier result serves again.
        """
        base: tuple[tuple[bytes, bytes], ...] | None
        try:
            base = session_headers.encoded()
        except ValueError:
            # A bad session header is an error only if it is sent, and this
            # call's headers may replace it; such a merge is not cached.
            base = None
        key: tuple[tuple[str, str], ...] | None = None
        if base is not None and type(call_headers) is dict:
            key = tuple(call_headers.items())
            for name, value in key:
                # Only str: other values go through str(), and keys that
                # compare equal (1, 1.0, True) would not give equal headers.
                if type(name) is not str or type(value) is not str:
                    key = None
                    break
            if key is not None:
                hit = self._merge_cache.get(key)
                if hit is not None and hit[0] is base:
                    return hit[1]
        headers = session_headers.copy()
        layer = Headers(call_headers)
        for name in layer:
            headers.pop(name, None)
        headers.extend(layer)  # a None of the call's removes the session's too
        headers.encoded()  # a bad name or value fails here, before any socket
        if key is not None:
            assert base is not None  # a key is only made from good session headers
            if len(self._merge_cache) >= _MERGE_CACHE_SIZE:
                self._merge_cache.clear()
            self._merge_cache[key] = (base, headers)
        return headers

    def wire_headers(
        self, call: Call, jar: CookieTracker | None
    ) -> tuple[tuple[bytes, bytes], ...]:
        """The headers as sent: defaults, the call's, cookies, auth and framing."""
        url = call.url
        given = call.headers
        encoded = given.encoded()
        stored = None
        if jar is not None and not jar.is_empty():
            stored = jar.cookie_header(str(url), url.host, url.scheme)
        if not call.auth_headers and not call.cookies and not stored:
            # No cookies or auth: the block depends only on the headers (the
            # very tuple Headers.encoded returned, so any change to them
            # misses), the host, the method's kind and the body's framing.
            body = call.body
            key = (
                # The headers' identity; the hit is checked against the tuple
                # itself, which the entry keeps alive, so the id cannot be a
                # recycled one.
                id(encoded),
                url.host_header,
                call.method in BODY_METHODS,
                None if body is None else (body.length, body.content_type),
            )
            hit = self._wire_cache.get(key)
            if hit is not None and hit[0] is encoded:
                return hit[1]
            wire = _encode_headers(call, encoded, None)
            if len(self._wire_cache) >= _WIRE_CACHE_SIZE:
                self._wire_cache.clear()
            self._wire_cache[key] = (encoded, wire)
            return wire
        return _encode_headers(call, encoded, stored)


def _declared_boundary(headers: Headers) -> tuple[str | None, Headers]:
    """The boundary a caller's multipart Content-Type sets, and the headers to send.

    A body framed by another boundary than the one its Content-Type names
    cannot be parsed (RFC 2046 section 5.1.1), so the body takes the
    caller's. A ``multipart/...`` type without one gets a random boundary
    added, as curl does.
    """
    value = headers["content-type"]
    if not value.split(";", 1)[0].strip().lower().startswith("multipart/"):
        return None, headers
    given = content_type_param(value, "boundary")
    if given is not None:
        return given, headers
    from .multipart import new_boundary

    boundary = new_boundary()
    headers = headers.copy()  # the session's, or a cached merge: never changed
    headers["Content-Type"] = f"{value}; boundary={boundary}"
    return boundary, headers


def _encode_headers(
    call: Call, encoded: tuple[tuple[bytes, bytes], ...], stored_cookies: str | None
) -> tuple[tuple[bytes, bytes], ...]:
    """Build the header block of *call* from its checked, encoded headers."""
    url = call.url
    given = call.headers
    out: list[tuple[bytes, bytes]] = []
    if "host" not in given:
        # (Host: None removes a session's Host, never the one HTTP/1.1 needs.)
        out.append((b"Host", url.host_header.encode("ascii")))
    for name, bname, bvalue in _DEFAULT_HEADERS:
        if not given.declares(name):  # a value of yours, or None: none of ours
            out.append((bname, bvalue))
    skip: set[bytes] = set()
    body = call.body
    if body is not None:
        skip.update((b"content-length", b"transfer-encoding"))
    auth_headers = call.auth_headers
    if auth_headers:
        skip.update(k.lower().encode("ascii") for k in auth_headers)
    if "proxy-authorization" in given:
        # Meant for a proxy alone: the transport adds it to a forwarded
        # request (to the proxy); it never goes to an origin, direct or
        # inside a tunnel (requests' CVE-2023-32681 was this leak).
        skip.add(b"proxy-authorization")
    cookie_parts: list[str] = []
    if "cookie" in given:
        # Every cookie travels in one Cookie header (RFC 6265 section 5.4).
        skip.add(b"cookie")
        cookie_parts.extend(given.get_list("cookie"))
    if call.cookies:
        cookie_parts.extend(f"{k}={v}" for k, v in call.cookies.items())
    if stored_cookies:
        cookie_parts.append(stored_cookies)
    if skip:
        out.extend(pair for pair in encoded if pair[0].lower() not in skip)
    else:
        out.extend(encoded)
    for name, value in auth_headers.items():
        if not TOKEN.fullmatch(name):
            # Checked as a caller's header names are (RFC 9110 section 5.1):
            # a ValueError before a connection is taken, not h11's refusal
            # once one is.
            raise ValueError(f"invalid auth header name: {name!r}")
        check_header_text("auth header", value)
        if name.lower() == "proxy-authorization":
            # An auth's answer for a proxy (as requests' HTTPProxyAuth sets
            # it): the transport adds it to a forwarded request, as it does
            # the caller's own; it never goes to an origin.
            continue
        out.append((name.encode("ascii"), encode_value(name, value)))
    if cookie_parts:
        out.append((b"Cookie", encode_value("Cookie", "; ".join(cookie_parts))))
    if body is not None:
        # Our framing wins: h11 refuses to send a body that disagrees with
        # Content-Length.
        if body.length is not None:
            out.append((b"Content-Length", str(body.length).encode("ascii")))
        else:
            out.append((b"Transfer-Encoding", b"chunked"))
        if body.content_type and not given.declares("content-type"):
            out.append((b"Content-Type", body.content_type.encode("latin-1")))
    elif call.method in BODY_METHODS and not (
        given.declares("content-length") or given.declares("transfer-encoding")
    ):
        # RFC 9110 section 8.6: a body-carrying method without a body should
        # say so, or some servers wait for one.
        out.append((b"Content-Length", b"0"))
    return tuple(out)
