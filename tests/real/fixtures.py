"""pytest fixtures for real servers (loaded by tests/conftest.py).

    def test_x(nginx):            # one nginx for the whole run (see NginxConfig.default)
        nginx.url("tls", "/echo/x"), nginx.unix_path, nginx.access_log.entries("/echo/x")

    def test_y(nginx_factory):    # an nginx of the test's own, e.g. to restart it
        server = nginx_factory()  # or nginx_factory(config)

    def test_z(httpbin_uds, early_server, early_server_tls): ...

The shared servers are session-scoped (each costs 0.3-0.6 s to start) and
started only by the first test that asks for them; they run in child
processes, so the test process owns only the client side of every connection
and the fd-leak check stays exact. Tests sharing a server tell their requests
apart by path (a unique token in it), not by counting everything logged.

A missing nginx fails the test with the command that installs it: CI always
has it (.ci/run installs it), so a skip would hide a broken set-up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import trustme

from tests.real.debian_proxies import Squid, Tinyproxy
from tests.real.hypercorn import EARLY_APP, Hypercorn
from tests.real.nginx import Certificate, Nginx, NginxConfig
from tests.real.proxypy import ProxyPy

NginxFactory = Callable[..., Nginx]


@pytest.fixture(scope="session")
def real_certificate(
    tmp_path_factory: pytest.TempPathFactory, server_cert: trustme.LeafCert
) -> Certificate:
    """The suite's server certificate (127.0.0.1 and localhost) as PEM files."""
    directory = tmp_path_factory.mktemp("cert")
    chain = directory / "chain.pem"
    key = directory / "key.pem"
    chain.write_bytes(b"".join(blob.bytes() for blob in server_cert.cert_chain_pems))
    server_cert.private_key_pem.write_to_path(str(key))
    return Certificate(chain=chain, key=key)


@pytest.fixture(scope="session")
def nginx(
    tmp_path_factory: pytest.TempPathFactory, real_certificate: Certificate
) -> Iterator[Nginx]:
    """nginx with the default listeners (``http``, ``unix``, ``tls``, ``tls12``,
    ``tls_b``) and locations; shared by every test of the run."""
    server = Nginx(NginxConfig.default(real_certificate), tmp_path_factory.mktemp("nginx"))
    with server:
        yield server


@pytest.fixture
def nginx_factory(
    tmp_path_factory: pytest.TempPathFactory, real_certificate: Certificate
) -> Iterator[NginxFactory]:
    """Start nginx instances of the test's own; all are stopped when it ends.

    Call it with an :class:`NginxConfig` (built on ``real_certificate``) or
    with nothing for the default one.
    """
    servers: list[Nginx] = []

    def start(config: NginxConfig | None = None) -> Nginx:
        if config is None:
            config = NginxConfig.default(real_certificate)
        server = Nginx(config, tmp_path_factory.mktemp("nginx-own"))
        servers.append(server)
        return server.start()

    yield start
    for server in reversed(servers):
        server.stop()


def _hypercorn(
    directory: Path, app: str, *, unix: bool = False, certificate: Certificate | None = None
) -> Iterator[Hypercorn]:
    server = Hypercorn(app, directory, unix=unix, certificate=certificate)
    with server:
        yield server


@pytest.fixture(scope="session")
def httpbin_uds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hypercorn]:
    """httpbin served by hypercorn on ``--bind unix:PATH`` (``.unix_path``)."""
    yield from _hypercorn(tmp_path_factory.mktemp("httpbin-uds"), "httpbin:app", unix=True)


@pytest.fixture(scope="session")
def early_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hypercorn]:
    """hypercorn with tests/real/_early_app.py over plain HTTP on 127.0.0.1."""
    yield from _hypercorn(tmp_path_factory.mktemp("early"), EARLY_APP)


@pytest.fixture(scope="session")
def early_server_tls(
    tmp_path_factory: pytest.TempPathFactory, real_certificate: Certificate
) -> Iterator[Hypercorn]:
    """The same app over TLS (the suite's certificate)."""
    yield from _hypercorn(
        tmp_path_factory.mktemp("early-tls"), EARLY_APP, certificate=real_certificate
    )


@pytest.fixture(scope="session")
def proxypy_auth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxyPy]:
    """proxy.py as an http:// proxy that wants ``user:pass`` (Basic)."""
    with ProxyPy(tmp_path_factory.mktemp("proxypy-auth"), basic_auth="user:pass") as server:
        yield server


@pytest.fixture(scope="session")
def proxypy_tls(
    tmp_path_factory: pytest.TempPathFactory, real_certificate: Certificate
) -> Iterator[ProxyPy]:
    """proxy.py as an https:// proxy (the suite's certificate), no credentials."""
    with ProxyPy(tmp_path_factory.mktemp("proxypy-tls"), certificate=real_certificate) as server:
        yield server


@pytest.fixture(scope="session")
def tinyproxy_auth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tinyproxy]:
    """tinyproxy that wants ``user:pass`` (BasicAuth)."""
    with Tinyproxy(tmp_path_factory.mktemp("tinyproxy"), basic_auth=("user", "pass")) as server:
        yield server


@pytest.fixture(scope="session")
def squid(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Squid]:
    """squid forwarding and tunnelling without credentials."""
    with Squid(tmp_path_factory.mktemp("squid")) as server:
        yield server
