"""StreamBody.text(), lines(), byte_lines() and chunks(size) against a raw server.

The cutting itself is tested split by split in test_lines.py; here: the
pieces are the body's (chunked framing, gzip, the charset), each read is
bounded by ``r.body(timeout=...)``, and the connection goes back to the pool
after a full iteration and is closed after a break, an error or a
cancellation, exactly once.
"""

from __future__ import annotations

import gzip

import curio
import pytest

import asks
from asks.errors import LineTooLong, RequestTimeout, ResponseTooLarge
from tests.servers import canned, read_request


def chunked(*pieces: bytes, headers: bytes = b"") -> bytes:
    """A 200 response whose body is sent in one chunk per piece."""
    body = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces if p) + b"0\r\n\r\n"
    return b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n" + headers + b"\r\n" + body


def sized(body: bytes, headers: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n" % (len(body), headers) + body


# Lines and characters cut by the chunk boundaries: a CR LF split between
# two chunks, a line over three chunks, a euro sign split after its first byte.
EURO = "€".encode()
PIECES = (b"alpha\r", b"\nbe", b"t", b"a\n\n", b"gamma \xe2", EURO[1:] + b"\rdelta\r\n", b"end")
LINES = ["alpha", "beta", "", "gamma €", "delta", "end"]


async def collect(iterator) -> list:
    return [item async for item in iterator]


async def test_lines_of_a_chunked_body(raw_server):
    server = await raw_server(canned(chunked(*PIECES)))
    async with asks.Session(connections=1) as s:
        r = await s.get(server.url, stream=True)
        assert await collect(r.body.lines()) == LINES
        # Read to the end: the connection went back by itself.
        assert s._pool.idle == 1
        r = await s.get(server.url, stream=True)
        assert await collect(r.body.byte_lines()) == [line.encode() for line in LINES]
        assert s._pool.idle == 1
    assert server.accepted == 1


async def test_text_of_a_chunked_body_keeps_split_characters_whole(raw_server):
    server = await raw_server(canned(chunked(*PIECES)))
    async with asks.Session() as s:
        r = await s.get(server.url, stream=True)
        texts = await collect(r.body.text())
        assert "".join(texts) == b"".join(PIECES).decode()
        assert all("\ufffd" not in t for t in texts)


@pytest.mark.parametrize("size", [1, 3, 7, 1000])
async def test_chunks_of_a_chosen_size(raw_server, size):
    data = b"".join(PIECES)
    server = await raw_server(canned(chunked(*PIECES)))
    async with asks.Session(connections=1) as s:
        r = await s.get(server.url, stream=True)
        got = await collect(r.body.chunks(size))
        assert b"".join(got) == data
        assert all(len(c) == size for c in got[:-1])
        assert 1 <= len(got[-1]) <= size
        assert s._pool.idle == 1


async def test_lines_of_a_gzip_body_over_many_reads(raw_server):
    # Big enough to span several socket reads and several decoded pieces.
    lines = [f"line {i} " + "x" * (i % 97) for i in range(20_000)]
    payload = gzip.compress("\r\n".join(lines).encode())
    server = await raw_server(canned(sized(payload, b"Content-Encoding: gzip\r\n")))
    async with asks.Session(connections=1) as s:
        r = await s.get(server.url, stream=True)
        assert await collect(r.body.lines()) == lines
        assert s._pool.idle == 1
        r = await s.get(server.url, stream=True)
        got = await collect(r.body.chunks(4096))
        assert {len(c) for c in got[:-1]} == {4096}
        assert b"".join(got) == "\r\n".join(lines).encode()
    assert server.accepted == 1


async def test_text_uses_the_content_type_charset(raw_server):
    body = "café\nnaïve\n".encode("latin-1")
    server = await raw_server(
        canned(sized(body, b"Content-Type: text/plain; charset=ISO-8859-1\r\n"))
    )
    async with asks.Session() as s:
        r = await s.get(server.url, stream=True)
        assert r.encoding == "iso8859-1"
        assert await collect(r.body.lines()) == ["café", "naïve"]


async def test_text_uses_the_encoding_set_on_the_response_or_given(raw_server):
    body = "ça\n".encode("utf-16")
    server = await raw_server(canned(sized(body)))
    async with asks.Session(encoding="latin-1") as s:
        r = await s.get(server.url, stream=True)
        assert r.encoding == "latin-1"  # the session's: no charset was sent
        r.encoding = "utf-16"
        assert await collect(r.body.lines()) == ["ça"]
        r = await s.get(server.url, stream=True)
        assert "".join(await collect(r.body.text("utf-16"))) == "ça\n"


async def test_undecodable_bytes_are_replaced(raw_server):
    server = await raw_server(canned(sized(b"ok\xff\nbad \xe2\x82")))
    async with asks.Session() as s:
        r = await s.get(server.url, stream=True)
        assert await collect(r.body.lines()) == ["ok\ufffd", "bad \ufffd"]


async def stall_mid_line(sock):
    """Send one line and the start of the next, then nothing more."""
    await read_request(sock)
    await sock.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\none\ntw\r\n")
    await curio.sleep(3600)


@pytest.mark.parametrize("view", ["lines", "byte_lines", "text", "chunks"])
async def test_the_per_read_timeout_bounds_each_read(raw_server, view):
    server = await raw_server(stall_mid_line)
    async with asks.Session(connections=1) as s:
        r = await s.get(server.url, stream=True)
        body = r.body(timeout=0.2)
        iterator = body.chunks(3) if view == "chunks" else getattr(body, view)()
        got = []
        with pytest.raises(RequestTimeout, match=r"no body data within 0\.2 s"):
            # The outer bound only keeps a broken build from hanging.
            async with curio.timeout_after(5):
                async for item in iterator:
                    got.append(item)
        assert (
            got
            == {
                "lines": ["one"],
                "byte_lines": [b"one"],
                "text": ["one\ntw"],
                "chunks": [b"one", b"\ntw"],
            }[view]
        )
        assert s._pool.open == 0


@pytest.mark.parametrize("view", ["lines", "byte_lines", "text", "chunks"])
async def test_break_then_close_closes_the_connection(raw_server, view):
    server = await raw_server(canned(chunked(*PIECES)))
    async with asks.Session(connections=1) as s:
        r = await s.get(server.url, stream=True)
        async with r:
            iterator = r.body.chunks(2) if view == "chunks" else getattr(r.body, view)()
            async for _item in iterator:
                break
        assert s._pool.open == 0
        # The slot was freed: the next request gets a new connection.
        assert (await s.get(server.url)).status_code == 200
    assert server.accepted == 2


async def test_a_line_too_long_is_an_error_and_closes_the_stream(raw_server):
    server = await raw_server(canned(chunked(b"short\n", b"x" * 40, b"x" * 40, b"\nmore\n")))
    async with asks.Session(connections=1) as s:
        r = await s.get(server.url, stream=True)
        got = []
        with pytest.raises(LineTooLong) as info:
            async for line in r.body.lines(max_length=64):
                got.append(line)
        assert got == ["short"]
        assert str(info.value) == f"GET {server.url}/: a line is longer than 64 characters"
        assert isinstance(info.value, ResponseTooLarge)
        assert s._pool.open == 0
        # Iterating a closed stream yields nothing, in every view.
        assert await collect(r.body.lines()) == []
        assert await collect(r.body) == []
        await r.close()  # and closing again is harmless
        assert (await s.get(server.url)).status_code == 200
    assert server.accepted == 2


async def test_the_default_line_limit_is_64_kib(raw_server):
    ok = b"y" * 65536
    server = await raw_server(canned(chunked(ok + b"\n", ok, b"y\n")))
    async with asks.Session() as s:
        r = await s.get(server.url, stream=True)
        lines = r.body.byte_lines()
        assert await lines.__anext__() == ok
        with pytest.raises(LineTooLong, match="longer than 65,536 bytes"):
            await lines.__anext__()
        assert s._pool.open == 0


async def test_a_cancelled_line_reader_frees_the_slot(raw_server):
    server = await raw_server(stall_mid_line)
    async with asks.Session(connections=1) as s:
        r = await s.get(server.url, stream=True)
        got = []

        async def read_lines():
            async for line in r.body.lines():
                got.append(line)

        with pytest.raises(curio.TaskTimeout):
            await curio.timeout_after(0.2, read_lines)
        assert got == ["one"]
        assert s._pool.open == 0


async def test_bad_arguments_are_refused_before_any_read(raw_server):
    server = await raw_server(canned(chunked(*PIECES)))
    async with asks.Session(connections=1) as s:
        r = await s.get(server.url, stream=True)
        with pytest.raises(ValueError, match="size must be at least 1"):
            r.body.chunks(0)
        with pytest.raises(TypeError, match="size must be an int"):
            r.body.chunks(True)
        with pytest.raises(ValueError, match="max_length must be at least 1"):
            r.body.lines(max_length=0)
        with pytest.raises(TypeError, match="max_length must be an int"):
            r.body.byte_lines(max_length=1.5)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="unknown text encoding 'no-such'"):
            r.body.text("no-such")
        r.encoding = "base64"
        with pytest.raises(ValueError, match="not a text encoding"):
            r.body.lines()
        # Nothing was read: the stream still works, and goes back whole.
        r.encoding = "utf-8"
        assert await collect(r.body.lines()) == LINES
        assert s._pool.idle == 1


async def test_module_level_stream_lines_close_the_temporary_session(raw_server):
    server = await raw_server(canned(chunked(*PIECES)))
    r = await asks.get(server.url, stream=True)
    assert await collect(r.body.lines()) == LINES
    r = await asks.get(server.url, stream=True)
    with pytest.raises(LineTooLong):
        await collect(r.body.lines(max_length=3))
    # Both temporary sessions closed with their streams (the fd-leak check
    # would catch a lingering socket).
    assert server.accepted == 2


def count_returns(session: asks.Session) -> list[str]:
    """Record every checkin and discard the session's pool is asked for."""
    pool = session._pool
    returns: list[str] = []
    checkin, discard = pool.checkin, pool.discard

    async def counted_checkin(conn):
        returns.append("checkin")
        await checkin(conn)

    async def counted_discard(conn):
        returns.append("discard")
        await discard(conn)

    pool.checkin = counted_checkin  # type: ignore[method-assign]
    pool.discard = counted_discard  # type: ignore[method-assign]
    return returns


async def _to_the_end(r):
    await collect(r.body.lines())


async def _break(r):
    async for _line in r.body.lines():
        break


async def _too_long(r):
    with pytest.raises(LineTooLong):
        await collect(r.body.lines(max_length=2))


async def _timeout(r):
    with pytest.raises(RequestTimeout):
        await collect(r.body(timeout=0.2).lines())


async def _cancel(r):
    with pytest.raises(curio.TaskTimeout):
        await curio.timeout_after(0.2, collect, r.body.lines())


@pytest.mark.parametrize(
    ("end", "handler", "expected"),
    [
        (_to_the_end, canned(chunked(*PIECES)), ["checkin"]),
        (_break, canned(chunked(*PIECES)), ["discard"]),
        (_too_long, canned(chunked(*PIECES)), ["discard"]),
        (_timeout, stall_mid_line, ["discard"]),
        (_cancel, stall_mid_line, ["discard"]),
    ],
    ids=["end", "break", "error", "timeout", "cancel"],
)
async def test_the_connection_is_released_exactly_once(raw_server, end, handler, expected):
    server = await raw_server(handler)
    async with asks.Session(connections=1) as s:
        returns = count_returns(s)
        r = await s.get(server.url, stream=True)
        async with r:
            await end(r)
        await r.close()
        await r.body.close()
        assert returns == expected
        assert s._pool.open == (1 if expected == ["checkin"] else 0)
