"""SOCKS4, SOCKS4a, SOCKS5 and SOCKS5h handshakes over a stream to the proxy.

A stub on this branch: the SOCKS handshake is written on the ``socks``
branch and replaces this module at merge. The route around it (TCP to the
proxy with the one dialler, this handshake, then TLS to the origin for
https) lives in ``connect.py``.
"""

from __future__ import annotations

from .._proxies import Proxy
from . import backend
from .interfaces import ProxyFailed

__all__ = ["open_socks_tunnel"]


async def open_socks_tunnel(
    stream: backend.Stream, proxy: Proxy, host: str, port: int, timeout: float | None
) -> None:
    """Run the SOCKS handshake for *host*:*port* over *stream* (connected to *proxy*).

    Raises:
        ProxyFailed: always, until the SOCKS branch lands.
    """
    raise ProxyFailed(f"{proxy.url}: SOCKS is not available yet")
