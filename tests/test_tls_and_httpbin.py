"""Against a real third-party server: httpbin under hypercorn, HTTP and HTTPS.

The HTTPS server's certificate comes from a throwaway trustme CA. The client
trusts it only when given ``client_ssl_context``; by default (the system trust
store) it must refuse the connection.
"""

from __future__ import annotations

import ssl

import pytest

import asks
from asks.errors import ConnectivityError, TLSError
from tests.servers import canned

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


async def test_httpbin_get_round_trip(httpbin):
    async with asks.Session(httpbin.url) as s:
        r = await s.get(path="/get", params={"x": "1"}, headers={"X-Probe": "yes"})
        assert r.status_code == 200
        body = r.json()
        assert body["args"] == {"x": "1"}
        assert body["headers"]["X-Probe"] == "yes"


async def test_httpbin_keeps_the_connection_alive(httpbin):
    async with asks.Session(httpbin.url) as s:
        for _ in range(5):
            assert (await s.get(path="/get")).status_code == 200
        assert s._pool.open == 1


async def test_httpbin_post_json_and_form(httpbin):
    async with asks.Session(httpbin.url) as s:
        r = await s.post(path="/anything", json={"a": [1, 2]})
        assert r.json()["json"] == {"a": [1, 2]}
        r = await s.post(path="/anything", data={"f": "v"})
        assert r.json()["form"] == {"f": "v"}


async def test_httpbin_gzip_and_deflate(httpbin):
    async with asks.Session(httpbin.url) as s:
        assert (await s.get(path="/gzip")).json()["gzipped"] is True
        assert (await s.get(path="/deflate")).json()["deflated"] is True


async def test_https_with_the_trusted_ca(httpbin_secure, client_ssl_context):
    async with asks.Session(httpbin_secure.url, ssl_context=client_ssl_context) as s:
        for _ in range(3):
            r = await s.get(path="/get")
            assert r.status_code == 200
            assert r.json()["url"].startswith("https://")
        assert s._pool.open == 1


async def test_https_one_shot_with_ssl_context(httpbin_secure, client_ssl_context):
    r = await asks.get(httpbin_secure.url + "/get", ssl_context=client_ssl_context)
    assert r.status_code == 200


async def test_untrusted_certificate_is_refused_by_default(httpbin_secure):
    with pytest.raises(TLSError, match="certificate"):
        await asks.get(httpbin_secure.url + "/get")


async def test_wrong_hostname_is_refused(ca, raw_server, client_ssl_context):
    # A valid certificate from the trusted CA, for another name.
    cert = ca.issue_cert("other.example")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_ctx)
    server = await raw_server(canned(OK), ssl_context=server_ctx)
    with pytest.raises(TLSError):
        await asks.get(f"https://127.0.0.1:{server.port}/", ssl_context=client_ssl_context)


async def test_plaintext_server_on_a_tls_url_fails_cleanly(raw_server, client_ssl_context):
    server = await raw_server(canned(OK))
    with pytest.raises(ConnectivityError):
        await asks.get(
            f"https://127.0.0.1:{server.port}/", ssl_context=client_ssl_context, retries=0
        )


async def test_connections_under_different_ssl_contexts_are_not_shared(
    httpbin_secure, client_ssl_context, ca
):
    other = ssl.create_default_context()
    ca.configure_trust(other)
    s = asks.Session(httpbin_secure.url, ssl_context=client_ssl_context, connections=4)
    await s.get(path="/get")
    s.ssl_context = other
    await s.get(path="/get")
    assert s._pool.open == 2
    await s.close()
