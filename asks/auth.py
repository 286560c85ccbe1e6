"""Authentication as pure flows: a request in, headers out.

An auth object never touches the network. The session shows it an
:class:`AuthRequest` (what is about to be, or just was, sent) and, for
challenge-based schemes, the ``401`` response; the auth object answers with
headers to add. Two kinds exist:

* :class:`PreResponseAuth` is awaited before a request is sent and returns the
  headers to add to it (:class:`BasicAuth`).
* :class:`PostResponseAuth` is awaited with a ``401`` response and returns the
  headers for one retry of the same request, or ``None`` to give up
  (:class:`DigestAuth`).

Custom schemes subclass one of the two and implement ``async __call__``.

HTTP Digest (RFC 7616, compatible with RFC 2617 and RFC 2069) is computed
from the challenge in the response each call is given, so one
:class:`DigestAuth` can serve any number of concurrent requests. Its only
state is the nonce-count table, one counter per server nonce.
"""

from __future__ import annotations

import base64
import codecs
import contextlib
import hashlib
import os
import secrets
import string
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import quote, urlsplit

if TYPE_CHECKING:
    from .response_objects import BaseResponse

__all__ = [
    "AuthBase",
    "AuthRequest",
    "BasicAuth",
    "DigestAuth",
    "NetRCAuth",
    "PostResponseAuth",
    "PreResponseAuth",
]


@dataclass(frozen=True)
class AuthRequest:
    """What an auth object may look at of the request it authenticates.

    Attributes:
        method: the request method, e.g. ``"GET"``.
        url: the full URL, query included.
        target: the request-target exactly as sent on the request line
            (path, plus ``"?"`` and the query if there is one).
        body: the whole request body when it is known in memory (``b""``
            for a request without a body), or ``None`` when it is not
            (a streamed body). Only ``qop=auth-int`` digest needs it.
    """

    method: str
    url: str
    target: str
    body: bytes | None


class AuthBase:
    """Base class of every auth object the session accepts.

    Do not subclass this directly: subclass :class:`PreResponseAuth` or
    :class:`PostResponseAuth`, which say when the session calls you.
    """

    __slots__ = ()


class PreResponseAuth(AuthBase):
    """Auth that adds headers before the request is sent (e.g. Basic)."""

    __slots__ = ()

    async def __call__(self, request: AuthRequest) -> dict[str, str]:
        """Headers to add to *request*.

        Args:
            request: the request about to be sent.

        Returns:
            Header names and values to add (usually ``Authorization``).
        """
        raise NotImplementedError


class PostResponseAuth(AuthBase):
    """Auth that answers a ``401`` challenge with one retry (e.g. Digest)."""

    __slots__ = ()

    async def __call__(
        self, response: BaseResponse, request: AuthRequest
    ) -> dict[str, str] | None:
        """Headers for one retry of *request*, or ``None`` to give up.

        Args:
            response: the ``401`` response holding the challenge.
            request: the request that received it, to be sent again.

        Returns:
            Header names and values to add to the retry, or ``None`` when
            the challenge cannot be answered (the ``401`` is then final).
        """
        raise NotImplementedError


def basic_credentials(username: str, password: str, encoding: str = "utf-8") -> str:
    """The value of a Basic ``Authorization`` (or ``Proxy-Authorization``), RFC 7617."""
    token = base64.b64encode(f"{username}:{password}".encode(encoding)).decode("ascii")
    return f"Basic {token}"


def _split_creds(creds: tuple[str, str]) -> tuple[str, str]:
    try:
        username, password = creds
    except (TypeError, ValueError):
        raise TypeError("creds must be a (username, password) pair") from None
    if not isinstance(username, str) or not isinstance(password, str):
        raise TypeError("username and password must be str")
    return username, password


class BasicAuth(PreResponseAuth):
    """HTTP Basic authentication (RFC 7617), sent with every request.

    Args:
        creds: ``(username, password)``. The username must not contain
            ``":"`` (it could not be told apart from the password).
        encoding: how the credentials are turned into bytes before base64.

    Raises:
        TypeError: if *creds* is not a pair of strings.
        ValueError: if the username contains ``":"``.
        LookupError: if *encoding* is unknown.
    """

    __slots__ = ("_header", "username")

    def __init__(self, creds: tuple[str, str], encoding: str = "utf-8") -> None:
        username, password = _split_creds(creds)
        if ":" in username:
            raise ValueError("a Basic auth username must not contain ':'")
        codecs.lookup(encoding)
        self.username = username
        self._header = basic_credentials(username, password, encoding)

    async def __call__(self, request: AuthRequest) -> dict[str, str]:
        """The ``Authorization`` header.

        Args:
            request: the request about to be sent (not looked at).

        Returns:
            ``{"Authorization": "Basic <base64 of user:password>"}``.
        """
        return {"Authorization": self._header}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(username={self.username!r})"


class NetRCAuth(PreResponseAuth):
    """HTTP Basic credentials from a netrc file, chosen by each request's host.

    The file is read once, when the object is made; each request then gets
    the login and password of its host's ``machine`` entry, or of the
    ``default`` entry, or no ``Authorization`` at all (as ``curl --netrc``
    and requests do). Host names compare without case and without a
    trailing dot; the port is not part of the match.

    Args:
        file: the netrc file; ``None`` reads the one named by the ``NETRC``
            environment variable, else ``~/.netrc``.

    Raises:
        OSError: the file cannot be read (``FileNotFoundError`` if missing).
        netrc.NetrcParseError: the file is not valid netrc, or (on POSIX,
            for ``~/.netrc``) others may read it while it holds a password.
        ValueError: an entry's login contains ``":"`` (Basic cannot carry it).
    """

    __slots__ = ("_default", "_headers", "file")

    def __init__(self, file: str | os.PathLike[str] | None = None) -> None:
        import netrc  # only for sessions that use it

        if file is None:
            file = os.environ.get("NETRC")
        if file is None:
            # Left to netrc to find: only then does it refuse a ~/.netrc
            # that others may read (its owner's check, as ftp and curl do).
            self.file = os.path.join(os.path.expanduser("~"), ".netrc")
            parsed = netrc.netrc()
        else:
            self.file = os.fspath(file)
            parsed = netrc.netrc(self.file)
        headers: dict[str, str] = {}
        for machine, (login, _account, password) in parsed.hosts.items():
            login, password = login or "", password or ""
            if ":" in login:
                raise ValueError(
                    f"netrc entry {machine!r}: a Basic auth login must not contain ':'"
                )
            headers[machine.lower().rstrip(".")] = basic_credentials(login, password)
        # Python's netrc files the "default" entry under that name (no
        # machine can be called so: it is a keyword of the format).
        self._default = headers.pop("default", None)
        self._headers = headers

    async def __call__(self, request: AuthRequest) -> dict[str, str]:
        """The ``Authorization`` header for *request*'s host, if the file has one.

        Args:
            request: the request about to be sent; its URL's host is looked up.

        Returns:
            ``{"Authorization": "Basic ..."}``, or ``{}`` when neither the host
            nor a ``default`` entry is in the file.
        """
        host = (urlsplit(request.url).hostname or "").rstrip(".")
        header = self._headers.get(host, self._default)
        return {} if header is None else {"Authorization": header}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(file={self.file!r})"


# -- challenge parsing (RFC 9110 section 11) ---------------------------------

_ALNUM = string.ascii_letters + string.digits
_TCHARS = frozenset("!#$%&'*+-.^_`|~" + _ALNUM)
_TOKEN68_CHARS = frozenset("-._~+/" + _ALNUM)
_OWS = " \t"


class _Challenge(NamedTuple):
    """One challenge: its scheme (lower case) and parameters.

    Parameter names are lower case; values are unquoted. ``token68`` is set
    for schemes like ``Negotiate abc==`` instead of parameters.

    A NamedTuple rather than a dataclass: building a dataclass costs a
    fraction of a millisecond at import, on every ``import asks``.
    """

    scheme: str
    params: dict[str, str]
    token68: str | None = None


class _ChallengeSyntaxError(ValueError):
    pass


def _skip_ows(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _OWS:
        pos += 1
    return pos


def _read_token(text: str, pos: int) -> tuple[str, int]:
    start = pos
    while pos < len(text) and text[pos] in _TCHARS:
        pos += 1
    return text[start:pos], pos


def _read_quoted_string(text: str, pos: int) -> tuple[str, int]:
    """Read a quoted-string starting at the opening quote at *pos*."""
    out: list[str] = []
    pos += 1
    while pos < len(text):
        ch = text[pos]
        if ch == '"':
            return "".join(out), pos + 1
        if ch == "\\":
            pos += 1
            if pos == len(text):
                break
            ch = text[pos]
        elif ch in "\r\n\0":
            raise _ChallengeSyntaxError("control character in quoted-string")
        out.append(ch)
        pos += 1
    raise _ChallengeSyntaxError("unterminated quoted-string")


def _read_token68(text: str, pos: int) -> tuple[str | None, int]:
    """Read ``token68`` at *pos* if what follows is a whole token68 item."""
    end = pos
    while end < len(text) and text[end] in _TOKEN68_CHARS:
        end += 1
    if end == pos:
        return None, pos
    while end < len(text) and text[end] == "=":
        end += 1
    after = _skip_ows(text, end)
    if after < len(text) and text[after] != ",":
        return None, pos
    return text[pos:end], end


def _parse_one_header(text: str, into: list[_Challenge]) -> None:
    scheme: str | None = None
    params: dict[str, str] = {}
    token68: str | None = None

    def finish() -> None:
        if scheme is not None:
            into.append(_Challenge(scheme, params, token68))

    pos = 0
    while True:
        while pos < len(text) and text[pos] in " \t,":
            pos += 1
        if pos == len(text):
            break
        name, pos = _read_token(text, pos)
        if not name:
            raise _ChallengeSyntaxError(f"unexpected {text[pos]!r} at {pos}")
        after_name = pos
        pos = _skip_ows(text, pos)
        if pos < len(text) and text[pos] == "=":
            # auth-param = token BWS "=" BWS ( token / quoted-string )
            if scheme is None or token68 is not None:
                raise _ChallengeSyntaxError(f"parameter {name!r} outside a challenge")
            key = name.lower()
            if key in params:
                raise _ChallengeSyntaxError(f"parameter {name!r} repeated")
            pos = _skip_ows(text, pos + 1)
            if pos < len(text) and text[pos] == '"':
                value, pos = _read_quoted_string(text, pos)
            else:
                value, pos = _read_token(text, pos)
                if not value:
                    raise _ChallengeSyntaxError(f"parameter {name!r} has no value")
            if pos < len(text) and text[pos] not in " \t,":
                raise _ChallengeSyntaxError(f"unexpected {text[pos]!r} at {pos}")
            params[key] = value
            continue
        # A new challenge: auth-scheme [ 1*SP ( token68 / #auth-param ) ]
        finish()
        scheme, params, token68 = name.lower(), {}, None
        if pos > after_name and pos < len(text):
            token68, pos = _read_token68(text, pos)
    finish()


def _parse_challenges(header_values: Iterable[str]) -> list[_Challenge]:
    """Parse ``WWW-Authenticate`` field values into challenges, in order.

    Each value may hold several comma-separated challenges, and the header
    may be repeated. Scheme and parameter names are case-insensitive and
    come back in lower case; quoted-string values are unescaped.

    A value with a syntax error keeps the challenges completed before the
    error and drops the rest of that value (a half-read challenge could
    miss parameters that matter); other values are unaffected.
    """
    challenges: list[_Challenge] = []
    for value in header_values:
        found: list[_Challenge] = []
        with contextlib.suppress(_ChallengeSyntaxError):
            _parse_one_header(value, found)
        challenges.extend(found)
    return challenges


# -- Digest (RFC 7616) --------------------------------------------------------


def _hasher(name: str) -> Callable[[bytes], str]:
    def digest(data: bytes) -> str:
        # Digest's hashes are protocol values, not a security decision made
        # here, so FIPS-mode builds must still allow MD5.
        return hashlib.new(name, data, usedforsecurity=False).hexdigest()

    return digest


_DIGEST_HASHES: dict[str, Callable[[bytes], str]] = {
    "md5": _hasher("md5"),
    "sha-256": _hasher("sha256"),
}
if "sha512_256" in hashlib.algorithms_available:
    try:
        hashlib.new("sha512_256", b"")
    except ValueError:  # listed but not usable in this OpenSSL build
        pass
    else:
        _DIGEST_HASHES["sha-512-256"] = _hasher("sha512_256")

# Nonce counters kept at most; the oldest nonce is forgotten first. A server
# rotates nonces, so a long-lived session would otherwise grow without bound.
_MAX_NONCES = 256


def _quote(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _new_cnonce() -> str:
    return secrets.token_hex(16)


class DigestAuth(PostResponseAuth):
    """HTTP Digest authentication (RFC 7616; RFC 2617 and 2069 servers too).

    Answers a ``401`` whose ``WWW-Authenticate`` offers a Digest challenge,
    using the first Digest challenge it can answer. Supported algorithms are
    ``MD5``, ``SHA-256`` and, where hashlib has it, ``SHA-512-256``, each
    also in its ``-sess`` variant; no algorithm means ``MD5``. ``qop=auth``
    is preferred to ``qop=auth-int``; a challenge without ``qop`` gets the
    legacy RFC 2069 answer.

    One instance may be shared by concurrent requests: each answer is
    computed from the challenge it is given. The only state is a counter per
    server nonce, so ``nc`` goes up each time the same nonce is used.

    Args:
        creds: ``(username, password)``.
        encoding: how the username and password are turned into bytes for
            hashing.

    Raises:
        TypeError: if *creds* is not a pair of strings.
        LookupError: if *encoding* is unknown.
    """

    def __init__(self, creds: tuple[str, str], encoding: str = "utf-8") -> None:
        username, password = _split_creds(creds)
        self.username = username
        self._password = password
        self._encoding = codecs.lookup(encoding).name
        self._nonce_counts: dict[str, int] = {}
        # Tests replace this to make the client nonce predictable.
        self._cnonce: Callable[[], str] = _new_cnonce

    def __repr__(self) -> str:
        return f"{type(self).__name__}(username={self.username!r})"

    async def __call__(
        self, response: BaseResponse, request: AuthRequest
    ) -> dict[str, str] | None:
        """Answer the Digest challenge in a ``401`` response.

        Args:
            response: the ``401`` response; its ``WWW-Authenticate``
                headers are read.
            request: the request that got the ``401``; its method, target
                and (for ``qop=auth-int``) body go into the digest.

        Returns:
            ``{"Authorization": "Digest ..."}`` for one retry, or ``None``
            when the response is not a ``401``, offers no Digest challenge,
            or only challenges this client cannot answer (unknown algorithm
            or qop, missing nonce, or ``auth-int`` with an unknown body).
        """
        if response.status_code != 401:
            return None
        challenges = _parse_challenges(response.headers.get_list("WWW-Authenticate"))
        for challenge in challenges:
            if challenge.scheme != "digest":
                continue
            header = self._answer(challenge.params, request)
            if header is not None:
                return {"Authorization": header}
        return None

    def _next_nc(self, nonce: str) -> int:
        counts = self._nonce_counts
        nc = counts.pop(nonce, 0) + 1
        counts[nonce] = nc  # re-inserted: most recently used last
        if len(counts) > _MAX_NONCES:
            del counts[next(iter(counts))]
        return nc

    @staticmethod
    def _choose_qop(offered: str | None, body: bytes | None) -> tuple[bool, str | None]:
        """``(usable, qop)``; ``qop`` is ``None`` for a legacy (RFC 2069) answer."""
        if offered is None:
            return True, None
        options = {part.strip().lower() for part in offered.split(",")}
        if "auth" in options:
            return True, "auth"
        if "auth-int" in options and body is not None:
            return True, "auth-int"
        return False, None

    def _answer(self, params: dict[str, str], request: AuthRequest) -> str | None:
        realm = params.get("realm")
        nonce = params.get("nonce")
        if realm is None or not nonce:
            return None
        algorithm = params.get("algorithm")
        name = (algorithm or "MD5").lower()
        session = name.endswith("-sess")
        if session:
            name = name[: -len("-sess")]
        h = _DIGEST_HASHES.get(name)
        if h is None:
            return None
        usable, qop = self._choose_qop(params.get("qop"), request.body)
        if not usable:
            return None
        if session and qop is None:
            # -sess needs a client nonce, which only a qop answer carries.
            return None

        enc = self._encoding
        uri = request.target
        ha1 = h(f"{self.username}:{realm}:{self._password}".encode(enc))
        cnonce = self._cnonce() if qop is not None else None
        if session:
            ha1 = h(f"{ha1}:{nonce}:{cnonce}".encode(enc))
        if qop == "auth-int":
            assert request.body is not None  # checked by _choose_qop
            ha2 = h(f"{request.method}:{uri}:{h(request.body)}".encode(enc))
        else:
            ha2 = h(f"{request.method}:{uri}".encode(enc))

        if qop is None:
            nc_value = None
            digest = h(f"{ha1}:{nonce}:{ha2}".encode(enc))
        else:
            nc_value = f"{self._next_nc(nonce):08x}"
            digest = h(f"{ha1}:{nonce}:{nc_value}:{cnonce}:{qop}:{ha2}".encode(enc))

        parts = [
            self._username_param(),
            f"realm={_quote(realm)}",
            f"nonce={_quote(nonce)}",
            f"uri={_quote(uri)}",
        ]
        if algorithm is not None:
            parts.append(f"algorithm={algorithm}")
        if qop is not None:
            assert cnonce is not None
            parts += [f"qop={qop}", f"nc={nc_value}", f"cnonce={_quote(cnonce)}"]
        parts.append(f"response={_quote(digest)}")
        opaque = params.get("opaque")
        if opaque is not None:
            parts.append(f"opaque={_quote(opaque)}")
        return "Digest " + ", ".join(parts)

    def _username_param(self) -> str:
        username = self.username
        if username.isascii():
            return f"username={_quote(username)}"
        # Header values go on the wire as ISO-8859-1, so a username outside
        # ASCII is sent in RFC 8187 form (RFC 7616 section 3.4.4).
        charset = {"utf-8": "UTF-8", "iso8859-1": "ISO-8859-1"}.get(self._encoding)
        if charset is None:
            return f"username={_quote(username)}"
        return f"username*={charset}''{quote(username, safe='', encoding=self._encoding)}"
