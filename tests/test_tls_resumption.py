"""TLS session resumption, against nginx, which reports it per request.

Every request here goes to nginx's ``/close`` location, which answers with
``Connection: close``: so each request opens a new TLS connection and offers
whatever session asks kept. nginx says whether it resumed (``X-TLS-Resumed``
on the response, ``$ssl_session_reused`` in its access log: ``r`` or ``.``).
The fixture tests (tests/test_realservers.py) show that nginx does resume a
session offered to another port or host name, so a ``.`` there is the
client's doing.
"""

from __future__ import annotations

import ssl
import uuid
from typing import Any

import pytest
import trustme

import asks
from tests.real.nginx import Listener, Nginx, NginxConfig

CALL_TIMEOUT = 10

# TLS 1.3 (tickets) on the ``tls`` listener, TLS 1.2 (sessions) on ``tls12``.
PROTOCOLS = pytest.mark.parametrize(
    ("listener", "protocol"), [("tls", "TLSv1.3"), ("tls12", "TLSv1.2")], ids=["tls13", "tls12"]
)


def token() -> str:
    return uuid.uuid4().hex[:10]


def trusting_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    ca.configure_trust(context)
    return context


async def resumed(s: asks.Session, url: str, **kwargs: Any) -> bool:
    """GET ``url`` on a new connection; did nginx resume the TLS session?"""
    r = await s.get(url, timeout=CALL_TIMEOUT, **kwargs)
    assert r.status_code == 200
    assert r.headers["connection"] == "close"  # so the next request dials again
    assert r.headers["x-tls-resumed"] in (".", "r")
    return bool(r.headers["x-tls-resumed"] == "r")


@PROTOCOLS
async def test_a_new_connection_to_the_same_origin_resumes(
    nginx: Nginx, client_ssl_context: ssl.SSLContext, listener: str, protocol: str
) -> None:
    path = f"/close/{token()}"
    async with asks.Session(ssl_context=client_ssl_context) as s:
        for n in range(3):
            r = await s.get(nginx.url(listener, f"{path}/{n}"), timeout=CALL_TIMEOUT)
            assert r.status_code == 200
            assert r.headers["x-tls-protocol"] == protocol
    entries = nginx.access_log.entries(path)
    assert [entry.uri for entry in entries] == [f"{path}/{n}" for n in range(3)]
    assert len({entry.connection for entry in entries}) == 3  # three connections
    assert [entry.ssl_protocol for entry in entries] == [protocol] * 3
    # The first pays the full handshake; each reconnect resumes.
    assert [entry.ssl_session_reused for entry in entries] == [".", "r", "r"]


@PROTOCOLS
async def test_never_across_ssl_context_objects(
    nginx: Nginx, ca: trustme.CA, listener: str, protocol: str
) -> None:
    # Two contexts trusting the same CA: equal to the eye, different objects
    # (each may carry other settings, client certificates, pinning...).
    first, second = trusting_context(ca), trusting_context(ca)
    path = f"/close/{token()}"
    async with asks.Session(ssl_context=first) as s:
        assert not await resumed(s, nginx.url(listener, path + "/a1"))
        s.ssl_context = second
        assert not await resumed(s, nginx.url(listener, path + "/b1"))
        # Each context's own session is still offered to its own connections.
        s.ssl_context = first
        assert await resumed(s, nginx.url(listener, path + "/a2"))
        s.ssl_context = second
        assert await resumed(s, nginx.url(listener, path + "/b2"))
    reused = {entry.uri: entry.ssl_session_reused for entry in nginx.access_log.entries(path)}
    assert reused == {path + "/a1": ".", path + "/b1": ".", path + "/a2": "r", path + "/b2": "r"}


@PROTOCOLS
async def test_never_across_host_names(
    nginx: Nginx, client_ssl_context: ssl.SSLContext, listener: str, protocol: str
) -> None:
    # 127.0.0.1 and localhost: one server, one certificate covering both, and
    # nginx would resume either's session on the other if it were offered.
    path = f"/close/{token()}"
    by_ip = nginx.url(listener, path + "/ip", host="127.0.0.1")
    by_name = nginx.url(listener, path + "/name", host="localhost")
    async with asks.Session(ssl_context=client_ssl_context) as s:
        assert not await resumed(s, by_ip)
        assert not await resumed(s, by_name)
        assert await resumed(s, by_ip)
        assert await resumed(s, by_name)


async def test_never_across_ports(nginx: Nginx, client_ssl_context: ssl.SSLContext) -> None:
    # tls and tls_b share their ticket keys: the server would accept either's.
    path = f"/close/{token()}"
    async with asks.Session(ssl_context=client_ssl_context) as s:
        assert not await resumed(s, nginx.url("tls", path))
        assert not await resumed(s, nginx.url("tls_b", path))
        assert await resumed(s, nginx.url("tls", path))


@PROTOCOLS
async def test_resumption_false_never_resumes(
    nginx: Nginx, client_ssl_context: ssl.SSLContext, listener: str, protocol: str
) -> None:
    path = f"/close/{token()}"
    async with asks.Session(ssl_context=client_ssl_context, resumption=False) as s:
        for n in range(3):
            assert not await resumed(s, nginx.url(listener, f"{path}/{n}"))
    entries = nginx.access_log.entries(path)
    assert [entry.ssl_session_reused for entry in entries] == [".", ".", "."]


async def test_keep_alive_is_not_resumption(
    nginx: Nginx, client_ssl_context: ssl.SSLContext
) -> None:
    # A kept-alive connection needs no handshake at all: two requests, one
    # connection, one full handshake; then a reconnect resumes.
    path = f"/echo/{token()}"
    async with asks.Session(ssl_context=client_ssl_context) as s:
        one = await s.get(nginx.url("tls", path + "/1"), timeout=CALL_TIMEOUT)
        two = await s.get(nginx.url("tls", path + "/2"), timeout=CALL_TIMEOUT)
        # This one still rides the kept-alive connection, which nginx then closes.
        assert not await resumed(s, nginx.url("tls", f"/close/{token()}"))
        assert await resumed(s, nginx.url("tls", f"/close/{token()}"))
    assert one.headers["x-connection"] == two.headers["x-connection"]
    assert [one.headers["x-tls-resumed"], two.headers["x-tls-resumed"]] == [".", "."]


@PROTOCOLS
async def test_a_session_the_server_rejects_falls_back_to_a_full_handshake(
    nginx_factory, client_ssl_context: ssl.SSLContext, listener: str, protocol: str
) -> None:
    server = nginx_factory()
    async with asks.Session(ssl_context=client_ssl_context) as s:
        assert not await resumed(s, server.url(listener, "/close/1"))
        assert await resumed(s, server.url(listener, "/close/2"))
        # New ticket keys and an empty session cache: what asks kept is stale.
        server.restart()
        r = await s.get(server.url(listener, "/close/3"), timeout=CALL_TIMEOUT)
        assert (r.status_code, r.headers["x-tls-resumed"]) == (200, ".")
        # The fresh session from that full handshake is the one offered next.
        assert await resumed(s, server.url(listener, "/close/4"))
    entries = server.access_log.entries("/close/")
    assert [entry.ssl_session_reused for entry in entries] == [".", "r", ".", "r"]
    assert {entry.ssl_protocol for entry in entries} == {protocol}


async def test_a_server_without_session_reuse_is_served_normally(
    nginx_factory, real_certificate, client_ssl_context: ssl.SSLContext
) -> None:
    # No tickets, no cache: nothing is offered back, and every call works.
    config = NginxConfig.default(real_certificate)
    config.add_listener(
        Listener(
            "no_reuse",
            tls=True,
            directives=("ssl_session_tickets off;", "ssl_session_cache off;"),
        )
    )
    server = nginx_factory(config)
    async with asks.Session(ssl_context=client_ssl_context) as s:
        for n in range(3):
            assert not await resumed(s, server.url("no_reuse", f"/close/{n}"))
