"""The one dialler: pool keys, routes, and how a failed dial is reported.

Real sockets on loopback only. TLS resumption and Unix sockets against real
servers are in tests/test_tls_resumption.py and tests/test_uds.py.
"""

from __future__ import annotations

import socket
import ssl

import curio
import pytest

import asks._transport.backend
from asks._transport.connect import Dialer
from asks._transport.interfaces import ConnectError, ConnectTimeout
from asks._urls import Origin
from tests.real.process import free_port


def dialer(**options: object) -> Dialer:
    settings: dict[str, object] = {
        "ssl_context": None,
        "source_address": None,
        "uds": None,
        "resumption": True,
        "max_head_size": 65536,
        "keepalive_expiry": 5.0,
    }
    settings.update(options)
    return Dialer(**settings)  # type: ignore[arg-type]


def test_pool_keys_differ_by_scheme_route_and_tls_context():
    one, two = ssl.create_default_context(), ssl.create_default_context()
    http, https = Origin("http", "h", 80), Origin("https", "h", 443)
    keys = {
        dialer().pool_key(http),
        dialer().pool_key(https),
        dialer(ssl_context=one).pool_key(https),
        dialer(ssl_context=two).pool_key(https),
        dialer(uds="/run/a.sock").pool_key(http),
        dialer(uds="/run/b.sock").pool_key(http),
    }
    assert len(keys) == 6
    # A context only matters to https: plain connections of any context mix.
    assert dialer(ssl_context=one).pool_key(http) == dialer().pool_key(http)


async def test_a_refused_address_is_named_once():
    port = free_port()
    with pytest.raises(ConnectError) as info:
        await dialer().open_stream(Origin("http", "127.0.0.1", port), None)
    assert str(info.value) == f"connecting to 127.0.0.1:{port}: Connection refused"


async def two_addresses(host: str, port: int) -> list:
    """A resolver answering two loopback addresses for any name."""
    return [
        (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("127.0.0.1", port)),
        (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("127.0.0.2", port)),
    ]


async def test_several_refused_addresses_are_each_named(monkeypatch):
    port = free_port()

    monkeypatch.setattr(asks._transport.backend, "resolve", two_addresses)
    with pytest.raises(ConnectError) as info:
        await dialer().open_stream(Origin("http", "dual.test", port), None)
    message = str(info.value)
    assert message.startswith(f"connecting to dual.test:{port}: Connection refused (")
    assert f"127.0.0.1:{port}" in message and f"127.0.0.2:{port}" in message


async def test_a_name_that_does_not_resolve_says_so():
    with pytest.raises(ConnectError, match="cannot resolve host"):
        await dialer().open_stream(Origin("http", "nonexistent.invalid", 80), None)


async def test_no_connection_within_the_timeout_is_connect_timeout(monkeypatch):
    async def never(*args: object, **kwargs: object) -> None:
        await curio.Event().wait()

    monkeypatch.setattr("asks._transport.connect.connect_tcp", never)
    with pytest.raises(ConnectTimeout, match=r"not connected within 0\.05 s"):
        await dialer().open_stream(Origin("http", "127.0.0.1", 80), 0.05)


async def test_a_unix_socket_that_is_missing_is_named(tmp_path):
    path = tmp_path / "nothing.sock"
    with pytest.raises(ConnectError) as info:
        await dialer(uds=str(path)).open_stream(Origin("http", "docker", 80), None)
    assert str(info.value) == f"connecting to unix socket {path}: No such file or directory"


async def test_a_source_address_of_the_other_family_is_named():
    # An IPv6 source cannot be bound to reach an IPv4 address (bind raises
    # EAI_ADDRFAMILY, a negative errno): the message says so.
    port = free_port()
    with pytest.raises(ConnectError) as info:
        await dialer(source_address=("::1", 0)).open_stream(
            Origin("http", "127.0.0.1", port), None
        )
    message = str(info.value)
    assert message.startswith(f"connecting to 127.0.0.1:{port}: failed: ")
    assert "source address '::1' cannot be bound to reach an IPv4 address" in message
    assert "Unknown error" not in message


async def test_several_addresses_the_source_address_cannot_reach_are_each_named(monkeypatch):
    port = free_port()

    monkeypatch.setattr(asks._transport.backend, "resolve", two_addresses)
    with pytest.raises(ConnectError) as info:
        await dialer(source_address=("::1", 0)).open_stream(
            Origin("http", "dual.test", port), None
        )
    message = str(info.value)
    assert message.startswith(f"connecting to dual.test:{port}: failed (could not connect ")
    assert f"127.0.0.1:{port}: source address '::1'" in message
    assert f"127.0.0.2:{port}: source address '::1'" in message
    assert "Unknown error" not in message and "None" not in message
