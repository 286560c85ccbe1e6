"""Cookies: asks' ``CookieTracker`` over the standard library's cookie jar.

RFC 6265's rules (domain and path matching, the Secure flag, expiry,
replacement of a cookie by a newer one of the same name, domain and path)
are subtle; ``http.cookiejar`` implements them and is what requests and
httpx build on. This module only adapts asks' request and response objects
to the interface the jar expects (the one of ``urllib.request``).

Cookies do not separate by port (RFC 6265 section 8.5): a cookie set by
``http://host:8000`` is sent to ``http://host:9000`` too.
"""

from __future__ import annotations

import http.cookiejar
from dataclasses import dataclass
from email.message import Message
from typing import Any

from ._headers import Headers

__all__ = ["Cookie", "CookieTracker"]


@dataclass
class Cookie:
    """A cookie set by a response (the attributes asks always had)."""

    name: str
    value: str | None
    domain: str
    path: str
    secure: bool
    expires: int | None
    comment: str | None
    host: str


class _RequestView:
    """What ``http.cookiejar`` reads and writes of a request."""

    def __init__(self, url: str, host: str, scheme: str) -> None:
        self._url = url
        self.host = host
        self.type = scheme
        self.unverifiable = False
        self.origin_req_host = host
        self.added: dict[str, str] = {}

    def get_full_url(self) -> str:
        return self._url

    def get_host(self) -> str:
        return self.host

    def get_type(self) -> str:
        return self.type

    def is_unverifiable(self) -> bool:
        return False

    def get_origin_req_host(self) -> str:
        return self.host

    def has_header(self, name: str) -> bool:
        return name.lower() in (k.lower() for k in self.added)

    def get_header(self, name: str, default: Any = None) -> Any:
        return self.added.get(name, default)

    def header_items(self) -> list[tuple[str, str]]:
        return list(self.added.items())

    def add_unredirected_header(self, name: str, value: str) -> None:
        self.added[name] = value


class _ResponseView:
    def __init__(self, headers: Headers) -> None:
        self._msg = Message()
        for value in headers.get_list("set-cookie"):
            self._msg["Set-Cookie"] = value

    def info(self) -> Message:
        return self._msg


class CookieTracker:
    """The cookie store of a Session with ``persist_cookies=True``.

    Args:
        jar: an existing ``http.cookiejar.CookieJar`` to use (a new one by
            default).
    """

    def __init__(self, jar: http.cookiejar.CookieJar | None = None) -> None:
        self.jar = jar if jar is not None else http.cookiejar.CookieJar()

    def cookie_header(self, url: str, host: str, scheme: str) -> str | None:
        """The ``Cookie`` header value for a request to *url*, if any cookie matches."""
        view = _RequestView(url, host, scheme)
        self.jar.add_cookie_header(view)  # type: ignore[arg-type]
        return view.added.get("Cookie")

    def is_empty(self) -> bool:
        """Whether the jar holds no cookie (cheaper than ``len()``)."""
        for _ in self.jar:
            return False
        return True

    def store(self, headers: Headers, url: str, host: str, scheme: str) -> None:
        """Keep the cookies a response set, as the jar's rules allow."""
        if "set-cookie" in headers:
            self.jar.extract_cookies(
                _ResponseView(headers),  # type: ignore[arg-type]
                _RequestView(url, host, scheme),  # type: ignore[arg-type]
            )

    def __iter__(self) -> Any:
        return iter(self.jar)

    def __len__(self) -> int:
        return len(self.jar)


def parse_response_cookies(headers: Headers, url: str, host: str, scheme: str) -> list[Cookie]:
    """The cookies a response sets, as asks :class:`Cookie` objects."""
    if "set-cookie" not in headers:
        return []
    jar = http.cookiejar.CookieJar()
    made = jar.make_cookies(
        _ResponseView(headers),  # type: ignore[arg-type]
        _RequestView(url, host, scheme),  # type: ignore[arg-type]
    )
    return [
        Cookie(
            name=c.name,
            value=c.value,
            domain=c.domain,
            path=c.path,
            secure=c.secure,
            expires=c.expires,
            comment=c.comment,
            host=host,
        )
        for c in made
    ]
