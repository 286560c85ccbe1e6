"""Auth end to end: Basic and Digest against httpbin, custom auth, sharing."""

from __future__ import annotations

import curio
import pytest

import asks
from asks._call_loop import _PASSED_BODY_LIMIT
from asks.auth import AuthRequest, PostResponseAuth, PreResponseAuth
from tests.servers import read_request


async def test_basic_auth_against_httpbin(httpbin):
    r = await asks.get(
        httpbin.url + "/basic-auth/alice/s3cret", auth=asks.BasicAuth(("alice", "s3cret"))
    )
    assert r.status_code == 200
    assert r.json() == {"authenticated": True, "user": "alice"}


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256"])
@pytest.mark.parametrize("qop", ["auth", "auth-int"])
async def test_digest_auth_against_httpbin(httpbin, qop, algorithm):
    url = f"{httpbin.url}/digest-auth/{qop}/bob/pw/{algorithm}"
    async with asks.Session() as s:
        r = await s.get(url, auth=asks.DigestAuth(("bob", "pw")))
        assert r.status_code == 200, r.text
        assert r.json() == {"authenticated": True, "user": "bob"}
        # The challenge is kept in the history.
        assert [h.status_code for h in r.history] == [401]


async def test_wrong_digest_password_returns_the_second_401(httpbin):
    r = await asks.get(
        httpbin.url + "/digest-auth/auth/bob/pw", auth=asks.DigestAuth(("bob", "no"))
    )
    assert r.status_code == 401
    assert len(r.history) == 1  # exactly one retry


async def test_one_digest_object_shared_by_concurrent_requests(httpbin):
    auth = asks.DigestAuth(("carol", "pw"))
    results = []
    async with asks.Session(httpbin.url, connections=5) as s:

        async def one():
            r = await s.get(path="/digest-auth/auth/carol/pw", auth=auth)
            results.append(r.status_code)

        async with curio.TaskGroup() as g:
            for _ in range(10):
                await g.spawn(one)
    assert results == [200] * 10


async def test_custom_pre_and_post_response_auth(raw_server):
    seen = []

    async def handler(sock):
        while (got := await read_request(sock)) is not None:
            headers = dict(got[0].headers)
            seen.append(headers.get(b"x-token"))
            if headers.get(b"x-token") == b"second":
                await sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            else:
                await sock.sendall(b"HTTP/1.1 401 No\r\nContent-Length: 0\r\n\r\n")

    class Token(PreResponseAuth):
        async def __call__(self, request: AuthRequest) -> dict[str, str]:
            assert request.method == "GET"
            return {"X-Token": "first"}

    class Retry(PostResponseAuth):
        async def __call__(self, response, request: AuthRequest) -> dict[str, str] | None:
            assert response.status_code == 401
            return {"X-Token": "second"}

    server = await raw_server(handler)
    assert (await asks.get(server.url, auth=Token())).status_code == 401
    r = await asks.get(server.url, auth=Retry())
    assert r.status_code == 200
    assert seen == [b"first", None, b"second"]


async def test_digest_challenge_after_a_same_origin_redirect_is_answered(raw_server):
    # /a needs Digest and, once authenticated, redirects to /a/ (the
    # trailing-slash redirect of a protected directory), which challenges
    # again: each request of the chain gets its own one answer.
    challenge = (
        b'HTTP/1.1 401 No\r\nWWW-Authenticate: Digest realm="r", nonce="n", qop="auth"\r\n'
        b"Content-Length: 0\r\n\r\n"
    )
    seen = []

    async def handler(sock):
        while (got := await read_request(sock)) is not None:
            req = got[0]
            authorization = dict(req.headers).get(b"authorization")
            seen.append((req.target, authorization is not None))
            if authorization is None:
                await sock.sendall(challenge)
            elif req.target == b"/a":
                await sock.sendall(
                    b"HTTP/1.1 301 Moved\r\nLocation: /a/\r\nContent-Length: 0\r\n\r\n"
                )
            else:
                assert b'uri="/a/"' in authorization
                await sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")

    server = await raw_server(handler)
    r = await asks.get(server.url + "/a", auth=asks.DigestAuth(("u", "p")))
    assert r.status_code == 200
    assert [h.status_code for h in r.history] == [401, 301, 401]
    assert seen == [(b"/a", False), (b"/a", True), (b"/a/", False), (b"/a/", True)]


async def test_a_server_that_challenges_every_answer_is_answered_once_per_request(raw_server):
    # Bounded: one auth retry per request, and redirects by max_redirects.
    seen = []

    async def handler(sock):
        while (got := await read_request(sock)) is not None:
            req = got[0]
            authorization = dict(req.headers).get(b"authorization")
            seen.append(authorization is not None)
            if authorization is None:
                await sock.sendall(
                    b'HTTP/1.1 401 No\r\nWWW-Authenticate: Digest realm="r", nonce="n"\r\n'
                    b"Content-Length: 0\r\n\r\n"
                )
            else:
                await sock.sendall(
                    b"HTTP/1.1 302 Found\r\nLocation: /again\r\nContent-Length: 0\r\n\r\n"
                )

    server = await raw_server(handler)
    with pytest.raises(asks.errors.TooManyRedirects):
        await asks.get(server.url + "/", auth=asks.DigestAuth(("u", "p")), max_redirects=3)
    assert seen == [False, True] * 4


async def _declined_challenge_server(raw_server, connections):
    # A 401 offering only Basic, its body gzipped: DigestAuth cannot answer it.
    import gzip

    body = gzip.compress(b"basic only, sorry")

    async def handler(sock):
        connections.append(sock)
        while await read_request(sock) is not None:
            await sock.sendall(
                b'HTTP/1.1 401 No\r\nWWW-Authenticate: Basic realm="r"\r\n'
                b"Content-Encoding: gzip\r\nSet-Cookie: seen=1\r\n"
                b"Content-Length: %d\r\n\r\n" % len(body) + body
            )

    return await raw_server(handler)


async def test_a_declined_challenge_is_a_stream_response_when_a_stream_was_asked(raw_server):
    # The 401 is read whole to be shown to the auth object; declined, it is
    # the final response all the same, and a streamed call gets a stream.
    connections: list[object] = []
    server = await _declined_challenge_server(raw_server, connections)
    async with asks.Session() as s:
        r = await s.get(server.url, auth=asks.DigestAuth(("u", "p")), stream=True)
        assert isinstance(r, asks.StreamResponse)
        assert r.status_code == 401
        assert r.history == []
        assert [c.name for c in r.cookies] == ["seen"]
        chunks = [chunk async for chunk in r.body]
        assert b"".join(chunks) == b"basic only, sorry"
        # The connection went back when the challenge was read: it serves the next.
        r = await s.get(server.url, auth=asks.DigestAuth(("u", "p")), stream=True)
        async with r:
            assert isinstance(r, asks.StreamResponse)
            r.body.decompress_data = False
            raw = b"".join([chunk async for chunk in r.body])
        assert raw[:2] == b"\x1f\x8b"  # as received, as a socket's stream gives it
    assert len(connections) == 1


async def test_a_declined_challenge_goes_to_the_callback_when_one_was_given(raw_server):
    got = []

    async def callback(chunk: bytes) -> None:
        got.append(chunk)

    server = await _declined_challenge_server(raw_server, [])
    r = await asks.get(server.url, auth=asks.DigestAuth(("u", "p")), callback=callback)
    assert r.status_code == 401
    assert b"".join(got) == b"basic only, sorry"
    assert r.body == b""  # as any response whose body went to a callback


async def test_a_401_without_auth_is_a_stream_response_when_a_stream_was_asked(raw_server):
    server = await _declined_challenge_server(raw_server, [])
    async with await asks.get(server.url, stream=True) as r:
        assert isinstance(r, asks.StreamResponse)
        assert r.status_code == 401
        assert b"".join([chunk async for chunk in r.body]) == b"basic only, sorry"


# A declined (or answered) challenge whose body is past the bound a streamed
# call reads of a passed response (_PASSED_BODY_LIMIT): the auth object sees
# an empty body, as any passed response past it; the caller, if it is the
# final response, gets every byte the server sent.
_BIG = bytes(range(256)) * ((_PASSED_BODY_LIMIT + 300_000) // 256)


class _BigChallenge:
    """Answers a 401 with a body of _BIG bytes (Basic only, so DigestAuth declines),
    or 200 "ok" to a request that carries X-Token; keep-alive."""

    def __init__(self, framing: str) -> None:
        self.framing = framing
        self.connections = 0

    async def __call__(self, sock) -> None:
        self.connections += 1
        while (got := await read_request(sock)) is not None:
            if b"x-token" in dict(got[0].headers):
                await sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                continue
            head = b'HTTP/1.1 401 No\r\nWWW-Authenticate: Basic realm="r"\r\n'
            if self.framing == "length":
                await sock.sendall(head + b"Content-Length: %d\r\n\r\n" % len(_BIG) + _BIG)
                continue
            await sock.sendall(head + b"Transfer-Encoding: chunked\r\n\r\n")
            for start in range(0, len(_BIG), 0x10000):
                piece = _BIG[start : start + 0x10000]
                await sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
            await sock.sendall(b"0\r\n\r\n")


FRAMINGS = pytest.mark.parametrize("framing", ["length", "chunked"])


@FRAMINGS
async def test_a_declined_challenge_past_the_bound_streams_its_whole_body(raw_server, framing):
    handler = _BigChallenge(framing)
    server = await raw_server(handler)
    async with asks.Session() as s:
        r = await s.get(server.url, auth=asks.DigestAuth(("u", "p")), stream=True, timeout=30)
        assert isinstance(r, asks.StreamResponse)
        assert (r.status_code, r.history) == (401, [])
        body = b"".join([chunk async for chunk in r.body(timeout=30)])
        assert len(body) == len(_BIG)
        assert body == _BIG
        # Read to its end, the connection went back to the pool, once.
        assert (s._pool.open, s._pool.idle) == (1, 1)
        r = await s.get(server.url, auth=asks.DigestAuth(("u", "p")), stream=True, timeout=30)
        async with r:
            assert b"".join([chunk async for chunk in r.body(timeout=30)]) == _BIG
        assert (s._pool.open, s._pool.idle) == (1, 1)
    assert handler.connections == 1


@FRAMINGS
async def test_a_declined_challenge_past_the_bound_gives_its_whole_body_to_the_callback(
    raw_server, framing
):
    got = bytearray()

    async def callback(chunk: bytes) -> None:
        got.extend(chunk)

    handler = _BigChallenge(framing)
    server = await raw_server(handler)
    async with asks.Session() as s:
        r = await s.get(server.url, auth=asks.DigestAuth(("u", "p")), callback=callback)
        assert (r.status_code, r.body) == (401, b"")
        assert bytes(got) == _BIG
        assert (s._pool.open, s._pool.idle) == (1, 1)
    assert handler.connections == 1


async def test_a_declined_challenge_past_the_bound_is_read_whole_when_buffered(raw_server):
    # No bound on a buffered call's challenge but max_body_size (None here).
    handler = _BigChallenge("length")
    server = await raw_server(handler)
    async with asks.Session() as s:
        r = await s.get(server.url, auth=asks.DigestAuth(("u", "p")))
        assert (r.status_code, r.body) == (401, _BIG)
        assert (s._pool.open, s._pool.idle) == (1, 1)


async def test_a_declined_challenge_past_the_bound_closed_early_closes_its_connection(
    raw_server,
):
    handler = _BigChallenge("length")
    server = await raw_server(handler)
    async with asks.Session() as s:
        async with await s.get(server.url, auth=asks.DigestAuth(("u", "p")), stream=True) as r:
            first = await r.body.__anext__()
            assert _BIG.startswith(first)
        # The rest was never read: the connection is closed, its slot free.
        assert (s._pool.open, s._pool.idle) == (0, 0)
        r = await s.get(server.url, auth=asks.DigestAuth(("u", "p")))
        assert r.body == _BIG
        assert (s._pool.open, s._pool.idle) == (1, 1)
    assert handler.connections == 2


class _Token(PostResponseAuth):
    """Answers a challenge with X-Token, after noting the body it was shown."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, response, request: AuthRequest) -> dict[str, str] | None:
        self.bodies.append(response.body)
        return {"X-Token": "t"}


async def test_an_answered_challenge_past_the_bound_is_dropped_with_its_connection(raw_server):
    # Answered, the challenge is history: past the bound its body is
    # dropped, as any passed response's, and its connection closed (the
    # rest could take any time to read); the retry goes on a new one.
    handler = _BigChallenge("length")
    server = await raw_server(handler)
    auth = _Token()
    async with asks.Session() as s:
        async with await s.get(server.url, auth=auth, stream=True, timeout=30) as r:
            assert r.status_code == 200
            assert b"".join([chunk async for chunk in r.body]) == b"ok"
        assert auth.bodies == [b""]
        assert [(h.status_code, h.body) for h in r.history] == [(401, b"")]
        assert (s._pool.open, s._pool.idle) == (1, 1)
    assert handler.connections == 2


class _Refusal(Exception):
    pass


@pytest.mark.parametrize("where", ["auth", "hook"])
async def test_a_challenge_past_the_bound_is_closed_when_its_auth_or_hook_raises(
    raw_server, where
):
    # The rest of the body is still in the connection while the auth object
    # (and a response hook) look at the challenge: their failure must not
    # keep it open.
    class Raising(PostResponseAuth):
        async def __call__(self, response, request: AuthRequest) -> dict[str, str] | None:
            raise _Refusal

    async def hook(response) -> None:
        if response.status_code == 401:
            raise _Refusal

    handler = _BigChallenge("length")
    server = await raw_server(handler)
    auth = Raising() if where == "auth" else asks.DigestAuth(("u", "p"))
    hooks = {"response": [hook]} if where == "hook" else None
    async with asks.Session(event_hooks=hooks) as s:
        with pytest.raises(_Refusal):
            await s.get(server.url, auth=auth, stream=True, timeout=30)
        assert (s._pool.open, s._pool.idle) == (0, 0)


async def test_a_declined_challenge_past_max_body_size_streams_its_whole_body_decoded(
    raw_server,
):
    # max_body_size bounds a passed response of a streamed call when it is
    # smaller than _PASSED_BODY_LIMIT; the stream itself has no bound, and
    # a gzipped body is undone across what was held and what was not.
    import gzip
    import random

    text = random.Random(7).randbytes(20_000)
    body = gzip.compress(text)

    async def handler(sock):
        while await read_request(sock) is not None:
            await sock.sendall(
                b'HTTP/1.1 401 No\r\nWWW-Authenticate: Basic realm="r"\r\n'
                b"Content-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(body) + body
            )

    server = await raw_server(handler)
    async with asks.Session(max_body_size=1000) as s:
        r = await s.get(server.url, auth=asks.DigestAuth(("u", "p")), stream=True)
        assert b"".join([chunk async for chunk in r.body]) == text
        assert (s._pool.open, s._pool.idle) == (1, 1)
        # Buffered, max_body_size is the final response's limit, as ever.
        with pytest.raises(asks.errors.ResponseTooLarge):
            await s.get(server.url, auth=asks.DigestAuth(("u", "p")))
