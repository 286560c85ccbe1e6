"""The one-shot functions: ``await asks.get(url)`` and friends.

Each makes a temporary :class:`~asks.sessions.Session`, makes one request
and closes the session. With ``stream=True`` the session lives until the
stream is read to the end or closed, and closes with it.
"""

from __future__ import annotations

import os
import ssl
from typing import TYPE_CHECKING, Any, Literal, overload

from .response_objects import BaseResponse, Response, StreamResponse
from .sessions import Session

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ._keywords import OneShotKeywords

__all__ = ["delete", "get", "head", "init", "options", "patch", "post", "put", "request"]


def init(library: str) -> None:
    """Does nothing; kept so ``asks.init('curio')`` in old code still runs.

    asks 2 chose its event loop here. This asks always runs on curio.
    """


@overload
async def request(
    method: str, uri: str, *, stream: Literal[False] = ..., **kwargs: Unpack[OneShotKeywords]
) -> Response: ...
@overload
async def request(
    method: str, uri: str, *, stream: Literal[True], **kwargs: Unpack[OneShotKeywords]
) -> StreamResponse: ...
@overload
async def request(
    method: str, uri: str, *, stream: bool, **kwargs: Unpack[OneShotKeywords]
) -> BaseResponse: ...
async def request(
    method: str,
    uri: str,
    *,
    persist_cookies: Any = None,
    ssl_context: ssl.SSLContext | None = None,
    uds: str | os.PathLike[str] | None = None,
    **kwargs: Any,
) -> Any:
    """Make one request with a temporary Session.

    Args:
        method: the HTTP method.
        uri: the absolute URL.
        persist_cookies: as for :class:`~asks.sessions.Session`.
        ssl_context: the ``ssl.SSLContext`` for an https URL.
        uds: a Unix domain socket to connect to instead of the URL's host.
        **kwargs: every per-request keyword of ``Session.request``.

    Returns:
        a ``Response``, or a ``StreamResponse`` with ``stream=True``.

    Raises:
        TypeError: an unknown keyword, or conflicting body arguments.
        ValueError: a malformed method, URL, header or cookie, an unknown
            ``encoding``.
        asks.errors.AsksException: the request failed.
    """
    session = Session(persist_cookies=persist_cookies, ssl_context=ssl_context, uds=uds)
    try:
        response = await session.request(method, uri, **kwargs)
    except BaseException:
        await session.close()
        raise
    if isinstance(response, StreamResponse):
        # The stream holds the session's only connection; it closes the
        # session when it ends.
        response.body._on_close = session.close
    else:
        await session.close()
    return response


@overload
async def get(
    uri: str, *, stream: Literal[False] = ..., **kwargs: Unpack[OneShotKeywords]
) -> Response: ...
@overload
async def get(
    uri: str, *, stream: Literal[True], **kwargs: Unpack[OneShotKeywords]
) -> StreamResponse: ...
@overload
async def get(uri: str, *, stream: bool, **kwargs: Unpack[OneShotKeywords]) -> BaseResponse: ...
async def get(uri: str, **kwargs: Any) -> Any:
    """``request("GET", uri, **kwargs)``."""
    return await request("GET", uri, **kwargs)


@overload
async def head(
    uri: str, *, stream: Literal[False] = ..., **kwargs: Unpack[OneShotKeywords]
) -> Response: ...
@overload
async def head(
    uri: str, *, stream: Literal[True], **kwargs: Unpack[OneShotKeywords]
) -> StreamResponse: ...
@overload
async def head(uri: str, *, stream: bool, **kwargs: Unpack[OneShotKeywords]) -> BaseResponse: ...
async def head(uri: str, **kwargs: Any) -> Any:
    """``request("HEAD", uri, **kwargs)``."""
    return await request("HEAD", uri, **kwargs)


@overload
async def post(
    uri: str, *, stream: Literal[False] = ..., **kwargs: Unpack[OneShotKeywords]
) -> Response: ...
@overload
async def post(
    uri: str, *, stream: Literal[True], **kwargs: Unpack[OneShotKeywords]
) -> StreamResponse: ...
@overload
async def post(uri: str, *, stream: bool, **kwargs: Unpack[OneShotKeywords]) -> BaseResponse: ...
async def post(uri: str, **kwargs: Any) -> Any:
    """``request("POST", uri, **kwargs)``."""
    return await request("POST", uri, **kwargs)


@overload
async def put(
    uri: str, *, stream: Literal[False] = ..., **kwargs: Unpack[OneShotKeywords]
) -> Response: ...
@overload
async def put(
    uri: str, *, stream: Literal[True], **kwargs: Unpack[OneShotKeywords]
) -> StreamResponse: ...
@overload
async def put(uri: str, *, stream: bool, **kwargs: Unpack[OneShotKeywords]) -> BaseResponse: ...
async def put(uri: str, **kwargs: Any) -> Any:
    """``request("PUT", uri, **kwargs)``."""
    return await request("PUT", uri, **kwargs)


@overload
async def delete(
    uri: str, *, stream: Literal[False] = ..., **kwargs: Unpack[OneShotKeywords]
) -> Response: ...
@overload
async def delete(
    uri: str, *, stream: Literal[True], **kwargs: Unpack[OneShotKeywords]
) -> StreamResponse: ...
@overload
async def delete(uri: str, *, stream: bool, **kwargs: Unpack[OneShotKeywords]) -> BaseResponse: ...
async def delete(uri: str, **kwargs: Any) -> Any:
    """``request("DELETE", uri, **kwargs)``."""
    return await request("DELETE", uri, **kwargs)


@overload
async def options(
    uri: str, *, stream: Literal[False] = ..., **kwargs: Unpack[OneShotKeywords]
) -> Response: ...
@overload
async def options(
    uri: str, *, stream: Literal[True], **kwargs: Unpack[OneShotKeywords]
) -> StreamResponse: ...
@overload
async def options(
    uri: str, *, stream: bool, **kwargs: Unpack[OneShotKeywords]
) -> BaseResponse: ...
async def options(uri: str, **kwargs: Any) -> Any:
    """``request("OPTIONS", uri, **kwargs)``."""
    return await request("OPTIONS", uri, **kwargs)


@overload
async def patch(
    uri: str, *, stream: Literal[False] = ..., **kwargs: Unpack[OneShotKeywords]
) -> Response: ...
@overload
async def patch(
    uri: str, *, stream: Literal[True], **kwargs: Unpack[OneShotKeywords]
) -> StreamResponse: ...
@overload
async def patch(uri: str, *, stream: bool, **kwargs: Unpack[OneShotKeywords]) -> BaseResponse: ...
async def patch(uri: str, **kwargs: Any) -> Any:
    """``request("PATCH", uri, **kwargs)``."""
    return await request("PATCH", uri, **kwargs)
