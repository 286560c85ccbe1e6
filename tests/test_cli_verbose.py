"""``asks -v``: each step on stderr as ``curl -v`` tells it (``*``, ``>``, ``<``)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import curio.io
import trustme

from tests.real.process import free_port
from tests.servers import canned, read_request
from tests.test_cli import CHILD_DEADLINE, OK_HELLO, arun_asks, run_asks

pytestmark = CHILD_DEADLINE  # a hung child fails its test, not the deadline


def lines(stderr: bytes) -> list[str]:
    return stderr.decode().splitlines()


async def test_verbose_tells_the_connection_the_request_and_the_response(raw_server: Any) -> None:
    handler = canned(OK_HELLO)
    server = await raw_server(handler)
    result = await arun_asks(
        "-v", f"{server.url}/path?q=1", "--auth", "user:secret", "-H", "X-Thing: yes"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"hello"  # the body is untouched
    told = lines(result.stderr)
    host = f"127.0.0.1:{server.port}"
    assert told[:3] == [
        f"* connecting to 127.0.0.1 port {server.port} (connection 1)",
        "* connected (connection 1)",
        "> GET /path?q=1 HTTP/1.1",
    ]
    # Every header as it was sent, in its order, the credentials hidden.
    sent = [name.decode() for name, _ in handler.requests[0][0].headers]
    shown = [line[2:].partition(":")[0] for line in told[3 : told.index(">")]]
    assert [name.lower() for name in shown] == sent
    assert f"> Host: {host}" in told
    assert "> X-Thing: yes" in told
    assert "> Authorization: Basic <hidden>" in told
    secret = base64.b64encode(b"user:secret").decode()
    assert secret not in result.stderr.decode() and "secret" not in result.stderr.decode()
    assert told[told.index(">") + 1 :] == ["< HTTP/1.1 200 OK", "< Content-Length: 5", "<"]


async def test_verbose_shows_every_exchange_of_a_redirect_on_its_reused_connection(
    raw_server: Any,
) -> None:
    async def handler(sock: curio.io.Socket) -> None:
        while (received := await read_request(sock)) is not None:
            if received[0].target == b"/old":
                await sock.sendall(
                    b"HTTP/1.1 302 Found\r\nLocation: /new\r\nContent-Length: 0\r\n\r\n"
                )
            else:
                await sock.sendall(OK_HELLO)

    server = await raw_server(handler)
    result = await arun_asks("-v", f"{server.url}/old")
    assert result.returncode == 0, result.stderr
    told = lines(result.stderr)
    heads = [line for line in told if line.startswith(("> GET", "< HTTP", "* "))]
    assert heads == [
        f"* connecting to 127.0.0.1 port {server.port} (connection 1)",
        "* connected (connection 1)",
        "> GET /old HTTP/1.1",
        "< HTTP/1.1 302 Found",
        "* reusing connection 1",
        "> GET /new HTTP/1.1",
        "< HTTP/1.1 200 OK",
    ]


async def test_verbose_with_include_shows_each_head_once(raw_server: Any) -> None:
    server = await raw_server(canned(OK_HELLO))
    result = await arun_asks("-v", "-i", server.url)
    assert result.returncode == 0, result.stderr
    told = lines(result.stderr)
    assert told.count("< HTTP/1.1 200 OK") == 1
    assert "HTTP/1.1 200 OK" not in told  # -i's own copy


def test_verbose_tells_the_tls_handshake(
    httpbin_secure: Any, ca: trustme.CA, tmp_path: Path
) -> None:
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    result = run_asks("-v", f"{httpbin_secure.url}/get", "--cacert", str(ca_file))
    assert result.returncode == 0, result.stderr
    told = lines(result.stderr)
    assert "* TLS handshake with 127.0.0.1" in told
    [done] = [line for line in told if line.startswith("* TLS done: ")]
    assert done.startswith(("* TLS done: TLSv1.3, ", "* TLS done: TLSv1.2, "))
    assert told.index("* TLS handshake with 127.0.0.1") < told.index(done)
    assert told.index(done) < told.index("> GET /get HTTP/1.1")


def test_verbose_over_http2_shows_the_request_with_its_answer(
    httpbin_h2: Any, ca: trustme.CA, tmp_path: Path
) -> None:
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    result = run_asks("-v", "--http2", f"{httpbin_h2.url}/get", "--cacert", str(ca_file))
    assert result.returncode == 0, result.stderr
    told = lines(result.stderr)
    # HTTP/2 connections are not traced: the head comes with its answer.
    # (HTTP/2 has no reason phrase.)
    assert told.index("> GET /get HTTP/2") < told.index("< HTTP/2 200")


def test_a_request_never_sent_is_not_shown() -> None:
    port = free_port()  # nobody listens there
    result = run_asks("-v", f"http://127.0.0.1:{port}/", "--retries", "0")
    assert result.returncode == 1
    told = lines(result.stderr)
    assert told[0] == f"* connecting to 127.0.0.1 port {port} (connection 1)"
    assert told[1].startswith("* connecting failed: ")
    assert not [line for line in told if line.startswith(("> ", "< "))]
    assert told[-1].startswith("asks: error: ")


async def test_verbose_never_shows_a_forwarding_proxys_credentials(raw_server: Any) -> None:
    # The proxy is named by its URL without them; the Proxy-Authorization
    # made of them is sent to the proxy, not shown.
    handler = canned(OK_HELLO)
    proxy = await raw_server(handler)
    result = await arun_asks(
        "-v", "http://origin.example/page", "--proxy", f"http://alice:pr0xy-pw@{proxy.url[7:]}"
    )
    assert result.returncode == 0, result.stderr
    told = lines(result.stderr)
    assert told[0] == (
        f"* connecting to origin.example port 80 through proxy {proxy.url} (connection 1)"
    )
    sent = dict(handler.requests[0][0].headers)
    assert sent[b"proxy-authorization"] == b"Basic " + base64.b64encode(b"alice:pr0xy-pw")
    stderr = result.stderr.decode()
    assert "pr0xy-pw" not in stderr and "alice" not in stderr
    assert base64.b64encode(b"alice:pr0xy-pw").decode() not in stderr
