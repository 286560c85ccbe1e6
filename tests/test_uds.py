"""``Session(uds=path)``: every connection goes to a Unix domain socket.

Against real servers: nginx's ``listen unix:PATH`` (which reports, per
request, the connection it came on) and httpbin under hypercorn's
``--bind unix:PATH``. The URL still gives ``Host`` and the path. A path that
is missing or is not a socket is ``ConnectFailed`` naming the path, and
nothing is left open (the suite's fd-leak check runs on every test here).
"""

from __future__ import annotations

import socket
import ssl
import uuid
from pathlib import Path
from typing import Any

import pytest

import asks
from asks.errors import ConnectFailed, TLSCertVerificationError, TLSError
from tests.hostile_helpers import assert_released
from tests.real.fixtures import NginxFactory
from tests.real.hypercorn import Hypercorn
from tests.real.nginx import Certificate, Listener, Nginx, NginxConfig
from tests.session_helpers import connect_starts, get_at_once

CALL_TIMEOUT = 10


def token() -> str:
    return uuid.uuid4().hex[:10]


# --------------------------------------------------------------------------
# nginx


async def test_get_over_nginx_unix_socket(nginx: Nginx) -> None:
    path = f"/echo/{token()}"
    async with asks.Session("http://docker.example", uds=str(nginx.unix_path)) as s:
        r = await s.get(path=path, timeout=CALL_TIMEOUT)
    assert r.status_code == 200
    assert r.text == f"GET docker.example {path}\n"
    (entry,) = nginx.access_log.entries(path)
    assert (entry.host, entry.server_port, entry.ssl_protocol) == ("docker.example", "", "")


async def test_host_header_keeps_the_url_port(nginx: Nginx) -> None:
    path = f"/echo/{token()}"
    async with asks.Session("http://docker.example:2375", uds=str(nginx.unix_path)) as s:
        r = await s.get(path=path, timeout=CALL_TIMEOUT)
    assert r.text == f"GET docker.example:2375 {path}\n"


async def test_post_over_nginx_unix_socket(nginx: Nginx) -> None:
    path = f"/echo/{token()}"
    body = b"x" * 100_000
    async with asks.Session("http://docker.example", uds=str(nginx.unix_path)) as s:
        r = await s.post(path=path, data=body, timeout=CALL_TIMEOUT)
    assert (r.status_code, r.text) == (200, f"POST docker.example {path}\n")
    (entry,) = nginx.access_log.entries(path)
    assert entry.method == "POST"
    # nginx's `return` answers without reading the body (its length in the
    # log depends on how much it discarded first); the body's delivery over
    # a Unix socket is checked against httpbin below.


async def test_requests_reuse_one_unix_connection(nginx: Nginx) -> None:
    path = f"/echo/{token()}"
    async with asks.Session("http://docker.example", uds=str(nginx.unix_path)) as s:
        first = await s.get(path=path + "/1", timeout=CALL_TIMEOUT)
        second = await s.post(path=path + "/2", data=b"y" * 5000, timeout=CALL_TIMEOUT)
        third = await s.get(path=path + "/3", timeout=CALL_TIMEOUT)
    # What nginx says about each request, from the response itself...
    connections = {r.headers["x-connection"] for r in (first, second, third)}
    assert len(connections) == 1
    assert [r.headers["x-connection-requests"] for r in (first, second, third)] == ["1", "2", "3"]
    # ...and from its access log.
    entries = nginx.access_log.entries(path)
    assert [entry.uri for entry in entries] == [path + "/1", path + "/2", path + "/3"]
    assert len({entry.connection for entry in entries}) == 1
    assert [entry.connection_requests for entry in entries] == [1, 2, 3]


async def test_stream_over_nginx_unix_socket(nginx: Nginx) -> None:
    path = f"/echo/{token()}"
    async with asks.Session("http://docker.example", uds=str(nginx.unix_path)) as s:
        r = await s.get(path=path, stream=True, timeout=CALL_TIMEOUT)
        content = bytearray()
        async for chunk in r.body(timeout=CALL_TIMEOUT):
            content += chunk
        again = await s.get(path=path, timeout=CALL_TIMEOUT)
    assert bytes(content) == f"GET docker.example {path}\n".encode()
    # The stream released its connection to the pool: the next request reused it.
    assert again.headers["x-connection"] == r.headers["x-connection"]


async def test_absolute_urls_of_other_hosts_go_to_the_same_socket(nginx: Nginx) -> None:
    path = f"/echo/{token()}"
    async with asks.Session(uds=str(nginx.unix_path)) as s:
        a = await s.get(f"http://one.example{path}", timeout=CALL_TIMEOUT)
        b = await s.get(f"http://two.example:8080{path}", timeout=CALL_TIMEOUT)
    assert a.text == f"GET one.example {path}\n"
    assert b.text == f"GET two.example:8080 {path}\n"


async def test_uds_accepts_a_path_object(nginx: Nginx) -> None:
    # os.PathLike as well as str, as open() and socket.connect() do.
    path = f"/echo/{token()}"
    async with asks.Session("http://docker.example", uds=nginx.unix_path) as s:
        r = await s.get(path=path, timeout=CALL_TIMEOUT)
    assert r.text == f"GET docker.example {path}\n"


async def test_module_level_get_with_uds(nginx: Nginx) -> None:
    # Per-call uds= for the one-shot functions, which build a Session of
    # their own: drop this test if the API keeps uds= on Session only.
    path = f"/echo/{token()}"
    r = await asks.get(f"http://docker.example{path}", uds=str(nginx.unix_path))
    assert (r.status_code, r.text) == (200, f"GET docker.example {path}\n")


# --------------------------------------------------------------------------
# hypercorn + httpbin


async def test_httpbin_get_over_hypercorn_unix_socket(httpbin_uds: Hypercorn) -> None:
    async with asks.Session("http://docker.example", uds=str(httpbin_uds.unix_path)) as s:
        r = await s.get(path="/get", params={"q": "1"}, timeout=CALL_TIMEOUT)
    assert r.status_code == 200
    echoed = r.json()
    assert echoed["headers"]["Host"] == "docker.example"
    assert echoed["args"] == {"q": "1"}
    assert echoed["url"] == "http://docker.example/get?q=1"


async def test_httpbin_post_over_hypercorn_unix_socket(httpbin_uds: Hypercorn) -> None:
    async with asks.Session("http://docker.example", uds=str(httpbin_uds.unix_path)) as s:
        r = await s.post(path="/post", json={"hello": "uds"}, timeout=CALL_TIMEOUT)
        again = await s.post(path="/post", data=b"z" * 70_000, timeout=CALL_TIMEOUT)
    assert r.status_code == 200
    assert r.json()["json"] == {"hello": "uds"}
    assert again.json()["data"] == "z" * 70_000


# --------------------------------------------------------------------------
# https over a Unix socket: the URL's host is the TLS name


async def test_https_over_hypercorn_unix_socket(
    hypercorn_h2_uds: Hypercorn, client_ssl_context: ssl.SSLContext
) -> None:
    # HTTP/1.1 over TLS over the socket: hypercorn_h2_uds offers h2 too, but a
    # session without http2= must not ask for it.
    async with asks.Session(uds=hypercorn_h2_uds.unix_path, ssl_context=client_ssl_context) as s:
        r = await s.get("https://localhost/headers", timeout=CALL_TIMEOUT)
        version = await s.get("https://localhost/version", timeout=CALL_TIMEOUT)
    assert (r.status_code, r.http_version) == (200, "1.1")
    assert "host: localhost\n" in r.text
    # What the server saw, not only what the response's status line says.
    assert version.text == "1.1"


async def test_https_over_uds_verifies_the_url_host_not_the_socket(
    hypercorn_h2_uds: Hypercorn, client_ssl_context: ssl.SSLContext
) -> None:
    # The same trusted server, certified for localhost and 127.0.0.1 only: a
    # URL naming another host must fail its check, so the name TLS verifies
    # (and sends as SNI: ssl uses server_hostname for both) is the URL's.
    async with asks.Session(uds=hypercorn_h2_uds.unix_path, ssl_context=client_ssl_context) as s:
        with pytest.raises(TLSCertVerificationError) as info:
            await s.get("https://docker.example/headers", timeout=CALL_TIMEOUT, retries=0)
        assert_released(s)
    assert info.value.verify_message is not None
    assert "'docker.example'" in info.value.verify_message


async def test_https_over_nginx_unix_socket_sends_the_url_host_as_sni(
    nginx_factory: NginxFactory, real_certificate: Certificate, client_ssl_context: ssl.SSLContext
) -> None:
    # hypercorn does not tell its app the SNI; nginx does ($ssl_server_name),
    # from the handshake itself, apart from the Host header.
    config = NginxConfig(certificate=real_certificate)
    config.add_listener(Listener("unix_tls", tls=True, unix=True))
    config.add_location("= /sni", 'return 200 "$ssl_server_name $http_host $ssl_protocol";')
    server = nginx_factory(config)
    async with asks.Session(
        uds=server.unix_path_of("unix_tls"), ssl_context=client_ssl_context
    ) as s:
        r = await s.get("https://localhost:8443/sni", timeout=CALL_TIMEOUT)
    sni, host, protocol = r.text.split(" ")
    # The URL's port means nothing on the socket, yet Host keeps it; SNI is
    # the bare name.
    assert (r.status_code, sni, host) == (200, "localhost", "localhost:8443")
    assert protocol.startswith("TLSv1.")


# --------------------------------------------------------------------------
# HTTP/2 over a Unix socket


async def test_http2_by_alpn_over_a_tls_unix_socket(
    hypercorn_h2_uds: Hypercorn, client_ssl_context: ssl.SSLContext
) -> None:
    async with asks.Session(
        http2=True, uds=hypercorn_h2_uds.unix_path, ssl_context=client_ssl_context
    ) as s:
        r = await s.get("https://localhost/version", timeout=CALL_TIMEOUT)
        headers = await s.get("https://localhost/headers", timeout=CALL_TIMEOUT)
    assert (r.status_code, r.http_version, r.text) == (200, "2", "2")
    # hypercorn turns :authority into host for its app: the URL's host.
    assert "host: localhost\n" in headers.text


async def concurrent_gets_share_one_connection(base: str, **session: Any) -> None:
    """COUNT requests at once, each answered only when all COUNT are in the
    server together (``/gather``): they overlapped, whatever the timing. The
    session may open COUNT connections: only stream sharing keeps it to one."""
    count = 8
    dialled, trace = connect_starts()
    url = f"{base}/gather/{count}/{token()}"
    async with asks.Session(connections=count, trace=trace, **session) as s:
        responses, most_open = await get_at_once(s, url, count, CALL_TIMEOUT)
        assert s.pool_stats().open == 1
    assert [(r.status_code, r.text) for r in responses] == [(200, "ok\n")] * count
    assert {r.http_version for r in responses} == {"2"}
    assert dialled == ["connect.start"]
    assert most_open == 1


async def test_concurrent_http2_requests_over_a_tls_unix_socket_share_one_connection(
    hypercorn_h2_uds: Hypercorn, client_ssl_context: ssl.SSLContext
) -> None:
    await concurrent_gets_share_one_connection(
        "https://localhost",
        http2=True,
        uds=hypercorn_h2_uds.unix_path,
        ssl_context=client_ssl_context,
    )


async def test_h2c_prior_knowledge_over_a_plain_unix_socket(hypercorn_h2c_uds: Hypercorn) -> None:
    async with asks.Session(http2="prior-knowledge", uds=hypercorn_h2c_uds.unix_path) as s:
        r = await s.get("http://docker.example/version", timeout=CALL_TIMEOUT)
        headers = await s.get("http://docker.example/headers", timeout=CALL_TIMEOUT)
        assert s.pool_stats().open == 1
    assert (r.status_code, r.http_version, r.text) == (200, "2", "2")
    assert "host: docker.example\n" in headers.text


async def test_concurrent_h2c_requests_over_a_plain_unix_socket_share_one_connection(
    hypercorn_h2c_uds: Hypercorn,
) -> None:
    await concurrent_gets_share_one_connection(
        "http://docker.example", http2="prior-knowledge", uds=hypercorn_h2c_uds.unix_path
    )


async def test_http2_true_speaks_http_1_1_to_an_http_url_over_a_unix_socket(
    hypercorn_h2c_uds: Hypercorn,
) -> None:
    # http2=True is HTTP/2 by ALPN only: an http:// URL stays HTTP/1.1 (the
    # server would speak h2c to a client opening with the preface).
    async with asks.Session(http2=True, uds=hypercorn_h2c_uds.unix_path) as s:
        r = await s.get("http://docker.example/version", timeout=CALL_TIMEOUT)
    assert (r.status_code, r.http_version, r.text) == (200, "1.1", "1.1")


async def test_https_with_http2_to_a_plain_unix_socket_is_a_tls_error(
    hypercorn_h2c_uds: Hypercorn, client_ssl_context: ssl.SSLContext
) -> None:
    # A ClientHello to a plain HTTP server: the answer is no TLS record.
    async with asks.Session(
        http2=True, uds=hypercorn_h2c_uds.unix_path, ssl_context=client_ssl_context
    ) as s:
        for _ in range(3):  # and failures do not pile up (the fd-leak check counts)
            with pytest.raises(TLSError) as info:
                await s.get("https://localhost/version", timeout=CALL_TIMEOUT, retries=0)
            assert info.value.reason == "WRONG_VERSION_NUMBER"
            assert_released(s)


# --------------------------------------------------------------------------
# Bad paths


async def expect_connect_failed(uds: Path) -> ConnectFailed:
    async with asks.Session("http://docker.example", uds=str(uds)) as s:
        with pytest.raises(ConnectFailed) as info:
            await s.get(path="/", timeout=CALL_TIMEOUT, retries=0)
    assert str(uds) in str(info.value)
    return info.value


async def test_missing_uds_path_is_connect_failed_naming_it(tmp_path: Path) -> None:
    await expect_connect_failed(tmp_path / "no-such.sock")


async def test_regular_file_as_uds_path_is_connect_failed_naming_it(tmp_path: Path) -> None:
    regular = tmp_path / "not-a-socket"
    regular.write_bytes(b"just a file\n")
    await expect_connect_failed(regular)


async def test_directory_as_uds_path_is_connect_failed_naming_it(tmp_path: Path) -> None:
    await expect_connect_failed(tmp_path)


async def test_socket_nobody_listens_on_is_connect_failed_naming_it(tmp_path: Path) -> None:
    # A stale socket file: bound once, its server gone (connect is refused).
    stale = tmp_path / "stale.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.bind(str(stale))
    await expect_connect_failed(stale)


async def test_bad_uds_path_fails_every_call_and_leaks_nothing(tmp_path: Path) -> None:
    # Repeated failures must not pile up descriptors (the fd-leak check counts).
    async with asks.Session("http://docker.example", uds=str(tmp_path / "gone.sock")) as s:
        for _ in range(5):
            with pytest.raises(ConnectFailed):
                await s.get(path="/", timeout=CALL_TIMEOUT)


async def test_a_full_listen_queue_waits_for_room_within_the_connection_timeout(
    tmp_path: Path,
) -> None:
    # A server too busy to accept: its listen queue is full, so a Unix
    # connect finds no room (Linux: EAGAIN). That is a wait bounded by
    # connection_timeout, not a socket handed on unconnected (ENOTCONN).
    path = tmp_path / "busy.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(str(path))
        server.listen(0)
        queued: list[socket.socket] = []
        try:
            while True:
                filler = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                queued.append(filler)
                filler.setblocking(False)
                try:
                    filler.connect(str(path))
                except BlockingIOError:
                    break
            async with asks.Session("http://docker.example", uds=str(path)) as s:
                with pytest.raises(asks.errors.RequestTimeout) as info:
                    await s.get(path="/", timeout=CALL_TIMEOUT, connection_timeout=0.2, retries=0)
                assert str(path) in str(info.value)
                assert_released(s)
        finally:
            for filler in queued:
                filler.close()


def test_source_address_with_uds_is_refused_when_the_session_is_made(tmp_path: Path) -> None:
    # A Unix socket has no TCP source to bind: silently ignored, the option
    # would look honoured.
    with pytest.raises(ValueError, match="source_address= cannot apply"):
        asks.Session(uds=str(tmp_path / "s.sock"), source_address=("127.0.0.1", 0))
