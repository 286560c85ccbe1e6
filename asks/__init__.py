"""asks: the async HTTP/1.1 client for curio.

``await asks.get(url)`` for one request; ``Session(connections=N)`` for many,
over keep-alive connections. See :mod:`asks.sessions` and :mod:`asks.errors`.
"""

from . import errors
from ._headers import Headers
from ._hooks import Request
from ._proxies import Proxy
from ._rate import RateLimit
from ._retry import Retry
from ._transport.pool import PoolStats
from ._version import __version__
from .api import delete, get, head, init, options, patch, post, put, request
from .auth import AuthBase, BasicAuth, DigestAuth, NetRCAuth, PostResponseAuth, PreResponseAuth
from .crawl import FetchResult, FetchResults, fetch_many
from .response_objects import Response, StreamBody, StreamResponse
from .sessions import Session

__all__ = [
    "AuthBase",
    "BasicAuth",
    "DigestAuth",
    "FetchResult",
    "FetchResults",
    "Headers",
    "NetRCAuth",
    "PoolStats",
    "PostResponseAuth",
    "PreResponseAuth",
    "Proxy",
    "RateLimit",
    "Request",
    "Response",
    "Retry",
    "Session",
    "StreamBody",
    "StreamResponse",
    "__version__",
    "delete",
    "errors",
    "fetch_many",
    "get",
    "head",
    "init",
    "options",
    "patch",
    "post",
    "put",
    "request",
]
