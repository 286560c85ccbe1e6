"""HTTP11Connection on a scripted stream: its cycle, its one release, its errors.

No socket and no event loop: ``tests.scripted`` answers from a script and
``drive`` runs each call to the end. The pool is a recorder, so every test
can say how often, and how, the connection gave itself back: exactly once
per cycle, whoever ended it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from asks._transport.http11 import HTTP11Connection
from asks._transport.interfaces import (
    BodyCutShort,
    BodySourceFailed,
    PeerClosedEarly,
    ProtocolViolation,
)
from tests.scripted import Blocked, ScriptedStream, drive

HOST = ((b"Host", b"example"),)
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
CLOSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
CHUNKED = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"


class RecordingPool:
    """Stands in for the pool: what came back, and how."""

    def __init__(self) -> None:
        self.returns: list[str] = []

    async def checkin(self, conn: HTTP11Connection) -> None:
        self.returns.append("checkin")

    async def discard(self, conn: HTTP11Connection) -> None:
        self.returns.append("discard")
        await conn.close()


def connection(*turns: list[bytes], **script: object) -> tuple[HTTP11Connection, RecordingPool]:
    stream = ScriptedStream(list(turns), **script)  # type: ignore[arg-type]
    stream.next_turn()
    pool = RecordingPool()
    conn = HTTP11Connection(stream, "key", 65536, 5.0, pool)  # type: ignore[arg-type]
    return conn, pool


@pytest.mark.parametrize("answer", [OK, CHUNKED], ids=["length", "chunked"])
def test_a_buffered_read_to_the_end_gives_it_back_once(answer):
    conn, pool = connection([answer])
    drive(conn.handle(b"GET", b"/", HOST, None))
    assert drive(conn.read_all()) == b"ok"
    drive(conn.abort())  # a late close of the same response changes nothing
    assert pool.returns == ["checkin"]
    assert conn.is_idle() and not conn.is_closed()


@pytest.mark.parametrize("answer", [OK, CHUNKED], ids=["length", "chunked"])
def test_a_stream_read_to_the_end_gives_it_back_once(answer):
    conn, pool = connection([answer])
    drive(conn.handle(b"GET", b"/", HOST, None))
    body = b""
    while piece := drive(conn.receive_data()):
        body += piece
    drive(conn.abort())
    assert (body, pool.returns) == (b"ok", ["checkin"])


def test_a_stream_closed_early_closes_it_once():
    conn, pool = connection([[b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab"]][0])
    drive(conn.handle(b"GET", b"/", HOST, None))
    assert drive(conn.receive_data()) == b"ab"
    drive(conn.abort())
    drive(conn.abort())
    assert pool.returns == ["discard"]
    assert conn.is_closed()


def test_a_body_cut_short_closes_it_once_and_says_so():
    conn, pool = connection([b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab"], close_after=True)
    drive(conn.handle(b"GET", b"/", HOST, None))
    with pytest.raises(BodyCutShort, match="2 bytes of the body missing"):
        drive(conn.read_all())
    drive(conn.abort())
    assert pool.returns == ["discard"]


def test_a_read_that_fails_while_waiting_closes_it_once():
    # Blocked stands for any failure at an await: a timeout, a cancellation.
    conn, pool = connection([b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab"])
    drive(conn.handle(b"GET", b"/", HOST, None))
    assert drive(conn.receive_data()) == b"ab"
    with pytest.raises(Blocked):
        drive(conn.receive_data())
    drive(conn.abort())
    assert pool.returns == ["discard"]


def test_connection_close_ends_in_a_discard_not_a_checkin():
    conn, pool = connection([CLOSE])
    drive(conn.handle(b"GET", b"/", HOST, None))
    assert drive(conn.read_all()) == b"ok"
    assert pool.returns == ["discard"]


def test_close_after_cycle_serves_the_cycle_then_closes():
    conn, pool = connection([OK])
    drive(conn.handle(b"GET", b"/", HOST, None))
    conn.close_after_cycle()  # the pool closed while this cycle ran
    assert drive(conn.read_all()) == b"ok"
    assert pool.returns == ["discard"]


def test_each_cycle_releases_once():
    conn, pool = connection([OK], [OK])
    for _ in range(2):
        drive(conn.handle(b"GET", b"/", HOST, None))
        assert drive(conn.read_all()) == b"ok"
        conn._stream.next_turn()  # type: ignore[attr-defined]
        conn.claim()
    assert pool.returns == ["checkin", "checkin"]
    assert conn.cycles == 2 and conn.reused


def test_no_byte_back_is_peer_closed_early_before_the_response():
    conn, _ = connection([], close_after=True)
    with pytest.raises(PeerClosedEarly) as info:
        drive(conn.handle(b"GET", b"/", HOST, None))
    assert info.value.before_response
    assert not conn.response_started


def test_a_bad_head_is_a_protocol_violation():
    conn, _ = connection([b"HTTP/1.1 2OO OK\r\n\r\n"])
    with pytest.raises(ProtocolViolation):
        drive(conn.handle(b"GET", b"/", HOST, None))
    assert conn.response_started


# -- an early answer to an upload (RFC 9112 section 9.5) ----------------------

TOO_LARGE = b"HTTP/1.1 413 Content Too Large\r\nContent-Length: 3\r\nConnection: close\r\n\r\nbig"
UPLOAD = b"x" * 100_000
UPLOAD_HEADERS = (*HOST, (b"Content-Length", str(len(UPLOAD)).encode()))


def test_an_answer_before_the_upload_was_read_is_the_response():
    conn, pool = connection([TOO_LARGE], send_limit=1000, close_after=True)
    head, _ = drive(conn.handle(b"POST", b"/", UPLOAD_HEADERS, UPLOAD))
    assert head.status_code == 413
    assert drive(conn.read_all()) == b"big"
    assert pool.returns == ["discard"]  # never reused: the upload was cut off


def test_an_early_answer_to_a_streamed_upload_is_the_response():
    conn, pool = connection([TOO_LARGE], send_limit=1000, close_after=True)

    async def pieces():
        for _ in range(10):
            yield b"y" * 10_000

    head, _ = drive(conn.handle(b"POST", b"/", UPLOAD_HEADERS, None, pieces()))
    assert head.status_code == 413
    assert drive(conn.read_all()) == b"big"
    assert pool.returns == ["discard"]


def test_a_failed_upload_with_no_answer_keeps_the_send_error():
    conn, _ = connection([], send_limit=1000, close_after=True)
    with pytest.raises(BrokenPipeError):
        drive(conn.handle(b"POST", b"/", UPLOAD_HEADERS, UPLOAD))
    assert not conn.response_started  # nothing came back: safe to resend


def test_an_oserror_from_the_body_source_is_not_taken_for_a_failed_send():
    # A file's read raising OSError is the client's failure: no early answer
    # is waited for (the server is still reading the body: a real socket
    # would wait forever, the script raises Blocked), and it is not
    # reported as a dead connection (which may be resent).
    conn, pool = connection([])
    failure = OSError(5, "Input/output error")

    async def pieces():
        yield b"y" * 10
        raise failure

    with pytest.raises(BodySourceFailed) as caught:
        drive(
            conn.handle(b"POST", b"/", (*HOST, (b"Transfer-Encoding", b"chunked")), None, pieces())
        )
    assert caught.value.error is failure
    assert not conn.response_started
    drive(conn.abort())
    assert pool.returns == ["discard"]


# -- the one release site -----------------------------------------------------


def test_the_pool_is_given_connections_back_in_one_place_only():
    # Every checkin and discard of a busy connection goes through
    # HTTP11Connection._release: the session, the stream body and the
    # transport only ever tell the connection (read_all, receive_data,
    # abort). The pool's own housekeeping of idle connections is its own.
    package = Path(__file__).resolve().parents[2] / "asks"
    callers = []
    for path in package.rglob("*.py"):
        if path.name == "pool.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for inner in ast.walk(node):
                    if (
                        isinstance(inner, ast.Call)
                        and isinstance(inner.func, ast.Attribute)
                        and inner.func.attr in ("checkin", "discard")
                        and "pool" in ast.unparse(inner.func.value)
                    ):
                        callers.append((path.name, node.name, inner.func.attr))
    assert sorted(callers) == [
        ("http11.py", "_release", "checkin"),
        ("http11.py", "_release", "discard"),
    ]
