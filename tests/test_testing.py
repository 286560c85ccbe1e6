"""asks.testing.MockServer, exercised the way users use it: through asks.

Every test talks to the mock server with ``asks.get`` or an ``asks.Session``,
so these double as end-to-end tests of asks against a keep-alive h11 server
that we script in Python.
"""

from __future__ import annotations

import functools
import importlib.util
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import curio
import curio.socket
import pytest

import asks
from asks.errors import AsksException, ConnectivityError, ServerClosedConnectionError
from asks.testing import MockServer, Reply, Request

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "testing_example.py"


async def collect(body: AsyncIterator[bytes]) -> bytes:
    out = bytearray()
    async for chunk in body:
        out += chunk
    return bytes(out)


# --------------------------------------------------------------------------
# Routes and replies


async def test_json_route():
    async with MockServer() as server:
        server.add("GET", "/users/1", Reply.json({"id": 1, "name": "Ada"}))
        r = await asks.get(server.url + "/users/1")
    assert r.status_code == 200
    assert r.reason_phrase == "OK"
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {"id": 1, "name": "Ada"}


async def test_reply_with_status_headers_and_empty_body():
    async with MockServer() as server:
        server.add("POST", "/users", Reply(status=201, headers={"Location": "/users/2"}, body=b""))
        r = await asks.post(server.url + "/users", json={"name": "Alan"})
    assert r.status_code == 201
    assert r.reason_phrase == "Created"
    assert r.headers["location"] == "/users/2"
    assert r.headers["content-length"] == "0"
    assert r.body == b""


async def test_text_reply_and_header_override():
    async with MockServer() as server:
        server.add("GET", "/plain", Reply.text("héllo"))
        server.add("GET", "/csv", Reply.text("a,b\n", headers={"Content-Type": "text/csv"}))
        server.add("GET", "/str-body", Reply(body="ünïcode"))
        async with asks.Session(server.url) as s:
            plain = await s.get(path="/plain")
            csv = await s.get(path="/csv")
            str_body = await s.get(path="/str-body")
    assert plain.headers["content-type"] == "text/plain; charset=utf-8"
    assert plain.text == "héllo"
    assert csv.headers["content-type"] == "text/csv"
    assert csv.text == "a,b\n"
    assert str_body.body == "ünïcode".encode()


async def test_repeated_reply_headers_are_sent_one_by_one():
    headers = [("Set-Cookie", "a=1; Path=/"), ("Set-Cookie", "b=2; Path=/"), ("X-One", "1")]
    async with MockServer() as server:
        server.add("GET", "/", Reply(headers=headers))
        r = await asks.get(server.url + "/")
    assert r.headers.get_list("set-cookie") == ["a=1; Path=/", "b=2; Path=/"]
    assert sorted((c.name, c.value) for c in r.cookies) == [("a", "1"), ("b", "2")]
    assert r.headers["x-one"] == "1"


async def test_sequence_gives_one_reply_per_call_and_the_last_repeats():
    async with MockServer() as server:
        server.add("GET", "/flaky", [Reply(status=503), Reply.text("ok")])
        async with asks.Session(server.url) as s:
            statuses = [(await s.get(path="/flaky")).status_code for _ in range(4)]
    assert statuses == [503, 200, 200, 200]
    assert server.calls("GET", "/flaky") == 4


async def test_adding_a_route_again_replaces_it():
    async with MockServer() as server:
        server.add("GET", "/v", Reply.text("one"))
        assert (await asks.get(server.url + "/v")).text == "one"
        server.add("GET", "/v", Reply.text("two"))
        assert (await asks.get(server.url + "/v")).text == "two"


async def test_handler_sees_the_request():
    seen: list[Request] = []

    async def echo(request: Request) -> Reply:
        seen.append(request)
        return Reply.json(
            {"method": request.method, "query": request.query, "got": request.json()},
            headers={"X-Seen-Agent": request.headers["user-agent"]},
        )

    async with MockServer() as server:
        server.add("PUT", "/echo", echo)
        r = await asks.put(server.url + "/echo", params={"q": "1"}, json={"x": [1, 2]})
    assert r.json() == {"method": "PUT", "query": {"q": ["1"]}, "got": {"x": [1, 2]}}
    assert r.headers["x-seen-agent"].startswith("python-asks/")
    assert seen == server.requests


async def test_handlers_in_a_sequence():
    async def teapot(request: Request) -> Reply:
        return Reply.text(f"no {request.method} here", status=418)

    async with MockServer() as server:
        server.add("GET", "/mixed", [teapot, Reply.text("then static")])
        async with asks.Session(server.url) as s:
            first = await s.get(path="/mixed")
            second = await s.get(path="/mixed")
    assert (first.status_code, first.text) == (418, "no GET here")
    assert (second.status_code, second.text) == (200, "then static")


async def test_handler_holds_its_answer_until_the_test_says_so():
    arrived = curio.Event()
    release = curio.Event()

    async def slow(request: Request) -> Reply:
        await arrived.set()
        await release.wait()
        return Reply.text("finally")

    async with MockServer() as server:
        server.add("GET", "/slow", slow)
        task = await curio.spawn(asks.get, server.url + "/slow")
        await arrived.wait()
        assert not task.terminated  # the client is still waiting for its answer
        await release.set()
        r = await task.join()
    assert r.text == "finally"


async def test_unmatched_route_is_404_naming_method_and_path():
    async with MockServer() as server:
        server.add("GET", "/known", Reply.text("here"))
        server.add("POST", "/other", Reply.text("here"))
        async with asks.Session(server.url) as s:
            missing = await s.get(path="/missing", params={"a": "b"})
            wrong_method = await s.delete(path="/known")
    assert missing.status_code == 404
    assert "GET /missing" in missing.text
    assert "GET /known" in missing.text  # the routes the server does know
    assert "POST /other" in missing.text
    assert wrong_method.status_code == 404
    assert "DELETE /known" in wrong_method.text
    # Unmatched requests are recorded like any other.
    assert [(r.method, r.path) for r in server.requests] == [
        ("GET", "/missing"),
        ("DELETE", "/known"),
    ]
    assert server.calls("GET", "/missing") == 1


async def test_an_empty_server_says_it_has_no_routes():
    async with MockServer() as server:
        r = await asks.get(server.url)
    assert r.status_code == 404
    assert "no route for GET /" in r.text
    assert "routes: none" in r.text


async def test_a_doubled_slash_is_part_of_the_path_not_a_host():
    # A client joining "base/" and "/users" sends "//users": that is not the
    # route "/users" (nor "/"), so a test of that client must see a 404.
    async with MockServer() as server:
        server.add("GET", "/users", Reply.text("users"))
        server.add("GET", "/", Reply.text("root"))
        async with asks.Session(server.url) as s:
            doubled = await s.get(server.url + "//api/users?page=2")
            only_host = await s.get(server.url + "//users")
    assert (doubled.status_code, only_host.status_code) == (404, 404)
    assert "no route for GET //api/users" in doubled.text
    assert [(r.path, r.query) for r in server.requests] == [
        ("//api/users", {"page": ["2"]}),
        ("//users", {}),
    ]
    assert server.calls("GET", "/users") == 0


# --------------------------------------------------------------------------
# What the server records


async def test_requests_are_recorded_with_query_headers_and_body():
    async with MockServer() as server:
        server.add("POST", "/items", Reply(status=204))
        server.add("POST", "/form", Reply(status=204))
        async with asks.Session(server.url, headers={"X-Session": "s"}) as s:
            await s.post(
                path="/items",
                params=[("tag", "a"), ("tag", "b"), ("empty", "")],
                headers={"X-Trace": "t-1"},
                json={"name": "widget"},
            )
            await s.post(path="/form", data={"field": "a b&c"})
            await s.post(path="/items", data=b"\x00raw")

    first, form, raw = server.requests
    assert first.method == "POST"
    assert first.path == "/items"
    assert first.target == "/items?tag=a&tag=b&empty="
    assert first.query == {"tag": ["a", "b"], "empty": [""]}
    # Headers: case-insensitive lookups.
    assert first.headers["x-trace"] == "t-1"
    assert first.headers["X-TRACE"] == "t-1"
    assert first.headers["x-session"] == "s"
    assert first.headers["content-type"] == "application/json"
    assert first.json() == {"name": "widget"}
    assert first.text() == first.body.decode()
    assert form.form() == {"field": ["a b&c"]}
    assert form.query == {}
    assert raw.body == b"\x00raw"
    assert server.calls("POST", "/items") == 2
    assert server.calls("post", "/items") == 2
    assert server.calls("GET", "/items") == 0
    assert {r.connection for r in server.requests} == {1}
    assert "POST /items" in repr(first)


async def test_chunked_request_body_is_recorded_de_chunked():
    async def parts() -> AsyncIterator[bytes]:
        yield b"hello "
        yield b"world"

    async with MockServer() as server:
        server.add("POST", "/upload", Reply(status=204))
        await asks.post(server.url + "/upload", data=parts())
    (request,) = server.requests
    assert request.headers["transfer-encoding"] == "chunked"
    assert request.body == b"hello world"


# --------------------------------------------------------------------------
# Connections


async def test_a_session_keeps_one_connection_for_ten_requests():
    async with MockServer() as server:
        server.add("GET", "/n", Reply.text("n"))
        async with asks.Session(server.url, connections=1) as s:
            for i in range(10):
                r = await s.get(path="/n", params={"i": i})
                assert r.status_code == 200
    assert server.connections == 1
    assert [r.query["i"] for r in server.requests] == [[str(i)] for i in range(10)]
    assert {r.connection for r in server.requests} == {1}


async def test_connection_close_reply_makes_the_client_reconnect():
    async with MockServer() as server:
        server.add("GET", "/bye", Reply.text("bye", headers={"Connection": "close"}))
        async with asks.Session(server.url, connections=1) as s:
            for _ in range(3):
                assert (await s.get(path="/bye")).text == "bye"
    assert server.connections == 3
    assert [r.connection for r in server.requests] == [1, 2, 3]


async def test_one_shot_calls_each_open_a_connection():
    async with MockServer() as server:
        server.add("GET", "/", Reply.text("x"))
        for _ in range(3):
            await asks.get(server.url)
    assert server.connections == 3


# --------------------------------------------------------------------------
# Chunked replies


async def test_chunked_reply_from_a_list_read_buffered():
    async with MockServer() as server:
        server.add("GET", "/chunks", Reply(body=[b"one ", b"", b"two ", b"three"]))
        r = await asks.get(server.url + "/chunks")
    assert r.headers["transfer-encoding"] == "chunked"
    assert "content-length" not in r.headers
    assert r.body == b"one two three"


async def test_chunked_false_sends_a_content_length():
    async def gen() -> AsyncIterator[bytes]:
        yield b"ab"
        yield b"cd"

    async with MockServer() as server:
        server.add("GET", "/list", Reply(body=[b"ab", b"cd"], chunked=False))
        server.add("GET", "/gen", Reply(body=gen(), chunked=False))
        server.add("GET", "/bytes", Reply(body=b"abcd", chunked=True))
        async with asks.Session(server.url) as s:
            from_list = await s.get(path="/list")
            from_gen = await s.get(path="/gen")
            from_bytes = await s.get(path="/bytes")
    for r in (from_list, from_gen):
        assert r.headers["content-length"] == "4"
        assert r.body == b"abcd"
    assert from_bytes.headers["transfer-encoding"] == "chunked"
    assert from_bytes.body == b"abcd"


async def test_chunked_reply_streamed_chunk_by_chunk():
    more = curio.Event()

    async def handler(request: Request) -> Reply:
        async def body() -> AsyncIterator[bytes]:
            yield b"first"
            await more.wait()  # the rest only once the client has the first
            yield b"second"
            yield b"third"

        return Reply(body=body())

    async with MockServer() as server:
        server.add("GET", "/stream", handler)
        r = await asks.get(server.url + "/stream", stream=True)
        async with r:
            assert r.headers["transfer-encoding"] == "chunked"
            chunks = r.body.__aiter__()
            assert await chunks.__anext__() == b"first"
            await more.set()
            assert await collect(chunks) == b"secondthird"


async def test_head_and_204_get_no_body():
    async with MockServer() as server:
        server.add("HEAD", "/doc", Reply.text("the document"))
        server.add("DELETE", "/doc", Reply(status=204, body=b"ignored"))
        async with asks.Session(server.url) as s:
            head = await s.head(path="/doc")
            deleted = await s.delete(path="/doc")
            again = await s.head(path="/doc")
    assert head.headers["content-length"] == str(len("the document"))
    assert head.body == b""
    assert deleted.status_code == 204
    assert deleted.body == b""
    assert again.status_code == 200
    assert server.connections == 1  # the connection survived bodiless replies


# --------------------------------------------------------------------------
# Failures


async def test_reply_close_drops_the_connection():
    async with MockServer() as server:
        server.add("GET", "/drop", Reply.close())
        with pytest.raises(ServerClosedConnectionError):
            await asks.get(server.url + "/drop", retries=0)
    assert server.calls("GET", "/drop") == 1  # recorded even though unanswered


async def test_reply_close_then_success_is_retried_by_asks():
    async with MockServer() as server:
        server.add("GET", "/once", [Reply.close(), Reply.text("second time lucky")])
        r = await asks.get(server.url + "/once")  # default retries=1
    assert r.text == "second time lucky"
    assert server.calls("GET", "/once") == 2
    assert server.connections == 2


async def test_a_handler_can_drop_the_connection():
    async def drop(request: Request) -> Reply:
        return Reply.close()

    async with MockServer() as server:
        server.add("POST", "/drop", drop)
        with pytest.raises(ServerClosedConnectionError):
            await asks.post(server.url + "/drop", data=b"x", retries=0)


async def test_handler_error_answers_500_and_is_raised_on_exit():
    async def broken(request: Request) -> Reply:
        raise ZeroDivisionError("handler bug")

    with pytest.raises(ZeroDivisionError, match="handler bug"):
        async with MockServer() as server:
            server.add("GET", "/broken", broken)
            r = await asks.get(server.url + "/broken")
            assert r.status_code == 500
            assert "ZeroDivisionError: handler bug" in r.text
            assert len(server.errors) == 1


async def test_handler_returning_a_non_reply_is_an_error():
    async def wrong(request: Request) -> Reply:
        return "not a reply"  # type: ignore[return-value]

    with pytest.raises(TypeError, match="not a Reply"):
        async with MockServer() as server:
            server.add("GET", "/wrong", wrong)
            assert (await asks.get(server.url + "/wrong")).status_code == 500


async def test_bad_reply_body_closes_the_connection_and_is_raised_on_exit():
    async def body() -> AsyncIterator[bytes]:
        yield b"fine"
        yield "not bytes"  # type: ignore[misc]

    with pytest.raises(TypeError, match="must be bytes"):
        async with MockServer() as server:
            server.add("GET", "/bad", Reply(body=body()))
            with pytest.raises(AsksException):
                await asks.get(server.url + "/bad", retries=0)


async def test_an_error_in_the_block_is_not_hidden_by_handler_errors():
    async def broken(request: Request) -> Reply:
        raise ZeroDivisionError

    with pytest.raises(KeyError):
        async with MockServer() as server:
            server.add("GET", "/", broken)
            await asks.get(server.url)
            raise KeyError("the test's own failure")


# --------------------------------------------------------------------------
# Redirects and TLS


async def test_redirect_reply_is_followed():
    async with MockServer() as server:
        server.add("GET", "/old", Reply.redirect("/new"))
        server.add("GET", "/new", Reply.text("moved here"))
        server.add("POST", "/form", Reply.redirect("/done", status=303))
        server.add("GET", "/done", Reply.text("done"))
        async with asks.Session(server.url) as s:
            r = await s.get(path="/old")
            posted = await s.post(path="/form", data={"a": "1"})
    assert r.text == "moved here"
    assert r.url == server.url + "/new"
    assert [h.status_code for h in r.history] == [302]
    assert posted.text == "done"
    assert [(q.method, q.path, q.body) for q in server.requests] == [
        ("GET", "/old", b""),
        ("GET", "/new", b""),
        ("POST", "/form", b"a=1"),
        ("GET", "/done", b""),
    ]
    assert server.connections == 1


async def test_tls(server_ssl_context, client_ssl_context):
    async with MockServer(ssl_context=server_ssl_context) as server:
        server.add("GET", "/secure", Reply.json({"tls": True}))
        server.add("GET", "/chunked", Reply(body=[b"a" * 70000, b"b"]))
        server.add("GET", "/drop", Reply.close())
        assert server.url.startswith("https://127.0.0.1:")
        async with asks.Session(server.url, ssl_context=client_ssl_context) as s:
            for _ in range(3):
                r = await s.get(path="/secure")
                assert r.json() == {"tls": True}
            assert (await s.get(path="/chunked")).body == b"a" * 70000 + b"b"
            with pytest.raises(ServerClosedConnectionError):
                await s.get(path="/drop", retries=0)
    # The drop came on the reused connection, which asks takes for a stale
    # keep-alive socket: it resent the GET once on a new connection (not
    # counted in retries), and that one was dropped too.
    assert server.calls("GET", "/drop") == 2
    assert server.connections == 2


async def test_tls_client_that_does_not_trust_the_server(server_ssl_context):
    async with MockServer(ssl_context=server_ssl_context) as server:
        with pytest.raises(ConnectivityError):
            await asks.get(server.url, retries=0)
    assert server.requests == []


# --------------------------------------------------------------------------
# Shutting down


async def test_exit_closes_the_listener_and_open_connections():
    hold = curio.Event()  # never set: the body never ends

    async def endless() -> AsyncIterator[bytes]:
        yield b"start"
        await hold.wait()
        yield b"never sent"

    async with MockServer() as server:
        server.add("GET", "/endless", Reply(body=endless()))
        url = server.url
        r = await asks.get(url + "/endless", stream=True)
        chunks = r.body.__aiter__()
        assert await chunks.__anext__() == b"start"
    try:
        # The server closed its side mid-body: the client sees it.
        with pytest.raises(ServerClosedConnectionError):
            await chunks.__anext__()
    finally:
        await r.body.close()
    # Nothing listens any more.
    with pytest.raises(ConnectionRefusedError):
        await curio.open_connection("127.0.0.1", int(url.rsplit(":", 1)[1]))
    assert server.url == url  # still readable, for assertions after the block


async def test_exit_cancels_a_waiting_handler():
    arrived = curio.Event()
    cancelled = []

    async def forever(request: Request) -> Reply:
        await arrived.set()
        try:
            await curio.Event().wait()
        except curio.CancelledError:
            cancelled.append(True)
            raise
        return Reply.text("unreachable")

    async with MockServer() as server:
        server.add("GET", "/forever", forever)
        task = await curio.spawn(functools.partial(asks.get, server.url + "/forever", retries=0))
        await arrived.wait()
    assert cancelled == [True]
    with pytest.raises(curio.TaskError) as info:
        await task.join()
    assert isinstance(info.value.__cause__, ServerClosedConnectionError)


async def test_exit_closes_an_idle_client_connection_from_the_server_side():
    async with MockServer() as server:
        server.add("GET", "/", Reply.text("x"))
        sock = await curio.open_connection("127.0.0.1", server.port)
        await sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        received = b""
        while not received.endswith(b"x"):
            received += await sock.recv(1024)
    async with sock:
        assert await sock.recv(1024) == b""  # EOF: the server closed it


async def test_malformed_request_gets_a_400():
    async with MockServer() as server:
        sock = await curio.open_connection("127.0.0.1", server.port)
        async with sock:
            await sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
            received = b""
            while chunk := await sock.recv(1024):
                received += chunk
    assert received.startswith(b"HTTP/1.1 400 ")
    assert server.requests == []


# --------------------------------------------------------------------------
# Argument checking


def test_add_rejects_bad_routes():
    server = MockServer()
    with pytest.raises(ValueError, match="start with '/'"):
        server.add("GET", "users", Reply())
    with pytest.raises(ValueError, match="query"):
        server.add("GET", "/users?id=1", Reply())
    with pytest.raises(ValueError, match="method"):
        server.add("GE T", "/", Reply())
    with pytest.raises(ValueError, match="at least one"):
        server.add("GET", "/", [])
    with pytest.raises(TypeError):
        server.add("GET", "/", "text")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        server.add("GET", "/", [Reply(), 42])  # type: ignore[list-item]


def test_calls_rejects_a_path_no_request_can_have():
    # calls() compares with request.path: with a query, a full URL or no
    # leading "/" it would be 0 forever, and `calls(...) == 0` always true.
    server = MockServer()
    with pytest.raises(ValueError, match="query"):
        server.calls("DELETE", "/users/1?force=1")
    with pytest.raises(ValueError, match="start with '/'"):
        server.calls("GET", "http://127.0.0.1:8000/users")
    with pytest.raises(ValueError, match="start with '/'"):
        server.calls("GET", "users")
    assert server.calls("GET", "/users") == 0


def test_reply_rejects_bad_status_and_headers():
    with pytest.raises(ValueError):
        Reply(status=101)
    with pytest.raises(ValueError):
        Reply(status=1000)
    with pytest.raises(ValueError, match="CR, LF or NUL"):
        Reply(headers={"X-Evil": "a\r\nInjected: yes"})
    with pytest.raises(ValueError, match="ISO-8859-1"):
        Reply(headers={"X-Snow": "☃"})
    assert repr(Reply.close()) == "Reply.close()"


def test_url_needs_a_running_server():
    with pytest.raises(RuntimeError, match="async with"):
        _ = MockServer().url


async def test_a_server_runs_once():
    server = MockServer()
    async with server:
        pass
    with pytest.raises(RuntimeError, match="runs once"):
        async with server:
            pass


# --------------------------------------------------------------------------
# The documented example


def _load_example():
    spec = importlib.util.spec_from_file_location("testing_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_the_documented_example():
    await _load_example().check()


def test_the_example_runs_as_a_script():
    done = subprocess.run(
        [sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "OK"
