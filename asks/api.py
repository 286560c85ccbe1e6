"""The one-shot functions: ``await asks.get(url)`` and friends.

Each makes a temporary :class:`~asks.sessions.Session`, makes one request
and closes the session. With ``stream=True`` the session lives until the
stream is read to the end or closed, and closes with it.
"""

from __future__ import annotations

import ssl
from typing import Any

from .response_objects import StreamResponse
from .sessions import Session

__all__ = ["delete", "get", "head", "init", "options", "patch", "post", "put", "request"]


def init(library: str) -> None:
    """Does nothing; kept so ``asks.init('curio')`` in old code still runs.

    asks 2 chose its event loop here. This asks always runs on curio.
    """


async def request(
    method: str,
    uri: str,
    *,
    persist_cookies: Any = None,
    ssl_context: ssl.SSLContext | None = None,
    **kwargs: Any,
) -> Any:
    """Make one request with a temporary Session.

    Args:
        method: the HTTP method.
        uri: the absolute URL.
        persist_cookies: as for :class:`~asks.sessions.Session`.
        ssl_context: the ``ssl.SSLContext`` for an https URL.
        **kwargs: every per-request keyword of ``Session.request``.

    Returns:
        a ``Response``, or a ``StreamResponse`` with ``stream=True``.

    Raises:
        asks.errors.AsksException: the request failed.
    """
    session = Session(persist_cookies=persist_cookies, ssl_context=ssl_context)
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


async def get(uri: str, **kwargs: Any) -> Any:
    """``request("GET", uri, **kwargs)``."""
    return await request("GET", uri, **kwargs)


async def head(uri: str, **kwargs: Any) -> Any:
    """``request("HEAD", uri, **kwargs)``."""
    return await request("HEAD", uri, **kwargs)


async def post(uri: str, **kwargs: Any) -> Any:
    """``request("POST", uri, **kwargs)``."""
    return await request("POST", uri, **kwargs)


async def put(uri: str, **kwargs: Any) -> Any:
    """``request("PUT", uri, **kwargs)``."""
    return await request("PUT", uri, **kwargs)


async def delete(uri: str, **kwargs: Any) -> Any:
    """``request("DELETE", uri, **kwargs)``."""
    return await request("DELETE", uri, **kwargs)


async def options(uri: str, **kwargs: Any) -> Any:
    """``request("OPTIONS", uri, **kwargs)``."""
    return await request("OPTIONS", uri, **kwargs)


async def patch(uri: str, **kwargs: Any) -> Any:
    """``request("PATCH", uri, **kwargs)``."""
    return await request("PATCH", uri, **kwargs)
