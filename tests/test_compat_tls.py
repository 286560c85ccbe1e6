"""TLS failures are asks errors *and* ssl's exceptions (asks 2.4 let ssl's escape).

Each test makes one real failure against a local server and catches that
one exception both ways: the old ``except ssl...`` and asks'
``except TLSError``.
"""

from __future__ import annotations

import pickle
import ssl

import curio.io
import pytest

import asks
from asks.errors import (
    AsksException,
    ConnectivityError,
    TLSCertVerificationError,
    TLSError,
)
from tests.servers import canned

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
STREAM = pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])


async def caught_both_ways(
    old_style: type[ssl.SSLError], url: str, **kwargs: object
) -> tuple[BaseException, BaseException]:
    """The exception one request raises, as ``except old_style`` and ``except TLSError`` see it."""
    seen_old: BaseException | None = None
    try:
        try:
            await asks.get(url, retries=0, **kwargs)
        except old_style as exc:
            seen_old = exc
            raise
    except TLSError as exc:
        assert seen_old is not None, f"{type(exc).__name__} was not caught as {old_style}"
        return seen_old, exc
    raise AssertionError("the request did not fail")


@STREAM
async def test_untrusted_ca_is_caught_as_ssl_cert_verification_error_and_tls_error(
    raw_server, server_ssl_context, stream
):
    handler = canned(OK)
    server = await raw_server(handler, ssl_context=server_ssl_context)

    # No ssl_context: the system trust store, which does not know the trustme CA.
    old, new = await caught_both_ways(ssl.SSLCertVerificationError, server.url, stream=stream)

    assert old is new
    assert type(new) is TLSCertVerificationError
    assert isinstance(new, ConnectivityError | AsksException | ssl.SSLError | OSError)
    assert str(new).startswith(f"GET {server.url}/: TLS failure: ")
    assert "CERTIFICATE_VERIFY_FAILED" in str(new)
    raw = new.__cause__
    assert isinstance(raw, ssl.SSLCertVerificationError)
    assert (new.verify_code, new.verify_message) == (raw.verify_code, raw.verify_message)
    assert new.verify_code in (19, 20)  # self-signed in chain / local issuer unknown
    assert (new.reason, new.library) == ("CERTIFICATE_VERIFY_FAILED", "SSL")
    assert handler.requests == []


async def test_wrong_host_name_is_caught_as_ssl_cert_verification_error_and_tls_error(
    raw_server, ca, client_ssl_context
):
    other = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("other.example").configure_cert(other)
    server = await raw_server(canned(OK), ssl_context=other)

    old, new = await caught_both_ways(
        ssl.SSLCertVerificationError, server.url, ssl_context=client_ssl_context
    )

    assert old is new
    assert isinstance(new, TLSCertVerificationError)
    # X509_V_ERR_IP_ADDRESS_MISMATCH: the URL's host is 127.0.0.1.
    assert new.verify_code == 64
    assert new.verify_message is not None and "IP address mismatch" in new.verify_message


async def answer_in_plaintext(sock: curio.io.Socket) -> None:
    """What an HTTP server on a TLS port does: answers the ClientHello in HTTP."""
    await sock.recv(65536)
    await sock.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
    while await sock.recv(65536):
        pass  # until the client gives up, so that the close is not a reset


async def test_plaintext_server_on_a_tls_port_is_caught_as_ssl_error_and_tls_error(
    raw_server, client_ssl_context
):
    server = await raw_server(answer_in_plaintext)
    url = f"https://127.0.0.1:{server.port}/"

    old, new = await caught_both_ways(ssl.SSLError, url, ssl_context=client_ssl_context)

    assert old is new
    assert type(new) is TLSError
    assert not isinstance(new, ssl.SSLCertVerificationError)
    assert isinstance(new, ConnectivityError)
    raw = new.__cause__
    assert isinstance(raw, ssl.SSLError)
    assert (new.reason, new.library) == (raw.reason, raw.library)
    assert new.reason is not None and new.library == "SSL"


async def test_asks_2_style_except_oserror_still_catches_a_tls_failure(
    raw_server, server_ssl_context
):
    server = await raw_server(canned(OK), ssl_context=server_ssl_context)

    with pytest.raises(OSError) as info:
        await asks.get(server.url, retries=0)

    assert isinstance(info.value, TLSCertVerificationError)


# -- the classes themselves -------------------------------------------------------------------


def test_from_ssl_keeps_what_ssl_users_read():
    raw = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] x")
    raw.reason, raw.library = "CERTIFICATE_VERIFY_FAILED", "SSL"
    raw.verify_code, raw.verify_message = 62, "Hostname mismatch"

    error = TLSError.from_ssl(raw, "GET https://a/: TLS failure: x")

    assert type(error) is TLSCertVerificationError
    assert str(error) == "GET https://a/: TLS failure: x"
    assert (error.reason, error.library) == ("CERTIFICATE_VERIFY_FAILED", "SSL")
    assert (error.verify_code, error.verify_message) == (62, "Hostname mismatch")
    # Not ssl's errno: os.strerror(1) would name an unrelated system error.
    assert error.errno is None


def test_from_ssl_of_another_tls_failure_is_a_plain_tls_error():
    raw = ssl.SSLEOFError(8, "EOF occurred in violation of protocol")

    error = TLSError.from_ssl(raw, "msg")

    assert type(error) is TLSError
    assert (error.reason, error.library) == (None, None)


def test_tls_errors_made_directly_have_the_attributes_and_pickle():
    error = TLSCertVerificationError("msg")
    error.verify_code = 19

    copy = pickle.loads(pickle.dumps(error))

    assert (type(copy), str(copy), copy.verify_code, copy.verify_message) == (
        TLSCertVerificationError,
        "msg",
        19,
        None,
    )
