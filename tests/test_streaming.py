"""``stream=True``: bodies read on demand, and what happens to the connection.

A stream read to the end gives its connection back to the pool; one closed
early closes its connection. Either way the slot is freed exactly once, so a
``connections=1`` session keeps working after an abandoned stream.
"""

from __future__ import annotations

import gc
import gzip
import random
import weakref
import zlib

import brotli
import curio
import pytest
import zstandard

import asks
from asks.errors import DecodingError, RequestTimeout, ServerClosedConnectionError
from tests.servers import canned, read_request

BODY = bytes(range(256)) * 1024  # 256 KiB: several reads
OK_BIG = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(BODY) + BODY


async def collect(body) -> bytes:
    out = bytearray()
    async for chunk in body:
        out += chunk
    return bytes(out)


async def stall(sock):
    """Answer with the first 3 of 100 body bytes, then say nothing more."""
    await read_request(sock)
    await sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc")
    await curio.sleep(3600)


async def test_stream_read_to_the_end_returns_the_connection(raw_server):
    server = await raw_server(canned(OK_BIG))
    async with asks.Session(connections=1) as s:
        for _ in range(3):
            r = await s.get(server.url, stream=True)
            assert isinstance(r, asks.StreamResponse)
            assert await collect(r.body) == BODY
            assert s._pool.idle == 1
    assert server.accepted == 1


async def test_abandoned_stream_closes_its_connection_and_frees_the_slot(raw_server):
    server = await raw_server(canned(OK_BIG))
    async with asks.Session(connections=1) as s:
        r = await s.get(server.url, stream=True)
        async with r.body:
            async for _chunk in r.body:
                break  # half-read, then left
        assert s._pool.open == 0
        r2 = await s.get(server.url)
        assert r2.body == BODY
    assert server.accepted == 2


CHUNKED_WHOLE = (
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
)


@pytest.mark.parametrize(
    ("method", "answer", "wanted"),
    [
        ("GET", b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabcde", b"abcde"),
        ("GET", CHUNKED_WHOLE, b"abcde"),
        ("GET", b"HTTP/1.1 204 No Content\r\n\r\n", b""),
        ("GET", b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", b""),
        ("HEAD", b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", b""),
    ],
    ids=["length-break-after-last", "chunked-break-after-last", "204", "empty", "head"],
)
async def test_a_stream_closed_with_nothing_left_to_read_keeps_its_connection(
    raw_server, method, answer, wanted
):
    # Closing a stream closes its connection only when bytes are still to
    # come: a break after the last chunk, or a status check of a response
    # without a body, leaves the connection for the next request.
    server = await raw_server(canned(answer))
    async with asks.Session(connections=1) as s:
        for _ in range(3):
            r = await s.request(method, server.url, stream=True)
            got = b""
            async with r.body:
                if wanted:
                    async for chunk in r.body:
                        got += chunk
                        if got == wanted:
                            break  # the end of the message, not yet seen
            assert got == wanted
            assert (s._pool.open, s._pool.idle) == (1, 1)
    assert server.accepted == 1


async def test_a_stream_closed_before_its_last_bytes_still_closes_its_connection(raw_server):
    server = await raw_server(canned(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabcde"))
    async with asks.Session(connections=1) as s:
        r = await s.get(server.url, stream=True)
        async with r.body:
            pass  # not one byte read: the body is not in the reader's hands
        assert s._pool.open == 0
        assert (await s.get(server.url)).body == b"abcde"
    assert server.accepted == 2


async def test_async_with_response_closes_like_the_body(raw_server):
    server = await raw_server(canned(OK_BIG))
    async with asks.Session(connections=1) as s:
        async with await s.get(server.url, stream=True) as r:
            assert r.status_code == 200
        assert s._pool.open == 0
        assert (await s.get(server.url)).status_code == 200


async def test_closing_twice_is_harmless(raw_server):
    server = await raw_server(canned(OK_BIG))
    async with asks.Session(connections=1) as s:
        r = await s.get(server.url, stream=True)
        await r.body.close()
        await r.body.close()
        await r.close()
        assert s._pool.open == 0


async def test_cancelled_stream_reader_frees_the_slot(raw_server):
    server = await raw_server(stall)
    async with asks.Session(connections=1) as s:
        r = await s.get(server.url, stream=True)

        async def read_all():
            return await collect(r.body)

        with pytest.raises(curio.TaskTimeout):
            await curio.timeout_after(0.2, read_all)
        assert s._pool.open == 0


async def test_per_read_timeout(raw_server):
    server = await raw_server(stall)
    async with asks.Session() as s:
        r = await s.get(server.url, stream=True)
        got = bytearray()
        with pytest.raises(RequestTimeout):
            async for chunk in r.body(timeout=0.2):
                got += chunk
        assert got == b"abc"
        assert s._pool.open == 0


async def test_a_timeout_given_after_the_first_chunk_bounds_the_rest(raw_server):
    # The first chunk is read without a timeout, which puts the body on its
    # plain fast path; asking for a timeout afterwards must take it off.
    server = await raw_server(stall)
    async with asks.Session() as s:
        r = await s.get(server.url, stream=True)
        assert await r.body.__anext__() == b"abc"
        with pytest.raises(RequestTimeout):
            # The outer bound only keeps a broken build from hanging: it is
            # ten times the per-read timeout and would raise TaskTimeout.
            async with curio.timeout_after(2):
                async for _chunk in r.body(timeout=0.2):
                    pass
        assert s._pool.open == 0


async def test_stream_cut_short_is_an_error_not_a_short_body(raw_server):
    server = await raw_server(
        canned(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this", keep_alive=False)
    )
    async with asks.Session() as s:
        r = await s.get(server.url, stream=True)
        with pytest.raises(ServerClosedConnectionError):
            await collect(r.body)
        assert s._pool.open == 0


@pytest.mark.parametrize(
    ("coding", "compress"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda b: zlib.compress(b)[2:-4]),  # raw DEFLATE
        ("br", brotli.compress),
        ("zstd", lambda b: zstandard.ZstdCompressor().compress(b)),
    ],
)
async def test_stream_is_decompressed_incrementally(raw_server, coding, compress):
    # Incompressible bytes first, so the compressed body spans several
    # socket reads: every one of them must go through the decoder. Then
    # 1 MiB that compresses to little: its last reads decode to several
    # pieces each, and every piece must come out.
    plain = random.Random(7).randbytes(200_000) + BODY * 4
    payload = compress(plain)
    server = await raw_server(
        canned(
            b"HTTP/1.1 200 OK\r\nContent-Encoding: %s\r\nContent-Length: %d\r\n\r\n"
            % (coding.encode(), len(payload))
            + payload
        )
    )
    async with asks.Session() as s:
        r = await s.get(server.url, stream=True)
        assert await collect(r.body) == plain
        r = await s.get(server.url, stream=True)
        r.body.decompress_data = False
        assert await collect(r.body) == payload


async def test_corrupt_gzip_stream_is_a_decoding_error(raw_server):
    payload = b"\x1f\x8b\x08\x00garbage-garbage-garbage"
    server = await raw_server(
        canned(
            b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n"
            % len(payload)
            + payload
        )
    )
    async with asks.Session() as s:
        r = await s.get(server.url, stream=True)
        with pytest.raises(DecodingError):
            await collect(r.body)
        assert s._pool.open == 0


async def test_module_level_stream_keeps_its_session_until_the_end(raw_server):
    server = await raw_server(canned(OK_BIG))
    r = await asks.get(server.url, stream=True)
    assert await collect(r.body) == BODY
    # The temporary session closed with the stream: the server sees EOF and
    # the fd-leak check would catch a lingering socket.
    assert server.accepted == 1


async def test_module_level_stream_closed_early(raw_server):
    server = await raw_server(canned(OK_BIG))
    r = await asks.get(server.url, stream=True)
    async with r:
        pass


# -- a body already in hand (fetch_many's small pages) -------------------------

SMALL = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
CHUNKED = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"


async def test_a_body_that_came_with_its_head_is_taken_whole(raw_server):
    server = await raw_server(canned(SMALL))
    async with asks.Session(connections=1) as s:
        for _ in range(3):
            r = await s.get(server.url, stream=True)
            assert await r.body._read_in_hand() == b"hello"
            assert s._pool.idle == 1  # back in the pool, ready for the next
            assert await collect(r.body) == b""  # nothing more to read
            await r.close()
            assert s._pool.idle == 1
    assert server.accepted == 1


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(CHUNKED, id="chunked"),
        pytest.param(OK_BIG, id="longer than what came with the head"),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n"
            % len(gzip.compress(b"hello"))
            + gzip.compress(b"hello"),
            id="to be decoded",
        ),
    ],
)
async def test_a_body_not_in_hand_is_left_to_be_iterated(raw_server, answer):
    server = await raw_server(canned(answer))
    async with asks.Session(connections=1) as s:
        r = await s.get(server.url, stream=True)
        assert await r.body._read_in_hand() is None
        expected = BODY if answer == OK_BIG else b"hello"
        assert await collect(r.body) == expected
        assert s._pool.idle == 1
    assert server.accepted == 1


async def test_a_body_begun_or_under_a_read_timeout_is_not_taken_whole(raw_server):
    server = await raw_server(canned(SMALL))
    async with asks.Session(connections=1) as s:
        r = await s.get(server.url, stream=True)
        r.body(timeout=5)
        assert await r.body._read_in_hand() is None
        assert await collect(r.body) == b"hello"
        r = await s.get(server.url, stream=True)
        assert await r.body.__anext__() == b"hello"
        assert await r.body._read_in_hand() is None
        assert await collect(r.body) == b""
        assert s._pool.idle == 1


async def test_a_body_in_hand_not_to_be_decoded_is_taken_as_received(raw_server):
    packed = gzip.compress(b"hello")
    answer = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(
        packed
    )
    server = await raw_server(canned(answer + packed))
    async with asks.Session(connections=1) as s:
        r = await s.get(server.url, stream=True)
        r.body.decompress_data = False
        assert await r.body._read_in_hand() == packed
        assert s._pool.idle == 1


async def test_a_module_level_stream_taken_whole_closes_its_session(raw_server):
    # The temporary session goes with the body (its on_close), read whole or not;
    # the fd-leak check would catch a lingering socket.
    server = await raw_server(canned(SMALL))
    r = await asks.get(server.url, stream=True)
    assert await r.body._read_in_hand() == b"hello"
    await r.close()
    await r.close()  # twice: harmless
    assert server.accepted == 1


@pytest.mark.parametrize("ending", ["read to the end", "taken whole", "closed early", "left"])
async def test_a_streamed_response_is_freed_without_the_collector_once_its_body_ends(
    raw_server, ending
):
    # The response and its body refer to each other until the body ends;
    # after that, dropping the response frees it at once (by reference
    # counting), with the garbage collector switched off. Before, every
    # streamed response stayed as a cycle of 11 objects for the collector,
    # which cost a crawl about a tenth of its CPU.
    server = await raw_server(canned(OK_BIG if ending == "closed early" else SMALL))
    async with asks.Session(connections=1) as s:
        gc.collect()
        gc.disable()
        try:
            r = await s.get(server.url, stream=True)
            if ending == "read to the end":
                assert await collect(r.body) == b"hello"
            elif ending == "taken whole":
                assert await r.body._read_in_hand() == b"hello"
            elif ending == "closed early":
                async for _chunk in r.body:
                    break
                await r.body.close()
            else:
                async with r:
                    pass
            response, body = weakref.ref(r), weakref.ref(r.body)
            del r
            assert response() is None and body() is None
        finally:
            gc.enable()
        # The connection went back when the body was read, and was closed
        # when it was not, as before.
        assert s._pool.idle == (1 if ending in ("read to the end", "taken whole") else 0)
