"""pytest fixtures for the HTTP/2 servers (loaded by tests/conftest.py).

    def test_x(nginx_h2):      # listeners "h2" (TLS, ALPN h2), "h2low" (8 streams, GOAWAY
        nginx_h2.url("h2", "/files/big")   # after 50 requests), "h2c" (prior knowledge),
                                           # "h1" (TLS, HTTP/1.1 only), "http" (plain h1)
    def test_y(hypercorn_h2, hypercorn_h2c, httpbin_h2, h2o, nghttpd_tls, nghttpd_h2c): ...
    def test_z(hypercorn_h2_uds, hypercorn_h2c_uds):  # the same on a Unix socket
        hypercorn_h2_uds.unix_path, hypercorn_h2_uds.url("/version", host="localhost")

Every server serves ``H2_FILES`` (``/files/small``, ``/files/big`` of 10 MB
for nginx; the same names at ``/`` for h2o and nghttpd); hypercorn serves the
app of tests/real/_h2_app.py and httpbin. All are session-scoped and started
by the first test that asks.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.real.h2_servers import H2o, Nghttpd
from tests.real.hypercorn import H2_APP, Hypercorn
from tests.real.nginx import Certificate, Listener, Nginx, NginxConfig
from tests.servers import HttpbinProcess

BIG = 10 * 1024 * 1024
SMALL = b"small body\n"
H2_ALPN = ("h2", "http/1.1")


def big_body() -> bytes:
    """The bytes of ``/files/big``: 10 MB, every offset distinguishable."""
    return (bytes(range(251)) * (BIG // 251 + 1))[:BIG]


@pytest.fixture(scope="session")
def h2_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with ``small`` and ``big`` (10 MB) for the file servers."""
    directory = tmp_path_factory.mktemp("h2-files")
    (directory / "small").write_bytes(SMALL)
    (directory / "big").write_bytes(big_body())
    return directory


@pytest.fixture(scope="session")
def nginx_h2(
    tmp_path_factory: pytest.TempPathFactory, real_certificate: Certificate, h2_files: Path
) -> Iterator[Nginx]:
    """nginx with HTTP/2 listeners; see the module docstring."""
    config = NginxConfig(certificate=real_certificate)
    config.add_listener(Listener("http"))
    config.add_listener(Listener("h2", tls=True, listen_params=("http2",)))
    config.add_listener(
        Listener(
            "h2low",
            tls=True,
            listen_params=("http2",),
            # nginx >= 1.19.7: keepalive_requests also ends an h2 connection
            # (with GOAWAY) after that many streams.
            directives=("http2_max_concurrent_streams 8;", "keepalive_requests 50;"),
        )
    )
    config.add_listener(Listener("h2c", listen_params=("http2",)))
    config.add_listener(Listener("h1", tls=True))
    config.add_standard_locations()
    config.add_location("/files/", f"alias {h2_files}/;")
    with Nginx(config, tmp_path_factory.mktemp("nginx-h2")) as server:
        yield server


@pytest.fixture(scope="session")
def hypercorn_h2(
    tmp_path_factory: pytest.TempPathFactory, real_certificate: Certificate
) -> Iterator[Hypercorn]:
    """hypercorn serving tests/real/_h2_app.py over TLS, ALPN h2 and http/1.1."""
    server = Hypercorn(
        H2_APP, tmp_path_factory.mktemp("hc-h2"), certificate=real_certificate, alpn=H2_ALPN
    )
    with server:
        yield server


@pytest.fixture(scope="session")
def hypercorn_h2c(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hypercorn]:
    """The same app over plain TCP (h2c with prior knowledge, or HTTP/1.1)."""
    with Hypercorn(H2_APP, tmp_path_factory.mktemp("hc-h2c")) as server:
        yield server


@pytest.fixture(scope="session")
def hypercorn_h2_uds(
    tmp_path_factory: pytest.TempPathFactory, real_certificate: Certificate
) -> Iterator[Hypercorn]:
    """``hypercorn_h2`` on ``--bind unix:PATH``: TLS, ALPN h2 and http/1.1."""
    server = Hypercorn(
        H2_APP,
        tmp_path_factory.mktemp("hc-h2-uds"),
        unix=True,
        certificate=real_certificate,
        alpn=H2_ALPN,
    )
    with server:
        yield server


@pytest.fixture(scope="session")
def hypercorn_h2c_uds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hypercorn]:
    """``hypercorn_h2c`` on ``--bind unix:PATH``: plain, h2c or HTTP/1.1."""
    with Hypercorn(H2_APP, tmp_path_factory.mktemp("hc-h2c-uds"), unix=True) as server:
        yield server


@pytest.fixture(scope="session")
def httpbin_h2(
    tmp_path_factory: pytest.TempPathFactory, real_certificate: Certificate
) -> Iterator[HttpbinProcess]:
    """httpbin over TLS with ALPN h2 and http/1.1 (hypercorn speaks h2 to asks)."""
    directory = tmp_path_factory.mktemp("httpbin-h2")
    with HttpbinProcess(
        log_path=directory / "server.log",
        certfile=real_certificate.chain,
        keyfile=real_certificate.key,
        alpn=H2_ALPN,
    ) as server:
        yield server


@pytest.fixture(scope="session")
def h2o(
    tmp_path_factory: pytest.TempPathFactory, real_certificate: Certificate, h2_files: Path
) -> Iterator[H2o]:
    """h2o: TLS (ALPN h2) and plain (h2c) listeners serving ``h2_files``."""
    with H2o(tmp_path_factory.mktemp("h2o"), real_certificate, h2_files) as server:
        yield server


@pytest.fixture(scope="session")
def nghttpd_tls(
    tmp_path_factory: pytest.TempPathFactory, real_certificate: Certificate, h2_files: Path
) -> Iterator[Nghttpd]:
    """nghttpd over TLS (it offers only h2)."""
    with Nghttpd(tmp_path_factory.mktemp("nghttpd"), real_certificate, h2_files) as server:
        yield server


@pytest.fixture(scope="session")
def nghttpd_h2c(tmp_path_factory: pytest.TempPathFactory, h2_files: Path) -> Iterator[Nghttpd]:
    """nghttpd speaking h2c (prior knowledge)."""
    with Nghttpd(tmp_path_factory.mktemp("nghttpd-h2c"), None, h2_files) as server:
        yield server
