"""Test code that uses asks without a network: a scripted local HTTP server.

:class:`MockServer` is a real HTTP/1.1 server on ``127.0.0.1`` (a free port)
that runs inside your curio kernel, so the code under test talks to it through
asks exactly as it would talk to the real service: real sockets, keep-alive,
chunked bodies, redirects, TLS. You script it in Python::

    import curio
    from asks.testing import MockServer, Reply


    async def test_create_user():
        async with MockServer() as server:
            server.add("POST", "/users", Reply.json({"id": 2}, status=201))
            user_id = await create_user(base_url=server.url, name="ada")
            assert user_id == 2
            request = server.requests[0]
            assert request.json() == {"name": "ada"}
            assert request.headers["content-type"] == "application/json"

Routes
    ``server.add(method, path, answer)`` routes requests whose method and path
    (the query string is not part of the match) are exactly those. Adding the
    same route again replaces it. The answer is one of:

    * a :class:`Reply`, sent for every request to the route;
    * a handler, ``async def handler(request: Request) -> Reply``, for answers
      that depend on the request;
    * a list of replies and/or handlers, used one per request in order; the
      last one repeats (``[Reply(status=503), Reply.text("ok")]`` tests your
      retry code).

    A request that matches no route gets a 404 whose body names its method and
    path and lists the routes the server knows, so a test shows what it forgot.

Replies
    ``Reply(status, headers, body)``, ``Reply.json(obj)``, ``Reply.text(str)``,
    ``Reply.redirect(location)``. A body given as a list of bytes or an async
    iterable of bytes is sent chunked (``Transfer-Encoding: chunked``), one
    chunk per item. ``Reply.close()`` makes the server close the connection
    without answering, to test how your code handles a dropped connection.
    ``headers={"Connection": "close"}`` makes it close after answering.

Timing without sleeps
    There is no ``delay``: a handler that must hold its answer awaits an event
    the test controls, so tests are exact and fast::

        release = curio.Event()

        async def slow(request: Request) -> Reply:
            await release.wait()
            return Reply.text("finally")

        server.add("GET", "/slow", slow)

What the server records
    ``server.requests`` lists every request received (routed or not), in
    order, as :class:`Request` objects: ``method``, ``path``, ``query`` (a dict
    of lists), ``headers`` (case-insensitive), ``body`` (bytes), ``json()``,
    ``text()``, ``form()``, and ``connection`` (which TCP connection carried
    it). ``server.calls(method, path)`` counts requests to one route, and
    ``server.connections`` counts accepted TCP connections, so a test can
    check that a :class:`~asks.Session` reuses its connection.

TLS
    ``MockServer(ssl_context=server_context)`` serves HTTPS and ``server.url``
    starts with ``https://``. The certificate must be valid for
    ``127.0.0.1``; `trustme <https://pypi.org/project/trustme/>`_ makes one::

        ca = trustme.CA()
        server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1").configure_cert(server_context)
        client_context = ssl.create_default_context()
        ca.configure_trust(client_context)
        # ... asks.get(server.url, ssl_context=client_context)

Leaving the ``async with`` block stops the server: the listening socket, every
connection and every task it started are closed, including handlers still
waiting. If a handler raised (a bug in the test script, answered with a 500),
the first such exception is raised again there, so it cannot go unnoticed.
"""

from __future__ import annotations

import contextlib
import http
import json as _json
import socket
import ssl
import string
import urllib.parse
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, TypeAlias

import curio
import curio.io
import curio.socket
import h11

from ._headers import Headers, check_header_text
from ._transport.backend import close_quietly

__all__ = ["Answer", "Handler", "MockServer", "Reply", "Request"]

_HOST = "127.0.0.1"
_RECV_SIZE = 65536

Body: TypeAlias = "bytes | str | Iterable[bytes] | AsyncIterable[bytes]"
"""What a :class:`Reply` body may be."""

HeadersArg: TypeAlias = "Mapping[str, str] | Iterable[tuple[str, str]] | None"
"""Reply headers: a mapping, or ``(name, value)`` pairs to repeat a name."""


class Request:
    """One request the server received.

    Attributes:
        method: the method, e.g. ``"GET"``.
        target: the request target exactly as sent, e.g. ``"/users?page=2"``.
        path: the target without its query string, still percent-encoded.
        query: the query string parsed into ``{name: [value, ...]}``
            (percent-decoded; blank values kept).
        headers: the request headers; lookups ignore case and a repeated
            header reads as its values joined by ``", "``
            (``headers.get_list(name)`` gives them one by one).
        body: the body, de-chunked, as bytes (``b""`` when there was none).
        connection: the number of the TCP connection that carried the request
            (1 for the first the server accepted, 2 for the next, ...).
    """

    __slots__ = ("body", "connection", "headers", "method", "path", "query", "target")

    def __init__(
        self, method: str, target: str, headers: Headers, body: bytes, connection: int
    ) -> None:
        self.method = method
        self.target = target
        if target.startswith("/"):
            # Origin form: split at the first "?" only. urlsplit would read a
            # target like "//api/users" as a host "api" and the path "/users",
            # so a client's doubled slash would match the route "/users".
            path, _, query = target.partition("?")
        else:  # absolute form (a request meant for a proxy), or "*"
            parts = urllib.parse.urlsplit(target)
            path, query = parts.path, parts.query
        self.path = path or "/"
        self.query: dict[str, list[str]] = urllib.parse.parse_qs(query, keep_blank_values=True)
        self.headers = headers
        self.body = body
        self.connection = connection

    def json(self) -> Any:
        """The body parsed as JSON (``ValueError`` if it is not JSON)."""
        return _json.loads(self.body)

    def text(self, encoding: str = "utf-8") -> str:
        """The body decoded as text."""
        return self.body.decode(encoding)

    def form(self) -> dict[str, list[str]]:
        """The body parsed as ``application/x-www-form-urlencoded``."""
        return urllib.parse.parse_qs(self.body.decode("latin-1"), keep_blank_values=True)

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.target} body={len(self.body)} bytes>"


class Reply:
    """What the server answers.

    Args:
        status: the status code (200 to 999; the reason phrase is the
            standard one).
        headers: response headers; pass ``(name, value)`` pairs to send a
            name more than once (e.g. several ``Set-Cookie``).
        body: bytes, or a str (sent UTF-8 encoded), or a list of bytes or an
            async iterable of bytes (one chunk per item). An async iterator is
            used up by the first request it answers; return a fresh one from a
            handler if the route is called more than once.
        chunked: send the body with ``Transfer-Encoding: chunked``. By default
            a list or async iterable is chunked and bytes or str get a
            ``Content-Length``; ``chunked=False`` with a list or an async
            iterable collects it first to send a ``Content-Length``.
            Framing headers you set yourself are kept as given.

    Raises:
        ValueError: a status out of range, or a header holding CR, LF, NUL or
            a character outside ISO-8859-1.
    """

    __slots__ = ("_hang_up", "body", "chunked", "headers", "status")

    def __init__(
        self,
        status: int = 200,
        headers: HeadersArg = None,
        body: Body = b"",
        *,
        chunked: bool | None = None,
    ) -> None:
        if not 200 <= status <= 999:
            raise ValueError(f"a reply status must be between 200 and 999, got {status}")
        self.status = status
        self.headers = Headers(headers)
        for name, value in self.headers.multi_items():
            for text in (name, value):
                check_header_text("a reply header", text)
                try:
                    text.encode("latin-1")
                except UnicodeEncodeError:
                    raise ValueError(
                        f"reply header {name!r} holds characters outside ISO-8859-1"
                    ) from None
        self.body: bytes | Iterable[bytes] | AsyncIterable[bytes] = (
            body.encode() if isinstance(body, str) else body
        )
        self.chunked = chunked
        self._hang_up = False

    @classmethod
    def json(cls, obj: Any, status: int = 200, headers: HeadersArg = None) -> Reply:
        """A JSON reply: ``obj`` serialised, ``Content-Type: application/json``."""
        return cls._with_type(status, headers, _json.dumps(obj).encode(), "application/json")

    @classmethod
    def text(cls, text: str, status: int = 200, headers: HeadersArg = None) -> Reply:
        """A text reply, UTF-8 encoded, ``Content-Type: text/plain; charset=utf-8``."""
        return cls._with_type(status, headers, text.encode(), "text/plain; charset=utf-8")

    @classmethod
    def redirect(cls, location: str, status: int = 302) -> Reply:
        """A redirect to ``location`` (a path or a full URL) with an empty body."""
        return cls(status, {"Location": location})

    @classmethod
    def close(cls) -> Reply:
        """Close the connection without answering (the request is still recorded).

        On a reused keep-alive connection asks takes such a close for a stale
        socket and resends an idempotent request once on a new connection,
        whatever ``retries`` says; the route then sees the request twice.
        """
        reply = cls()
        reply._hang_up = True
        return reply

    @classmethod
    def _with_type(cls, status: int, headers: HeadersArg, body: bytes, content_type: str) -> Reply:
        reply = cls(status, headers, body)
        if "content-type" not in reply.headers:
            reply.headers["Content-Type"] = content_type
        return reply

    def __repr__(self) -> str:
        if self._hang_up:
            return "Reply.close()"
        return f"Reply(status={self.status}, headers={self.headers.multi_items()!r})"


Handler: TypeAlias = Callable[[Request], Awaitable[Reply]]
"""``async def handler(request: Request) -> Reply``."""

Answer: TypeAlias = "Reply | Handler | Sequence[Reply | Handler]"
"""What :meth:`MockServer.add` accepts for a route."""


class _Route:
    """The answers of one route and how many of them have been used."""

    __slots__ = ("answers", "used")

    def __init__(self, answers: list[Reply | Handler]) -> None:
        self.answers = answers
        self.used = 0

    def next(self) -> Reply | Handler:
        answer = self.answers[min(self.used, len(self.answers) - 1)]
        self.used += 1
        return answer


def _check_route_path(path: str) -> None:
    """Refuse a path that no recorded request's ``path`` can equal."""
    if not path.startswith("/"):
        raise ValueError(f"a route path must start with '/', got {path!r}")
    if "?" in path:
        raise ValueError(
            f"a route path has no query string (got {path!r}); "
            "routes match the path only, check request.query instead"
        )


# RFC 9110: a method is a token.
_TOKEN_CHARS = frozenset("!#$%&'*+-.^_`|~" + string.digits + string.ascii_letters)

_FRAMING = ("content-length", "transfer-encoding")


class MockServer:
    """A scripted HTTP/1.1 server on ``127.0.0.1`` for tests; use ``async with``.

    Args:
        ssl_context: a server-side ``ssl.SSLContext`` to serve HTTPS.

    Attributes:
        requests: every request received, in order, routed or not.
        connections: how many TCP connections the server has accepted.
        errors: exceptions raised by handlers or by sending their replies
            (each was answered with a 500 or a closed connection). The first
            one is raised again when the ``async with`` block ends.
    """

    def __init__(self, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self.requests: list[Request] = []
        self.connections = 0
        self.errors: list[BaseException] = []
        self._ssl_context = ssl_context
        self._routes: dict[tuple[str, str], _Route] = {}
        self._port: int | None = None
        self._listener: Any = None
        self._accept_task: Any = None
        self._tasks: set[Any] = set()
        self._sockets: set[Any] = set()

    # -- scripting ---------------------------------------------------------

    def add(self, method: str, path: str, answer: Answer) -> None:
        """Answer requests for ``method`` and ``path`` with ``answer``.

        Args:
            method: the HTTP method (case-insensitive here, matched upper-case).
            path: the path to match exactly, as the client sends it
                (percent-encoded), without a query string.
            answer: a :class:`Reply`, a :data:`Handler`, or a list of them used
                one per request (the last repeats).

        Raises:
            ValueError: a bad method or path, or an empty list.
            TypeError: an answer that is not a Reply or a handler.
        """
        method = method.upper()
        if not method or not set(method) <= _TOKEN_CHARS:
            raise ValueError(f"not an HTTP method: {method!r}")
        _check_route_path(path)
        answers: list[Reply | Handler]
        if isinstance(answer, Reply) or callable(answer):
            answers = [answer]
        elif isinstance(answer, Sequence) and not isinstance(answer, (str, bytes)):
            answers = list(answer)
            if not answers:
                raise ValueError("a route needs at least one answer")
        else:
            raise TypeError(f"a route answer must be a Reply or a handler, got {answer!r}")
        for item in answers:
            if not (isinstance(item, Reply) or callable(item)):
                raise TypeError(f"a route answer must be a Reply or a handler, got {item!r}")
        self._routes[method, path] = _Route(answers)

    def calls(self, method: str, path: str) -> int:
        """How many requests for ``method`` and ``path`` arrived (query ignored).

        Raises:
            ValueError: a path that no request can have (a query string, a full
                URL, no leading ``/``), as for :meth:`add`.
        """
        # Such a path would count 0 forever, and `calls(...) == 0` would pass
        # whatever the client did.
        _check_route_path(path)
        method = method.upper()
        return sum(1 for r in self.requests if r.method == method and r.path == path)

    # -- where it listens --------------------------------------------------

    @property
    def port(self) -> int:
        """The port the server listens on (it stays readable after the server stopped)."""
        if self._port is None:
            raise RuntimeError("the MockServer has not started; use it with 'async with'")
        return self._port

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (``https://`` with an ``ssl_context``), no trailing slash."""
        scheme = "https" if self._ssl_context is not None else "http"
        return f"{scheme}://{_HOST}:{self.port}"

    # -- life cycle --------------------------------------------------------

    async def __aenter__(self) -> MockServer:
        if self._port is not None:
            raise RuntimeError("a MockServer runs once; make a new one")
        listener = curio.socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.bind((_HOST, 0))
            listener.listen(128)
            self._port = int(listener.getsockname()[1])
            self._listener = listener
            self._accept_task = await curio.spawn(self._accept_loop, daemon=True)
        except BaseException:
            await self._aclose()
            await close_quietly(listener)
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._aclose()
        if exc is None and self.errors:
            raise self.errors[0]

    async def _aclose(self) -> None:
        # Tasks first (a task blocked on a socket closed under it would never
        # wake), then any socket whose task never got to run.
        async with curio.disable_cancellation():
            if self._accept_task is not None:
                await self._accept_task.cancel()
                self._accept_task = None
            for task in list(self._tasks):
                await task.cancel()
            self._tasks.clear()
            for sock in list(self._sockets):
                await close_quietly(sock)
            self._sockets.clear()
            if self._listener is not None:
                await close_quietly(self._listener)
                self._listener = None

    # -- serving -----------------------------------------------------------

    async def _accept_loop(self) -> None:
        while True:
            sock, _addr = await self._listener.accept()
            self.connections += 1
            self._sockets.add(sock)
            # Replies leave in several writes; without this, Nagle's algorithm
            # meets the client's delayed ACK and each answer stalls ~40 ms.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            # Registered before the task can run: curio switches tasks only
            # when this one blocks.
            self._tasks.add(await curio.spawn(self._serve, sock, self.connections, daemon=True))

    async def _serve(self, sock: Any, number: int) -> None:
        me = await curio.current_task()
        try:
            if self._ssl_context is not None:
                tls = self._ssl_context.wrap_socket(
                    sock._socket, server_side=True, do_handshake_on_connect=False
                )
                # wrap_socket took over the descriptor; only the TLS socket
                # owns it now.
                self._sockets.discard(sock)
                sock = curio.io.Socket(tls)
                self._sockets.add(sock)
                await sock.do_handshake()
            await self._converse(sock, number)
        except (OSError, h11.ProtocolError):
            pass  # the client went away or broke the protocol
        finally:
            self._sockets.discard(sock)
            self._tasks.discard(me)
            await close_quietly(sock)

    async def _converse(self, sock: Any, number: int) -> None:
        conn = h11.Connection(h11.SERVER)
        while True:
            try:
                request = await _read_request(conn, sock, number)
            except h11.RemoteProtocolError as exc:
                await self._answer_bad_request(conn, sock, exc)
                return
            if request is None:
                return
            self.requests.append(request)
            reply = await self._reply_for(request)
            if reply._hang_up:
                return
            try:
                await _send_reply(conn, sock, request, reply)
            except OSError:
                raise  # the client went away
            except (Exception, curio.TaskTimeout) as exc:
                # The reply itself was wrong (a Content-Length that does not
                # match the body, a body iterator that raised): a bug in the
                # test script. The client sees the connection close.
                self.errors.append(exc)
                return
            if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                return  # Connection: close, or HTTP/1.0 framing
            conn.start_next_cycle()

    async def _reply_for(self, request: Request) -> Reply:
        route = self._routes.get((request.method, request.path))
        if route is None:
            return self._not_found(request)
        answer = route.next()
        if isinstance(answer, Reply):
            return answer
        try:
            reply = await answer(request)
            if not isinstance(reply, Reply):
                raise TypeError(
                    f"handler for {request.method} {request.path} returned {reply!r}, not a Reply"
                )
        except (Exception, curio.TaskTimeout) as exc:
            self.errors.append(exc)
            return Reply.text(
                f"MockServer: the handler for {request.method} {request.path} raised "
                f"{type(exc).__name__}: {exc}\n",
                status=500,
            )
        return reply

    def _not_found(self, request: Request) -> Reply:
        known = ", ".join(f"{m} {p}" for m, p in self._routes) or "none"
        return Reply.text(
            f"MockServer: no route for {request.method} {request.path}\nroutes: {known}\n",
            status=404,
        )

    @staticmethod
    async def _answer_bad_request(conn: h11.Connection, sock: Any, exc: Exception) -> None:
        if conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            return
        body = f"MockServer: bad request: {exc}\n".encode()
        with contextlib.suppress(h11.LocalProtocolError):
            data = conn.send(
                h11.Response(
                    status_code=400,
                    headers=[
                        ("Content-Type", "text/plain; charset=utf-8"),
                        ("Content-Length", str(len(body))),
                        ("Connection", "close"),
                    ],
                )
            )
            data = (data or b"") + (conn.send(h11.Data(data=body)) or b"")
            data += conn.send(h11.EndOfMessage()) or b""
            await sock.sendall(data)


async def _read_request(conn: h11.Connection, sock: Any, number: int) -> Request | None:
    """Read one whole request; ``None`` if the client closed between requests."""
    head: h11.Request | None = None
    body = bytearray()
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            if conn.they_are_waiting_for_100_continue:
                await sock.sendall(
                    conn.send(h11.InformationalResponse(status_code=100, headers=[])) or b""
                )
            try:
                data = await sock.recv(_RECV_SIZE)
            except ConnectionResetError:
                data = b""
            conn.receive_data(data)  # b"" tells h11 about the end of the stream
        elif isinstance(event, h11.Request):
            head = event
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage):
            assert head is not None
            headers = Headers(
                (name.decode("latin-1"), value.decode("latin-1"))
                for name, value in head.headers.raw_items()
            )
            return Request(
                head.method.decode("ascii"),
                head.target.decode("latin-1"),
                headers,
                bytes(body),
                number,
            )
        elif isinstance(event, h11.ConnectionClosed):
            return None
        else:  # pragma: no cover - h11 sends nothing else to a server
            raise h11.RemoteProtocolError(f"unexpected {event!r}")


async def _send_reply(conn: h11.Connection, sock: Any, request: Request, reply: Reply) -> None:
    headers = reply.headers.copy()
    no_body = request.method == "HEAD" or reply.status in (204, 304)
    framed = any(name in headers for name in _FRAMING)
    body = reply.body
    chunks: list[bytes] | AsyncIterable[bytes]
    if isinstance(body, bytes):
        chunks = [body]
        chunked = bool(reply.chunked)
    elif isinstance(body, AsyncIterable):
        chunks = body
        chunked = reply.chunked is not False
    else:
        chunks = [_check_chunk(chunk) for chunk in body]
        chunked = reply.chunked is not False
    if not chunked and not isinstance(chunks, list):
        collected = bytearray()
        await _each_chunk(chunks, _append_to(collected))
        chunks = [bytes(collected)]
    if not framed and reply.status not in (204, 304):
        if chunked:
            headers["Transfer-Encoding"] = "chunked"
        else:
            assert isinstance(chunks, list)
            headers["Content-Length"] = str(sum(len(c) for c in chunks))
    reason = _reason(reply.status)
    await sock.sendall(
        conn.send(
            h11.Response(
                status_code=reply.status,
                headers=[
                    (n.encode("latin-1"), v.encode("latin-1")) for n, v in headers.multi_items()
                ],
                reason=reason,
            )
        )
        or b""
    )
    if not no_body:

        async def send(chunk: bytes) -> None:
            if chunk:  # an empty chunk would end a chunked body early
                await sock.sendall(conn.send(h11.Data(data=chunk)) or b"")

        if isinstance(chunks, list):
            for chunk in chunks:
                await send(_check_chunk(chunk))
        else:
            await _each_chunk(chunks, send)
    await sock.sendall(conn.send(h11.EndOfMessage()) or b"")


def _check_chunk(chunk: object) -> bytes:
    if not isinstance(chunk, (bytes, bytearray, memoryview)):
        raise TypeError(f"a reply body chunk must be bytes, got {chunk!r}")
    return bytes(chunk)


def _append_to(buffer: bytearray) -> Callable[[bytes], Awaitable[None]]:
    async def append(chunk: bytes) -> None:
        buffer.extend(chunk)

    return append


async def _each_chunk(
    body: AsyncIterable[bytes], action: Callable[[bytes], Awaitable[None]]
) -> None:
    """Await ``action`` with each chunk of ``body``; close the iterator however it ends.

    An async generator left suspended would be finalised by the garbage
    collector, which curio reports as an error.
    """
    iterator = aiter(body)
    try:
        async for chunk in iterator:
            await action(_check_chunk(chunk))
    finally:
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            await aclose()


def _reason(status: int) -> bytes:
    try:
        return http.HTTPStatus(status).phrase.encode("ascii")
    except ValueError:
        return b""
