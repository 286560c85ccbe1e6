"""Fixtures shared by the whole test-suite (loaded by tests/conftest.py).

Usage:

    async def test_x(raw_server):
        server = await raw_server(canned(b"HTTP/1.1 200 OK\\r\\n..."))
        ...

    async def test_y(raw_server, server_ssl_context, client_ssl_context):
        server = await raw_server(handler, ssl_context=server_ssl_context)

    async def test_z(httpbin, httpbin_secure, client_ssl_context):
        httpbin.url, httpbin_secure.url   # http://127.0.0.1:PORT, https://...
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Iterator
from typing import Protocol

import pytest
import trustme

from tests.servers import LOOPBACK, Handler, HttpbinProcess, RawServer

# Names the certificates are issued for; servers listen on 127.0.0.1.
CERT_NAMES = ("127.0.0.1", "localhost")


class RawServerFactory(Protocol):
    async def __call__(
        self, handler: Handler, ssl_context: ssl.SSLContext | None = None, host: str = LOOPBACK
    ) -> RawServer: ...


@pytest.fixture
async def raw_server() -> AsyncIterator[RawServerFactory]:
    """Start RawServers in the test's kernel; all are closed when the test ends.

    Fails the test if a handler raised something other than a connection
    error or an h11 protocol error (those are what a misbehaving client
    causes; inspect ``server.handler_errors`` to assert on them).
    """
    servers: list[RawServer] = []

    async def start(
        handler: Handler, ssl_context: ssl.SSLContext | None = None, host: str = LOOPBACK
    ) -> RawServer:
        server = RawServer(handler, ssl_context=ssl_context, host=host)
        servers.append(server)
        return await server.start()

    yield start

    for server in reversed(servers):
        await server.aclose()
    broken = [exc for server in servers for exc in server.unexpected_errors()]
    if broken:
        raise broken[0]


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def server_cert(ca: trustme.CA) -> trustme.LeafCert:
    return ca.issue_cert(*CERT_NAMES)


@pytest.fixture
def server_ssl_context(server_cert: trustme.LeafCert) -> ssl.SSLContext:
    """Server side: presents a certificate for 127.0.0.1 and localhost.

    Function-scoped (a context is mutable); the certificate is issued once.
    """
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_cert.configure_cert(context)
    return context


@pytest.fixture
def client_ssl_context(ca: trustme.CA) -> ssl.SSLContext:
    """Client side: verifies certificates against the test CA (and only it)."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    ca.configure_trust(context)
    return context


@pytest.fixture(scope="session")
def httpbin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpbinProcess]:
    """httpbin over plain HTTP in a child process; ``.url`` is http://127.0.0.1:PORT."""
    log_path = tmp_path_factory.mktemp("httpbin") / "server.log"
    with HttpbinProcess(log_path=log_path) as server:
        yield server


@pytest.fixture(scope="session")
def httpbin_secure(
    tmp_path_factory: pytest.TempPathFactory, server_cert: trustme.LeafCert
) -> Iterator[HttpbinProcess]:
    """httpbin over HTTPS (certificate from ``ca``); ``.url`` is https://127.0.0.1:PORT."""
    directory = tmp_path_factory.mktemp("httpbin_secure")
    certfile = directory / "chain.pem"
    keyfile = directory / "key.pem"
    certfile.write_bytes(b"".join(blob.bytes() for blob in server_cert.cert_chain_pems))
    server_cert.private_key_pem.write_to_path(str(keyfile))
    with HttpbinProcess(
        log_path=directory / "server.log", certfile=certfile, keyfile=keyfile
    ) as server:
        yield server
