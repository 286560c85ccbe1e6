"""The body fast path: a fixed-length body read straight from the socket.

Once h11 has decided that a response body is Content-Length bytes long and
has handed over every byte it buffered, the rest of the body is read from
the socket without passing through h11 (``HTTP11Connection._receive_direct``).
These tests pin down that nothing a caller can see changes: the same bytes,
the same errors, the same decision about reusing the connection. Each large
case also checks that the fast path really ran (a body larger than one read
must take it), and each small or chunked case that it did not.
"""

from __future__ import annotations

import hashlib

import curio
import pytest

import asks
from asks._http11 import READ_SIZE, HTTP11Connection
from asks.errors import ResponseTooLarge, ServerClosedConnectionError
from tests.servers import read_request

# Larger than one read, and not a multiple of it: several direct reads and a
# short last one.
BIG = hashlib.sha256(b"asks").digest() * ((3 * READ_SIZE + 12345) // 32)

MODES = pytest.mark.parametrize("stream", [False, True], ids=["buffered", "stream"])


@pytest.fixture
def direct_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of every piece the fast path returned, in order."""
    sizes: list[int] = []
    original = HTTP11Connection._receive_direct

    async def counting(self: HTTP11Connection) -> bytes:
        data = await original(self)
        sizes.append(len(data))
        return data

    monkeypatch.setattr(HTTP11Connection, "_receive_direct", counting)
    return sizes


async def fetch(s: asks.Session, url: str, *, stream: bool, method: str = "GET") -> bytes:
    r = await s.request(method, url, stream=stream, timeout=10)
    if not stream:
        return r.content  # type: ignore[no-any-return]
    pieces = []
    async for chunk in r.body:
        assert type(chunk) is bytes
        pieces.append(chunk)
    return b"".join(pieces)


def head(length: int, extra: bytes = b"", version: bytes = b"1.1") -> bytes:
    return b"HTTP/%s 200 OK\r\nContent-Length: %d\r\n%s\r\n" % (version, length, extra)


def serve_each(response: bytes, *, then_close: bool = False):
    async def handler(sock):
        while await read_request(sock) is not None:
            await sock.sendall(response)
            if then_close:
                return

    return handler


@MODES
async def test_a_large_body_arrives_whole_and_the_connection_is_reused(
    raw_server, direct_reads, stream
):
    server = await raw_server(serve_each(head(len(BIG)) + BIG))
    async with asks.Session() as s:
        for _ in range(3):
            assert await fetch(s, server.url, stream=stream) == BIG
        assert (s._pool.open, s._pool.idle) == (1, 1)
    assert server.accepted == 1
    assert direct_reads, "the fast path never ran"
    assert max(direct_reads) <= READ_SIZE
    # Each body ends on the fast path with an empty read: nothing past it.
    assert direct_reads.count(0) == 3


async def test_a_request_after_a_fast_path_body_gets_its_own_answer(raw_server, direct_reads):
    # The second answer differs: a client that read too far or too little
    # would see bytes of the first body, or of the second head, as its body.
    answers = [head(len(BIG)) + BIG, head(5) + b"hello", head(len(BIG)) + BIG[::-1]]

    async def handler(sock):
        for answer in answers:
            assert await read_request(sock) is not None
            await sock.sendall(answer)
        await read_request(sock)

    server = await raw_server(handler)
    async with asks.Session() as s:
        assert (await s.get(server.url)).content == BIG
        assert (await s.get(server.url)).content == b"hello"
        r = await s.get(server.url, stream=True)
        assert b"".join([c async for c in r.body]) == BIG[::-1]
    assert server.accepted == 1
    assert direct_reads


@MODES
async def test_a_body_sent_a_byte_at_a_time_after_its_head(raw_server, direct_reads, stream):
    body = bytes(range(256)) * 4

    async def handler(sock):
        while await read_request(sock) is not None:
            await sock.sendall(head(len(body)))
            for i in range(len(body)):
                await sock.sendall(body[i : i + 1])

    server = await raw_server(handler)
    async with asks.Session() as s:
        for _ in range(2):
            assert await fetch(s, server.url, stream=stream) == body
    assert server.accepted == 1


@pytest.mark.parametrize("size", [5, len(BIG)], ids=["in-h11", "fast-path"])
@MODES
async def test_a_body_cut_short_is_the_same_error_on_both_paths(
    raw_server, direct_reads, stream, size
):
    async def handler(sock):
        await read_request(sock)
        await sock.sendall(head(size + 100) + BIG[:size])

    server = await raw_server(handler)
    async with asks.Session() as s:
        with pytest.raises(ServerClosedConnectionError, match="complete message body"):
            await fetch(s, server.url, stream=stream)
        assert (s._pool.open, s._pool.idle) == (0, 0)
    # Part of a response arrived: the request was processed, never retried.
    assert server.accepted == 1
    assert bool(direct_reads) == (size > READ_SIZE)


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(head(len(BIG), b"Connection: close\r\n") + BIG, id="connection-close"),
        pytest.param(head(len(BIG), version=b"1.0") + BIG, id="http-1.0"),
    ],
)
@MODES
async def test_a_server_that_ends_keep_alive_is_not_reused_after_the_fast_path(
    raw_server, direct_reads, stream, answer
):
    server = await raw_server(serve_each(answer, then_close=True))
    async with asks.Session() as s:
        for _ in range(2):
            assert await fetch(s, server.url, stream=stream) == BIG
        assert (s._pool.open, s._pool.idle) == (0, 0)
    assert server.accepted == 2
    assert direct_reads


async def test_a_request_asking_to_close_is_not_reused_after_the_fast_path(
    raw_server, direct_reads
):
    server = await raw_server(serve_each(head(len(BIG)) + BIG))
    async with asks.Session() as s:
        for _ in range(2):
            r = await s.get(server.url, headers={"Connection": "close"})
            assert r.content == BIG
        assert (s._pool.open, s._pool.idle) == (0, 0)
    assert server.accepted == 2
    assert direct_reads


@pytest.mark.parametrize("tls", [False, True], ids=["tcp", "tls"])
async def test_bytes_after_a_fast_path_body_never_answer_the_next_request(
    raw_server, direct_reads, server_ssl_context, client_ssl_context, tls
):
    # h11 would find these in its buffer; on the fast path they stay in the
    # socket, and the stale check before reuse must find them there. Over
    # TLS they arrive in the same record as the body's end, so they wait
    # decrypted in the TLS layer, where the socket's readiness cannot show
    # them.
    junk = head(4) + b"junk"
    sent = curio.Event()

    async def handler(sock):
        while await read_request(sock) is not None:
            if not sent.is_set():
                await sock.sendall(head(len(BIG)) + BIG + junk)
                await sent.set()
            else:
                await sock.sendall(head(2) + b"ok")

    server = await raw_server(handler, ssl_context=server_ssl_context if tls else None)
    async with asks.Session(ssl_context=client_ssl_context) as s:
        assert (await s.get(server.url)).content == BIG
        await sent.wait()
        assert (await s.get(server.url)).content == b"ok"
    assert server.accepted == 2
    assert direct_reads


@MODES
async def test_max_body_size_still_bounds_a_fast_path_body(raw_server, direct_reads, stream):
    server = await raw_server(serve_each(head(len(BIG)) + BIG))
    async with asks.Session(max_body_size=2 * READ_SIZE) as s:
        if stream:
            # A stream is not buffered, so the bound does not apply.
            assert await fetch(s, server.url, stream=True) == BIG
        else:
            with pytest.raises(ResponseTooLarge):
                await fetch(s, server.url, stream=False)
            assert (s._pool.open, s._pool.idle) == (0, 0)
    assert direct_reads


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(head(5) + b"hello", id="small-content-length"),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            + b"".join(
                b"%x\r\n%s\r\n" % (READ_SIZE, BIG[i : i + READ_SIZE])
                for i in range(0, 3 * READ_SIZE, READ_SIZE)
            )
            + b"0\r\n\r\n",
            id="chunked",
        ),
    ],
)
@MODES
async def test_small_and_chunked_bodies_stay_with_h11(raw_server, direct_reads, stream, answer):
    server = await raw_server(serve_each(answer))
    async with asks.Session() as s:
        for _ in range(2):
            body = await fetch(s, server.url, stream=stream)
            assert len(body) in (5, 3 * READ_SIZE)
    assert server.accepted == 1
    assert direct_reads == []


async def test_head_with_a_large_content_length_reads_no_body(raw_server, direct_reads):
    async def handler(sock):
        while (req := await read_request(sock)) is not None:
            if req[0].method == b"HEAD":
                await sock.sendall(head(len(BIG)))
            else:
                await sock.sendall(head(2) + b"ok")

    server = await raw_server(handler)
    async with asks.Session() as s:
        r = await s.head(server.url)
        assert (r.status_code, r.content, r.headers["content-length"]) == (200, b"", str(len(BIG)))
        assert (await s.get(server.url)).content == b"ok"
    assert server.accepted == 1
    assert direct_reads == []
