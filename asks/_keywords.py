"""The per-request keywords, typed, for ``mypy`` and IDEs in user code.

The verbs take their keywords as ``**kwargs`` at run time: a call that
passes only a URL then costs no more than before (no sixteen parameters to
forward from ``get`` to ``request``, no defaults to compare), and
``Session.request`` checks the names against ``_KWARGS`` (a ``TypeError``
naming an unknown one). For a type checker the same ``**kwargs`` are
``Unpack[...]`` of the ``TypedDict`` classes below (PEP 692), so every
keyword and its type is visible and a misspelt one is an error. The
``stream`` keyword is not among them: the verbs' overloads take it
separately, because its value decides the type of the response
(``Literal[True]``: a ``StreamResponse``).

``tests/test_typing.py`` holds these names and ``asks.sessions._KWARGS`` to
the same set, so the run-time check and the types cannot drift apart.
"""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypedDict

if TYPE_CHECKING:
    # Only for the type checker: http.cookiejar costs milliseconds to import.
    import http.cookiejar

    from ._headers import HeadersInput
    from ._urls import ParamsInput
    from .auth import AuthBase
    from .cookie_utils import CookieTracker

__all__ = ["OneShotKeywords", "RequestKeywords", "VerbKeywords"]


class _CallKeywords(TypedDict, total=False):
    """What makes up one request and how its answer is handled (api.md)."""

    params: ParamsInput
    data: Any
    json: Any
    multipart: Mapping[str, Any] | None
    files: Mapping[str, Any] | None
    headers: HeadersInput
    cookies: Mapping[str, Any] | None
    auth: AuthBase | tuple[str, str] | None
    auth_off_domain: bool
    timeout: float | None
    max_redirects: int
    follow_redirects: bool
    callback: Callable[[bytes], Awaitable[Any]] | None
    encoding: str | None


class RequestKeywords(_CallKeywords, total=False):
    """The keywords of ``Session.request`` besides ``path``, ``retries``,
    ``connection_timeout`` and ``stream``."""

    persist_cookies: bool | CookieTracker | http.cookiejar.CookieJar | None


class VerbKeywords(RequestKeywords, total=False):
    """The keywords of ``Session.get`` and the other verbs besides ``stream``."""

    path: str
    retries: int
    connection_timeout: float | None


class OneShotKeywords(RequestKeywords, total=False):
    """The keywords of ``asks.get`` and the other one-shot functions besides
    ``stream``: a call's, and the temporary session's TLS context."""

    retries: int
    connection_timeout: float | None
    ssl_context: ssl.SSLContext | None
