"""Over HTTP/2, everything the library does over HTTP/1.1 works the same.

httpbin under hypercorn, TLS with ALPN h2 (fixture ``httpbin_h2``), and the
app of tests/real/_h2_app.py under hypercorn (``hypercorn_h2``): redirects,
Basic and Digest auth (the retry after the challenge), cookies, decoding,
every kind of body, ``stream=True`` with per-read timeouts, the whole-call
timeout, ``callback``, the size limits, hooks, and the error classes. Each
test also checks the response came over h2, on one connection.
"""

from __future__ import annotations

import json
import ssl
from typing import Any

import curio
import pytest

import asks
from asks._call_loop import _PASSED_BODY_LIMIT
from asks.errors import BadStatus, RequestTimeout, ResponseTooLarge
from asks.multipart import MultipartData
from tests.real._h2_app import pattern
from tests.real.h2_fixtures import SMALL
from tests.real.hypercorn import Hypercorn
from tests.real.nginx import Nginx
from tests.servers import HttpbinProcess

CALL_TIMEOUT = 20
# Past one call's CALL_TIMEOUT (the default deadline is 20 s): a hung call
# fails its test with RequestTimeout naming the request, not the deadline.
pytestmark = pytest.mark.curio_timeout(CALL_TIMEOUT + 30)


@pytest.fixture
async def h2s(client_ssl_context: ssl.SSLContext) -> Any:
    async with asks.Session(http2=True, ssl_context=client_ssl_context) as session:
        yield session
        # Every test here runs on a connection per origin, idle at its end.
        stats = session.pool_stats()
        assert (stats.busy, stats.waiting) == (0, 0), stats
        assert stats.open == stats.idle >= 1, stats


async def test_redirects_follow_over_one_h2_connection(
    h2s: asks.Session, httpbin_h2: HttpbinProcess
) -> None:
    r = await h2s.get(httpbin_h2.url + "/redirect/3", timeout=CALL_TIMEOUT)
    assert r.status_code == 200
    assert [h.status_code for h in r.history] == [302, 302, 302]
    assert {h.http_version for h in r.history} | {r.http_version} == {"2"}
    assert r.json()["url"].endswith("/get")


async def test_a_post_redirected_by_303_becomes_a_get(
    h2s: asks.Session, httpbin_h2: HttpbinProcess
) -> None:
    url = httpbin_h2.url + "/redirect-to?url=/get&status_code=303"
    r = await h2s.post(url, data=b"payload", timeout=CALL_TIMEOUT)
    assert (r.status_code, r.http_version, r.history[0].status_code) == (200, "2", 303)


async def test_basic_auth(h2s: asks.Session, httpbin_h2: HttpbinProcess) -> None:
    url = httpbin_h2.url + "/basic-auth/alice/s3cret"
    r = await h2s.get(url, auth=asks.BasicAuth(("alice", "s3cret")), timeout=CALL_TIMEOUT)
    assert (r.status_code, r.http_version) == (200, "2")
    assert r.json() == {"authenticated": True, "user": "alice"}


async def test_digest_auth_answers_the_challenge_on_the_same_connection(
    h2s: asks.Session, httpbin_h2: HttpbinProcess
) -> None:
    url = httpbin_h2.url + "/digest-auth/auth/bob/pw"
    r = await h2s.get(url, auth=asks.DigestAuth(("bob", "pw")), timeout=CALL_TIMEOUT)
    assert (r.status_code, r.http_version) == (200, "2")
    assert [h.status_code for h in r.history] == [401]
    assert r.json()["authenticated"] is True


async def test_concurrent_digest_auth_requests_share_one_auth_object(
    h2s: asks.Session, httpbin_h2: HttpbinProcess
) -> None:
    auth = asks.DigestAuth(("carol", "pw"))
    url = httpbin_h2.url + "/digest-auth/auth/carol/pw"
    async with curio.TaskGroup() as group:
        tasks = [
            await group.spawn(h2s.get(url, auth=auth, timeout=CALL_TIMEOUT)) for _ in range(10)
        ]
    assert [t.result.status_code for t in tasks] == [200] * 10


async def test_persisted_cookies_go_back_over_h2(
    client_ssl_context: ssl.SSLContext, httpbin_h2: HttpbinProcess
) -> None:
    async with asks.Session(http2=True, ssl_context=client_ssl_context, persist_cookies=True) as s:
        await s.get(httpbin_h2.url + "/cookies/set?flavour=oat", timeout=CALL_TIMEOUT)
        r = await s.get(httpbin_h2.url + "/cookies", timeout=CALL_TIMEOUT)
    assert r.http_version == "2"
    assert r.json() == {"cookies": {"flavour": "oat"}}


async def test_cookies_given_per_call_are_sent(
    h2s: asks.Session, httpbin_h2: HttpbinProcess
) -> None:
    r = await h2s.get(httpbin_h2.url + "/cookies", cookies={"a": "1", "b": "2"})
    assert r.json() == {"cookies": {"a": "1", "b": "2"}}


@pytest.mark.parametrize("coding", ["gzip", "deflate", "brotli"])
async def test_compressed_bodies_are_decoded(
    coding: str, h2s: asks.Session, httpbin_h2: HttpbinProcess
) -> None:
    r = await h2s.get(f"{httpbin_h2.url}/{coding}", timeout=CALL_TIMEOUT)
    assert (r.status_code, r.http_version) == (200, "2")
    assert r.json()[{"gzip": "gzipped", "deflate": "deflated", "brotli": "brotli"}[coding]]


async def test_json_form_and_multipart_bodies(
    h2s: asks.Session, httpbin_h2: HttpbinProcess
) -> None:
    url = httpbin_h2.url + "/post"
    r = await h2s.post(url, json={"n": 1, "s": "ü"}, timeout=CALL_TIMEOUT)
    assert r.json()["json"] == {"n": 1, "s": "ü"}
    r = await h2s.post(url, data={"field": "value"}, timeout=CALL_TIMEOUT)
    assert r.json()["form"] == {"field": "value"}
    r = await h2s.post(
        url,
        multipart={
            "note": "hi",
            "file": MultipartData(b"\x00\x01", "application/octet-stream", "a.bin"),
        },
        timeout=CALL_TIMEOUT,
    )
    sent = r.json()
    assert sent["form"] == {"note": "hi"}
    assert "file" in sent["files"]


async def test_head_put_patch_delete_and_options(
    h2s: asks.Session, httpbin_h2: HttpbinProcess, nginx_h2: Nginx, hypercorn_h2: Hypercorn
) -> None:
    # HEAD: nginx (hypercorn's WSGI adapter fails HEAD over h2 with a 500).
    head = await h2s.head(nginx_h2.url("h2", "/files/small"), timeout=CALL_TIMEOUT)
    assert (head.status_code, head.http_version, head.content) == (200, "2", b"")
    assert head.headers["content-length"] == str(len(SMALL))
    for verb in ("put", "patch", "delete"):
        r = await getattr(h2s, verb)(f"{httpbin_h2.url}/{verb}", data=b"x", timeout=CALL_TIMEOUT)
        assert (r.status_code, r.http_version, r.json()["data"]) == (200, "2", "x")
    # OPTIONS: the ASGI app (hypercorn's WSGI adapter fails it over h2 too).
    r = await h2s.options(hypercorn_h2.url("/version"), timeout=CALL_TIMEOUT)
    assert (r.status_code, r.http_version, r.content) == (200, "2", b"2")


async def test_headers_are_sent_lower_case_with_host_as_authority(
    h2s: asks.Session, httpbin_h2: HttpbinProcess
) -> None:
    r = await h2s.get(
        httpbin_h2.url + "/headers",
        headers={"X-Custom": "yes", "Connection": "keep-alive", "Keep-Alive": "5", "TE": "gzip"},
        timeout=CALL_TIMEOUT,
    )
    seen = {name.lower(): value for name, value in r.json()["headers"].items()}
    assert seen["x-custom"] == "yes"
    assert seen["host"] == httpbin_h2.url.split("//")[1]
    # RFC 9113 section 8.2.2: connection-specific fields are not sent.
    assert "connection" not in seen and "keep-alive" not in seen and "te" not in seen


async def test_a_header_value_with_a_newline_is_refused_before_sending(
    h2s: asks.Session, httpbin_h2: HttpbinProcess
) -> None:
    with pytest.raises(ValueError, match="header"):
        await h2s.get(httpbin_h2.url + "/get", headers={"X-Bad": "a\r\nInjected: 1"})
    r = await h2s.get(httpbin_h2.url + "/get", timeout=CALL_TIMEOUT)
    assert r.status_code == 200


async def test_raise_for_status_and_status_codes(
    h2s: asks.Session, httpbin_h2: HttpbinProcess
) -> None:
    r = await h2s.get(httpbin_h2.url + "/status/418", timeout=CALL_TIMEOUT)
    assert (r.status_code, r.http_version) == (418, "2")
    with pytest.raises(BadStatus):
        r.raise_for_status()


async def test_stream_true_reads_in_chunks_with_a_per_read_timeout(
    h2s: asks.Session, hypercorn_h2: Hypercorn
) -> None:

    r = await h2s.get(hypercorn_h2.url("/bytes/300000"), stream=True, timeout=CALL_TIMEOUT)
    assert r.http_version == "2"
    received = b""
    async for chunk in r.body(timeout=5):
        received += chunk
    assert received == pattern(300000)


async def test_a_per_read_timeout_ends_a_stalled_stream_and_the_connection_goes_on(
    h2s: asks.Session, hypercorn_h2: Hypercorn
) -> None:
    r = await h2s.get(hypercorn_h2.url("/delay/0"), stream=True, timeout=CALL_TIMEOUT)
    async with r:
        assert r.status_code == 200
    slow = await h2s.get(hypercorn_h2.url("/stall/3000"), stream=True, timeout=CALL_TIMEOUT)
    received = []
    # hypercorn sends the head and the first chunk in two writes, which a
    # loaded machine may space out: the first chunk gets a read bound it
    # cannot miss, and the 0.2 s bound starts with the stall (3 s).
    async for chunk in slow.body(timeout=CALL_TIMEOUT):
        received.append(chunk)
        break
    with pytest.raises(RequestTimeout):
        async for chunk in slow.body(timeout=0.2):
            received.append(chunk)
    assert received == [b"first"]
    await slow.body.close()
    again = await h2s.get(hypercorn_h2.url("/version"), timeout=CALL_TIMEOUT)
    assert again.content == b"2"


async def test_the_whole_call_timeout_ends_one_stream_not_the_connection(
    h2s: asks.Session, hypercorn_h2: Hypercorn
) -> None:
    with pytest.raises(RequestTimeout):
        await h2s.get(hypercorn_h2.url("/delay/3000"), timeout=0.3)
    r = await h2s.get(hypercorn_h2.url("/version"), timeout=CALL_TIMEOUT)
    assert r.content == b"2"


async def test_callback_gets_every_chunk(h2s: asks.Session, hypercorn_h2: Hypercorn) -> None:

    chunks: list[bytes] = []

    async def keep(chunk: bytes) -> None:
        chunks.append(chunk)

    r = await h2s.get(hypercorn_h2.url("/bytes/200000"), callback=keep, timeout=CALL_TIMEOUT)
    assert r.status_code == 200
    assert b"".join(chunks) == pattern(200000)


async def test_a_declined_challenge_past_the_bound_streams_its_whole_h2_body(
    h2s: asks.Session, hypercorn_h2: Hypercorn
) -> None:
    # The challenge's stream is read up to the bound for the auth object,
    # then (declined) the caller reads the rest of the same stream.
    size = _PASSED_BODY_LIMIT + 300_000
    url = hypercorn_h2.url(f"/challenge/{size}")
    auth = asks.DigestAuth(("u", "p"))
    r = await h2s.get(url, auth=auth, stream=True, timeout=CALL_TIMEOUT)
    assert (r.status_code, r.http_version, r.history) == (401, "2", [])
    body = b"".join([chunk async for chunk in r.body(timeout=CALL_TIMEOUT)])
    assert body == pattern(size)
    # Closed early, the stream is reset; the connection serves the next.
    async with await h2s.get(url, auth=auth, stream=True, timeout=CALL_TIMEOUT) as r:
        assert pattern(size).startswith(await r.body.__anext__())
    stats = h2s.pool_stats()
    assert (stats.open, stats.busy) == (1, 0), stats


async def test_max_body_size_bounds_an_h2_body(
    client_ssl_context: ssl.SSLContext, hypercorn_h2: Hypercorn
) -> None:
    async with asks.Session(
        http2=True, ssl_context=client_ssl_context, max_body_size=100_000
    ) as s:
        with pytest.raises(ResponseTooLarge):
            await s.get(hypercorn_h2.url("/bytes/1000000"), timeout=CALL_TIMEOUT)
        r = await s.get(hypercorn_h2.url("/bytes/1000"), timeout=CALL_TIMEOUT)
        assert len(r.content) == 1000
        assert s.pool_stats().open == 1


async def test_max_decoded_size_bounds_a_decoded_h2_body(
    client_ssl_context: ssl.SSLContext, httpbin_h2: HttpbinProcess
) -> None:
    async with asks.Session(http2=True, ssl_context=client_ssl_context, max_decoded_size=100) as s:
        r = await s.get(httpbin_h2.url + "/gzip", timeout=CALL_TIMEOUT)
        assert r.http_version == "2"
        with pytest.raises(ResponseTooLarge):
            r.content  # noqa: B018 (decoded when first read)


async def test_hooks_see_each_request_and_response_of_a_redirect_chain(
    client_ssl_context: ssl.SSLContext, httpbin_h2: HttpbinProcess
) -> None:
    log: list[tuple[str, Any]] = []

    async def on_request(request: Any) -> None:
        log.append(("request", request.url))

    async def on_response(response: Any) -> None:
        log.append(("response", (response.status_code, response.http_version)))

    async with asks.Session(
        http2=True,
        ssl_context=client_ssl_context,
        event_hooks={"request": [on_request], "response": [on_response]},
    ) as s:
        await s.get(httpbin_h2.url + "/redirect/1", timeout=CALL_TIMEOUT)
    assert [kind for kind, _ in log] == ["request", "response", "request", "response"]
    assert [value for kind, value in log if kind == "response"] == [(302, "2"), (200, "2")]


async def test_elapsed_and_json_over_h2(h2s: asks.Session, httpbin_h2: HttpbinProcess) -> None:
    r = await h2s.get(httpbin_h2.url + "/json", timeout=CALL_TIMEOUT)
    assert r.elapsed.total_seconds() > 0
    assert json.loads(r.content) == r.json()
