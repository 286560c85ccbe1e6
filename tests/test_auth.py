"""Auth end to end: Basic and Digest against httpbin, custom auth, sharing."""

from __future__ import annotations

import curio
import pytest

import asks
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
