"""event_hooks=, trace= and response.elapsed (issue 24): end to end on local servers."""

from __future__ import annotations

import datetime
import logging
import re
from pathlib import Path
from typing import Any

import curio
import pytest

import asks
import asks._transport.transport as transport_module
from asks.errors import ConnectivityError, ServerClosedConnectionError
from tests.servers import read_request

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
DOCS = Path(__file__).resolve().parent.parent / "docs" / "hooks.md"


class Boom(Exception):
    pass


def chain_handler(seen: list[tuple[str, bytes | None]]):
    """/start redirects to /secret, which asks for Digest credentials first."""

    async def handler(sock):
        while (got := await read_request(sock)) is not None:
            request = got[0]
            auth = dict(request.headers).get(b"authorization")
            target = request.target.decode()
            seen.append((target, auth))
            if target == "/start":
                await sock.sendall(
                    b"HTTP/1.1 302 Found\r\nLocation: /secret\r\nContent-Length: 3\r\n\r\nbye"
                )
            elif auth is None or not auth.startswith(b"Digest "):
                await sock.sendall(
                    b"HTTP/1.1 401 Unauthorized\r\n"
                    b'WWW-Authenticate: Digest realm="r", nonce="abc123", qop="auth", '
                    b"algorithm=MD5\r\nContent-Length: 4\r\n\r\nnope"
                )
            else:
                await sock.sendall(OK)

    return handler


def recorder(log: list[Any]):
    async def on_request(request: asks.Request) -> None:
        log.append(("request", request.method, request.url, request.headers.get("authorization")))

    async def on_response(response: asks.Response) -> None:
        log.append(("response", response.status_code, response.url))

    return {"request": [on_request], "response": [on_response]}


# -- hooks: order and count -------------------------------------------------


async def test_hooks_see_every_request_and_response_of_a_redirect_and_digest_chain(raw_server):
    seen: list[tuple[str, bytes | None]] = []
    server = await raw_server(chain_handler(seen))
    log: list[Any] = []
    async with asks.Session(event_hooks=recorder(log)) as s:
        r = await s.get(server.url + "/start", auth=asks.DigestAuth(("bob", "pw")))
    assert r.status_code == 200
    assert [h.status_code for h in r.history] == [302, 401]
    start, secret = server.url + "/start", server.url + "/secret"
    assert [entry[:3] for entry in log] == [
        ("request", "GET", start),
        ("response", 302, start),
        ("request", "GET", secret),
        ("response", 401, secret),
        ("request", "GET", secret),
        ("response", 200, secret),
    ]
    # The request hook sees the header block as sent: credentials only on
    # the retry that answers the challenge.
    auths = [entry[3] for entry in log if entry[0] == "request"]
    assert auths[:2] == [None, None]
    assert auths[2].startswith("Digest ")
    assert [a for _, a in seen][2] is not None


async def test_several_hooks_run_in_the_order_given_and_plain_functions_work(raw_server):
    server = await raw_server(chain_handler([]))
    calls: list[str] = []

    async def first(r):
        calls.append("first")

    def second(r):  # a plain function: called, nothing to await
        calls.append("second")

    async with asks.Session(event_hooks={"response": [first, second]}) as s:
        await s.get(server.url + "/secret")
    assert calls == ["first", "second"]


async def test_request_hook_runs_again_for_a_connection_retry(raw_server):
    connections = 0

    async def handler(sock):
        nonlocal connections
        connections += 1
        if await read_request(sock) is None:
            return
        if connections == 1:
            return  # closed without an answer: retries=1 sends it again
        await sock.sendall(OK)

    server = await raw_server(handler)
    log: list[Any] = []
    async with asks.Session(event_hooks=recorder(log)) as s:
        r = await s.get(server.url + "/x", retries=1)
        assert r.status_code == 200
        log_without_retry: list[Any] = []
        s2 = asks.Session(event_hooks=recorder(log_without_retry))
        connections = 0
        with pytest.raises(ServerClosedConnectionError):
            await s2.get(server.url + "/x", retries=0)
        await s2.close()
    assert [e[0] for e in log] == ["request", "request", "response"]
    assert [e[0] for e in log_without_retry] == ["request"]


async def test_response_hook_gets_a_stream_unread_and_may_read_it(raw_server):
    server = await raw_server(chain_handler([]))
    statuses: list[Any] = []

    async def on_response(response):
        # Status and elapsed without touching the body.
        statuses.append((response.status_code, response.elapsed, response.body._started))

    async with asks.Session(event_hooks={"response": [on_response]}) as s:
        r = await s.get(server.url + "/secret", stream=True)
        assert isinstance(r, asks.StreamResponse)
        assert statuses[0][0] == 401
        assert statuses[0][2] is False  # the hook ran before any body read
        assert isinstance(statuses[0][1], datetime.timedelta)
        chunks = [c async for c in r.body]
        assert b"".join(chunks) == b"nope"
        assert s.pool_stats().idle == 1


async def test_the_request_object_is_read_only_and_its_headers_a_copy(raw_server):
    server = await raw_server(chain_handler([]))
    got: list[asks.Request] = []

    async def keep(request):
        got.append(request)
        request.headers["X-Sneaky"] = "1"  # changes a copy only

    async with asks.Session(event_hooks={"request": [keep]}) as s:
        await s.get(server.url + "/secret?a=1", headers={"X-Mine": "yes"})
    request = got[0]
    assert request.method == "GET"
    assert request.url == server.url + "/secret?a=1"
    assert request.headers["x-mine"] == "yes"
    assert "X-Sneaky" not in request.headers
    assert request.raw_headers[0][0].lower() == b"host"
    assert (b"X-Mine", b"yes") in request.raw_headers
    assert repr(request) == f"<Request GET {server.url}/secret?a=1>"
    with pytest.raises(AttributeError):
        request.method = "POST"  # type: ignore[misc]


# -- hooks: failures leak nothing ------------------------------------------


async def test_failing_request_hook_propagates_before_any_connection(raw_server):
    seen: list[Any] = []
    server = await raw_server(chain_handler(seen))

    async def bad(request):
        raise Boom("no")

    async with asks.Session(event_hooks={"request": [bad]}) as s:
        with pytest.raises(Boom):
            await s.get(server.url + "/start")
        stats = s.pool_stats()
        assert (stats.open, stats.busy, stats.waiting) == (0, 0, 0)
    assert seen == []
    assert server.accepted == 0


async def test_failing_request_hook_on_a_redirect_releases_the_first_connection(raw_server):
    server = await raw_server(chain_handler([]))

    async def bad_on_second(request):
        if request.url.endswith("/secret"):
            raise Boom("second")

    async with asks.Session(event_hooks={"request": [bad_on_second]}) as s:
        with pytest.raises(Boom):
            await s.get(server.url + "/start")
        stats = s.pool_stats()
        assert (stats.busy, stats.idle) == (0, 1)  # the 302's connection, reusable


@pytest.mark.parametrize("stream", [False, True])
async def test_failing_response_hook_propagates_and_frees_the_connection(raw_server, stream):
    server = await raw_server(chain_handler([]))

    async def bad(response):
        raise Boom(str(response.status_code))

    async with asks.Session(event_hooks={"response": [bad]}) as s:
        with pytest.raises(Boom, match="401"):
            await s.get(server.url + "/secret", stream=stream)
        stats = s.pool_stats()
        assert stats.busy == 0
        # Buffered: the body was read, the connection went back for reuse.
        # Streamed: the unread body's connection was closed, its slot freed.
        assert stats.idle == (0 if stream else 1)
        assert stats.open == (0 if stream else 1)
    await server.wait_open_connections(0)


async def test_failing_response_hook_on_an_intermediate_response(raw_server):
    seen: list[Any] = []
    server = await raw_server(chain_handler(seen))

    async def bad_on_redirect(response):
        if response.status_code == 302:
            raise Boom("302")

    async with asks.Session(event_hooks={"response": [bad_on_redirect]}) as s:
        with pytest.raises(Boom):
            await s.get(server.url + "/start")
        assert s.pool_stats().busy == 0
    assert [t for t, _ in seen] == ["/start"]  # the redirect was not followed


@pytest.mark.parametrize(
    ("hooks", "error"),
    [
        ([], TypeError),
        ({"request": print}, TypeError),
        ({"request": "print"}, TypeError),
        ({"request": [1]}, TypeError),
        ({"requests": []}, ValueError),
    ],
)
def test_bad_event_hooks_are_refused_at_construction(hooks, error):
    with pytest.raises(error):
        asks.Session(event_hooks=hooks)


def test_bad_tracers_are_refused_at_construction():
    async def async_tracer(event, info):
        pass

    class AsyncCall:
        async def __call__(self, event, info):
            pass

    for bad in (async_tracer, AsyncCall(), "print"):
        with pytest.raises(TypeError):
            asks.Session(trace=bad)  # type: ignore[arg-type]


def test_empty_hooks_install_nothing():
    s = asks.Session(event_hooks={"request": [], "response": []})
    assert "_buffered" not in vars(s)
    assert "send" not in vars(s._transport)


# -- tracing -------------------------------------------------------------------


def tracer(events: list[tuple[str, dict[str, Any]]]):
    def trace(event: str, info: Any) -> None:
        events.append((event, dict(info)))

    return trace


async def test_trace_events_for_a_new_then_a_reused_connection(raw_server):
    server = await raw_server(chain_handler([]))
    events: list[tuple[str, dict[str, Any]]] = []
    async with asks.Session(trace=tracer(events)) as s:
        await s.get(server.url + "/secret")
        first = list(events)
        events.clear()
        await s.get(server.url + "/secret?again")
    assert [name for name, _ in first] == [
        "connect.start",
        "connect.done",
        "request.start",
        "request.sent",
        "response.head",
    ]
    assert first[0][1] == {"connection": 1, "host": "127.0.0.1", "port": server.port, "uds": None}
    assert first[2][1] == {"connection": 1, "reused": False, "method": "GET", "target": "/secret"}
    assert first[4][1] == {"connection": 1, "status_code": 401, "http_version": "1.1"}
    assert [name for name, _ in events] == ["request.start", "request.sent", "response.head"]
    assert events[0][1]["reused"] is True
    assert events[0][1]["connection"] == 1


async def test_trace_events_over_tls_and_a_second_connection(
    raw_server, server_ssl_context, client_ssl_context
):
    server = await raw_server(chain_handler([]), ssl_context=server_ssl_context)
    events: list[tuple[str, dict[str, Any]]] = []
    async with asks.Session(
        ssl_context=client_ssl_context, connections=2, trace=tracer(events)
    ) as s:
        await s.get(server.url + "/secret")
        assert [name for name, _ in events] == [
            "connect.start",
            "connect.done",
            "tls.start",
            "tls.done",
            "request.start",
            "request.sent",
            "response.head",
        ]
        assert events[2][1] == {
            "connection": 1,
            "server_hostname": "127.0.0.1",
            "resuming": False,
        }
        done = events[3][1]
        assert done["version"].startswith("TLS")
        assert done["cipher"]
        assert done["resumed"] is False
        await s.close()  # the next request opens connection 2 (and resumes)
        events.clear()
        await s.get(server.url + "/secret")
    assert [info["connection"] for _, info in events] == [2] * 7
    assert events[2][1]["resuming"] is True
    assert events[4][1]["reused"] is False


async def test_trace_reports_a_failed_connect():
    events: list[tuple[str, dict[str, Any]]] = []
    listener = curio.socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    await listener.close()  # nothing listens there now: refused
    async with asks.Session(trace=tracer(events)) as s:
        with pytest.raises(ConnectivityError):
            await s.get(f"http://127.0.0.1:{port}/", retries=0)
    assert [name for name, _ in events] == ["connect.start", "connect.failed"]
    error = events[1][1]["error"]
    assert isinstance(error, asks.errors.ConnectFailed)  # what the caller catches
    assert f"127.0.0.1:{port}" in str(error)


async def test_no_request_sent_event_when_the_server_answers_early(raw_server):
    async def handler(sock):
        await sock.recv(100)  # part of the head, then an answer and a close
        await sock.sendall(
            b"HTTP/1.1 413 Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )

    server = await raw_server(handler)
    events: list[tuple[str, dict[str, Any]]] = []
    async with asks.Session(trace=tracer(events)) as s:
        r = await s.post(server.url + "/up", data=b"x" * (8 * 1024 * 1024))
    assert r.status_code == 413
    names = [name for name, _ in events]
    assert names[-2:] == ["request.start", "response.head"]
    assert "request.sent" not in names


@pytest.mark.parametrize(
    "failing",
    [
        "connect.start",
        "connect.done",
        "tls.start",
        "tls.done",
        "request.start",
        "request.sent",
        "response.head",
    ],
)
async def test_a_failing_tracer_propagates_and_leaks_nothing(
    raw_server, server_ssl_context, client_ssl_context, failing
):
    server = await raw_server(chain_handler([]), ssl_context=server_ssl_context)

    def trace(event, info):
        if event == failing:
            raise Boom(event)

    async with asks.Session(ssl_context=client_ssl_context, trace=trace) as s:
        with pytest.raises(Boom, match=failing):
            await s.get(server.url + "/secret")
        stats = s.pool_stats()
        assert (stats.open, stats.busy, stats.connecting) == (0, 0, 0)
    await server.wait_open_connections(0)


# -- elapsed ---------------------------------------------------------------------


async def test_elapsed_on_every_response_history_included(raw_server):
    server = await raw_server(chain_handler([]))
    async with asks.Session() as s:
        r = await s.get(server.url + "/start", auth=asks.DigestAuth(("bob", "pw")))
        streamed = await s.get(server.url + "/secret", stream=True)
        await streamed.close()
        pieces: list[bytes] = []

        async def keep(chunk):
            pieces.append(chunk)

        called = await s.get(server.url + "/secret", callback=keep)
    for response in [*r.history, r, streamed, called]:
        assert isinstance(response.elapsed, datetime.timedelta)
        assert response.elapsed > datetime.timedelta(0)


async def test_elapsed_runs_from_the_send_to_the_end_of_the_head(raw_server, monkeypatch):
    # An injected clock: the first read starts the send, the second ends
    # the head; elapsed is exactly their difference.
    ticks = iter([100.0, 100.25, 200.0, 203.5])
    monkeypatch.setattr(transport_module, "_clock", lambda: next(ticks))
    server = await raw_server(chain_handler([]))
    async with asks.Session() as s:
        r = await s.get(server.url + "/start")
    assert r.history[0].elapsed == datetime.timedelta(seconds=0.25)
    assert r.elapsed == datetime.timedelta(seconds=3.5)


async def test_elapsed_grows_with_the_server_delay(raw_server):
    delay = 0.05

    async def handler(sock):
        while await read_request(sock) is not None:
            # The delay is what is measured here, not a wait for something.
            await curio.sleep(delay)
            await sock.sendall(OK)

    server = await raw_server(handler)
    async with asks.Session() as s:
        r = await s.get(server.url)
    assert r.elapsed >= datetime.timedelta(seconds=delay)


def test_elapsed_of_a_response_built_by_hand_is_zero():
    r = asks.Response("GET", "http://x/", 200, "OK", "1.1", asks.Headers(), "utf-8", b"", None)
    assert r.elapsed == datetime.timedelta(0)


# -- the recipes in docs/hooks.md ------------------------------------------------


def _recipe(name: str) -> str:
    """The ```python block that follows ``<!-- recipe: name -->`` in docs/hooks.md."""
    text = DOCS.read_text(encoding="utf-8")
    match = re.search(
        rf"<!-- recipe: {name} -->\s*```python\n(?P<code>.*?)```", text, flags=re.DOTALL
    )
    assert match is not None, name
    return match.group("code")


async def test_the_logging_recipe_logs_each_request_and_response(raw_server, caplog):
    server = await raw_server(chain_handler([]))
    namespace: dict[str, Any] = {}
    exec(_recipe("logging"), namespace)
    caplog.set_level(logging.INFO, logger="asks.recipe")
    async with namespace["logged_session"]() as s:
        await s.get(server.url + "/start", auth=asks.DigestAuth(("bob", "pw")))
    messages = [rec.getMessage() for rec in caplog.records if rec.name == "asks.recipe"]
    assert len(messages) == 6
    assert messages[0] == f"-> GET {server.url}/start"
    assert re.fullmatch(rf"<- 302 {re.escape(server.url)}/start in \d+\.\d ms", messages[1])
    assert re.fullmatch(r"<- 200 .* in \d+\.\d ms", messages[5])
    # Credentials are never logged.
    assert not any("Digest" in m for m in messages)


class FakeSpan:
    def __init__(self, name: str, attributes: dict[str, Any], parent: FakeSpan | None) -> None:
        self.name = name
        self.attributes = dict(attributes)
        self.parent = parent
        self.ended = False
        self.events: list[str] = []

    def set_attribute(self, key: str, value: Any) -> None:
        self.attributes[key] = value

    def add_event(self, name: str, attributes: dict[str, Any] | None = None) -> None:
        self.events.append(name)

    def record_exception(self, exc: BaseException) -> None:
        self.events.append(f"exception {type(exc).__name__}")

    def end(self) -> None:
        assert not self.ended
        self.ended = True


class FakeTracer:
    """The part of an OpenTelemetry ``Tracer`` the recipe uses."""

    def __init__(self) -> None:
        self.spans: list[FakeSpan] = []

    def start_span(self, name: str, attributes: dict[str, Any] | None = None) -> FakeSpan:
        span = FakeSpan(name, attributes or {}, None)
        self.spans.append(span)
        return span


async def test_the_span_recipe_makes_one_span_per_connect_and_per_request(
    raw_server, server_ssl_context, client_ssl_context
):
    server = await raw_server(chain_handler([]), ssl_context=server_ssl_context)
    namespace: dict[str, Any] = {}
    exec(_recipe("spans"), namespace)
    fake = FakeTracer()
    async with asks.Session(
        ssl_context=client_ssl_context, trace=namespace["span_tracer"](fake)
    ) as s:
        await s.get(server.url + "/start")
    names = [span.name for span in fake.spans]
    assert names == ["asks connect", "asks tls", "HTTP GET", "HTTP GET"]
    assert all(span.ended for span in fake.spans)
    connect, tls, first, second = fake.spans
    assert connect.attributes["server.port"] == server.port
    assert tls.attributes["tls.protocol.version"].startswith("TLS")
    assert first.attributes["http.response.status_code"] == 302
    assert first.attributes["asks.connection.reused"] is False
    assert second.attributes["http.response.status_code"] == 401
    assert second.attributes["asks.connection.reused"] is True
    assert "request sent" in first.events


async def test_the_span_recipe_ends_the_connect_span_on_failure():
    namespace: dict[str, Any] = {}
    exec(_recipe("spans"), namespace)
    fake = FakeTracer()
    listener = curio.socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    await listener.close()
    async with asks.Session(trace=namespace["span_tracer"](fake)) as s:
        with pytest.raises(ConnectivityError):
            await s.get(f"http://127.0.0.1:{port}/", retries=0)
    (span,) = fake.spans
    assert span.ended
    assert span.events == ["exception ConnectFailed"]


async def test_without_a_tracer_connections_are_the_plain_class(raw_server):
    from asks._transport.http11 import HTTP11Connection
    from asks._transport.tracing import TracedHTTP11Connection

    server = await raw_server(chain_handler([]))
    async with asks.Session() as plain, asks.Session(trace=tracer([])) as traced:
        await plain.get(server.url + "/secret")
        await traced.get(server.url + "/secret")
        assert [type(c) for c in plain._pool._all] == [HTTP11Connection]
        assert [type(c) for c in traced._pool._all] == [TracedHTTP11Connection]
