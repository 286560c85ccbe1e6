"""Fixtures of the HTTP/2 tests: the scripted server, started in the test's kernel."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol

import pytest

from tests.http2.scripted import H2Server


class H2ServerFactory(Protocol):
    async def __call__(self, *args: Any, **kwargs: Any) -> H2Server: ...


@pytest.fixture
async def h2_server() -> AsyncIterator[H2ServerFactory]:
    """Start :class:`H2Server` instances (arguments as its own); all closed at the end.

    Fails the test if a handler or a connection of the server raised: the
    client broke the protocol, or the test's handler is wrong. A test that
    expects such errors empties ``server.errors`` itself.
    """
    servers: list[H2Server] = []

    async def start(*args: Any, **kwargs: Any) -> H2Server:
        server = H2Server(*args, **kwargs)
        servers.append(server)
        return await server.start()

    yield start

    for server in reversed(servers):
        await server.aclose()
    errors = [exc for server in servers for exc in server.errors]
    if errors:
        raise errors[0]


@dataclass
class H2Mode:
    """How a test reaches the scripted server: h2c, or TLS with ALPN."""

    server: dict[str, Any]  # H2Server keywords
    session: dict[str, Any]  # asks.Session keywords


@pytest.fixture(params=["h2c", "tls"])
def h2_mode(
    request: pytest.FixtureRequest,
    server_ssl_context: ssl.SSLContext,
    client_ssl_context: ssl.SSLContext,
) -> H2Mode:
    """Both ways to HTTP/2: prior knowledge over plain TCP, and TLS + ALPN ``h2``."""
    if request.param == "h2c":
        return H2Mode({}, {"http2": "prior-knowledge"})
    return H2Mode(
        {"ssl_context": server_ssl_context},
        {"http2": True, "ssl_context": client_ssl_context},
    )
