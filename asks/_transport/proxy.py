"""HTTP proxies on the wire: the headers of a forwarded request, and ``CONNECT`` tunnels.

Two ways through an HTTP (or https://) proxy, chosen by the origin's scheme:

* an http:// origin is *forwarded*: the request goes to the proxy with its
  target in absolute form (``GET http://host:port/path HTTP/1.1``, RFC 9112
  section 3.2.2) plus the proxy's own headers (``Proxy-Authorization``,
  ``Proxy(headers=...)``). The proxy reads it, so the proxy is the only
  party that sees those headers;
* an https:// origin goes through a *tunnel*: ``CONNECT host:port`` (RFC
  9110 section 9.3.6) with ``Host`` and the proxy's headers only - never the
  request's own headers, cookies or credentials, which travel inside the
  tunnel's TLS where the proxy cannot read them - then TLS to the origin.

The proxy's answer to ``CONNECT`` is parsed by h11 (a 2xx switches the
connection to the tunnel; the bytes after the head belong to it). A
non-2xx answer is a :class:`ProxyFailed` with its status: 407 (and
tinyproxy's 401) wants credentials, 502/503/504 mean the proxy could not
reach the origin.
"""

from __future__ import annotations

import h11

from .._proxies import Proxy
from .backend import Stream, TLSOverStream
from .interfaces import ProxyFailed

__all__ = ["forward_headers", "open_http_tunnel"]

# The most bytes a proxy's answer to CONNECT may take (its head; a body of an
# error answer is not read).
_MAX_CONNECT_HEAD = 65536
_READ = 4096


def proxy_header_block(
    proxy: Proxy, caller_authorization: str | None = None
) -> tuple[tuple[bytes, bytes], ...]:
    """The headers meant for *proxy* alone, encoded.

    Args:
        proxy: where they go.
        caller_authorization: a ``Proxy-Authorization`` value from the
            caller's own headers; the proxy's credentials win over it.
    """
    out: list[tuple[bytes, bytes]] = []
    authorization = proxy.authorization or caller_authorization
    if authorization is not None and "proxy-authorization" not in proxy.headers:
        out.append((b"Proxy-Authorization", authorization.encode("latin-1")))
    for name, value in proxy.headers.items():
        out.append((name.encode("ascii"), value.encode("latin-1")))
    return tuple(out)


def forward_headers(
    wire: tuple[tuple[bytes, bytes], ...], proxy: Proxy, caller_authorization: str | None
) -> tuple[tuple[bytes, bytes], ...]:
    """A request's header block with the proxy's headers added (a forwarded request)."""
    return wire + proxy_header_block(proxy, caller_authorization)


def _authority(host: str, port: int) -> bytes:
    # RFC 9110 section 9.3.6: CONNECT's target is host:port (authority
    # form, RFC 9112 section 3.2.3), an IPv6 address in brackets and without
    # its zone, which means something on this machine only (RFC 6874 section 4).
    shown = f"[{host.partition('%')[0]}]" if ":" in host else host
    return f"{shown}:{port}".encode("ascii")


async def open_http_tunnel(
    stream: Stream | TLSOverStream, proxy: Proxy, host: str, port: int
) -> bytes:
    """Ask *proxy*, over *stream*, for a tunnel to *host*:*port*.

    Returns:
        the bytes that came after the proxy's answer: the first of the
        tunnel's own (normally none: the client speaks first in TLS).

    Raises:
        ProxyFailed: the proxy refused (its status in ``status_code``),
            closed the connection, or did not answer in HTTP.
        OSError: the stream failed.
    """
    authority = _authority(host, port)
    conn = h11.Connection(h11.CLIENT, max_incomplete_event_size=_MAX_CONNECT_HEAD)
    headers = [(b"Host", authority), *proxy_header_block(proxy)]
    try:
        data = conn.send(h11.Request(method=b"CONNECT", target=authority, headers=headers))
    except h11.LocalProtocolError as exc:  # pragma: no cover - the Proxy checked its text
        raise ProxyFailed(f"{proxy.url}: cannot send CONNECT: {exc}") from None
    assert data is not None
    await stream.send(data)
    while True:
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError as exc:
            raise ProxyFailed(f"{proxy.url}: invalid answer to CONNECT: {exc}") from None
        if event is h11.NEED_DATA:
            chunk = await stream.receive(_READ)
            if not chunk:
                raise ProxyFailed(
                    f"{proxy.url}: the proxy closed the connection before answering CONNECT"
                )
            conn.receive_data(chunk)
            continue
        if isinstance(event, h11.InformationalResponse):
            continue  # a 1xx before the answer (RFC 9110 section 15.2)
        assert isinstance(event, h11.Response)
        status = event.status_code
        if 200 <= status < 300:
            leftover, _ = conn.trailing_data
            return bytes(leftover)
        reason = event.reason.decode("latin-1", "replace")
        if status in (401, 407):
            what = (
                "the proxy wants credentials"
                if not proxy.has_credentials
                else ("the proxy refused the credentials")
            )
        else:
            what = f"the proxy could not open a tunnel to {authority.decode('ascii')}"
        raise ProxyFailed(f"{proxy.url}: {what} ({status} {reason})", status)
