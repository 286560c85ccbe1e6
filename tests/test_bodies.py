"""Streamed request bodies and response callbacks."""

from __future__ import annotations

import io
import os

import h11
import pytest

import asks
from tests.servers import read_request

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


class Recorder:
    def __init__(self) -> None:
        self.requests: list = []

    async def __call__(self, sock):
        while (got := await read_request(sock)) is not None:
            self.requests.append(got)
            await sock.sendall(OK)


@pytest.fixture
async def rec(raw_server):
    r = Recorder()
    r.server = await raw_server(r)
    return r


def header(req, name: bytes):
    values = [v for n, v in req.headers if n == name]
    return values[0] if values else None


async def test_async_iterable_is_sent_chunked(rec):
    async def pieces():
        for i in range(5):
            yield b"piece%d;" % i

    await asks.post(rec.server.url, data=pieces())
    req, body = rec.requests[-1]
    assert body == b"piece0;piece1;piece2;piece3;piece4;"
    assert header(req, b"transfer-encoding") == b"chunked"
    assert header(req, b"content-length") is None


async def test_real_file_is_sent_with_its_length(rec, tmp_path):
    path = tmp_path / "upload.bin"
    data = bytes(range(256)) * 1000
    path.write_bytes(data)
    with open(path, "rb") as f:  # noqa: ASYNC230 - a local file; sent as data
        f.read(10)  # sending starts where the file is
        await asks.put(rec.server.url, data=f)
    req, body = rec.requests[-1]
    assert body == data[10:]
    assert header(req, b"content-length") == str(len(data) - 10).encode()


@pytest.mark.skipif(
    not os.path.isfile("/sys/devices/system/cpu/online"), reason="needs Linux /sys"
)
async def test_a_sysfs_file_is_sent_whole_not_cut_to_its_reported_size(rec):
    # sysfs reports 4096 bytes; announcing that failed the send halfway.
    path = "/sys/devices/system/cpu/online"
    with open(path, "rb") as f:  # noqa: ASYNC230 - a local file; sent as data
        await asks.put(rec.server.url, data=f)
    req, body = rec.requests[-1]
    with open(path, "rb") as f:  # noqa: ASYNC230 - reading the expectation
        assert body == f.read()
    assert header(req, b"transfer-encoding") == b"chunked"


async def test_file_like_without_fileno_is_chunked(rec):
    await asks.post(rec.server.url, data=io.BytesIO(b"in memory"))
    _, body = rec.requests[-1]
    assert body == b"in memory"


async def test_async_file_object(rec):
    class AsyncFile:
        def __init__(self) -> None:
            self.parts = [b"a" * 10, b"b" * 10]

        async def read(self, n=-1):
            return self.parts.pop(0) if self.parts else b""

    await asks.post(rec.server.url, data=AsyncFile())
    assert rec.requests[-1][1] == b"a" * 10 + b"b" * 10


async def test_str_yielding_iterable_is_a_type_error(rec):
    async def bad():
        yield "text"

    with pytest.raises(TypeError):
        await asks.post(rec.server.url, data=bad())


async def test_a_body_source_raising_oserror_is_the_callers_error_not_a_dead_connection(
    raw_server,
):
    # A file whose read fails mid-upload: the caller gets that OSError at
    # once. It was once taken for a failed send, so asks waited for an
    # early answer from a server still reading the body (until the
    # timeout), and could resend the request on another connection.
    methods: list[bytes] = []

    async def handler(sock):
        conn = h11.Connection(h11.SERVER)
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                data = await sock.recv(65536)
                if not data:
                    return
                conn.receive_data(data)
            elif isinstance(event, h11.Request):
                methods.append(event.method)
            elif isinstance(event, h11.EndOfMessage):
                answer = h11.Response(status_code=200, headers=[("Content-Length", "2")])
                await sock.sendall(conn.send(answer) + conn.send(h11.Data(data=b"ok")))
                conn.send(h11.EndOfMessage())
                conn.start_next_cycle()

    failure = OSError(5, "Input/output error")

    class FailingFile(io.BytesIO):
        reads = 0

        def read(self, size=-1):
            self.reads += 1
            if self.reads == 2:
                raise failure
            return b"x" * 10

    server = await raw_server(handler)
    async with asks.Session() as s:
        await s.get(server.url)  # the PUT goes out on a reused connection
        with pytest.raises(OSError) as caught:
            await s.put(server.url, data=FailingFile(b"x" * 100), timeout=10)
        assert caught.value is failure
        # The cut-off upload's connection was closed, and nothing else opened.
        await server.wait_open_connections(0)
        assert (server.accepted, methods) == (1, [b"GET", b"PUT"])  # not resent
        assert (await s.get(server.url, timeout=10)).body == b"ok"
    assert server.accepted == 2


async def test_callback_receives_decoded_chunks(raw_server):
    import gzip

    payload = gzip.compress(b"x" * 200_000)

    async def handler(sock):
        while await read_request(sock) is not None:
            await sock.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n"
                % len(payload)
                + payload
            )

    server = await raw_server(handler)
    got = []

    async def cb(chunk: bytes) -> None:
        got.append(chunk)

    async with asks.Session() as s:
        r = await s.get(server.url, callback=cb)
        assert b"".join(got) == b"x" * 200_000
        assert r.body == b""
        assert s._pool.idle == 1  # read to the end: connection kept


async def test_multipart_reaches_httpbin(httpbin, tmp_path):
    path = tmp_path / "report.txt"
    path.write_text("file contents")
    r = await asks.post(
        httpbin.url + "/post",
        multipart={"file": path, "field": "value", "num": 3},
    )
    body = r.json()
    assert body["files"] == {"file": "file contents"}
    assert body["form"] == {"field": "value", "num": "3"}


async def test_multipart_tuples_and_lists_reach_httpbin(httpbin):
    r = await asks.post(
        httpbin.url + "/post",
        files={"up": ("a.txt", b"uploaded", "text/plain"), "tag": ["x", "y"], "gone": None},
    )
    body = r.json()
    assert body["files"] == {"up": "uploaded"}
    assert body["form"] == {"tag": ["x", "y"]}


async def test_a_multipart_content_type_without_boundary_gets_the_bodys(httpbin):
    # A Content-Type naming no boundary (or another one) leaves the body
    # unparseable (RFC 2046 section 5.1.1); asks adds the body's, as curl does.
    r = await asks.post(
        httpbin.url + "/post",
        headers={"Content-Type": "multipart/form-data"},
        multipart={"field": "value"},
    )
    assert r.json()["form"] == {"field": "value"}


async def test_a_boundary_in_the_callers_content_type_frames_the_body(rec):
    declared = 'multipart/form-data; boundary="my-b"'
    async with asks.Session(headers={"content-type": declared}) as session:
        await session.post(rec.server.url, files={"f": ("a.txt", b"x")})
        await session.post(rec.server.url, headers={"X-A": "1"}, multipart={"g": "y"})
        with pytest.raises(ValueError, match="boundary"):
            await session.post(rec.server.url, multipart={"g": "--my-b"})
        assert session.headers["Content-Type"] == declared
    assert len(rec.requests) == 2
    for req, body in rec.requests:
        assert header(req, b"content-type") == declared.encode()
        assert body.startswith(b"--my-b\r\n") and body.endswith(b"\r\n--my-b--\r\n")


async def test_a_files_tuples_fourth_item_goes_in_the_parts_head(rec):
    # requests' (filename, content, content_type, headers): the headers
    # after Content-Disposition and Content-Type, byte for byte.
    await asks.post(
        rec.server.url,
        headers={"Content-Type": "multipart/form-data; boundary=B"},
        files={
            "f": ("a.txt", b"hi", "text/plain", {"X-Part": "v", "Content-Language": "fr"}),
            "g": ("b.bin", io.BytesIO(b"io"), None, {"X-Other": "w"}),
        },
    )
    req, body = rec.requests[-1]
    expected = (
        b"--B\r\n"
        b'Content-Disposition: form-data; name="f"; filename="a.txt"\r\n'
        b"Content-Type: text/plain\r\n"
        b"X-Part: v\r\n"
        b"Content-Language: fr\r\n"
        b"\r\n"
        b"hi\r\n"
        b"--B\r\n"
        b'Content-Disposition: form-data; name="g"; filename="b.bin"\r\n'
        b"Content-Type: application/octet-stream\r\n"
        b"X-Other: w\r\n"
        b"\r\n"
        b"io\r\n"
        b"--B--\r\n"
    )
    assert body == expected
    assert header(req, b"content-length") == str(len(expected)).encode()


@pytest.mark.parametrize(
    "headers",
    [{"X-Part": "v\r\nX-Injected: 1"}, {"Bad Name": "v"}, {"Content-Disposition": "form-data"}],
)
async def test_a_bad_part_header_is_refused_before_anything_is_sent(rec, headers):
    with pytest.raises(ValueError):
        await asks.post(rec.server.url, files={"f": ("a.txt", b"hi", None, headers)})
    with pytest.raises(TypeError, match="mapping"):
        await asks.post(rec.server.url, files={"f": ("a.txt", b"hi", None, "X-Part: v")})
    assert rec.requests == []


async def test_an_in_memory_file_goes_with_a_content_length(httpbin):
    # hypercorn's httpbin (like many servers and object stores) refuses a
    # chunked upload: a BytesIO must go with its length.
    for kwargs in ({"data": io.BytesIO(b"in memory")}, {"multipart": {"f": io.BytesIO(b"m")}}):
        r = await asks.post(httpbin.url + "/post", **kwargs)
        assert r.status_code == 200, r.text
        assert "Transfer-Encoding" not in r.json()["headers"]


async def test_multipart_and_data_are_exclusive():
    with pytest.raises(TypeError):
        await asks.post("http://127.0.0.1:1", data=b"x", multipart={"a": "b"})
