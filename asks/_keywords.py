"""The keywords of a request, as a type checker sees them.

Each key of these ``TypedDict`` classes is a keyword the verbs accept, with
its type (PEP 692: ``**kwargs: Unpack[RequestKeywords]``), so ``mypy`` and
an IDE in user code know every keyword and flag a misspelt one. ``stream``
is not among them: the verbs' overloads take it separately, since its value
decides the type of the response (``stream=True``: a ``StreamResponse``).
"""

# At run time the verbs still take **kwargs: a call that passes only a URL
# then costs what it did (no sixteen parameters to forward from get() to
# request(), no defaults to compare), and Session.request checks the names
# against sessions._KWARGS, a TypeError naming an unknown one.
# tests/test_typing.py holds these keys and _KWARGS to the same set, so the
# check and the types cannot drift apart.

from __future__ import annotations

import os
import ssl
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypedDict

if TYPE_CHECKING:
    # Only for the type checker: http.cookiejar costs milliseconds to import.
    import http.cookiejar

    from ._headers import HeadersInput
    from ._proxies import Proxy
    from ._retry import Retry
    from ._urls import ParamsInput
    from .auth import AuthBase
    from .cookie_utils import CookieTracker

__all__ = ["OneShotKeywords", "RequestKeywords", "VerbKeywords"]


class _CallKeywords(TypedDict, total=False):
    """What makes up one request and how its answer is handled (api.md)."""

    params: ParamsInput
    """Query parameters appended to the URL: a mapping or pairs (``None`` values skipped, lists
    repeat the key), or a string appended as given.
    """

    data: Any
    """The body: a mapping (form-encoded), ``str`` or bytes as given, or an async iterable of
    bytes or a binary file, streamed.
    """

    json: Any
    """Any JSON-serialisable value, sent as ``application/json``."""

    multipart: Mapping[str, Any] | None
    """Fields sent as ``multipart/form-data`` (see :mod:`asks.multipart`)."""

    files: Mapping[str, Any] | None
    """The older form of ``multipart``: paths are sent as files, other values as fields."""

    headers: HeadersInput
    """Headers for this call; they replace the session's of the same name."""

    cookies: Mapping[str, Any] | None
    """Cookies sent in the ``Cookie`` header of this call."""

    auth: AuthBase | tuple[str, str] | None
    """``BasicAuth``, ``DigestAuth``, an ``AuthBase`` subclass, or a ``(user, password)`` pair
    (Basic).
    """

    auth_off_domain: bool
    """Send credentials after a redirect to another origin too (default ``False``)."""

    timeout: float | None
    """Seconds for the whole call; ``RequestTimeout`` when they run out."""

    max_redirects: int
    """The most redirects followed (default 20); ``TooManyRedirects`` beyond."""

    follow_redirects: bool
    """Follow redirects (default ``True``; ``HEAD`` never follows)."""

    callback: Callable[[bytes], Awaitable[Any]] | None
    """An async function awaited with each body chunk; the response's body stays empty."""

    encoding: str | None
    """The fallback text encoding of this response."""

    proxy: str | Proxy | None
    """The proxy of this call and its redirects (a URL or ``asks.Proxy``); ``""`` goes direct;
    ``None`` (the default) takes the session's.
    """

    pool_timeout: float | None
    """Seconds this call may wait for a connection when all are taken (replaces the session's
    ``pool_timeout``; ``None``: no limit but ``timeout``); then ``PoolTimeout``.
    """


class RequestKeywords(_CallKeywords, total=False):
    """The keywords of ``Session.request`` besides ``path``, ``retries``,
    ``connection_timeout`` and ``stream``."""

    persist_cookies: bool | CookieTracker | http.cookiejar.CookieJar | None
    """``False``: this call neither sends stored cookies nor stores new ones. ``True`` or a jar:
    creates the session's store if it has none.
    """


class VerbKeywords(RequestKeywords, total=False):
    """The keywords of ``Session.get`` and the other verbs besides ``stream``."""

    path: str
    """Appended to ``base_location + endpoint`` when no URL is given."""

    retries: int | Retry | None
    """Extra attempts after a connection-level failure, or an ``asks.Retry`` policy
    (default: the session's, 1)."""

    connection_timeout: float | None
    """Seconds to establish each connection (DNS, TCP, TLS; default 60)."""


class OneShotKeywords(RequestKeywords, total=False):
    """The keywords of ``asks.get`` and the other one-shot functions besides
    ``stream``: a call's, and the temporary session's TLS context and route."""

    retries: int | Retry | None
    """Extra attempts after a connection-level failure, or an ``asks.Retry`` policy
    (default: the session's, 1)."""

    connection_timeout: float | None
    """Seconds to establish each connection (DNS, TCP, TLS; default 60)."""

    ssl_context: ssl.SSLContext | None
    """The ``ssl.SSLContext`` of the temporary session's https connection."""

    uds: str | os.PathLike[str] | None
    """A Unix domain socket the temporary session connects to instead of the URL's host."""
