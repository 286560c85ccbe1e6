"""``Session(uds=path)``: every connection goes to a Unix domain socket.

Against real servers: nginx's ``listen unix:PATH`` (which reports, per
request, the connection it came on) and httpbin under hypercorn's
``--bind unix:PATH``. The URL still gives ``Host`` and the path. A path that
is missing or is not a socket is ``ConnectFailed`` naming the path, and
nothing is left open (the suite's fd-leak check runs on every test here).
"""

from __future__ import annotations

import socket
import uuid
from pathlib import Path

import pytest

import asks
from asks.errors import ConnectFailed
from tests.real.hypercorn import Hypercorn
from tests.real.nginx import Nginx

CALL_TIMEOUT = 10


def token() -> str:
    return uuid.uuid4().hex[:10]


# --------------------------------------------------------------------------
# nginx


async def test_get_over_nginx_unix_socket(nginx: Nginx) -> None:
    path = f"/echo/{token()}"
    async with asks.Session("http://docker.example", uds=str(nginx.unix_path)) as s:
        r = await s.get(path=path, timeout=CALL_TIMEOUT)
    assert r.status_code == 200
    assert r.text == f"GET docker.example {path}\n"
    (entry,) = nginx.access_log.entries(path)
    assert (entry.host, entry.server_port, entry.ssl_protocol) == ("docker.example", "", "")


async def test_host_header_keeps_the_url_port(nginx: Nginx) -> None:
    path = f"/echo/{token()}"
    async with asks.Session("http://docker.example:2375", uds=str(nginx.unix_path)) as s:
        r = await s.get(path=path, timeout=CALL_TIMEOUT)
    assert r.text == f"GET docker.example:2375 {path}\n"


async def test_post_over_nginx_unix_socket(nginx: Nginx) -> None:
    path = f"/echo/{token()}"
    body = b"x" * 100_000
    async with asks.Session("http://docker.example", uds=str(nginx.unix_path)) as s:
        r = await s.post(path=path, data=body, timeout=CALL_TIMEOUT)
    assert (r.status_code, r.text) == (200, f"POST docker.example {path}\n")
    (entry,) = nginx.access_log.entries(path)
    assert entry.method == "POST"
    # nginx's `return` answers without reading the body (its length in the
    # log depends on how much it discarded first); the body's delivery over
    # a Unix socket is checked against httpbin below.


async def test_requests_reuse_one_unix_connection(nginx: Nginx) -> None:
    path = f"/echo/{token()}"
    async with asks.Session("http://docker.example", uds=str(nginx.unix_path)) as s:
        first = await s.get(path=path + "/1", timeout=CALL_TIMEOUT)
        second = await s.post(path=path + "/2", data=b"y" * 5000, timeout=CALL_TIMEOUT)
        third = await s.get(path=path + "/3", timeout=CALL_TIMEOUT)
    # What nginx says about each request, from the response itself...
    connections = {r.headers["x-connection"] for r in (first, second, third)}
    assert len(connections) == 1
    assert [r.headers["x-connection-requests"] for r in (first, second, third)] == ["1", "2", "3"]
    # ...and from its access log.
    entries = nginx.access_log.entries(path)
    assert [entry.uri for entry in entries] == [path + "/1", path + "/2", path + "/3"]
    assert len({entry.connection for entry in entries}) == 1
    assert [entry.connection_requests for entry in entries] == [1, 2, 3]


async def test_stream_over_nginx_unix_socket(nginx: Nginx) -> None:
    path = f"/echo/{token()}"
    async with asks.Session("http://docker.example", uds=str(nginx.unix_path)) as s:
        r = await s.get(path=path, stream=True, timeout=CALL_TIMEOUT)
        content = bytearray()
        async for chunk in r.body(timeout=CALL_TIMEOUT):
            content += chunk
        again = await s.get(path=path, timeout=CALL_TIMEOUT)
    assert bytes(content) == f"GET docker.example {path}\n".encode()
    # The stream released its connection to the pool: the next request reused it.
    assert again.headers["x-connection"] == r.headers["x-connection"]


async def test_absolute_urls_of_other_hosts_go_to_the_same_socket(nginx: Nginx) -> None:
    path = f"/echo/{token()}"
    async with asks.Session(uds=str(nginx.unix_path)) as s:
        a = await s.get(f"http://one.example{path}", timeout=CALL_TIMEOUT)
        b = await s.get(f"http://two.example:8080{path}", timeout=CALL_TIMEOUT)
    assert a.text == f"GET one.example {path}\n"
    assert b.text == f"GET two.example:8080 {path}\n"


async def test_uds_accepts_a_path_object(nginx: Nginx) -> None:
    # os.PathLike as well as str, as open() and socket.connect() do.
    path = f"/echo/{token()}"
    async with asks.Session("http://docker.example", uds=nginx.unix_path) as s:
        r = await s.get(path=path, timeout=CALL_TIMEOUT)
    assert r.text == f"GET docker.example {path}\n"


async def test_module_level_get_with_uds(nginx: Nginx) -> None:
    # Per-call uds= for the one-shot functions, which build a Session of
    # their own: drop this test if the API keeps uds= on Session only.
    path = f"/echo/{token()}"
    r = await asks.get(f"http://docker.example{path}", uds=str(nginx.unix_path))
    assert (r.status_code, r.text) == (200, f"GET docker.example {path}\n")


# --------------------------------------------------------------------------
# hypercorn + httpbin


async def test_httpbin_get_over_hypercorn_unix_socket(httpbin_uds: Hypercorn) -> None:
    async with asks.Session("http://docker.example", uds=str(httpbin_uds.unix_path)) as s:
        r = await s.get(path="/get", params={"q": "1"}, timeout=CALL_TIMEOUT)
    assert r.status_code == 200
    echoed = r.json()
    assert echoed["headers"]["Host"] == "docker.example"
    assert echoed["args"] == {"q": "1"}
    assert echoed["url"] == "http://docker.example/get?q=1"


async def test_httpbin_post_over_hypercorn_unix_socket(httpbin_uds: Hypercorn) -> None:
    async with asks.Session("http://docker.example", uds=str(httpbin_uds.unix_path)) as s:
        r = await s.post(path="/post", json={"hello": "uds"}, timeout=CALL_TIMEOUT)
        again = await s.post(path="/post", data=b"z" * 70_000, timeout=CALL_TIMEOUT)
    assert r.status_code == 200
    assert r.json()["json"] == {"hello": "uds"}
    assert again.json()["data"] == "z" * 70_000


# --------------------------------------------------------------------------
# Bad paths


async def expect_connect_failed(uds: Path) -> ConnectFailed:
    async with asks.Session("http://docker.example", uds=str(uds)) as s:
        with pytest.raises(ConnectFailed) as info:
            await s.get(path="/", timeout=CALL_TIMEOUT, retries=0)
    assert str(uds) in str(info.value)
    return info.value


async def test_missing_uds_path_is_connect_failed_naming_it(tmp_path: Path) -> None:
    await expect_connect_failed(tmp_path / "no-such.sock")


async def test_regular_file_as_uds_path_is_connect_failed_naming_it(tmp_path: Path) -> None:
    regular = tmp_path / "not-a-socket"
    regular.write_bytes(b"just a file\n")
    await expect_connect_failed(regular)


async def test_directory_as_uds_path_is_connect_failed_naming_it(tmp_path: Path) -> None:
    await expect_connect_failed(tmp_path)


async def test_socket_nobody_listens_on_is_connect_failed_naming_it(tmp_path: Path) -> None:
    # A stale socket file: bound once, its server gone (connect is refused).
    stale = tmp_path / "stale.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.bind(str(stale))
    await expect_connect_failed(stale)


async def test_bad_uds_path_fails_every_call_and_leaks_nothing(tmp_path: Path) -> None:
    # Repeated failures must not pile up descriptors (the fd-leak check counts).
    async with asks.Session("http://docker.example", uds=str(tmp_path / "gone.sock")) as s:
        for _ in range(5):
            with pytest.raises(ConnectFailed):
                await s.get(path="/", timeout=CALL_TIMEOUT)
