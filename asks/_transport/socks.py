"""The SOCKS handshake: SOCKS4, SOCKS4a, SOCKS5 and SOCKS5h over a connected stream.

The dialler opens a TCP stream to the proxy (its one dialler: Happy Eyeballs,
``source_address``, cleanup under cancellation) and hands it to
:func:`open_socks_tunnel`, which asks the proxy to connect to the origin.
When it returns, the stream carries the origin's bytes: TLS to an https
origin starts on it as on a direct connection.

The messages are built and parsed by ``socksio`` (sans-IO); this module does
the reads, and reads exact lengths only, so that no byte the origin sends
after the proxy's reply is taken away from the origin's protocol. socksio's
parsers are not incremental; the lengths come from the protocols:

* SOCKS5 (RFC 1928): the method choice is 2 bytes; the username/password
  status 2 bytes (RFC 1929 section 2); a reply is 4 bytes (VER REP RSV
  ATYP) then the bound address (4 bytes for IPv4, 16 for IPv6, or a length
  byte and that many for a name) and a 2-byte port (RFC 1928 section 6).
* SOCKS4 and SOCKS4a: the reply is always 8 bytes (VN CD DSTPORT DSTIP),
  checked here: its version byte is 0 and its code one of four.

Where the origin's name is resolved:

* ``socks5://`` and ``socks4://``: here, by the system resolver; the proxy is
  sent an address. SOCKS4 carries IPv4 only, so a name with no IPv4 address
  cannot go through a SOCKS4 proxy.
* ``socks5h://`` and ``socks4a://``: at the proxy; the name is sent as it goes
  on the wire everywhere in asks (IDNA 2008 for non-ASCII names). A SOCKS5
  name is at most 255 bytes (its length is one byte).

IP literals are always sent as addresses.

Every failure of the proxy is a :class:`ProxyFailed` whose message names the
proxy by :attr:`Proxy.url` (never its credentials) and, for a refusal, the
reply code and its meaning. The stream is the caller's: on any failure,
cancellation included, the caller closes it; nothing else is left open here.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import TYPE_CHECKING

import curio
from socksio import (
    ProtocolError,
    SOCKS4ARequest,
    SOCKS4Command,
    SOCKS4Request,
    SOCKS5AType,
    SOCKS5AuthMethod,
    SOCKS5AuthMethodsRequest,
    SOCKS5AuthReply,
    SOCKS5Command,
    SOCKS5CommandRequest,
    SOCKS5Reply,
    SOCKS5UsernamePasswordRequest,
)

from . import backend
from .backend import resolve
from .interfaces import ConnectError, ConnectTimeout, ProxyFailed
from .trap_cycles import break_trap_cycle

if TYPE_CHECKING:
    from .._proxies import Proxy

__all__ = ["SOCKS4_REPLIES", "SOCKS5_REPLIES", "open_socks_tunnel"]

# RFC 1928 section 6, the REP field of a reply.
SOCKS5_REPLIES = {
    0x01: "general SOCKS server failure",
    0x02: "connection not allowed by ruleset",
    0x03: "network unreachable",
    0x04: "host unreachable",
    0x05: "connection refused",
    0x06: "TTL expired",
    0x07: "command not supported",
    0x08: "address type not supported",
}

# The SOCKS4 protocol description (Ying-Da Lee), the CD field of a reply.
SOCKS4_REPLIES = {
    0x5B: "request rejected or failed",
    0x5C: "request rejected: the SOCKS server cannot connect to identd on the client",
    0x5D: "request rejected: the client program and identd report different user ids",
}

_SOCKS4_GRANTED = 0x5A
# The length of a SOCKS5 reply after its 4-byte head, by address type:
# the address and the 2-byte port (a name's length byte is read first).
_SOCKS5_ADDRESS_SIZES = {0x01: 4 + 2, 0x04: 16 + 2}
_SOCKS5_NAME = 0x03
# RFC 1928 section 5: a name is preceded by its length in one octet; RFC 1929
# section 2: so are the user name and the password.
_MAX_FIELD = 255

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


async def open_socks_tunnel(
    stream: backend.Stream,
    proxy: Proxy,
    host: str,
    port: int,
    timeout: float | None,
) -> None:
    """Ask the SOCKS proxy at the other end of *stream* to connect to *host*:*port*.

    Args:
        stream: a connected stream to the proxy, nothing sent on it yet.
        proxy: the proxy (scheme ``socks4``, ``socks4a``, ``socks5`` or
            ``socks5h``); its user and password, if any, authenticate to a
            SOCKS5 proxy (RFC 1929), its user is the SOCKS4 user id.
        host: the origin's host: a name (as in the URL; IDNA-encoded here if
            it is not ASCII yet) or an IP literal (IPv6 without brackets).
        port: the origin's port.
        timeout: seconds for the whole handshake, local name resolution
            included; None for no limit of its own.

    Returns:
        None, once the proxy has connected: from then on *stream* carries the
        origin's bytes, and nothing of them has been read.

    Raises:
        ProxyFailed: the proxy refused (the reply code named), rejected the
            credentials, wanted credentials that were not given, closed the
            connection or answered something that is not SOCKS; or the origin
            cannot be sent through this kind of proxy (an IPv6 address or a
            name without IPv4 address through SOCKS4, a name over 255 bytes).
        ConnectError: the origin's name did not resolve (``socks4``,
            ``socks5``: resolved locally).
        ConnectTimeout: the handshake did not finish within *timeout*.
    """
    if timeout is None:
        await _handshake(stream, proxy, host, port)
        return
    deadline = curio.timeout_after(timeout)
    try:
        async with deadline:
            await _handshake(stream, proxy, host, port)
    except curio.TaskTimeout as exc:
        if not deadline.expired:
            raise  # a deadline of the caller's, not ours
        break_trap_cycle(exc)
        raise ConnectTimeout(
            f"proxy {proxy.url}: the SOCKS handshake did not finish within {timeout} s"
        ) from None


async def _handshake(stream: backend.Stream, proxy: Proxy, host: str, port: int) -> None:
    scheme = proxy.scheme
    host = host.strip("[]")  # an IPv6 literal as written in a URL
    if scheme not in ("socks4", "socks4a", "socks5", "socks5h"):
        raise ProxyFailed(f"proxy {proxy.url} is not a SOCKS proxy")
    if scheme.startswith("socks5"):
        request = await _socks5_request(proxy, host, port)
    else:
        request = await _socks4_request(proxy, host, port)
    try:
        if scheme.startswith("socks5"):
            await _socks5(stream, proxy, request, host, port)
        else:
            await stream.send(request)
            await _socks4_reply(stream, proxy, host, port)
    except OSError as exc:
        # A reset is how some proxies end a refused login (RFC 1929 section 2:
        # "the server MUST close the connection" on failure).
        raise ProxyFailed(
            f"proxy {proxy.url}: the connection failed during the SOCKS handshake: "
            f"{exc.strerror or exc}"
        ) from exc


# -- what is asked for -----------------------------------------------------------


def _ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


async def _local_addresses(proxy: Proxy, host: str, port: int) -> list[IPAddress]:
    """*host*'s addresses, resolved here, in the resolver's order (RFC 6724)."""
    try:
        infos = await resolve(host, port)
    except OSError as exc:
        reason = "cannot resolve host" if isinstance(exc, socket.gaierror) else "failed"
        raise ConnectError(
            f"resolving {host} for proxy {proxy.url} (a {proxy.scheme}:// proxy is sent "
            f"an address, resolved here): {reason}: {exc}"
        ) from exc
    if not infos:
        raise ConnectError(f"resolving {host} for proxy {proxy.url}: no address")
    return [ipaddress.ip_address(info[4][0].partition("%")[0]) for info in infos]


def _wire_name(proxy: Proxy, host: str) -> bytes:
    """The name as the proxy must resolve it: ASCII, IDNA 2008 for anything else."""
    if host.isascii():
        name = host.encode("ascii")
    else:
        import idna  # rare: a URL's host is encoded already

        try:
            name = idna.encode(host, uts46=True, transitional=False)
        except (idna.IDNAError, UnicodeError) as exc:
            raise ProxyFailed(
                f"proxy {proxy.url}: {host!r} is not a valid IDNA 2008 name: {exc}"
            ) from None
    if len(name) > _MAX_FIELD:
        raise ProxyFailed(
            f"proxy {proxy.url}: the host name is {len(name)} bytes long; "
            f"SOCKS carries names of at most {_MAX_FIELD} bytes"
        )
    return name


async def _socks5_request(proxy: Proxy, host: str, port: int) -> bytes:
    """The SOCKS5 CONNECT request (RFC 1928 section 4) for *host*:*port*."""
    address = _ip_literal(host)
    if address is None and proxy.scheme == "socks5":
        address = (await _local_addresses(proxy, host, port))[0]
    if address is None:
        atype, packed = SOCKS5AType.DOMAIN_NAME, _wire_name(proxy, host)
    elif address.version == 4:
        atype, packed = SOCKS5AType.IPV4_ADDRESS, address.packed
    else:
        atype, packed = SOCKS5AType.IPV6_ADDRESS, address.packed
    return SOCKS5CommandRequest(SOCKS5Command.CONNECT, atype, packed, port).dumps()


async def _socks4_request(proxy: Proxy, host: str, port: int) -> bytes:
    """The SOCKS4 (or, for a name through ``socks4a://``, SOCKS4a) CONNECT request."""
    # The user id ends at a NUL byte; asks.Proxy refuses NUL in a user name.
    user_id = (proxy.username or "").encode()
    address = _ip_literal(host)
    if address is None and proxy.scheme == "socks4a":
        name = _wire_name(proxy, host)
        return SOCKS4ARequest(SOCKS4Command.CONNECT, port, name, user_id).dumps(user_id)
    if address is None:
        addresses = await _local_addresses(proxy, host, port)
        address = next((a for a in addresses if a.version == 4), None)
        if address is None:
            raise ProxyFailed(
                f"proxy {proxy.url}: {host} has no IPv4 address, and SOCKS4 carries IPv4 "
                "addresses only (use socks4a:// or socks5h:// to let the proxy resolve it)"
            )
    elif address.version != 4:
        raise ProxyFailed(
            f"proxy {proxy.url}: SOCKS4 carries IPv4 addresses only, not {host} "
            "(use a socks5:// proxy)"
        )
    return SOCKS4Request(SOCKS4Command.CONNECT, port, address.packed, user_id).dumps(user_id)


# -- the exchanges -----------------------------------------------------------------


async def _receive_exactly(stream: backend.Stream, size: int, proxy: Proxy, step: str) -> bytes:
    """*size* bytes, not one more: what follows belongs to the origin."""
    data = b""
    while len(data) < size:
        chunk = await stream.receive(size - len(data))
        if not chunk:
            raise ProxyFailed(
                f"proxy {proxy.url} closed the connection during the SOCKS handshake "
                f"({step}: {len(data)} of {size} bytes received)"
            )
        data += chunk
    return data


def _garbage(proxy: Proxy, step: str, detail: str) -> ProxyFailed:
    return ProxyFailed(f"proxy {proxy.url} did not answer as a SOCKS proxy ({step}: {detail})")


async def _socks5(
    stream: backend.Stream, proxy: Proxy, request: bytes, host: str, port: int
) -> None:
    username, password = proxy.username, proxy.password
    offered = [SOCKS5AuthMethod.NO_AUTH_REQUIRED]
    credentials = b""
    if username is not None:
        user, secret = username.encode(), (password or "").encode()
        if not user or len(user) > _MAX_FIELD or len(secret) > _MAX_FIELD:
            # RFC 1929 section 2: ULEN is 1 to 255 (an empty name is no name;
            # a proxy would read the password's length as the name's).
            raise ProxyFailed(
                f"proxy {proxy.url}: a SOCKS5 user name is 1 to {_MAX_FIELD} bytes and a "
                f"password at most {_MAX_FIELD} (RFC 1929)"
            )
        # Offering both lets a proxy that needs no login skip it (as curl does).
        offered.append(SOCKS5AuthMethod.USERNAME_PASSWORD)
        credentials = SOCKS5UsernamePasswordRequest(user, secret).dumps()
    await stream.send(SOCKS5AuthMethodsRequest(offered).dumps())

    step = "method selection"
    choice = await _receive_exactly(stream, 2, proxy, step)
    if choice[0] != 5:
        raise _garbage(proxy, step, f"version byte 0x{choice[0]:02X}, expected 0x05")
    try:
        method = SOCKS5AuthReply.loads(choice).method
    except ProtocolError:
        method = None
    if method is SOCKS5AuthMethod.NO_ACCEPTABLE_METHODS:
        if username is None:
            raise ProxyFailed(
                f"proxy {proxy.url} requires authentication (SOCKS5 reply: no acceptable "
                "methods, 0xFF); give a user and password in the proxy URL or Proxy(auth=...)"
            )
        raise ProxyFailed(
            f"proxy {proxy.url} accepts neither username/password nor no authentication "
            "(SOCKS5 reply: no acceptable methods, 0xFF)"
        )
    if method not in offered:
        raise _garbage(proxy, step, f"chose method 0x{choice[1]:02X}, which was not offered")

    if method is SOCKS5AuthMethod.USERNAME_PASSWORD:
        await stream.send(credentials)
        step = "username/password status"
        status = await _receive_exactly(stream, 2, proxy, step)
        if status[0] != 1:  # RFC 1929 section 2: the subnegotiation's version
            raise _garbage(proxy, step, f"version byte 0x{status[0]:02X}, expected 0x01")
        if status[1] != 0:
            raise ProxyFailed(
                f"proxy {proxy.url} rejected the user name and password "
                f"(RFC 1929 status 0x{status[1]:02X})"
            )

    await stream.send(request)
    step = "reply"
    head = await _receive_exactly(stream, 4, proxy, step)
    if head[0] != 5:
        raise _garbage(proxy, step, f"version byte 0x{head[0]:02X}, expected 0x05")
    code = head[1]
    if code != 0:
        meaning = SOCKS5_REPLIES.get(code, "unassigned reply code")
        raise ProxyFailed(
            f"proxy {proxy.url} refused the connection to {_place(host, port)}: "
            f"{meaning} (SOCKS5 reply 0x{code:02X})"
        )
    atype = head[3]
    if atype == _SOCKS5_NAME:
        length = await _receive_exactly(stream, 1, proxy, step)
        rest = length + await _receive_exactly(stream, length[0] + 2, proxy, step)
    elif atype in _SOCKS5_ADDRESS_SIZES:
        rest = await _receive_exactly(stream, _SOCKS5_ADDRESS_SIZES[atype], proxy, step)
    else:
        raise _garbage(proxy, step, f"unknown address type 0x{atype:02X}")
    try:
        SOCKS5Reply.loads(head + rest)
    except ProtocolError:
        raise _garbage(proxy, step, "malformed bound address") from None


async def _socks4_reply(stream: backend.Stream, proxy: Proxy, host: str, port: int) -> None:
    step = "reply"
    reply = await _receive_exactly(stream, 8, proxy, step)
    if reply[0] != 0:
        raise _garbage(proxy, step, f"version byte 0x{reply[0]:02X}, expected 0x00")
    code = reply[1]
    if code in SOCKS4_REPLIES:
        raise ProxyFailed(
            f"proxy {proxy.url} refused the connection to {_place(host, port)}: "
            f"{SOCKS4_REPLIES[code]} (SOCKS4 reply 0x{code:02X})"
        )
    if code != _SOCKS4_GRANTED:
        raise _garbage(proxy, step, f"unknown reply code 0x{code:02X}")


def _place(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
