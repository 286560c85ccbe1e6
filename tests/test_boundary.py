"""Unit tests for asks._boundary.translate: low-level failures become asks errors."""

from __future__ import annotations

import socket
import ssl

import curio
import h11
import pytest

from asks._boundary import ConnectFailed, translate
from asks._http11 import PeerClosedEarly
from asks.errors import (
    AsksException,
    BadHttpResponse,
    BadStatus,
    ConnectivityError,
    DecodingError,
    RequestTimeout,
    ServerClosedConnectionError,
    TLSCertVerificationError,
    TLSError,
    TooManyRedirects,
)

WHERE = "GET http://example.com/"


def test_connect_failed_is_a_connectivity_error():
    assert issubclass(ConnectFailed, ConnectivityError)


# -- OSError and its subclasses -----------------------------------------------


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionResetError(104, "Connection reset by peer"),
        BrokenPipeError(32, "Broken pipe"),
        ConnectionAbortedError(103, "Software caused connection abort"),
    ],
)
def test_a_lost_connection_is_server_closed_connection_error(exc):
    result = translate(exc, WHERE)

    assert type(result) is ServerClosedConnectionError
    assert str(result) == f"{WHERE}: connection lost: {exc}"


@pytest.mark.parametrize(
    "exc",
    [
        OSError(101, "Network is unreachable"),
        ConnectionRefusedError(111, "Connection refused"),
        TimeoutError(110, "Connection timed out"),
        OSError("plain"),
    ],
)
def test_any_other_os_error_is_a_connectivity_error(exc):
    result = translate(exc, WHERE)

    assert type(result) is ConnectivityError
    assert str(result) == f"{WHERE}: {exc}"


def test_a_dns_failure_is_connect_failed():
    exc = socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    result = translate(exc, WHERE)

    assert type(result) is ConnectFailed
    assert str(result) == f"{WHERE}: cannot resolve host: {exc}"


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number"), TLSError),
        (ssl.SSLCertVerificationError(1, "certificate verify failed"), TLSCertVerificationError),
        (ssl.CertificateError("hostname 'a' doesn't match 'b'"), TLSCertVerificationError),
        (ssl.SSLEOFError(8, "EOF occurred in violation of protocol"), TLSError),
        (ssl.SSLZeroReturnError(6, "TLS/SSL connection has been closed"), TLSError),
    ],
)
def test_a_tls_failure_is_tls_error(exc, expected):
    result = translate(exc, WHERE)

    assert type(result) is expected
    assert str(result) == f"{WHERE}: TLS failure: {exc}"


# -- h11 and the connection ---------------------------------------------------


def test_h11_error_mentioning_closed_is_server_closed_connection_error():
    exc = h11.RemoteProtocolError(
        "peer closed connection without sending complete message body "
        "(received 2 bytes, expected 10)"
    )

    result = translate(exc, WHERE)

    assert type(result) is ServerClosedConnectionError
    assert str(result) == f"{WHERE}: server closed the connection: {exc}"


def test_h11_error_without_closed_is_bad_http_response():
    exc = h11.RemoteProtocolError("illegal status line: bytearray(b'garbage')")

    result = translate(exc, WHERE)

    assert type(result) is BadHttpResponse
    assert str(result) == f"{WHERE}: invalid HTTP response: {exc}"


def test_the_real_h11_error_for_a_body_cut_short_is_server_closed():
    conn = h11.Connection(h11.CLIENT)
    conn.send(h11.Request(method="GET", target="/", headers=[("Host", "example.com")]))
    conn.send(h11.EndOfMessage())
    conn.receive_data(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab")
    conn.next_event()  # the response head
    conn.next_event()  # the two body bytes
    conn.receive_data(b"")
    with pytest.raises(h11.RemoteProtocolError) as info:
        conn.next_event()

    assert type(translate(info.value, WHERE)) is ServerClosedConnectionError


def test_the_real_h11_error_for_a_garbage_status_line_is_bad_http_response():
    conn = h11.Connection(h11.CLIENT)
    conn.send(h11.Request(method="GET", target="/", headers=[("Host", "example.com")]))
    conn.send(h11.EndOfMessage())
    conn.receive_data(b"SMTP ready\r\n\r\n")
    with pytest.raises(h11.RemoteProtocolError) as info:
        conn.next_event()

    assert type(translate(info.value, WHERE)) is BadHttpResponse


@pytest.mark.parametrize("before_response", [True, False])
def test_peer_closed_early_is_server_closed_connection_error(before_response):
    exc = PeerClosedEarly(before_response=before_response)

    result = translate(exc, WHERE)

    assert type(result) is ServerClosedConnectionError
    assert str(result) == f"{WHERE}: {exc}"


# -- what passes through unchanged --------------------------------------------


@pytest.mark.parametrize(
    "exc",
    [
        AsksException("base"),
        BadHttpResponse("bad"),
        DecodingError("bad gzip"),
        RequestTimeout("slow"),
        TooManyRedirects("loop"),
        TLSError("already translated"),
        BadStatus("404", response=None, status_code=404),  # type: ignore[arg-type]
        ConnectFailed("already translated"),
    ],
)
def test_an_asks_exception_passes_through_unchanged(exc):
    assert translate(exc, WHERE) is exc


@pytest.mark.parametrize(
    "exc",
    [
        curio.TaskCancelled(),
        curio.TaskTimeout(),
        KeyboardInterrupt(),
        SystemExit(1),
        GeneratorExit(),
    ],
)
def test_a_base_exception_passes_through_unchanged(exc):
    assert translate(exc, WHERE) is exc


@pytest.mark.parametrize(
    "exc", [ValueError("bad argument"), TypeError("wrong type"), KeyError("k")]
)
def test_an_unrelated_exception_passes_through_unchanged(exc):
    assert translate(exc, WHERE) is exc


# -- every translation lands in the asks tree ---------------------------------


@pytest.mark.parametrize(
    "exc",
    [
        OSError("x"),
        ConnectionResetError("x"),
        socket.gaierror("x"),
        ssl.SSLError("x"),
        h11.RemoteProtocolError("x"),
        h11.RemoteProtocolError("connection closed"),
        PeerClosedEarly(before_response=True),
    ],
)
def test_every_translated_failure_is_an_asks_exception(exc):
    result = translate(exc, WHERE)

    assert isinstance(result, AsksException)
    assert result is not exc


def test_translate_does_not_set_a_cause():
    # Chaining is left to the raiser ("raise new from exc").
    assert translate(OSError("x"), WHERE).__cause__ is None
