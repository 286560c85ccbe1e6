"""Hostile servers: a broken or odd response head.

reliability.md rows 1-4 (malformed status line, another HTTP version, an
oversized or endless head, invalid header fields), and further head cases:
interim 1xx responses (skipped; endless ones cut off), an unsolicited 101,
and a garbage answer surfacing as an asks exception. Shared helpers and the
invariants every case checks: tests/hostile_helpers.py.
"""

from __future__ import annotations

import time

import curio
import curio.socket
import pytest

import asks
from asks.errors import AsksException, BadHttpResponse, RequestTimeout
from tests.hostile_helpers import MODES, OK, Answer, assert_released, expect_bad_response, fetch
from tests.servers import canned, read_request

# --------------------------------------------------------------------------
# Rows 1-4: protocol violations in the response head


@MODES
@pytest.mark.curio_timeout(8)
@pytest.mark.parametrize(
    "status_line",
    [
        pytest.param(b"HTTP/1.1 2OO OK", id="letters-in-code"),
        pytest.param(b"ICY 200 OK", id="icy"),
        pytest.param(b"\x00\x01\x02\xff garbage", id="binary-garbage"),
        pytest.param(b"HTTP/1.1 20 OK", id="two-digit-code"),
        pytest.param(b"HTTP/1.1 2000 OK", id="four-digit-code"),
        pytest.param(b"HTTP/1.1  200 OK", id="double-space"),
        pytest.param(b"http/1.1 200 OK", id="lower-case-http"),
        # A reason phrase is free text; its words must not change the verdict.
        pytest.param(b"HTTP/1.1 2OO connection closed", id="reason-says-closed"),
    ],
)
async def test_row1_malformed_status_line_is_bad_http_response(raw_server, stream, status_line):
    await expect_bad_response(raw_server, stream, status_line + b"\r\nContent-Length: 2\r\n\r\nok")


@MODES
@pytest.mark.curio_timeout(8)
@pytest.mark.parametrize(
    ("response", "then"),
    [
        pytest.param(b"HTTP/2.0 200 OK\r\nContent-Length: 2\r\n\r\nok", "hold", id="HTTP/2.0"),
        pytest.param(b"HTTP/3.0 200 OK\r\nContent-Length: 2\r\n\r\nok", "hold", id="HTTP/3.0"),
        pytest.param(b"HTTP/2 200\r\nContent-Length: 2\r\n\r\nok", "hold", id="HTTP/2"),
        # HTTP/0.9: no status line, no headers, the body until close.
        pytest.param(b"<html>hello</html>\n", "close", id="http0.9-then-close"),
        pytest.param(b"<html>hello</html>\n", "hold", id="http0.9-kept-open"),
        # An HTTP/2 server answering with a GOAWAY frame (PROTOCOL_ERROR).
        pytest.param(
            b"\x00\x00\x08\x07\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01",
            "close",
            id="http2-goaway-frame",
        ),
    ],
)
async def test_row2_other_http_version_is_bad_http_response(raw_server, stream, response, then):
    await expect_bad_response(raw_server, stream, response, then)


async def _endless_headers(sock) -> None:
    if await read_request(sock) is None:
        return
    await sock.sendall(b"HTTP/1.1 200 OK\r\n")
    line = b"X-More: and more and more and more\r\n" * 100
    while True:
        await sock.sendall(line)  # until the client gives up and closes


@MODES
@pytest.mark.curio_timeout(8)
@pytest.mark.parametrize(
    "response",
    [
        pytest.param(
            b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 100 * 1024 + b"\r\nContent-Length: 2\r\n\r\nok",
            id="100KiB-header-line",
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\n"
            + b"".join(b"X-H%05d: v\r\n" % i for i in range(10_000))
            + b"Content-Length: 2\r\n\r\nok",
            id="10000-headers",
        ),
        pytest.param(
            b"HTTP/1.1 200 " + b"O" * 100 * 1024 + b"\r\nContent-Length: 2\r\n\r\nok",
            id="100KiB-reason-phrase",
        ),
    ],
)
async def test_row3_oversized_response_head_is_bad_http_response(raw_server, stream, response):
    await expect_bad_response(raw_server, stream, response)


@MODES
@pytest.mark.curio_timeout(8)
async def test_row3_endless_response_head_is_cut_off(raw_server, stream):
    server = await raw_server(_endless_headers)
    async with asks.Session() as s:
        with pytest.raises(BadHttpResponse):
            await fetch(s, server.url, stream=stream)
        assert_released(s)


@MODES
async def test_row3_head_limit_is_configurable(raw_server, stream):
    big = b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 100 * 1024 + b"\r\nContent-Length: 2\r\n\r\nok"
    server = await raw_server(canned(big))
    async with asks.Session(max_head_size=256 * 1024) as s:
        r, content = await fetch(s, server.url, stream=stream)
        assert (r.status_code, content, len(r.headers["x-big"])) == (200, b"ok", 100 * 1024)
    small = b"HTTP/1.1 200 OK\r\nX-Mid: " + b"a" * 8192 + b"\r\nContent-Length: 2\r\n\r\nok"
    server = await raw_server(Answer(small))
    async with asks.Session(max_head_size=4096) as s:
        with pytest.raises(BadHttpResponse):
            await fetch(s, server.url, stream=stream)
        assert_released(s)


@MODES
@pytest.mark.curio_timeout(8)
@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(b"X-A: a\x00b\r\nContent-Length: 2", id="NUL-in-value"),
        pytest.param(b"X-A: a\rb\r\nContent-Length: 2", id="bare-CR-in-value"),
        pytest.param(b"X-\x00A: b\r\nContent-Length: 2", id="NUL-in-name"),
        pytest.param(b"Content-Length: +2", id="CL-plus-sign"),
        pytest.param(b"Content-Length: -2", id="CL-negative"),
        pytest.param(b"Content-Length: 2, 3", id="CL-list-disagrees"),
        pytest.param(b"Content-Length: 2\r\nContent-Length: 3", id="CL-twice-disagrees"),
        pytest.param(b"Content-Length: " + b"9" * 30, id="CL-30-digits"),
        pytest.param(b"Content-Length: 0x2", id="CL-hex"),
        pytest.param(b"Content-Length: 2.0", id="CL-decimal"),
        pytest.param(b"Content-Length : 2", id="space-before-colon"),
        pytest.param(b"X-No-Colon\r\nContent-Length: 2", id="line-without-colon"),
        pytest.param(b" X-Fold: first\r\nContent-Length: 2", id="fold-on-first-line"),
        pytest.param(b"Transfer-Encoding: gzip, chunked", id="TE-not-chunked-alone"),
        pytest.param(b"Transfer-Encoding: identity\r\nContent-Length: 2", id="TE-identity"),
    ],
)
async def test_row4_invalid_header_is_bad_http_response(raw_server, stream, headers):
    await expect_bad_response(raw_server, stream, b"HTTP/1.1 200 OK\r\n" + headers + b"\r\n\r\nok")


# --------------------------------------------------------------------------
# Interim, unsolicited and garbage answers


@MODES
async def test_interim_1xx_responses_are_skipped(raw_server, stream):
    interim = (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 102 Processing\r\n\r\n"
        b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
    )
    server = await raw_server(canned(interim + OK))
    async with asks.Session() as s:
        for _ in range(2):
            r, content = await fetch(s, server.url, stream=stream)
            assert (r.status_code, content) == (200, b"ok")
    assert server.accepted == 1


@MODES
@pytest.mark.curio_timeout(5)
async def test_endless_interim_responses_are_cut_off(raw_server, stream):
    # Each 1xx is small, so only a bound on the whole head (1xx included) or
    # the deadline can end this; either way it ends, quickly.
    async def handler(sock):
        if await read_request(sock) is None:
            return
        while True:
            await sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n" * 100)
            await curio.sleep(0.01)  # pacing only

    server = await raw_server(handler)
    async with asks.Session() as s:
        start = time.monotonic()
        with pytest.raises((BadHttpResponse, RequestTimeout)):
            await fetch(s, server.url, stream=stream, timeout=1)
        assert time.monotonic() - start < 2
        assert_released(s)


@MODES
async def test_unsolicited_101_switching_protocols_is_bad_http_response(raw_server, stream):
    await expect_bad_response(
        raw_server, stream, b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n"
    )


@MODES
async def test_every_failure_is_an_asks_exception(raw_server, stream):
    # A spot check of the boundary: after a garbage answer the error is an
    # AsksException, never h11's or the socket's own.
    server = await raw_server(Answer(b"\r\n\r\n\r\n", then="close"))
    async with asks.Session() as s:
        with pytest.raises(AsksException):
            await fetch(s, server.url, stream=stream)
        assert_released(s)
