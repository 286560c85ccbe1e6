"""``Expect: 100-continue`` (RFC 9110 section 10.1.1): the body waits for the server's word.

The decision itself (``wait_for_continue``) is fed scripted bytes, whole and one
byte at a time; end to end, raw servers answer ``100 Continue``, a final
status, an interim ``103`` first, or nothing at all, and nginx refuses a large
upload from its head alone.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator

import curio
import h11
import pytest

import asks
from asks._transport import expect_continue
from asks._transport.expect_continue import wait_for_continue
from asks._transport.http11_receive import head_end as _head_end
from asks.auth import PostResponseAuth
from tests.real.nginx import Nginx
from tests.servers import read_request, refusing_expectations

CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
HINTS = b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
REFUSED = b"HTTP/1.1 413 Content Too Large\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbig!"
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
EXPECT = {"Expect": "100-continue"}


# -- the decision, on scripted bytes ------------------------------------------


def _scripted(chunks: list[bytes]) -> tuple[list[bytes], object]:
    fed: list[bytes] = []
    pending = list(chunks)

    async def read() -> bytes:
        if not pending:
            await curio.Event().wait()  # the server says nothing more
        return pending.pop(0)

    return fed, read


def _bytewise(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


@pytest.mark.parametrize("split", [list, _bytewise], ids=["whole", "byte-by-byte"])
@pytest.mark.parametrize(
    ("answer", "send_body"),
    [
        (CONTINUE, True),
        (HINTS + CONTINUE, True),
        (CONTINUE + OK, True),
        (REFUSED, False),
        (HINTS + REFUSED, False),
        (b"HTTP/1.1 417 Expectation Failed\r\n\r\n", False),
        (b"HTTP/1.1 1x0 Odd\r\n\r\n", False),  # h11 will refuse it; the body stays
    ],
    ids=["100", "103-then-100", "100-and-200", "413", "103-then-413", "417", "malformed"],
)
async def test_the_body_goes_on_100_and_stays_on_a_final_answer(split, answer, send_body):
    chunks = [answer] if split is list else _bytewise(answer)
    fed, read = _scripted(chunks)
    assert await wait_for_continue(read, fed.append, _head_end, wait=30) is send_body
    # Every byte read went to the parser, and no more was read than needed.
    assert b"".join(fed) == answer[: len(b"".join(fed))]
    assert b"".join(fed)


async def test_silence_sends_the_body_after_the_wait():
    fed, read = _scripted([])
    assert await wait_for_continue(read, fed.append, _head_end, wait=0.05) is True
    assert fed == []


async def test_an_interim_answer_alone_keeps_waiting_then_the_body_goes():
    fed, read = _scripted([HINTS])
    assert await wait_for_continue(read, fed.append, _head_end, wait=0.1) is True
    assert fed == [HINTS]


async def test_the_end_of_the_stream_keeps_the_body():
    fed, read = _scripted([b"HTTP/1.1 2", b""])
    assert await wait_for_continue(read, fed.append, _head_end, wait=30) is False
    assert fed == [b"HTTP/1.1 2", b""]


# -- end to end, raw servers ---------------------------------------------------


async def _read_head(sock: curio.io.Socket) -> bytes:
    head = b""
    while b"\r\n\r\n" not in head:
        data = await sock.recv(65536)
        assert data, "the client closed before the end of the head"
        head += data
    return head


async def _nothing_within(sock: curio.io.Socket, seconds: float) -> bool:
    """No byte comes from the client within *seconds* (its wait is far longer)."""
    data = await curio.ignore_after(seconds, sock.recv(65536))
    return data is None


@pytest.fixture
def long_wait(monkeypatch):
    # A wait far longer than any test: only the server's answer can release the body.
    monkeypatch.setattr(expect_continue, "CONTINUE_WAIT", 60.0)


async def test_the_body_waits_for_100_continue(raw_server, long_wait):
    seen: dict[str, object] = {}

    async def handler(sock):
        head = await _read_head(sock)
        seen["body_before_100"] = head.split(b"\r\n\r\n", 1)[1]
        seen["silent"] = await _nothing_within(sock, 0.2)
        await sock.sendall(CONTINUE)
        body = b""
        while len(body) < 5000:
            body += await sock.recv(65536)
        seen["body"] = body
        await sock.sendall(OK)

    server = await raw_server(handler)
    async with asks.Session() as s:
        r = await s.post(f"http://127.0.0.1:{server.port}/", data=b"b" * 5000, headers=EXPECT)
    assert (r.status_code, r.text) == (200, "ok")
    assert seen == {"body_before_100": b"", "silent": True, "body": b"b" * 5000}


@pytest.mark.parametrize("kind", ["bytes", "stream"])
async def test_a_final_answer_instead_of_100_keeps_the_body(raw_server, long_wait, kind):
    pulled: list[int] = []

    async def source() -> AsyncIterator[bytes]:
        for n in range(100):
            pulled.append(n)
            yield b"s" * 65536

    received: list[bytes] = []

    async def handler(sock):
        await _read_head(sock)
        await sock.sendall(REFUSED)
        while data := await sock.recv(65536):  # until the client closes
            received.append(data)

    server = await raw_server(handler)
    body = b"x" * (8 << 20) if kind == "bytes" else source()
    async with asks.Session() as s:
        r = await s.post(f"http://127.0.0.1:{server.port}/", data=body, headers=EXPECT)
        assert (r.status_code, r.content) == (413, b"big!")
        assert s._pool.open == 0  # the body was never sent: that connection is done
    assert received == []
    assert pulled == []  # (a stream's source was never started)


async def test_a_body_withheld_by_a_challenge_goes_with_the_authenticated_retry(
    raw_server, long_wait
):
    # The 401 came instead of 100 Continue, so even a one-pass source was
    # never read: the retry the auth object asks for can still send it.
    class Token(PostResponseAuth):
        async def __call__(self, response, request):
            return {"Authorization": "Token yes"}

    async def source() -> AsyncIterator[bytes]:
        yield b"one-"
        yield b"pass"

    heads: list[bytes] = []
    bodies: list[bytes] = []

    async def handler(sock):
        head = await _read_head(sock)
        heads.append(head)
        if b"Authorization" not in head:
            await sock.sendall(
                b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Token\r\n"
                b"Content-Length: 0\r\nConnection: close\r\n\r\n"
            )
            return
        await sock.sendall(CONTINUE)
        body = head.split(b"\r\n\r\n", 1)[1]
        while not body.endswith(b"0\r\n\r\n"):  # chunked, to its last chunk
            body += await sock.recv(65536)
        bodies.append(body)
        await sock.sendall(OK)

    server = await raw_server(handler)
    async with asks.Session() as s:
        r = await s.post(
            f"http://127.0.0.1:{server.port}/", data=source(), headers=EXPECT, auth=Token()
        )
    assert (r.status_code, [h.status_code for h in r.history]) == (200, [401])
    assert len(heads) == 2 and server.accepted == 2
    assert bodies == [b"4\r\none-\r\n4\r\npass\r\n0\r\n\r\n"]


async def test_an_interim_103_then_100_then_the_answer(raw_server, long_wait):
    async def handler(sock):
        await _read_head(sock)
        await sock.sendall(HINTS)
        assert await _nothing_within(sock, 0.1)
        await sock.sendall(CONTINUE)
        assert await sock.recv(65536) == b"hello"
        await sock.sendall(OK)

    server = await raw_server(handler)
    async with asks.Session() as s:
        r = await s.post(f"http://127.0.0.1:{server.port}/", data=b"hello", headers=EXPECT)
        assert (r.status_code, r.text) == (200, "ok")
        # The exchange completed: the connection is kept for the next request.
        assert s._pool.open == 1


async def test_a_server_that_ignores_the_expectation_gets_the_body_after_a_second(raw_server):
    got: list[bytes] = []

    async def handler(sock):
        request = await read_request(sock)
        assert request is not None
        got.append(request[1])
        await sock.sendall(OK)

    server = await raw_server(handler)
    async with asks.Session() as s:
        started = await curio.clock()
        r = await s.post(f"http://127.0.0.1:{server.port}/", data=b"late", headers=EXPECT)
        waited = await curio.clock() - started
    assert (r.status_code, got) == (200, [b"late"])
    assert waited >= expect_continue.CONTINUE_WAIT - 0.05  # it did wait for a word


async def test_without_the_expectation_the_body_goes_with_the_head(raw_server):
    first_reads: list[bytes] = []

    async def handler(sock):
        head = await _read_head(sock)
        first_reads.append(head)
        rest = head.split(b"\r\n\r\n", 1)[1]
        while len(rest) < 4:
            rest += await sock.recv(65536)
        await sock.sendall(OK)

    server = await raw_server(handler)
    async with asks.Session() as s:
        r = await s.post(f"http://127.0.0.1:{server.port}/", data=b"body")
    assert r.status_code == 200
    assert first_reads[0].endswith(b"\r\n\r\nbody")  # one write: head and body


# -- a real server -------------------------------------------------------------


@pytest.mark.parametrize("listener", ["http", "tls"])
async def test_nginx_refuses_a_large_upload_from_its_head_and_the_body_stays(
    nginx: Nginx, client_ssl_context: ssl.SSLContext, listener: str, long_wait
):
    events: list[str] = []
    async with asks.Session(
        ssl_context=client_ssl_context, trace=lambda event, info: events.append(event)
    ) as s:
        r = await s.post(
            nginx.url(listener, "/small-uploads/expect"), data=b"x" * (8 << 20), headers=EXPECT
        )
        assert r.status_code == 413
        assert "request.sent" not in events  # (only the head went out)
        ok = await s.post(nginx.url(listener, "/echo/expect"), data=b"small", headers=EXPECT)
        assert ok.status_code == 200
        assert ok.text.startswith("POST ")


# -- 417 Expectation Failed: the request again, without the expectation --------

EXPECTATION_FAILED = (
    b"HTTP/1.1 417 Expectation Failed\r\nContent-Length: 4\r\nConnection: close\r\n\r\nnope"
)


def _expectation_refuser(
    heads: list[h11.Request], bodies: list[bytes], *, continue_first: bool = False
):
    """A server that answers a request with an expectation 417 (on its head alone,
    or after 100 Continue and the body), and any other with 200 and its body."""

    async def answer(sock):
        await sock.sendall(OK)

    return refusing_expectations(
        EXPECTATION_FAILED, answer, continue_first=continue_first, heads=heads, bodies=bodies
    )


async def _one_shot(pulled: list[int]) -> AsyncIterator[bytes]:
    for n in range(2):
        pulled.append(n)
        yield b"part%d" % n


@pytest.mark.parametrize("kind", ["bytes", "file", "stream"])
async def test_a_417_to_an_expectation_is_repeated_without_it(
    raw_server, long_wait, tmp_path, kind
):
    heads: list[h11.Request] = []
    bodies: list[bytes] = []
    server = await raw_server(_expectation_refuser(heads, bodies))
    pulled: list[int] = []
    path = tmp_path / "upload"
    path.write_bytes(b"part0part1")
    requests: list[str] = []
    responses: list[int] = []
    events: list[str] = []

    async def on_request(request):
        requests.append(request.headers.get("Expect", "-"))

    async def on_response(response):
        responses.append(response.status_code)

    with open(path, "rb") as f:  # noqa: ASYNC230 - a local file; sent as data
        body = b"part0part1" if kind == "bytes" else f if kind == "file" else _one_shot(pulled)
        async with asks.Session(
            event_hooks={"request": [on_request], "response": [on_response]},
            trace=lambda event, info: events.append(event),
            headers=EXPECT,  # a session's own expectation: dropped for this call only
        ) as s:
            r = await s.post(f"http://127.0.0.1:{server.port}/", data=body)
            assert s.headers["Expect"] == "100-continue"
    assert (r.status_code, r.text) == (200, "ok")
    assert [(h.status_code, h.content) for h in r.history] == [(417, b"nope")]
    assert [dict(h.headers).get(b"expect") for h in heads] == [b"100-continue", None]
    assert bodies == [b"part0part1"]  # sent once: the first request's body stayed
    assert pulled == ([0, 1] if kind == "stream" else [])
    assert server.accepted == 2  # the 417 closed its connection
    # Hooks and the tracer see two requests.
    assert requests == ["100-continue", "-"]
    assert responses == [417, 200]
    assert events.count("request.start") == 2


async def test_a_417_after_a_one_shot_body_was_sent_is_the_response(raw_server, long_wait):
    # The server took the body (100 Continue) and then refused the
    # expectation: the source is spent, so there is nothing to send again.
    heads: list[h11.Request] = []
    bodies: list[bytes] = []
    server = await raw_server(_expectation_refuser(heads, bodies, continue_first=True))
    pulled: list[int] = []
    async with asks.Session() as s:
        r = await s.post(
            f"http://127.0.0.1:{server.port}/", data=_one_shot(pulled), headers=EXPECT
        )
    assert (r.status_code, r.content, r.history) == (417, b"nope", [])
    assert len(heads) == 1 and bodies == [b"part0part1"]


async def test_a_417_with_a_replayable_body_already_sent_is_repeated(raw_server, long_wait):
    heads: list[h11.Request] = []
    bodies: list[bytes] = []
    server = await raw_server(_expectation_refuser(heads, bodies, continue_first=True))
    async with asks.Session() as s:
        r = await s.post(f"http://127.0.0.1:{server.port}/", data=b"again", headers=EXPECT)
    assert (r.status_code, [h.status_code for h in r.history]) == (200, [417])
    assert bodies == [b"again", b"again"]


async def test_a_417_is_repeated_once_and_only_to_an_expectation(raw_server, long_wait):
    # Without the expectation a 417 is an answer like any other; a server
    # that answers 417 to everything gets the request twice, not more.
    heads: list[bytes | None] = []

    async def handler(sock):
        conn = h11.Connection(h11.SERVER)
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(await sock.recv(65536))
            elif type(event) is h11.Request:
                heads.append(dict(event.headers).get(b"expect"))
                if conn.they_are_waiting_for_100_continue:
                    break
            elif type(event) is h11.EndOfMessage:
                break
        await sock.sendall(EXPECTATION_FAILED)

    server = await raw_server(handler)
    async with asks.Session() as s:
        r = await s.post(f"http://127.0.0.1:{server.port}/", data=b"x")
        assert (r.status_code, r.history, heads) == (417, [], [None])
        heads.clear()
        r = await s.post(f"http://127.0.0.1:{server.port}/", data=b"x", headers=EXPECT)
        assert (r.status_code, [h.status_code for h in r.history]) == (417, [417])
        assert heads == [b"100-continue", None]
