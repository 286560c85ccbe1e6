"""The command line's ``--cert``/``--key`` (mutual TLS) and ``--unix-socket``.

As curl's options of those names: a client certificate for servers that ask
for one, and a Unix domain socket in place of the URL's host. Each test runs
``python -m asks`` in a child process, as a user would.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import curio.io
import pytest
import trustme
from cryptography.hazmat.primitives import serialization

from tests.real.nginx import Nginx
from tests.servers import read_request
from tests.test_cli import CHILD_DEADLINE, arun_asks, assert_one_error_line, run_asks

pytestmark = CHILD_DEADLINE  # a hung child fails its test, not the deadline

CLIENT_NAME = "robot@asks.example"


@pytest.fixture(scope="module")
def client_cert(ca: trustme.CA) -> trustme.LeafCert:
    return ca.issue_cert(CLIENT_NAME)


def _files(ca: trustme.CA, cert: trustme.LeafCert, directory: Path) -> dict[str, Path]:
    """The CA, the client certificate with its key in one file, and apart."""
    files = {
        "ca": directory / "ca.pem",
        "both": directory / "client.pem",
        "cert": directory / "client-cert.pem",
        "key": directory / "client-key.pem",
    }
    ca.cert_pem.write_to_path(str(files["ca"]))
    cert.private_key_and_cert_chain_pem.write_to_path(str(files["both"]))
    cert.cert_chain_pems[0].write_to_path(str(files["cert"]))
    cert.private_key_pem.write_to_path(str(files["key"]))
    return files


def _mutual_tls_context(ca: trustme.CA, server_cert: trustme.LeafCert) -> ssl.SSLContext:
    """A server that requires a client certificate issued by the test CA."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_cert.configure_cert(context)
    ca.configure_trust(context)
    context.verify_mode = ssl.CERT_REQUIRED
    return context


async def _answer_with_the_client_name(sock: curio.io.Socket) -> None:
    """Answer each request with the subject of the certificate the client showed."""
    peer = sock._socket.getpeercert()
    names = [value for kind, value in peer.get("subjectAltName", ()) if kind == "email"]
    body = ",".join(names).encode()
    while await read_request(sock) is not None:
        await sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))


@pytest.mark.parametrize("separate_key", [False, True], ids=["one-file", "with-key"])
async def test_cert_is_presented_to_a_server_that_requires_one(
    raw_server: Any,
    ca: trustme.CA,
    server_cert: trustme.LeafCert,
    client_cert: trustme.LeafCert,
    tmp_path: Path,
    separate_key: bool,
) -> None:
    files = _files(ca, client_cert, tmp_path)
    server = await raw_server(
        _answer_with_the_client_name, ssl_context=_mutual_tls_context(ca, server_cert)
    )
    cert = ["--cert", str(files["cert"]), "--key", str(files["key"])]
    if not separate_key:
        cert = ["--cert", str(files["both"])]
    result = await arun_asks("get", f"{server.url}/", "--cacert", str(files["ca"]), *cert)
    assert result.returncode == 0, result.stderr
    assert result.stdout == CLIENT_NAME.encode()


async def test_without_cert_a_server_that_requires_one_refuses(
    raw_server: Any,
    ca: trustme.CA,
    server_cert: trustme.LeafCert,
    client_cert: trustme.LeafCert,
    tmp_path: Path,
) -> None:
    files = _files(ca, client_cert, tmp_path)
    server = await raw_server(
        _answer_with_the_client_name, ssl_context=_mutual_tls_context(ca, server_cert)
    )
    result = await arun_asks(
        "get", f"{server.url}/", "--cacert", str(files["ca"]), "--retries", "0"
    )
    assert result.returncode == 1
    assert result.stdout == b""
    assert b"Traceback" not in result.stderr
    # The server's handshake failed for want of a certificate: that is the
    # test's point, not a fault of its handler.
    assert server.handler_errors
    assert all(isinstance(exc, ssl.SSLError) for exc in server.handler_errors)
    server.handler_errors.clear()


def _encrypted_key(cert: trustme.LeafCert, path: Path) -> Path:
    key = serialization.load_pem_private_key(cert.private_key_pem.bytes(), password=None)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    return path


@pytest.mark.parametrize(
    "case",
    ["key alone", "missing cert", "not a certificate", "wrong key", "encrypted key", "passphrase"],
)
def test_a_client_certificate_that_cannot_be_used_is_an_argument_error(
    ca: trustme.CA, client_cert: trustme.LeafCert, tmp_path: Path, case: str
) -> None:
    files = _files(ca, client_cert, tmp_path)
    other = ca.issue_cert("other@asks.example")
    other_key = tmp_path / "other-key.pem"
    other.private_key_pem.write_to_path(str(other_key))
    junk = tmp_path / "junk.pem"
    junk.write_bytes(b"not a certificate\n")
    args, expected = {
        "key alone": (["--key", str(files["key"])], "--key goes with --cert"),
        "missing cert": (["--cert", str(tmp_path / "nope.pem")], "nope.pem"),
        "not a certificate": (["--cert", str(junk)], "not a PEM certificate with its private key"),
        "wrong key": (
            ["--cert", str(files["cert"]), "--key", str(other_key)],
            "the key does not belong to the certificate",
        ),
        "encrypted key": (
            [
                "--cert",
                str(files["cert"]),
                "--key",
                str(_encrypted_key(client_cert, tmp_path / "e.pem")),
            ],
            "encrypted",
        ),
        "passphrase": (["--cert", f"{files['both']}:s3cret"], "FILE:PASSPHRASE"),
    }[case]
    fragments = [expected]
    if case not in ("key alone", "passphrase"):
        fragments.append("cannot load the client certificate from --cert")
    # The URL is never dialled: the files are checked first.
    result = run_asks("get", "https://127.0.0.1:9/", *args)
    assert result.returncode == 2, result.stderr
    assert_one_error_line(result, *fragments)
    assert b"s3cret" not in result.stderr
    assert result.stdout == b""


def test_fetch_takes_the_client_certificate_too(tmp_path: Path) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text("https://127.0.0.1:9/\n")
    result = run_asks("fetch", str(urls), "--quiet", "--key", str(tmp_path / "k.pem"))
    assert result.returncode == 2
    assert_one_error_line(result, "--key goes with --cert")


# --------------------------------------------------------------------------
# --unix-socket


def test_unix_socket_carries_the_request_and_the_url_gives_host(nginx: Nginx) -> None:
    result = run_asks(
        "get", "http://docker.example:2375/echo/cli", "--unix-socket", str(nginx.unix_path)
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"GET docker.example:2375 /echo/cli\n"
    (entry,) = nginx.access_log.entries("/echo/cli")
    assert entry.server_port == ""  # it came over the Unix socket, not TCP


def test_fetch_over_a_unix_socket(nginx: Nginx, tmp_path: Path) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text("".join(f"http://docker.example/echo/fetch-{n}\n" for n in range(3)))
    out = tmp_path / "out.jsonl"
    result = run_asks(
        "fetch", str(urls), "--jsonl", str(out), "--quiet", "--unix-socket", str(nginx.unix_path)
    )
    assert result.returncode == 0, result.stderr
    assert out.read_text().count('"status": 200') == 3
    assert len(nginx.access_log.entries("/echo/fetch-0")) == 1


def test_a_unix_socket_where_nothing_listens_is_a_failed_request_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "nobody.sock"
    result = run_asks(
        "get", "http://docker.example/", "--unix-socket", str(path), "--retries", "0"
    )
    assert result.returncode == 1
    assert_one_error_line(result, str(path))


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--unix-socket", ""], "--unix-socket needs a path"),
        (
            ["--unix-socket", "/tmp/x.sock", "--proxy", "http://127.0.0.1:9"],
            "cannot be used together",
        ),
    ],
    ids=["empty", "with-proxy"],
)
def test_unix_socket_argument_errors(args: list[str], expected: str) -> None:
    result = run_asks("get", "http://docker.example/", *args)
    assert result.returncode == 2, result.stderr
    assert_one_error_line(result, expected)
