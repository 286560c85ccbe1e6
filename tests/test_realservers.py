"""The real-server fixtures themselves, checked with the standard library only.

These pass whatever asks does: they show that the servers the UDS, TLS
resumption and early-answer tests rely on behave as those tests assume (nginx
reports keep-alive reuse and TLS resumption, accepts a session offered across
its ports and host names, forgets sessions on restart; hypercorn answers an
upload early and closes), so a failure there is asks', not the fixture's.
"""

from __future__ import annotations

import os
import socket
import ssl
import uuid
from pathlib import Path

import pytest

from tests.real import nginx as nginx_module
from tests.real._early_app import EARLY_BODY
from tests.real.hypercorn import Hypercorn
from tests.real.nginx import Listener, Nginx, NginxConfig, parse_log_line
from tests.real.process import (
    PortInUse,
    ServerStartError,
    free_ports,
    require_binary,
    start_on_free_ports,
)

TIMEOUT = 10.0


def token() -> str:
    return uuid.uuid4().hex[:10]


def read_until_eof(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def read_response(sock: socket.socket) -> bytes:
    """One response with a Content-Length body (what nginx's ``return`` sends)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed mid-head: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(header(head, b"content-length"))
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed mid-body"
        body += chunk
    return head + b"\r\n\r\n" + body


def header(response: bytes, name: bytes) -> bytes:
    head = response.partition(b"\r\n\r\n")[0]
    for line in head.split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == name:
            return value.strip()
    raise AssertionError(f"no {name!r} header in {head!r}")


def body_of(response: bytes) -> bytes:
    return response.partition(b"\r\n\r\n")[2]


def request(path: str, host: str = "example.test", close: bool = False) -> bytes:
    extra = "Connection: close\r\n" if close else ""
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n".encode()


def unix_socket(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(TIMEOUT)
    sock.connect(str(path))
    return sock


def tls_get(
    context: ssl.SSLContext,
    port: int,
    path: str,
    *,
    host: str = "127.0.0.1",
    session: ssl.SSLSession | None = None,
) -> tuple[bytes, ssl.SSLSession | None, bool]:
    """GET ``path`` on a new TLS connection; (response, its session, resumed?)."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    with context.wrap_socket(raw, server_hostname=host, session=session) as sock:
        sock.sendall(request(path, host, close=True))
        response = read_until_eof(sock)
        # A TLS 1.3 ticket arrives after the handshake: read before asking.
        return response, sock.session, sock.session_reused


# --------------------------------------------------------------------------
# nginx


def test_nginx_serves_tcp_unix_and_tls(nginx: Nginx, client_ssl_context: ssl.SSLContext) -> None:
    path = f"/echo/{token()}"
    with socket.create_connection(("127.0.0.1", nginx.port("http")), timeout=TIMEOUT) as sock:
        sock.sendall(request(path, close=True))
        assert body_of(read_until_eof(sock)) == f"GET example.test {path}\n".encode()
    with unix_socket(nginx.unix_path) as sock:
        sock.sendall(request(path, host="docker.example:2375", close=True))
        assert body_of(read_until_eof(sock)) == f"GET docker.example:2375 {path}\n".encode()
    for listener, protocol in [("tls", b"TLSv1.3"), ("tls12", b"TLSv1.2"), ("tls_b", b"TLSv1.3")]:
        response, _, _ = tls_get(client_ssl_context, nginx.port(listener), path)
        assert header(response, b"x-tls-protocol") == protocol
        assert body_of(response) == f"GET 127.0.0.1 {path}\n".encode()
    assert nginx.url("unix", "/x", host="docker.example") == "http://docker.example/x"
    assert nginx.url("tls", "/x") == f"https://127.0.0.1:{nginx.port('tls')}/x"


def test_nginx_reports_keep_alive_reuse_on_the_unix_listener(nginx: Nginx) -> None:
    path = f"/echo/{token()}"
    with unix_socket(nginx.unix_path) as sock:
        sock.sendall(request(path + "/1"))
        first = read_response(sock)
        sock.sendall(request(path + "/2"))
        second = read_response(sock)
    assert header(first, b"x-connection") == header(second, b"x-connection")
    assert (header(first, b"x-connection-requests"), header(second, b"x-connection-requests")) == (
        b"1",
        b"2",
    )
    entries = nginx.access_log.entries(path)
    assert [entry.uri for entry in entries] == [path + "/1", path + "/2"]
    assert entries[0].connection == entries[1].connection
    assert [entry.connection_requests for entry in entries] == [1, 2]
    assert entries[0].host == "example.test"


def test_nginx_close_location_closes_every_connection(nginx: Nginx) -> None:
    with socket.create_connection(("127.0.0.1", nginx.port("http")), timeout=TIMEOUT) as sock:
        sock.sendall(request(f"/close/{token()}"))
        response = read_response(sock)
        assert header(response, b"connection") == b"close"
        assert sock.recv(1) == b""


def test_nginx_answers_413_to_a_large_upload_before_reading_it(nginx: Nginx) -> None:
    path = f"/small-uploads/{token()}"
    with socket.create_connection(("127.0.0.1", nginx.port("http")), timeout=TIMEOUT) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 8388608\r\n\r\n".encode()
        )
        response = read_until_eof(sock)  # no byte of the body was sent
    assert response.startswith(b"HTTP/1.1 413 ")
    assert header(response, b"connection") == b"close"
    assert header(response, b"x-connection")  # the fact headers come with errors too


@pytest.mark.parametrize(("listener", "protocol"), [("tls", "TLSv1.3"), ("tls12", "TLSv1.2")])
def test_nginx_reports_tls_resumption(
    nginx: Nginx, client_ssl_context: ssl.SSLContext, listener: str, protocol: str
) -> None:
    path = f"/close/{token()}"
    first, session, resumed = tls_get(client_ssl_context, nginx.port(listener), path + "/1")
    assert not resumed and header(first, b"x-tls-resumed") == b"."
    assert session is not None
    second, _, resumed = tls_get(
        client_ssl_context, nginx.port(listener), path + "/2", session=session
    )
    assert resumed and header(second, b"x-tls-resumed") == b"r"
    entries = nginx.access_log.entries(path)
    assert [(entry.ssl_protocol, entry.ssl_session_reused) for entry in entries] == [
        (protocol, "."),
        (protocol, "r"),
    ]
    assert [entry.resumed for entry in entries] == [False, True]
    assert entries[0].connection != entries[1].connection


@pytest.mark.parametrize(
    ("second_listener", "second_host"),
    [("tls_b", "127.0.0.1"), ("tls", "localhost")],
    ids=["another-port", "another-host"],
)
def test_nginx_resumes_a_session_offered_to_another_origin(
    nginx: Nginx, client_ssl_context: ssl.SSLContext, second_listener: str, second_host: str
) -> None:
    # What makes asks' "never across ports / hosts" tests meaningful: the
    # server would resume such a session, so only the client can refuse it.
    path = f"/close/{token()}"
    _, session, _ = tls_get(client_ssl_context, nginx.port("tls"), path)
    response, _, resumed = tls_get(
        client_ssl_context, nginx.port(second_listener), path, host=second_host, session=session
    )
    assert resumed and header(response, b"x-tls-resumed") == b"r"


@pytest.mark.parametrize("listener", ["tls", "tls12"])
def test_nginx_restart_forgets_every_session(
    nginx_factory, client_ssl_context: ssl.SSLContext, listener: str
) -> None:
    server = nginx_factory()
    ports = dict(server.ports)
    old_pid = server.pid
    _, session, _ = tls_get(client_ssl_context, server.port(listener), "/close/1")
    server.restart()
    assert server.ports == ports and server.pid != old_pid
    response, _, resumed = tls_get(
        client_ssl_context, server.port(listener), "/close/2", session=session
    )
    assert response.startswith(b"HTTP/1.1 200 ")  # a full handshake, silently
    assert not resumed and header(response, b"x-tls-resumed") == b"."
    assert [entry.ssl_session_reused for entry in server.access_log.entries("/close/")] == [
        ".",
        ".",
    ]


def test_nginx_config_builder_adds_listeners_and_locations(
    nginx_factory, real_certificate
) -> None:
    config = NginxConfig.default(real_certificate)
    config.add_listener(Listener("second_unix", unix=True))
    config.add_listener(Listener("h2", tls=True, listen_params=("http2",)))
    config.add_location("= /teapot", 'return 418 "short and stout\\n";')
    config.http_directives.append("server_tokens off;")
    with pytest.raises(ValueError, match="already configured"):
        config.add_listener(Listener("http"))
    server = nginx_factory(config)
    with unix_socket(server.unix_path_of("second_unix")) as sock:
        sock.sendall(request("/teapot", close=True))
        response = read_until_eof(sock)
    assert response.startswith(b"HTTP/1.1 418 ")
    assert body_of(response) == b"short and stout\n"
    assert header(response, b"server") == b"nginx"  # server_tokens off
    assert "http2" in (server.directory / "nginx.conf").read_text()
    assert set(server.ports) == {"http", "tls", "tls12", "tls_b", "h2"}


def test_a_tls_listener_needs_a_certificate() -> None:
    with pytest.raises(ValueError, match="needs a certificate"):
        NginxConfig().add_listener(Listener("tls", tls=True))


def test_nginx_start_retries_when_a_port_is_taken(
    nginx_factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        taken_port = taken.getsockname()[1]
        real_free_ports = nginx_module.free_ports
        calls = []

        def first_pick_taken(count: int) -> list[int]:
            # The first start's first port is one a socket holds.
            calls.append(count)
            ports = real_free_ports(count)
            return [taken_port, *ports[1:]] if len(calls) == 1 else ports

        monkeypatch.setattr(nginx_module, "free_ports", first_pick_taken)
        server = nginx_factory()
        assert taken_port not in server.ports.values()
    assert "Address already in use" in (server.directory / "error.log").read_text()


def test_nginx_start_fails_clearly_on_a_bad_config(nginx_factory) -> None:
    config = NginxConfig.default(None)
    config.http_directives.append("no_such_directive on;")
    with pytest.raises(ServerStartError, match="unknown directive"):
        nginx_factory(config)


def test_stop_ends_the_pid_that_was_started(nginx_factory) -> None:
    server = nginx_factory()
    pid = server.pid
    server.stop()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not server.unix_path.exists()  # nginx removes its unix socket
    server.stop()  # a second stop is a no-op


def test_log_lines_parse_dashes_as_empty() -> None:
    entry = parse_log_line("7 2 GET /echo/x 200 docker.example - - - 84")
    assert (entry.connection, entry.connection_requests, entry.server_port) == (7, 2, "")
    assert not entry.resumed
    with pytest.raises(ValueError, match="unexpected access log line"):
        parse_log_line("garbage")


def test_a_missing_server_binary_fails_with_the_install_command() -> None:
    with pytest.raises(ServerStartError, match=r"not installed.*apt-get install -y demo-server"):
        require_binary("asks-no-such-server-binary", "apt-get install -y demo-server")


# --------------------------------------------------------------------------
# hypercorn


def test_hypercorn_serves_httpbin_on_a_unix_socket(httpbin_uds: Hypercorn) -> None:
    with unix_socket(httpbin_uds.unix_path) as sock:
        sock.sendall(request("/get", host="docker.example", close=True))
        response = read_until_eof(sock)
    assert response.startswith(b"HTTP/1.1 200 ")
    assert b'"Host": "docker.example"' in response


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
def test_hypercorn_answers_an_upload_early_then_closes(
    early_server: Hypercorn,
    early_server_tls: Hypercorn,
    client_ssl_context: ssl.SSLContext,
    tls: bool,
) -> None:
    server = early_server_tls if tls else early_server
    raw = socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT)
    sock = client_ssl_context.wrap_socket(raw, server_hostname="127.0.0.1") if tls else raw
    with sock:
        sock.sendall(b"POST /early/413 HTTP/1.1\r\nHost: x\r\nContent-Length: 8388608\r\n\r\n")
        # The server stops reading and closes: sending the body fails...
        with pytest.raises(OSError):
            sock.sendall(b"x" * (8 << 20))
        # ...yet its answer was in the socket all along.
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except OSError:
            pass  # the reset or TLS EOF after the answer
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert answer.endswith(EARLY_BODY)


class _FakeStart:
    """Stands in for a ServerProcess: its start fails with a chosen line, or succeeds."""

    def __init__(self, failure: str | None) -> None:
        self.failure_line = ""
        self._failure = failure

    def start(self) -> None:
        if self._failure is not None:
            self.failure_line = self._failure
            raise ServerStartError(self._failure)


def _starts(*failures: str | None):
    made = []

    def make():
        made.append(_FakeStart(failures[len(made)]))
        return made[-1]

    return make, made


def test_a_lost_port_race_is_retried_with_fresh_ports_then_given_up():
    make, made = _starts("bind() to 127.0.0.1:5 failed (98: Address already in use)", None)
    assert start_on_free_ports(make, 3) is made[1]

    make, made = _starts("Address already in use", "port 7 in use")
    with pytest.raises(PortInUse):
        start_on_free_ports(make, 2)
    assert len(made) == 2


def test_ports_for_one_server_are_distinct_and_were_free():
    # Probed one after another, two could come back equal; nginx given one
    # port for a plain and a TLS listener starts and answers plain requests
    # as TLS (what a CI run once met).
    ports = free_ports(64)
    assert len(set(ports)) == 64
    for port in ports:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", port))  # released again: free


def test_another_start_failure_is_not_retried():
    make, made = _starts("[emerg] unknown directive", None)
    with pytest.raises(ServerStartError) as info:
        start_on_free_ports(make, 3)
    assert not isinstance(info.value, PortInUse)
    assert len(made) == 1
