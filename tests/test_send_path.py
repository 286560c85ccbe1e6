"""Plain TCP is written and waited on directly.

On a plain (not TLS) socket ``HTTP11Connection`` skips two detours of
curio's socket wrapper (docs/performance.md):

* a write tries the socket once itself and hands only what did not fit to
  curio's ``sendall``; the pieces h11 frames a body into (the head before a
  large body, a chunk's size line, data and CRLF) leave in one ``sendmsg``;
* the first read of an answer waits for the socket to become readable
  instead of trying it first, since the answer to a request just sent is
  never there yet (over TLS too, unless the TLS layer already holds bytes).

These tests pin down that the bytes on the wire are exactly what h11 framed,
whole and in order, also when the socket buffer fills in the middle of a
gathered write; that answers are waited for; that a TLS connection reads and
writes through its ``_ssl`` object, leaving curio only a write that filled
the socket, and reads what its TLS layer already holds (bytes that do not
show on the socket); and that a closed connection fails in its task.
"""

from __future__ import annotations

import random
import socket
import ssl
import time

import curio
import h11
import pytest

import asks
from asks._transport.backend import Stream
from asks._transport.connect import Dialer
from asks._transport.http11 import HTTP11Connection
from asks._urls import Origin
from tests.servers import canned, read_request

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


async def open_stream(
    host: str, port: int, *, tls: bool, ssl_context: ssl.SSLContext | None
) -> Stream:
    """A stream the way a session dials it, without a session around it."""
    dialer = Dialer(ssl_context, None, None, False, 65536, 5.0)
    return await dialer.open_stream(Origin("https" if tls else "http", host, port), None)


# Far more than a loopback socket buffer takes at once, and no round number,
# so a gathered write is cut somewhere inside the body. Random bytes, so a
# piece sent twice or skipped can never line up with the expected bytes.
BIG = random.Random(1).randbytes(4 * 1024 * 1024 + 7)


@pytest.fixture
def leftover_writes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of every remainder a gathered write passed on, in order."""
    sizes: list[int] = []
    original = Stream.send

    async def recording(self: Stream, data: bytes | memoryview) -> None:
        if type(data) is memoryview:
            sizes.append(len(data))
        await original(self, data)

    monkeypatch.setattr(Stream, "send", recording)
    return sizes


GATHERS = pytest.mark.skipif(
    not hasattr(socket.socket, "sendmsg"),
    reason="no sendmsg here: every piece is written on its own",
)


@GATHERS
async def test_a_large_body_leaves_with_its_head_exactly_as_h11_frames_it(
    raw_server, leftover_writes
):
    received: list[bytes] = []

    async def one_request(sock: curio.io.Socket) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            data += await sock.recv(65536)
        head_end = data.index(b"\r\n\r\n") + 4
        while len(data) < head_end + len(BIG):
            piece = await sock.recv(65536)
            assert piece, "the client closed in the middle of the body"
            data += piece
        received.append(data)
        await sock.sendall(OK)

    server = await raw_server(one_request)
    async with asks.Session() as s:
        r = await s.post(server.url + "/up", data=BIG, headers={"Content-Type": "x/y"})
        assert r.status_code == 200
    (data,) = received
    head = data[: data.index(b"\r\n\r\n") + 4]
    # Nothing lost, doubled or reordered: the head, then the body, then
    # nothing more (the server read exactly Content-Length bytes after it).
    assert head.startswith(b"POST /up HTTP/1.1\r\n")
    assert b"\r\nContent-Length: %d\r\n" % len(BIG) in head
    assert data[len(head) :] == BIG
    # The socket buffer filled inside the gathered write, so the rest went
    # on piece by piece: the path that resumes mid-piece ran.
    assert leftover_writes, "the test never filled the socket buffer"
    assert sum(leftover_writes) < len(BIG)


@GATHERS
async def test_chunks_leave_framed_whole_and_in_order_through_a_full_buffer(
    raw_server, leftover_writes
):
    pieces = [BIG[:1000], BIG, b"x", BIG[:70000]]
    handler = canned(OK)

    async def produce():
        for piece in pieces:
            yield piece

    server = await raw_server(handler)
    async with asks.Session() as s:
        r = await s.post(server.url, data=produce())
        assert r.status_code == 200
        # The connection is still in step: a second request gets its answer.
        assert (await s.get(server.url)).content == b"ok"
    (post, body), (_get, nothing) = handler.requests
    assert (b"transfer-encoding", b"chunked") in list(post.headers)
    assert (body, nothing) == (b"".join(pieces), b"")
    assert leftover_writes, "the test never filled the socket buffer"


async def test_a_file_body_leaves_whole_through_a_full_buffer(raw_server, tmp_path):
    # A file of known size goes out in pieces under Content-Length framing,
    # one write each, through a buffer that fills; where the kernel cuts a
    # write is its own business (the next test forces it), the bytes must
    # arrive whole either way.
    path = tmp_path / "body.bin"
    path.write_bytes(BIG)
    handler = canned(OK)
    server = await raw_server(handler)
    async with asks.Session() as s:
        with path.open("rb") as body:
            assert (await s.put(server.url, data=body)).content == b"ok"
        assert (await s.get(server.url)).content == b"ok"
    assert len(handler.requests) == 2
    put, body = handler.requests[0]
    assert (b"content-length", str(len(BIG)).encode()) in list(put.headers)
    assert body == BIG


async def test_a_write_cut_short_by_a_full_buffer_resumes_where_it_stopped(raw_server):
    # A send buffer of a few KiB takes only part of each large piece, so
    # every write is cut short and curio sends the rest from where it was.
    handler = canned(OK)
    server = await raw_server(handler)
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    sock = curio.io.Socket(raw)
    conn = HTTP11Connection(Stream(sock), None, 65536)
    try:
        await sock.connect(server.address)

        async def pieces():
            yield BIG[:300_000]
            yield BIG[:5]

        length = str(300_005).encode()
        headers = ((b"Host", b"127.0.0.1"), (b"Content-Length", length))
        await conn.handle(b"PUT", b"/", headers, None, pieces())
        assert await conn.read_all() == b"ok"
    finally:
        await conn.close()
    assert [body for _request, body in handler.requests] == [BIG[:300_000] + BIG[:5]]


async def test_small_requests_go_out_in_one_write_each(raw_server, monkeypatch):
    writes: list[bytes] = []
    original = Stream.send

    async def recording(self: Stream, data: bytes | memoryview) -> None:
        writes.append(bytes(data))
        await original(self, data)

    monkeypatch.setattr(Stream, "send", recording)
    handler = canned(OK)
    server = await raw_server(handler)
    async with asks.Session() as s:
        await s.get(server.url)
        await s.post(server.url, data=b"form=1")
    assert [body for _request, body in handler.requests] == [b"", b"form=1"]
    assert len(writes) == 2
    assert writes[0].startswith(b"GET / HTTP/1.1\r\n") and writes[0].endswith(b"\r\n\r\n")
    assert writes[1].startswith(b"POST / HTTP/1.1\r\n") and writes[1].endswith(b"\r\n\r\nform=1")


async def test_a_request_sent_again_leaves_before_h11_takes_note_of_it(raw_server, monkeypatch):
    # The second time a bodiless request goes out, its bytes are the ones
    # h11 made of the same event the first time; h11 records the request
    # after they have left, while the server reads them. On the wire the
    # requests cannot be told apart, and h11 stays in step (every answer is
    # read, on one connection).
    order: list[str] = []
    original_send = Stream.send
    original_h11_send = h11.Connection.send

    async def recording(self: Stream, data: bytes | memoryview) -> None:
        order.append("write")
        await original_send(self, data)

    def noting(self: h11.Connection, event: object) -> bytes | None:
        if type(event) is h11.Request:
            order.append("h11")
        return original_h11_send(self, event)

    monkeypatch.setattr(Stream, "send", recording)
    monkeypatch.setattr(h11.Connection, "send", noting)
    handler = canned(OK)
    server = await raw_server(handler)
    async with asks.Session() as s:
        url = f"{server.url}/again-{time.monotonic_ns()}"  # new to the event cache
        for _ in range(3):
            assert (await s.get(url)).content == b"ok"
    assert order == ["h11", "write", "write", "h11", "write", "h11"]
    heads = [request for request, _body in handler.requests]
    assert len(heads) == 3 and server.accepted == 1
    assert heads[0].target == heads[1].target == heads[2].target
    assert heads[0].headers == heads[1].headers == heads[2].headers


async def test_a_request_sent_again_into_a_dead_connection_is_resent_on_a_new_one(
    raw_server, monkeypatch
):
    # The server closes after each answer without saying so, and the stale
    # check is blinded: each GET after the first is written from the cache
    # into the dead connection, finds it closed, and goes out again on a new
    # connection (the silent resend), h11 in step on both.
    monkeypatch.setattr(Stream, "is_readable", lambda self: False)
    handler = canned(OK, keep_alive=False)
    server = await raw_server(handler)
    sent = []
    async with asks.Session(
        trace=lambda event, info: sent.append(event) if event == "request.sent" else None
    ) as s:
        url = f"{server.url}/dead-{time.monotonic_ns()}"
        for _ in range(3):
            assert (await s.get(url, retries=0)).content == b"ok"
        stats = s.pool_stats()
        assert (stats.busy, stats.waiting) == (0, 0)
    # Written 5 times: once, then twice for each later GET (the dead
    # connection, then a new one); answered 3 times, on 3 connections.
    assert len(sent) == 5
    assert len(handler.requests) == 3 and server.accepted == 3


class CountingSocket:
    """A plain socket that counts its reads, and those made before anything arrived."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self.reads = 0
        self.early_reads = 0

    def recv(self, size: int, flags: int = 0) -> bytes:
        self.reads += 1
        try:
            return self._sock.recv(size, flags)
        except (BlockingIOError, ssl.SSLWantReadError):
            self.early_reads += 1
            raise

    def send(self, data: bytes) -> int:
        return self._sock.send(data)

    def sendmsg(self, pieces: list[bytes]) -> int:
        return self._sock.sendmsg(pieces)


async def test_the_answer_is_waited_for_rather_than_read_before_it_arrives(raw_server):
    # The server runs in the same curio kernel, so it cannot answer before
    # the client task waits: a client that tried the socket first would
    # find it empty every time.
    server = await raw_server(canned(OK))
    async with asks.Session() as s:
        assert (await s.get(server.url)).content == b"ok"
        (conn,) = next(iter(s._pool._idle.values()))
        assert conn._stream._plain is not None
        counting = CountingSocket(conn._stream._plain)
        conn._stream._plain = counting  # type: ignore[assignment]
        for _ in range(3):
            assert (await s.get(server.url)).content == b"ok"
        # Every answer was read through the plain socket, none too early.
        assert counting.reads >= 3
        assert counting.early_reads == 0
        assert server.accepted == 1


async def test_a_tls_answer_is_waited_for_rather_than_read_before_it_arrives(
    raw_server, server_ssl_context, client_ssl_context
):
    # As over plain TCP: trying the TLS object before the answer is there
    # raises SSLWantReadError first, at a cost (backend.Stream.receive).
    server = await raw_server(canned(OK), ssl_context=server_ssl_context)
    async with asks.Session(ssl_context=client_ssl_context) as s:
        assert (await s.get(server.url)).content == b"ok"
        (conn,) = next(iter(s._pool._idle.values()))
        stream = conn._stream
        real = stream._tls_read
        assert real is not None
        reads: list[bool] = []  # per read: whether it came too early

        def counting(size: int) -> bytes:
            try:
                data = real(size)
            except ssl.SSLWantReadError:
                reads.append(True)
                raise
            reads.append(False)
            return data

        stream._tls_read = counting
        for _ in range(3):
            assert (await s.get(server.url)).content == b"ok"
        assert len(reads) >= 3
        assert True not in reads
        assert server.accepted == 1


async def test_a_tls_connection_reads_and_writes_through_its_tls_object(
    raw_server, server_ssl_context, client_ssl_context, monkeypatch
):
    # Records go through the _ssl object itself; curio's sendall serves only
    # a write the full socket cut short (OpenSSL then wants the same bytes
    # again), and curio's recv never. (The server, in the same kernel, uses
    # curio's calls: only the client's socket counts.)
    seen: list[tuple[str, object]] = []
    recv, sendall = curio.io.Socket.recv, curio.io.Socket.sendall

    async def counted_recv(self, *args):
        seen.append(("recv", self))
        return await recv(self, *args)

    async def counted_sendall(self, *args):
        seen.append(("sendall", self))
        return await sendall(self, *args)

    monkeypatch.setattr(curio.io.Socket, "recv", counted_recv)
    monkeypatch.setattr(curio.io.Socket, "sendall", counted_sendall)
    handler = canned(OK)
    server = await raw_server(handler, ssl_context=server_ssl_context)
    assert server.url.startswith("https://")
    async with asks.Session(ssl_context=client_ssl_context) as s:
        assert (await s.get(server.url)).content == b"ok"
        (conn,) = next(iter(s._pool._idle.values()))
        assert conn._stream._plain is None
        assert conn._stream.tls is not None and conn._stream._tls_read is not None
        client = conn._stream._sock

        def calls() -> list[str]:
            return [name for name, sock in seen if sock is client]

        assert calls() == []
        assert (await s.post(server.url, data=BIG)).content == b"ok"
        assert "recv" not in calls() and "sendall" in calls()  # the 4 MiB filled the socket
        del seen[:]
        assert (await s.get(server.url)).content == b"ok"
        assert calls() == []
    assert [body for _request, body in handler.requests] == [b"", BIG, b""]


async def test_a_tls_connection_reads_what_its_tls_layer_holds_without_waiting(
    raw_server, server_ssl_context, client_ssl_context
):
    # Two answers to one request, the second in the same TLS record as the
    # end of the first's body. The first body is read straight from the
    # socket, exactly to its end, so the second answer is left decrypted in
    # the TLS layer: the socket has nothing more to show, and a wait on it
    # would last forever. (The pool never reuses such a connection, see
    # HTTP11Connection.has_expired; the connection itself still reads right.)
    first = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(BIG)

    async def answer_twice(sock: curio.io.Socket) -> None:
        await read_request(sock)
        await sock.sendall(first + BIG + OK)
        await curio.Event().wait()  # and nothing more

    server = await raw_server(answer_twice, ssl_context=server_ssl_context)
    host, port = server.address
    stream = await open_stream(host, port, tls=True, ssl_context=client_ssl_context)
    conn = HTTP11Connection(stream, None, 65536)
    try:
        wire = ((b"Host", b"x"),)
        await conn.handle(b"GET", b"/", wire, None)
        assert await conn.read_all() == BIG
        assert conn.is_idle()  # h11 allowed another cycle
        assert stream.tls is not None and stream.tls.pending() == len(OK)
        assert conn.has_expired(time.monotonic())  # the pool would not reuse it
        conn.claim()
        async with curio.timeout_after(5):
            head, _ = await conn.handle(b"GET", b"/", wire, None)
            assert head.status_code == 200
            assert await conn.read_all() == b"ok"
    finally:
        await conn.close()


@pytest.mark.parametrize("tls", [False, True], ids=["tcp", "tls"])
async def test_reading_a_closed_connection_fails_in_the_task(
    raw_server, server_ssl_context, client_ssl_context, tls
):
    # A closed connection is never waited on directly: the wait would hand a
    # dead descriptor to curio's selector, which fails the whole kernel.
    server = await raw_server(canned(OK), ssl_context=server_ssl_context if tls else None)
    host, port = server.address
    stream = await open_stream(host, port, tls=tls, ssl_context=client_ssl_context)
    conn = HTTP11Connection(stream, None, 65536)
    assert (stream.tls if tls else stream._plain) is not None
    await conn.close()
    with pytest.raises((OSError, ValueError)):
        await conn.receive_response_head()
