"""The body fast path: a fixed-length body read without passing through h11.

Once h11 has decided that a response body is Content-Length bytes long, the
body is handed to the caller as the socket gives it
(``HTTP11Connection._receive_direct``): the bytes that came in the same read
as the head, never shown to h11, and then - if the body is longer - reads
straight from the socket. A body whose head arrived in pieces starts in h11
and continues on the fast path once h11 has handed over all it holds.

These tests pin down that nothing a caller can see changes: the same bytes,
the same errors, the same decision about reusing the connection. The
property at the end compares the two ways byte for byte over any server
answer; the cases before it check that the fast path really ran where it
should (a small body arriving with its head never becomes an h11 event) and
stayed out of the way where it must (chunked and close-delimited bodies,
HEAD, 204, 304).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import curio
import h11
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import asks
from asks._boundary import translate
from asks._transport import http11_receive as _http11
from asks._transport.backend import READ_SIZE
from asks._transport.http11 import HTTP11Connection
from asks.errors import ResponseTooLarge, ServerClosedConnectionError
from tests.scripted import Blocked, ScriptedStream, drive
from tests.servers import read_request
from tests.strategies import server_bytes, split, valid_http

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


@pytest.fixture
def h11_body_events(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of every body piece h11 itself handed out, in order."""
    sizes: list[int] = []
    original = h11.Connection.next_event

    def recording(self: h11.Connection) -> Any:
        event = original(self)
        if type(event) is h11.Data:
            sizes.append(len(event.data))
        return event

    monkeypatch.setattr(h11.Connection, "next_event", recording)
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


def serve_in_turn(answers: list[bytes]):
    """Answer each request with the next answer, then wait for one more request."""

    async def handler(sock):
        for answer in answers:
            assert await read_request(sock) is not None
            await sock.sendall(answer)
        await read_request(sock)

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

    server = await raw_server(serve_in_turn(answers))
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


@pytest.mark.parametrize(
    ("size", "head_in_pieces"),
    [(5, False), (5, True), (len(BIG), False)],
    ids=["with-its-head", "after-h11", "large"],
)
@MODES
async def test_a_body_cut_short_is_the_same_error_on_every_path(
    raw_server, h11_body_events, stream, size, head_in_pieces
):
    # "after-h11": the head's last bytes arrive with the body, so h11 reads
    # the body's start before the rest is read directly.
    answer = head(size + 100) + BIG[:size]

    async def handler(sock):
        await read_request(sock)
        if head_in_pieces:
            await sock.sendall(answer[:10])
            await curio.sleep(0.01)  # a separate read: not a synchronisation
        await sock.sendall(answer[10:] if head_in_pieces else answer)

    server = await raw_server(handler)
    async with asks.Session() as s:
        with pytest.raises(ServerClosedConnectionError, match="complete message body"):
            await fetch(s, server.url, stream=stream)
        assert (s._pool.open, s._pool.idle) == (0, 0)
    # Part of a response arrived: the request was processed, never retried.
    assert server.accepted == 1
    assert bool(h11_body_events) == head_in_pieces


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


@MODES
async def test_a_small_body_that_comes_with_its_head_never_passes_through_h11(
    raw_server, h11_body_events, stream
):
    answers = [head(5) + b"hello", head(0), head(3) + b"abc"]

    server = await raw_server(serve_in_turn(answers))
    async with asks.Session() as s:
        assert [await fetch(s, server.url, stream=stream) for _ in answers] == [
            b"hello",
            b"",
            b"abc",
        ]
        assert (s._pool.open, s._pool.idle) == (1, 1)
    assert server.accepted == 1
    assert h11_body_events == []


CHUNKED = (
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    + b"".join(
        b"%x\r\n%s\r\n" % (READ_SIZE, BIG[i : i + READ_SIZE])
        for i in range(0, 3 * READ_SIZE, READ_SIZE)
    )
    + b"0\r\n\r\n"
)
UNTIL_CLOSE = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + BIG


@pytest.mark.parametrize(
    ("answer", "body", "close"),
    [(CHUNKED, BIG[: 3 * READ_SIZE], False), (UNTIL_CLOSE, BIG, True)],
    ids=["chunked", "until-close"],
)
@MODES
async def test_bodies_not_framed_by_length_stay_with_h11(
    raw_server, direct_reads, h11_body_events, stream, answer, body, close
):
    server = await raw_server(serve_each(answer, then_close=close))
    async with asks.Session() as s:
        for _ in range(2):
            assert await fetch(s, server.url, stream=stream) == body
    assert server.accepted == (2 if close else 1)
    assert direct_reads == []
    assert sum(h11_body_events) == 2 * len(body)


@pytest.mark.parametrize(
    "extra",
    [b"junk", head(2) + b"ok"],
    ids=["junk", "an-unasked-for-response"],
)
async def test_bytes_past_a_body_in_the_same_read_end_the_connection(raw_server, extra):
    # They reach h11 (the fast path takes no more than the body), which
    # finds them past the end of the response: never reused.
    server = await raw_server(serve_in_turn([head(5) + b"hello" + extra]))
    async with asks.Session() as s:
        assert (await s.get(server.url)).content == b"hello"
        assert (s._pool.open, s._pool.idle) == (0, 0)


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(b"HTTP/1.1 100 Continue\r\n\r\n" + head(5) + b"hello", id="after-100"),
        pytest.param(b"HTTP/1.1 200 OK\nContent-Length: 5\n\nhello", id="bare-lf"),
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nhello", id="listed-twice"),
    ],
)
@MODES
async def test_odd_but_valid_heads_give_the_body(raw_server, stream, answer):
    server = await raw_server(serve_each(answer))
    async with asks.Session() as s:
        for _ in range(2):
            assert await fetch(s, server.url, stream=stream) == b"hello"
    assert server.accepted == 1


@pytest.mark.parametrize(
    ("method", "status"),
    [("HEAD", b"200 OK"), ("GET", b"204 No Content"), ("GET", b"304 Not Modified")],
)
async def test_no_body_is_read_where_there_is_none_whatever_the_length_says(
    raw_server, h11_body_events, method, status
):
    async def handler(sock):
        while await read_request(sock) is not None:
            await sock.sendall(b"HTTP/1.1 %s\r\nContent-Length: 5\r\n\r\n" % status)

    server = await raw_server(handler)
    async with asks.Session() as s:
        for _ in range(2):
            r = await s.request(method, server.url)
            assert r.content == b""
        assert (s._pool.open, s._pool.idle) == (1, 1)
    assert server.accepted == 1
    assert h11_body_events == []


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


# --------------------------------------------------------------------------
# Any answer: the fast path and h11 alone agree byte for byte


@contextmanager
def h11_alone() -> Iterator[None]:
    """Every body read through h11: no head split off, no direct reads."""
    with (
        mock.patch.object(_http11, "_HEAD_END", re.compile(b"(?!)")),
        mock.patch.object(HTTP11Connection, "_go_direct", lambda self: False),
    ):
        yield


SECOND = head(2) + b"ok"


def read_all(turns: list[list[bytes]], method: bytes, stream: bool, limit: int | None) -> list:
    """What a caller sees of one connection answering each turn's pieces.

    For each request: the response (status, version, reason, headers, body,
    and whether the pool may reuse the connection) or the asks exception
    the failure becomes. A connection that may not be reused takes no
    further request.
    """
    sock = ScriptedStream(turns)
    conn = HTTP11Connection(sock, None, max_head_size=4096)  # type: ignore[arg-type]
    seen: list = []
    for _ in turns:
        sock.next_turn()
        conn.claim()
        try:
            response, headers = drive(conn.handle(method, b"/", ((b"Host", b"example"),), None))
            if stream:
                body = b""
                while piece := drive(conn.receive_data()):
                    body += piece
            else:
                body = drive(conn.read_all(limit))
        except Blocked:
            seen.append("waits for bytes that never come")
            break
        except Exception as exc:  # what it becomes is compared
            seen.append(type(translate(exc, "test")).__name__)
            break
        # The pool's decision: h11 allowed another cycle (the connection went
        # idle instead of closing), and a poll of the idle socket finds
        # nothing waiting (see HTTP11Connection.has_expired).
        reusable = conn.is_idle() and not sock.is_readable()
        seen.append(
            (
                response.status_code,
                response.http_version,
                response.reason,
                list(headers.items()),
                body,
                reusable,
            )
        )
        if not reusable:
            break
    return seen


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    answer=st.one_of(server_bytes, valid_http(), valid_http().map(lambda a: a + SECOND)),
    junk=st.sampled_from([b"", b"", b"x", b"\r\n", SECOND]),
    cuts=st.lists(st.integers(0, 400), max_size=6),
    second_cuts=st.lists(st.integers(0, 20), max_size=2),
    method=st.sampled_from([b"GET", b"GET", b"HEAD"]),
    stream=st.booleans(),
    limit=st.sampled_from([None, None, 7]),
)
def test_the_fast_path_reads_every_answer_as_h11_alone_does(
    answer, junk, cuts, second_cuts, method, stream, limit
):
    # Two turns: the answer under test (plus whatever junk follows it in its
    # last piece), then a plain answer for a second request, if the first
    # left the connection fit to take one.
    turns = [split(answer, cuts), split(SECOND, second_cuts)]
    if junk:
        turns[0][-1:] = [(turns[0][-1] if turns[0] else b"") + junk]
    fast = read_all(turns, method, stream, limit)
    with h11_alone():
        alone = read_all(turns, method, stream, limit)
    assert fast == alone
    event(fast[0] if isinstance(fast[0], str) else f"status {fast[0][0]}")


@pytest.mark.parametrize(
    "answer",
    [head(5) + b"hello", head(5) + b"hello" + SECOND, b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok"],
    ids=["body", "body-and-more", "bare-lf"],
)
def test_a_head_cut_where_h11_would_not_end_it_still_reads_right(answer):
    # The head is cut off a read by h11's own rule, so h11 takes exactly
    # what it is given. Were the two ever to differ (a later h11), h11
    # would be left holding the body's first bytes; the fast path must then
    # stand aside rather than lose them.
    with mock.patch.object(_http11, "_HEAD_END", re.compile(b"\n\r?\n.", re.DOTALL)):
        late = read_all([[answer], [SECOND]], b"GET", False, None)
    with h11_alone():
        alone = read_all([[answer], [SECOND]], b"GET", False, None)
    assert late == alone
    assert late[0][4] in (b"hello", b"ok")
