"""Hostile servers: TLS failures.

reliability.md row 12 (untrusted CA, wrong hostname, expired certificate,
plaintext server on the TLS port), plus a body delimited by close that needs
a close_notify (RFC 9112 section 9.8). Row 10's never-completing handshake is
in test_hostile_timeouts.py. Shared helpers and the invariants every case
checks: tests/hostile_helpers.py.
"""

from __future__ import annotations

import contextlib
import datetime
import ssl

import pytest

import asks
import asks._transport.backend
from asks.errors import (
    BadHttpResponse,
    ConnectivityError,
    ServerClosedConnectionError,
    TLSError,
)
from tests.hostile_helpers import CALL_TIMEOUT, MODES, OK, assert_released, fetch
from tests.servers import canned, read_request

# --------------------------------------------------------------------------
# Row 12: TLS failures


def tls_context_for(cert) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    return context


@MODES
async def test_row12_untrusted_ca_is_refused_by_default(raw_server, server_ssl_context, stream):
    handler = canned(OK)
    server = await raw_server(handler, ssl_context=server_ssl_context)
    # No ssl_context: the system trust store, which does not know the test CA.
    async with asks.Session() as s:
        with pytest.raises(TLSError):
            await fetch(s, server.url, stream=stream)
        assert_released(s)
    with pytest.raises(TLSError):
        await asks.get(server.url, stream=stream, timeout=CALL_TIMEOUT)
    assert handler.requests == []


@MODES
async def test_row12_wrong_hostname_is_refused(raw_server, ca, client_ssl_context, stream):
    handler = canned(OK)
    other = tls_context_for(ca.issue_cert("other.example"))
    server = await raw_server(handler, ssl_context=other)
    async with asks.Session(ssl_context=client_ssl_context) as s:
        with pytest.raises(TLSError):
            await fetch(s, server.url, stream=stream)
        assert_released(s)
    assert handler.requests == []


@MODES
async def test_row12_expired_certificate_is_refused(raw_server, ca, client_ssl_context, stream):
    handler = canned(OK)
    now = datetime.datetime.now(datetime.timezone.utc)
    expired = ca.issue_cert(
        "127.0.0.1",
        not_before=now - datetime.timedelta(days=30),
        not_after=now - datetime.timedelta(days=1),
    )
    server = await raw_server(handler, ssl_context=tls_context_for(expired))
    async with asks.Session(ssl_context=client_ssl_context) as s:
        with pytest.raises(TLSError):
            await fetch(s, server.url, stream=stream)
        assert_released(s)
    assert handler.requests == []


@MODES
@pytest.mark.parametrize(
    "plain",
    [
        pytest.param(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", id="speaks-http"),
        pytest.param(b"", id="closes-at-once"),
    ],
)
async def test_row12_plaintext_server_on_the_tls_port_is_refused(
    raw_server, client_ssl_context, stream, plain
):
    async def handler(sock):
        if plain:
            await sock.sendall(plain)

    server = await raw_server(handler)
    url = server.url.replace("http://", "https://")
    async with asks.Session(ssl_context=client_ssl_context) as s:
        with pytest.raises(ConnectivityError):
            await fetch(s, url, stream=stream)
        assert_released(s)


# --------------------------------------------------------------------------
# A body delimited by close over TLS


async def tls_close(sock, notify: bool) -> None:
    """End a TLS connection with a close_notify alert, or without one (a bare FIN)."""
    if notify:
        with contextlib.suppress(ssl.SSLWantReadError, ssl.SSLWantWriteError):
            sock._socket.unwrap()  # sends close_notify; the answer is not awaited


@MODES
@pytest.mark.parametrize("notify", [True, False], ids=["close_notify", "bare-FIN"])
async def test_tls_body_delimited_by_close_needs_close_notify(
    raw_server, server_ssl_context, client_ssl_context, stream, notify
):
    # RFC 9112 section 9.8: a response with neither Content-Length nor
    # chunked framing "is complete only if a valid closure alert has been
    # received". A bare FIN may be an attacker truncating the body.
    async def handler(sock):
        if await read_request(sock) is None:
            return
        await sock.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nthe whole body")
        await tls_close(sock, notify)

    server = await raw_server(handler, ssl_context=server_ssl_context)
    async with asks.Session(ssl_context=client_ssl_context) as s:
        if notify:
            _r, content = await fetch(s, server.url, stream=stream)
            assert content == b"the whole body"
        else:
            with pytest.raises(ServerClosedConnectionError):
                await fetch(s, server.url, stream=stream)
        assert_released(s)


@MODES
@pytest.mark.parametrize("notify", [True, False], ids=["close_notify", "bare-FIN"])
@pytest.mark.parametrize(
    ("partial", "error"),
    [
        pytest.param(
            b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhello",
            ServerClosedConnectionError,
            id="CL-body",
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nContent-Length: 300000\r\n\r\n" + b"x" * 100_000,
            ServerClosedConnectionError,
            id="CL-body-read-directly",
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
            ServerClosedConnectionError,
            id="chunked-body",
        ),
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Le", BadHttpResponse, id="in-the-head"),
        pytest.param(b"HTTP/1.1 100 Continue\r\n\r\n", BadHttpResponse, id="after-a-100"),
    ],
)
async def test_a_tls_close_inside_the_response_is_what_a_plain_close_is(
    raw_server, server_ssl_context, client_ssl_context, stream, notify, partial, error
):
    # A server that drops the TCP connection without close_notify (a crash,
    # most servers closing idle sockets) has cut the response short, as
    # docs/errors.md says for a close there: not a TLS failure, which is
    # the handshake's.
    async def handler(sock):
        if await read_request(sock) is None:
            return
        await sock.sendall(partial)
        await tls_close(sock, notify)

    server = await raw_server(handler, ssl_context=server_ssl_context)
    async with asks.Session(ssl_context=client_ssl_context) as s:
        with pytest.raises(error) as caught:
            await fetch(s, server.url, stream=stream, retries=0)
        assert not isinstance(caught.value, TLSError)
        assert_released(s)


# --------------------------------------------------------------------------
# The name TLS is given: SNI and the host name check


async def test_a_trailing_dot_host_sends_sni_without_the_dot_and_matches_the_certificate(
    raw_server, server_ssl_context, client_ssl_context, monkeypatch
):
    # "localhost." is "localhost" written fully qualified. RFC 6066 section
    # 3: the SNI name goes "without a trailing dot"; the certificate names
    # "localhost", and the name checked against it must be that too.
    names: list[str | None] = []
    server_ssl_context.sni_callback = lambda _sock, name, _ctx: names.append(name)
    server = await raw_server(canned(OK), ssl_context=server_ssl_context)
    resolve = asks._transport.backend.resolve

    async def fully_qualified_localhost(host: str, port: int) -> list:
        return await resolve("127.0.0.1" if host == "localhost." else host, port)

    monkeypatch.setattr(asks._transport.backend, "resolve", fully_qualified_localhost)
    async with asks.Session(ssl_context=client_ssl_context) as s:
        r = await s.get(f"https://localhost.:{server.port}/", timeout=CALL_TIMEOUT)
        assert r.content == b"ok"
        # An IP-address URL sends no SNI at all (RFC 6066 section 3: literal
        # addresses are not permitted in it).
        r = await s.get(f"https://127.0.0.1:{server.port}/", timeout=CALL_TIMEOUT)
        assert r.content == b"ok"
    assert names == ["localhost", None]


# --------------------------------------------------------------------------
# Closing: the client's close_notify (RFC 8446 section 6.1)


async def test_closing_a_tls_connection_sends_close_notify(
    raw_server, server_ssl_context, client_ssl_context
):
    # "Each party MUST send a close_notify alert before closing its write
    # side": without one, the server cannot tell the client's close from a
    # cut. Python's ssl server side says which it got once ragged EOFs are
    # not suppressed: b"" for the alert, SSLEOFError for a bare FIN.
    seen: list[object] = []

    async def handler(sock):
        if await read_request(sock) is None:
            return
        await sock.sendall(OK)
        sock._socket.suppress_ragged_eofs = False
        try:
            seen.append(await sock.recv(1))
        except ssl.SSLError as exc:
            seen.append(type(exc))

    server = await raw_server(handler, ssl_context=server_ssl_context)
    async with asks.Session(ssl_context=client_ssl_context) as s:
        r = await s.get(server.url, timeout=CALL_TIMEOUT)
        assert r.content == b"ok"
    await server.wait_open_connections(0)  # the handler has seen what came
    assert seen == [b""]
