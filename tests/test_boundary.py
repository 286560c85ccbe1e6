"""Unit tests for asks._boundary.translate: low-level failures become asks errors."""

from __future__ import annotations

import socket
import ssl

import curio
import h11
import pytest

from asks._boundary import ConnectFailed, translate
from asks._transport.http11 import HTTP11Connection
from asks._transport.interfaces import (
    BodyCutShort,
    ConnectError,
    ConnectTimeout,
    PeerClosedEarly,
    ProtocolViolation,
    RequestNotSendable,
)
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
from tests.scripted import ScriptedStream, drive

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


# -- the transport's classes, and h11's errors as the connection sorts them ----


def test_a_body_cut_short_is_server_closed_connection_error():
    exc = BodyCutShort("server closed the connection: (received 2 bytes, expected 10)")

    result = translate(exc, WHERE)

    assert type(result) is ServerClosedConnectionError
    assert str(result) == f"{WHERE}: {exc}"


def test_a_protocol_violation_is_bad_http_response():
    exc = ProtocolViolation("illegal status line: bytearray(b'garbage')")

    result = translate(exc, WHERE)

    assert type(result) is BadHttpResponse
    assert str(result) == f"{WHERE}: invalid HTTP response: {exc}"


def test_a_connect_error_is_connect_failed_naming_the_request():
    exc = ConnectError("connecting to 127.0.0.1:1: Connection refused: [Errno 111] refused")

    result = translate(exc, WHERE)

    assert type(result) is ConnectFailed
    assert str(result) == f"{WHERE}: {exc}"


def test_a_connect_timeout_is_request_timeout():
    result = translate(ConnectTimeout("connecting to h:1: not connected within 1 s"), WHERE)

    assert type(result) is RequestTimeout
    assert str(result).startswith(f"{WHERE}: connecting to h:1")


def test_a_request_that_cannot_be_sent_is_an_asks_exception():
    result = translate(RequestNotSendable("Too much data for declared Content-Length"), WHERE)

    assert type(result) is AsksException
    assert "could not be sent" in str(result)


@pytest.mark.parametrize(
    "exc", [h11.RemoteProtocolError("x"), h11.LocalProtocolError("x")], ids=["remote", "local"]
)
def test_an_h11_error_the_connection_did_not_sort_is_still_an_asks_exception(exc):
    # Never expected (the connection turns h11's errors into its own), but
    # an h11 exception must not reach the caller if one slips through.
    assert isinstance(translate(exc, WHERE), AsksException)


def _connection_answering(answer: bytes) -> HTTP11Connection:
    stream = ScriptedStream([[answer]], close_after=True)
    stream.next_turn()
    return HTTP11Connection(stream, None, 65536)  # type: ignore[arg-type]


def test_the_real_h11_error_for_a_body_cut_short_is_server_closed():
    conn = _connection_answering(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab")
    drive(conn.handle(b"GET", b"/", ((b"Host", b"example.com"),), None))
    with pytest.raises(BodyCutShort) as info:
        drive(conn.read_all())

    assert isinstance(info.value.__cause__, h11.RemoteProtocolError)
    assert type(translate(info.value, WHERE)) is ServerClosedConnectionError
    assert conn.is_closed()


def test_the_real_h11_error_for_a_garbage_status_line_is_bad_http_response():
    conn = _connection_answering(b"HTTP/1.1 2OO OK\r\n\r\n")
    with pytest.raises(ProtocolViolation) as info:
        drive(conn.handle(b"GET", b"/", ((b"Host", b"example.com"),), None))

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
        ProtocolViolation("x"),
        BodyCutShort("connection closed"),
        ConnectError("x"),
        ConnectTimeout("x"),
        RequestNotSendable("x"),
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
