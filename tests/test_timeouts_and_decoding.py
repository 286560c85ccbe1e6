"""Deadlines that span a whole call, and what a response body decodes to."""

from __future__ import annotations

import decimal
import json
import time

import curio
import pytest

import asks
from asks.errors import DecodingError, RequestTimeout
from tests.servers import canned, read_request


async def test_timeout_covers_the_redirects_too(raw_server):
    # Each hop answers at once, but the chain never ends within the deadline
    # because the last hop stalls: the deadline is for the whole call.
    async def handler(sock):
        while (got := await read_request(sock)) is not None:
            if got[0].target == b"/stall":
                await curio.sleep(3600)
            await sock.sendall(
                b"HTTP/1.1 302 Found\r\nLocation: /stall\r\nContent-Length: 0\r\n\r\n"
            )

    server = await raw_server(handler)
    with pytest.raises(RequestTimeout):
        await asks.get(server.url + "/start", timeout=0.3)


async def test_connection_timeout_covers_the_tls_handshake(raw_server, client_ssl_context):
    # A server that accepts TCP and never says a word: the TLS handshake is
    # part of establishing the connection.
    async def mute(sock):
        await curio.sleep(3600)

    server = await raw_server(mute)
    with pytest.raises(RequestTimeout, match="connect"):
        await asks.get(
            f"https://127.0.0.1:{server.port}/",
            ssl_context=client_ssl_context,
            connection_timeout=0.3,
            retries=0,
        )


async def test_stream_timeout_covers_the_head_only(raw_server):
    past_the_timeout = curio.Event()

    async def slow_body(sock):
        await read_request(sock)
        await sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab")
        await past_the_timeout.wait()
        await sock.sendall(b"cd")

    server = await raw_server(slow_body)
    async with asks.Session() as s:
        started = time.monotonic()
        r = await s.get(server.url, stream=True, timeout=1.0)
        # The rest of the body comes once the call's timeout is over.
        await curio.sleep(max(0.0, started + 1.1 - time.monotonic()))
        await past_the_timeout.set()
        chunks = [c async for c in r.body]
        assert b"".join(chunks) == b"abcd"
        assert time.monotonic() - started > 1.0


async def test_json_passes_keyword_arguments_through(raw_server):
    server = await raw_server(canned(b'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{"x": 1.5}'))
    r = await asks.get(server.url)
    assert r.json(parse_float=decimal.Decimal) == {"x": decimal.Decimal("1.5")}


@pytest.mark.parametrize("content_type", [b"application/json", b"application/json; charset=utf-8"])
async def test_json_ignores_a_byte_order_mark(raw_server, content_type):
    body = b'\xef\xbb\xbf{"x": "\xc3\xa9"}'
    server = await raw_server(
        canned(
            b"HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n"
            % (content_type, len(body))
            + body
        )
    )
    r = await asks.get(server.url)
    assert r.json() == {"x": "\u00e9"}


@pytest.mark.parametrize("codec", ["utf-8", "utf-16", "utf-16-le", "utf-32-be"])
async def test_json_without_a_charset_is_read_as_json_is_encoded_not_as_the_fallback(
    raw_server, codec
):
    # RFC 8259 section 8.1: JSON is UTF-8 (older texts UTF-16 or UTF-32);
    # the session's text fallback (latin-1 here) is not JSON's.
    body = '{"x": "\u00e9\u2603"}'.encode(codec)
    server = await raw_server(
        canned(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
            % len(body)
            + body
        )
    )
    async with asks.Session(encoding="latin-1") as s:
        r = await s.get(server.url)
    assert r.json() == {"x": "\u00e9\u2603"}
    assert r.encoding == "latin-1"  # text still falls back as before
    r.encoding = "latin-1"  # set by hand: json() follows it
    if codec == "utf-8":
        assert r.json() == {"x": "\u00e9\u2603".encode().decode("latin-1")}


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        (b"application/json", b"\xff\xfe1"),  # no charset: json.loads guesses UTF-16
        (b"application/json", b'"\xff"'),
        (b"application/json; charset=utf-8", b'"\xff"'),
    ],
)
async def test_json_of_bytes_that_are_no_text_is_a_json_decode_error(
    raw_server, content_type, body
):
    # docs/responses.md: a body that is not JSON raises json.JSONDecodeError,
    # as requests raises it; not the codec's UnicodeDecodeError.
    server = await raw_server(
        canned(
            b"HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n"
            % (content_type, len(body))
            + body
        )
    )
    r = await asks.get(server.url)
    with pytest.raises(json.JSONDecodeError, match="text at byte"):
        r.json()


async def test_unknown_content_encoding_is_a_clear_error(raw_server):
    server = await raw_server(
        canned(b"HTTP/1.1 200 OK\r\nContent-Encoding: snappy\r\nContent-Length: 3\r\n\r\nabc")
    )
    r = await asks.get(server.url)
    assert r.body == b"abc"  # the raw bytes are still there
    with pytest.raises(DecodingError, match="snappy"):
        _ = r.content
    async with asks.Session() as s:
        r = await s.get(server.url, stream=True)
        r.body.decompress_data = False
        assert b"".join([c async for c in r.body]) == b"abc"
        r = await s.get(server.url, stream=True)
        with pytest.raises(DecodingError, match="snappy"):
            async for _ in r.body:
                pass


@pytest.mark.parametrize(
    ("method", "head"),
    [
        ("HEAD", b"HTTP/1.1 200 OK\r\nContent-Encoding: snappy\r\nContent-Length: 3\r\n\r\n"),
        ("GET", b"HTTP/1.1 304 Not Modified\r\nContent-Encoding: snappy\r\n\r\n"),
        ("GET", b"HTTP/1.1 200 OK\r\nContent-Encoding: snappy\r\nContent-Length: 0\r\n\r\n"),
    ],
)
async def test_unknown_content_encoding_without_content_is_no_error(raw_server, method, head):
    # Nothing to decode: the coding names a representation not sent here.
    server = await raw_server(canned(head))
    async with asks.Session() as s:
        r = await s.request(method, server.url)
        assert r.content == b""
        r = await s.request(method, server.url, stream=True)
        assert [c async for c in r.body] == []
        assert s._pool.idle == 1  # read to the end: connection kept


async def test_identity_and_chained_codings(raw_server):
    import gzip

    payload = gzip.compress(gzip.compress(b"twice"))
    server = await raw_server(
        canned(
            b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip, identity, gzip\r\n"
            b"Content-Length: %d\r\n\r\n" % len(payload) + payload
        )
    )
    assert (await asks.get(server.url)).content == b"twice"


async def test_decoded_size_limit_for_buffered_bodies(raw_server):
    import gzip

    payload = gzip.compress(b"\0" * 5_000_000)
    server = await raw_server(
        canned(
            b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n"
            % len(payload)
            + payload
        )
    )
    async with asks.Session(max_decoded_size=1_000_000) as s:
        r = await s.get(server.url)
        with pytest.raises(asks.errors.ResponseTooLarge):
            _ = r.content
