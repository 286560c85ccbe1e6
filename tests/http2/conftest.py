"""Fixtures of the HTTP/2 tests: the scripted server, started in the test's kernel."""

from __future__ import annotations

from collections.abc import AsyncIterator
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
