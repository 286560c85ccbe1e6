"""Cancellation and timeouts at every suspension of a request, one suspension at a time.

A request's task suspends in the kernel a few times (a connect, each wait
for the socket, a pool wait, a sleep). :func:`sweep` makes the same request
again and again, and in run *k* strikes at the *k*-th suspension - the
*k*-th blocking trap the task hands the kernel (``trap_io``, ``trap_sleep``,
``trap_sched_wait``, ``trap_future_wait``) - until a run finishes with fewer
than *k* suspensions: every await point of the request is hit once. What
strikes is what curio itself would deliver to a task blocked there:

* ``cancel``: ``task.cancel()`` - the caller gets ``TaskCancelled``;
* ``call``: the call's own ``timeout=`` (or a stream read's
  ``r.body(timeout=...)``) expires - ``RequestTimeout`` naming it;
* ``innermost``: the innermost deadline in force expires (the connect's
  ``connection_timeout``, a ``pool_timeout``, a Happy Eyeballs delay) - an
  asks exception, or nothing when asks owned that deadline;
* ``caller``: the caller's own ``curio.timeout_after`` around the call
  expires - the caller gets its ``TaskTimeout``, unchanged (docs/errors.md).

The strike is curio's own mechanism: the pending exception of the task
(``cancel_pending``), set just before the trap reaches the kernel, which
delivers it at that trap - or, inside ``disable_cancellation``, at the next
blocking call allowed to take it, as curio would. A timeout carries the
clock of the deadline that expired, so curio's ``timeout_after`` blocks
sort it out as they do a real one.

After every run: the task ended with what the strike calls for (or the
request's result, if it struck where nothing can be cancelled any more);
nothing busy, connecting or waiting in the pool; exactly as many sockets to
the server as idle connections, and no half-made one anywhere; no task of
asks left but an idle HTTP/2 connection's two; and the next request on the
same session succeeds. The harness checks file descriptors and tasks once
more at the end of every test.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import socket
import ssl
import types
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from pathlib import Path
from typing import Any

import curio
import curio.io
import curio.socket
import pytest

import asks
import asks._transport.backend
from asks._transport import happy_eyeballs
from asks.errors import RequestTimeout
from tests import servers
from tests.http2.scripted import H2Server, ServerStream
from tests.proxies.scripted import ScriptedProxy
from tests.servers import read_request

Make = Callable[[], Awaitable[object]]

# The traps in which a task waits, and where curio delivers a cancellation.
BLOCKING = frozenset({"trap_io", "trap_sleep", "trap_sched_wait", "trap_future_wait"})
MOST_SUSPENSIONS = 400  # far above any request here: a sweep that gets there loops
CALL_TIMEOUT = 5  # seconds; never expires by itself in these tests


# --------------------------------------------------------------------------
# Striking at the k-th suspension


def _deadlines(task: Any) -> list[float]:
    # curio keeps the deadlines of a task's timeout_after blocks, outermost
    # first, in Task._deadlines (None for a block without one).
    return [d for d in task._deadlines if d is not None]


def _cancel(task: Any) -> None:
    # What trap_cancel_task does to a task that may not be woken yet.
    task.cancelled = True
    task.cancel_pending = curio.TaskCancelled("TaskCancelled")


def _outermost_expires(task: Any) -> None:
    deadlines = _deadlines(task)
    if deadlines:
        task.cancel_pending = curio.TaskTimeout(deadlines[0])


def _innermost_expires(task: Any) -> None:
    deadlines = _deadlines(task)
    if deadlines:
        task.cancel_pending = curio.TaskTimeout(deadlines[-1])


# strike name -> (what to do to the task, the exception the caller gets)
STRIKES: dict[str, tuple[Callable[[Any], None], type[BaseException]]] = {
    "cancel": (_cancel, curio.TaskCancelled),
    "call": (_outermost_expires, RequestTimeout),
    "innermost": (_innermost_expires, asks.errors.AsksException),
    "caller": (_outermost_expires, curio.TaskTimeout),
}
STRIKE = pytest.mark.parametrize("strike", list(STRIKES))


class Run:
    """One run of a request: its task, how often it suspended, whether the strike landed."""

    def __init__(self) -> None:
        self.suspensions = 0
        self.delivered = False  # the strike was delivered at its very trap
        self.task: Any = None


@types.coroutine
def _strike_at(
    coro: Any, k: int, task: Any, strike: Callable[[Any], None], run: Run
) -> Generator[Any, Any, Any]:
    # Passes every trap of *coro* to the kernel and its answer back; curio
    # sends exceptions as values (traps._kernel_trap raises them).
    value = None
    try:
        while True:
            try:
                trap = coro.send(value)
            except StopIteration as stop:
                return stop.value
            if trap[0] in BLOCKING:
                run.suspensions += 1
                if run.suspensions == k:
                    strike(task)
                    run.delivered = task.allow_cancel and task.cancel_pending is not None
            value = yield trap
    finally:
        coro.close()


async def run_striking(make: Make, k: int, strike: str) -> Run:
    """Run ``make()`` in a task of its own, striking at its *k*-th suspension."""
    hit = STRIKES[strike][0]
    run = Run()

    async def body() -> object:
        task = await curio.current_task()
        if strike == "caller":
            async with curio.timeout_after(1000):
                return await _strike_at(make(), k, task, hit, run)
        return await _strike_at(make(), k, task, hit, run)

    run.task = await curio.spawn(body)
    with contextlib.suppress(curio.TaskError):
        await run.task.join()  # how it ended is looked at by the caller
    return run


# --------------------------------------------------------------------------
# What must hold after each run


def _names_one_of(name: Any, ends: set[Any]) -> bool:
    # *ends*: ports (TCP) and paths (Unix sockets).
    if isinstance(name, tuple):
        return name[1] in ends
    return name in ends


def client_sockets(ends: set[Any]) -> tuple[int, int]:
    """Sockets of this process connected to one of *ends*, and those connected nowhere.

    The second count leaves out listeners and server sides (whose own name
    is in *ends*): a socket connected nowhere is a dial still in progress
    (or a server side whose client reset it).
    """
    to_ends = nowhere = 0
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        try:
            if not os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"):
                continue
            sock = socket.socket(fileno=os.dup(fd))
        except OSError:
            continue  # closed meanwhile (the listing's own descriptor)
        with sock:
            try:
                peer = sock.getpeername()
            except OSError:
                listening = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
                if not listening and not _names_one_of(sock.getsockname(), ends):
                    nowhere += 1
                continue
            if _names_one_of(peer, ends):
                to_ends += 1
    return to_ends, nowhere


def asks_tasks(kernel: Any) -> list[Any]:
    """The kernel's tasks running asks' own code (Kernel._tasks: see tests/conftest.py)."""
    found = []
    for task in kernel._tasks.values():
        code = getattr(task.coro, "cr_code", None)
        if code is not None and f"{os.sep}asks{os.sep}" in code.co_filename:
            found.append(task)
    return found


async def sweep(
    session: asks.Session,
    make: Make,
    ends: set[Any],
    *,
    strike: str,
    fresh: bool,
    then: Make | None = None,
    tasks_per_idle: int = 0,
) -> int:
    """Strike ``make()`` at each of its suspensions in turn; how many runs it took.

    Args:
        ends: the server's port (or Unix socket path), to count the sockets to it.
        fresh: each run on a new connection (the pool emptied first), else
            on the one the run before left idle, if any.
        then: the request that must succeed after each run (``make``).
        tasks_per_idle: asks tasks each idle connection runs (HTTP/2: 2).
    """
    kernel = await curio.traps._get_kernel()
    expected = STRIKES[strike][1]
    _, nowhere_before = client_sockets(ends)
    k = 0
    while True:
        k += 1
        assert k < MOST_SUSPENSIONS
        if fresh:
            await session.close()
        run = await run_striking(make, k, strike)
        exc = run.task.exception
        where = f"strike {strike!r} at suspension {k}: {exc!r}"
        if run.suspensions < k or not run.delivered:
            # Nothing struck (the last run), or it struck where nothing can
            # be cancelled any more and the task had no blocking call left.
            assert exc is None or isinstance(exc, expected), where
        elif expected is curio.TaskTimeout:
            assert type(exc) is curio.TaskTimeout, where  # the caller's own, unchanged
        elif strike != "innermost":
            # Delivered: never swallowed, never something else.
            assert isinstance(exc, expected), where
            if strike == "call":
                assert f"within {CALL_TIMEOUT} s" in str(exc), where
        else:
            # asks may own the innermost deadline (a Happy Eyeballs delay).
            assert exc is None or isinstance(exc, expected), where
        stats = session.pool_stats()
        assert (stats.busy, stats.connecting, stats.waiting) == (0, 0, 0), (where, stats)
        assert stats.open == stats.idle, (where, stats)
        assert client_sockets(ends) == (stats.idle, nowhere_before), (where, stats)
        assert len(asks_tasks(kernel)) == tasks_per_idle * stats.idle, where
        await (then or make)()
        if run.suspensions < k:
            return k


# --------------------------------------------------------------------------
# Servers that make the client wait at every step


async def pause() -> None:
    """Let the client run until it waits again (the kernel polls the sockets in between)."""
    for _ in range(3):
        await curio.sleep(0)


BODY = b"x" * 300
LENGTH = [
    b"HTTP/1.1 200 OK\r\n",
    b"Content-Length: 300\r\n\r\n",
    BODY[:100],
    BODY[100:200],
    BODY[200:],
]
CHUNKED = [
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"64\r\n" + BODY[:100] + b"\r\n",
    b"c8\r\n" + BODY[100:],
    b"\r\n0\r\n\r\n",
]
_GZ = gzip.compress(BODY)
GZIP_CHUNKED = [
    b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"14\r\n" + _GZ[:20] + b"\r\n",
    b"%x\r\n" % (len(_GZ) - 20) + _GZ[20:] + b"\r\n0\r\n\r\n",
]
FRAMINGS = pytest.mark.parametrize(
    "pieces", [LENGTH, CHUNKED, GZIP_CHUNKED], ids=["length", "chunked", "gzip"]
)
FRESH = pytest.mark.parametrize("fresh", [True, False], ids=["fresh", "reused"])


def dripping(pieces: list[bytes] = LENGTH) -> Callable[[curio.io.Socket], Awaitable[None]]:
    """A keep-alive server answering each request with *pieces*, one by one.

    ``/rN`` redirects (302) to ``/r(N-1)``, ``/tN`` (307) to ``/t(N-1)``,
    down to 0, which gets the answer.
    """

    async def app(sock: curio.io.Socket) -> None:
        while (got := await read_request(sock)) is not None:
            target = got[0].target
            if target[:2] in (b"/r", b"/t") and int(target[2:]) > 0:
                status = b"302 Found" if target[:2] == b"/r" else b"307 Temporary Redirect"
                location = target[:2] + b"%d" % (int(target[2:]) - 1)
                await sock.sendall(
                    b"HTTP/1.1 %s\r\nLocation: %s\r\nContent-Length: 0\r\n\r\n"
                    % (status, location)
                )
                continue
            for piece in pieces:
                await sock.sendall(piece)
                await pause()

    return app


async def generated() -> AsyncIterator[bytes]:
    for _ in range(3):
        yield b"abc"
        await pause()


KINDS: dict[str, Callable[[asks.Session, str], Awaitable[Any]]] = {
    "get": lambda s, url: s.get(url + "/r0", timeout=CALL_TIMEOUT),
    "post": lambda s, url: s.post(url + "/r0", data=b"hello" * 100, timeout=CALL_TIMEOUT),
    "post-big": lambda s, url: s.post(url + "/r0", data=b"b" * 600_000, timeout=CALL_TIMEOUT),
    "post-generator": lambda s, url: s.post(url + "/r0", data=generated(), timeout=CALL_TIMEOUT),
    "redirects": lambda s, url: s.get(url + "/r3", timeout=CALL_TIMEOUT),
    "redirect-307": lambda s, url: s.post(url + "/t2", data=b"hello", timeout=CALL_TIMEOUT),
}


def getting(session: asks.Session, url: str, kind: str = "get") -> Make:
    async def make() -> None:
        r = await KINDS[kind](session, url)
        assert r.content == BODY

    return make


# --------------------------------------------------------------------------
# HTTP/1.1


@STRIKE
@FRESH
@FRAMINGS
async def test_buffered_get(raw_server, pieces, fresh, strike):
    server = await raw_server(dripping(pieces))
    async with asks.Session(connections=2) as s:
        await sweep(s, getting(s, server.url), {server.port}, strike=strike, fresh=fresh)


@STRIKE
@FRESH
@pytest.mark.parametrize(
    "kind", ["post", "post-big", "post-generator", "redirects", "redirect-307"]
)
async def test_bodies_and_redirects(raw_server, kind, fresh, strike):
    server = await raw_server(dripping())
    async with asks.Session(connections=2) as s:
        make = getting(s, server.url, kind)
        await sweep(s, make, {server.port}, strike=strike, fresh=fresh)


@STRIKE
@FRESH
@pytest.mark.parametrize("how", ["partly-then-closed", "to-the-end", "async-with", "text"])
async def test_stream(raw_server, how, fresh, strike):
    server = await raw_server(dripping(GZIP_CHUNKED))
    async with asks.Session(connections=2) as s:

        async def make() -> None:
            r = await s.get(server.url + "/r0", stream=True, timeout=CALL_TIMEOUT)
            if how == "partly-then-closed":
                async for _ in r.body(timeout=CALL_TIMEOUT):
                    break
                await r.body.close()
            elif how == "to-the-end":
                got = b""
                async for chunk in r.body(timeout=CALL_TIMEOUT):
                    got += chunk
                assert got == BODY
            elif how == "async-with":
                async with r:
                    async for _ in r.body:
                        break
            else:
                assert "".join([t async for t in r.body.text()]) == BODY.decode()

        then = getting(s, server.url)
        await sweep(s, make, {server.port}, strike=strike, fresh=fresh, then=then)


@STRIKE
@FRESH
@pytest.mark.parametrize("kind", ["get", "post"])
async def test_tls(raw_server, server_ssl_context, client_ssl_context, kind, fresh, strike):
    server = await raw_server(dripping(), ssl_context=server_ssl_context)
    async with asks.Session(connections=2, ssl_context=client_ssl_context) as s:
        make = getting(s, server.url, kind)
        await sweep(s, make, {server.port}, strike=strike, fresh=fresh)


@STRIKE
@pytest.mark.parametrize("stream", [False, True], ids=["buffered", "stream"])
async def test_module_level_call(raw_server, stream, strike):
    # Its temporary session must close whatever happens (api.md).
    server = await raw_server(dripping())
    _, nowhere = client_sockets({server.port})

    async def make() -> None:
        r = await asks.get(server.url + "/r0", stream=stream, timeout=CALL_TIMEOUT)
        if stream:
            async for _ in r.body(timeout=CALL_TIMEOUT):
                pass
        else:
            assert r.content == BODY

    k = 0
    while True:
        k += 1
        run = await run_striking(make, k, strike)
        exc = run.task.exception
        assert exc is None or isinstance(exc, STRIKES[strike][1]), (k, exc)
        assert client_sockets({server.port}) == (0, nowhere), k
        if run.suspensions < k:
            break


# --------------------------------------------------------------------------
# Policies: retries, auth, callbacks, waiting for a slot, limits


def answering(
    pieces: list[bytes],
    *,
    busy_first: bool = False,
    digest: bool = False,
    basic_only: bool = False,
    basic_only_dripping: bool = False,
    refuse_expect: bool = False,
):
    """A server like :func:`dripping`; a 503 before every answer, or a Digest challenge.

    ``basic_only``: every request gets a challenge a Digest auth cannot answer
    (``basic_only_dripping``: its body in *pieces*' pieces, after the first);
    ``refuse_expect``: see :func:`refusing_expectations`.
    """
    if refuse_expect:
        return refusing_expectations(pieces)
    count = 0

    async def app(sock: curio.io.Socket) -> None:
        nonlocal count
        while (got := await read_request(sock)) is not None:
            count += 1
            if basic_only:
                await sock.sendall(
                    b'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm="r"\r\n'
                    b"Content-Length: %d\r\n\r\n%s" % (len(BODY), BODY)
                )
                continue
            if basic_only_dripping:
                # As basic_only, its body in the pieces of LENGTH.
                await sock.sendall(
                    b'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm="r"\r\n'
                )
                for piece in pieces[1:]:
                    await pause()
                    await sock.sendall(piece)
                continue
            if busy_first and count % 2:
                await sock.sendall(
                    b"HTTP/1.1 503 Busy\r\nRetry-After: 0\r\nContent-Length: 4\r\n\r\nbusy"
                )
                continue
            if digest and not any(k.lower() == b"authorization" for k, _ in got[0].headers):
                await sock.sendall(
                    b"HTTP/1.1 401 Unauthorized\r\n"
                    b'WWW-Authenticate: Digest realm="r", nonce="abc", qop="auth"\r\n'
                    b"Content-Length: 2\r\n\r\nno"
                )
                continue
            for piece in pieces:
                await sock.sendall(piece)
                await pause()

    return app


def refusing_expectations(pieces: list[bytes]):
    """A server that answers a 417 to a head with ``Expect`` (and closes: its body
    is not read), and *pieces* to a request without one."""

    async def answer(sock: curio.io.Socket) -> None:
        for piece in pieces:
            await sock.sendall(piece)
            await pause()

    return servers.refusing_expectations(
        b"HTTP/1.1 417 Expectation Failed\r\nContent-Length: 0\r\n\r\n", answer
    )


@STRIKE
@pytest.mark.parametrize(
    "policy",
    [
        "retry",
        "digest",
        "callback",
        "rate-limit",
        "waiting",
        "waiting-per-host",
        "hooks",
        "hooks-stream",
        "declined-challenge-stream",
        "declined-challenge-past-the-bound",
        "expectation-refused",
    ],
)
async def test_policies(raw_server, policy, strike):
    server = await raw_server(
        answering(
            LENGTH,
            busy_first=policy == "retry",
            digest=policy == "digest",
            basic_only=policy == "declined-challenge-stream",
            basic_only_dripping=policy == "declined-challenge-past-the-bound",
            refuse_expect=policy == "expectation-refused",
        )
    )
    options: dict[str, Any] = {"connections": 1}
    if policy == "waiting-per-host":
        options = {"connections": 3, "connections_per_host": 1}
    elif policy == "declined-challenge-past-the-bound":
        # The bound of a passed response's body (max_body_size, smaller
        # than _PASSED_BODY_LIMIT) inside the challenge's body: the rest
        # is read from the connection held past it.
        options["max_body_size"] = 150
    elif policy == "rate-limit":
        options["rate_limit"] = asks.RateLimit(200, burst=1)
    elif policy.startswith("hooks"):

        async def hook(_: object) -> None:
            await pause()

        options["event_hooks"] = {"request": [hook], "response": [hook]}
    url = server.url + "/"
    async with asks.Session(**options) as s:

        async def make() -> None:
            kwargs: dict[str, Any] = {"timeout": CALL_TIMEOUT}
            if policy == "retry":
                kwargs["retries"] = asks.Retry(
                    total=2, backoff_factor=0.0001, status_forcelist=(503,)
                )
            elif policy == "digest":
                kwargs["auth"] = asks.DigestAuth(("user", "pass"))
            elif policy == "callback":
                got = bytearray()

                async def callback(chunk: bytes) -> None:
                    got.extend(chunk)
                    await pause()

                await s.get(url, callback=callback, **kwargs)
                assert got == BODY
                return
            elif policy.startswith("waiting"):
                # Its own deadline for the wait, inside the call's.
                kwargs["pool_timeout"] = 30
                await wait_behind_another_request(s, url, kwargs)
                return
            if policy.startswith("declined-challenge"):
                # The 401 read whole for the auth object, then served as the stream.
                r = await s.get(url, stream=True, auth=asks.DigestAuth(("u", "p")), **kwargs)
                assert r.status_code == 401
                assert b"".join([c async for c in r.body(timeout=CALL_TIMEOUT)]) == BODY
                return
            if policy == "expectation-refused":
                # The 417, then the same request again without the expectation.
                r = await s.post(
                    url, data=b"x" * 100, headers={"Expect": "100-continue"}, **kwargs
                )
                assert r.content == BODY
                assert [h.status_code for h in r.history] == [417]
                return
            if policy == "hooks-stream":
                # A response hook struck: the stream the caller never gets is closed.
                r = await s.get(url, stream=True, **kwargs)
                assert b"".join([c async for c in r.body(timeout=CALL_TIMEOUT)]) == BODY
                return
            r = await s.get(url, **kwargs)
            assert r.content == BODY

        await sweep(s, make, {server.port}, strike=strike, fresh=False)


async def wait_behind_another_request(s: asks.Session, url: str, kwargs: dict[str, Any]) -> None:
    """A request that waits for the only slot, handed over by a stream another task closes."""
    held = await s.get(url, stream=True, timeout=CALL_TIMEOUT)

    async def finish_held() -> None:
        while s.pool_stats().waiting < 1:
            await curio.sleep(0)
        async for _ in held.body(timeout=CALL_TIMEOUT):
            pass

    other = await curio.spawn(finish_held)
    try:
        r = await s.get(url, **kwargs)
    finally:
        await other.cancel()
        await held.body.close()
    assert r.content == BODY


@STRIKE
@pytest.mark.parametrize("mode", ["h1", "h1-tls", "h2c", "h2-tls"])
@pytest.mark.parametrize("stream", [False, True], ids=["buffered", "stream"])
@pytest.mark.parametrize("first", ["struck", "other"])
async def test_the_other_request_on_the_only_connection_is_unharmed(
    raw_server, server_ssl_context, client_ssl_context, mode, stream, first, strike
):
    # connections=1: the two requests share one connection (HTTP/2: as two
    # streams, the second waiting for the ALPN answer of the first's
    # dial) or wait for each other's slot (HTTP/1.1). Whichever goes first,
    # striking one leaves the other to finish.
    tls = mode.endswith("tls")
    h2 = mode.startswith("h2")
    options: dict[str, Any] = {"ssl_context": client_ssl_context}
    if h2:
        options["http2"] = True if tls else "prior-knowledge"
        server: Any = await H2Server(
            answer_dripping, ssl_context=server_ssl_context if tls else None
        ).start()
    else:
        server = await raw_server(dripping(), ssl_context=server_ssl_context if tls else None)
    try:
        async with asks.Session(connections=1, **options) as s:

            async def one() -> None:
                r = await s.get(
                    server.url + "/r0", timeout=CALL_TIMEOUT, pool_timeout=30, stream=stream
                )
                if not stream:
                    assert r.content == BODY
                    return
                got = b""
                async for chunk in r.body(timeout=CALL_TIMEOUT):
                    got += chunk
                assert got == BODY

            async def make() -> None:
                other = await curio.spawn(one)
                try:
                    if first == "other":
                        async with curio.disable_cancellation():
                            while s.pool_stats().open == 0 and not other.terminated:
                                await curio.sleep(0)
                    await one()
                finally:
                    async with curio.disable_cancellation():
                        await other.wait()
                    assert other.exception is None, repr(other.exception)

            for fresh in (True, False):
                await sweep(
                    s,
                    make,
                    {server.port},
                    strike=strike,
                    fresh=fresh,
                    tasks_per_idle=2 if h2 else 0,
                )
    finally:
        if h2:
            await server.aclose()
    if h2:
        assert not [e for e in server.errors if not isinstance(e, ssl.SSLError)], server.errors


# --------------------------------------------------------------------------
# HTTP/2


async def answer_dripping(stream: ServerStream) -> None:
    await stream.read_body()
    await stream.send_headers(200, [(b"content-length", b"300")])
    for i in range(3):
        await pause()
        await stream.send_data(BODY[i * 100 : (i + 1) * 100], end_stream=i == 2)


@STRIKE
@pytest.mark.parametrize("tls", [False, True], ids=["h2c", "tls"])
@pytest.mark.parametrize("kind", ["get", "post", "post-generator"])
async def test_http2(server_ssl_context, client_ssl_context, kind, tls, strike):
    server = await H2Server(
        answer_dripping, ssl_context=server_ssl_context if tls else None
    ).start()
    options: dict[str, Any] = {"http2": True, "ssl_context": client_ssl_context}
    if not tls:
        options = {"http2": "prior-knowledge"}
    try:
        async with asks.Session(connections=2, **options) as s:
            make = getting(s, server.url, kind)
            for fresh in (True, False):
                await sweep(s, make, {server.port}, strike=strike, fresh=fresh, tasks_per_idle=2)
    finally:
        await server.aclose()
    # A TLS handshake cut short by the client is the server's EOF, not an error of asks'.
    assert not [e for e in server.errors if not isinstance(e, ssl.SSLError)], server.errors


# --------------------------------------------------------------------------
# Routes: proxies, SOCKS5, Unix sockets, several addresses


@STRIKE
@FRESH
@pytest.mark.parametrize("kind", ["get", "post"])
async def test_forward_proxy(raw_server, kind, fresh, strike):
    origin = await raw_server(dripping())
    proxy = await raw_server(ScriptedProxy())
    async with asks.Session(connections=2, proxy=proxy.url) as s:
        make = getting(s, origin.url, kind)
        await sweep(s, make, {proxy.port}, strike=strike, fresh=fresh)


@STRIKE
@FRESH
@pytest.mark.parametrize("kind", ["get", "post"])
async def test_connect_tunnel(
    raw_server, server_ssl_context, client_ssl_context, kind, fresh, strike
):
    origin = await raw_server(dripping(), ssl_context=server_ssl_context)
    proxy = await raw_server(ScriptedProxy())
    async with asks.Session(connections=2, proxy=proxy.url, ssl_context=client_ssl_context) as s:
        make = getting(s, origin.url, kind)
        await sweep(s, make, {proxy.port}, strike=strike, fresh=fresh)


async def _read_exactly(sock: curio.io.Socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        got = await sock.recv(size - len(data))
        if not got:
            return None
        data += got
    return data


def socks5(then: Callable[[curio.io.Socket], Awaitable[None]]):
    """A SOCKS5 server (no auth, RFC 1928) answering in two parts each step, then *then*."""

    async def handler(sock: curio.io.Socket) -> None:
        if await _read_exactly(sock, 3) is None:  # VER, NMETHODS, METHODS
            return
        await sock.sendall(b"\x05")
        await pause()
        await sock.sendall(b"\x00")
        if await _read_exactly(sock, 10) is None:  # CONNECT to an IPv4 address
            return
        await sock.sendall(b"\x05\x00\x00\x01")
        await pause()
        await sock.sendall(b"\x00\x00\x00\x00\x00\x00")
        await then(sock)

    return handler


@STRIKE
@FRESH
@pytest.mark.parametrize("kind", ["get", "post"])
async def test_socks5(raw_server, kind, fresh, strike):
    proxy = await raw_server(socks5(dripping()))
    async with asks.Session(connections=2, proxy=f"socks5://127.0.0.1:{proxy.port}") as s:
        # The origin is the SOCKS server itself: nothing listens on port 9.
        make = getting(s, "http://127.0.0.1:9", kind)
        await sweep(s, make, {proxy.port}, strike=strike, fresh=fresh)


class UnixServer:
    """A server on a Unix socket in the test's kernel, each connection to *handler*."""

    def __init__(self, path: str, handler: Callable[[curio.io.Socket], Awaitable[None]]):
        self.path = path
        self.handler = handler
        self.tasks: list[Any] = []

    async def __aenter__(self) -> UnixServer:
        self.listener = curio.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.path)
        self.listener.listen(16)
        self.tasks.append(await curio.spawn(self._accept, daemon=True))
        return self

    async def _accept(self) -> None:
        while True:
            client, _ = await self.listener.accept()
            self.tasks.append(await curio.spawn(self._serve, client, daemon=True))

    async def _serve(self, client: curio.io.Socket) -> None:
        async with client:
            with contextlib.suppress(OSError):  # the client went away
                await self.handler(client)

    async def __aexit__(self, *exc_info: object) -> None:
        for task in reversed(self.tasks):
            await task.cancel()
        await self.listener.close()


@STRIKE
@FRESH
@pytest.mark.parametrize("kind", ["get", "post"])
async def test_unix_socket(tmp_path: Path, kind, fresh, strike):
    path = str(tmp_path / "asks.sock")
    async with (
        UnixServer(path, dripping()),
        asks.Session("http://docker.test", connections=2, uds=path) as s,
    ):
        make = getting(s, "http://docker.test", kind)
        await sweep(s, make, {path}, strike=strike, fresh=fresh)


@STRIKE
@pytest.mark.parametrize(
    ("first", "delay"),
    [("silent", 0.0), ("silent", 0.02), ("refused", 0.0), ("refused", 0.25)],
)
async def test_happy_eyeballs(raw_server, monkeypatch, first, delay, strike):
    # Two addresses: the first never answers (a listener whose backlog is
    # full drops the SYN) or refuses, the second is the server.
    server = await raw_server(dripping())
    full = curio.socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    fillers: list[socket.socket] = []
    try:
        full.bind(("127.0.0.1", 0))
        full.listen(0)
        silent_port = full.getsockname()[1]
        for _ in range(2 if first == "silent" else 0):
            filler = socket.socket()
            fillers.append(filler)
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(("127.0.0.1", silent_port))
        with socket.socket() as unused:
            unused.bind(("127.0.0.1", 0))
            refused_port = unused.getsockname()[1]
        bad = silent_port if first == "silent" else refused_port

        async def resolve(host: str, port: int) -> list[Any]:
            return [
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", bad)),
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", server.port)),
            ]

        monkeypatch.setattr(asks._transport.backend, "resolve", resolve)
        monkeypatch.setitem(happy_eyeballs.connect_tcp.__kwdefaults__, "delay", delay)
        async with asks.Session(connections=2) as s:
            make = getting(s, f"http://dual.test:{server.port}")
            await sweep(s, make, {server.port}, strike=strike, fresh=True)
    finally:
        for filler in fillers:
            filler.close()
        await full.close()


@STRIKE
@pytest.mark.parametrize("route", ["direct", "tls", "forward", "tunnel", "socks5"])
async def test_without_connection_timeout(
    raw_server, server_ssl_context, client_ssl_context, route, strike
):
    # No deadline of the connect's own: whatever times out there is the
    # call's or the caller's.
    tls = route in ("tls", "tunnel")
    origin = await raw_server(dripping(), ssl_context=server_ssl_context if tls else None)
    options: dict[str, Any] = {"ssl_context": client_ssl_context}
    end, url = origin.port, origin.url
    if route in ("forward", "tunnel"):
        proxy = await raw_server(ScriptedProxy())
        options["proxy"] = proxy.url
        end = proxy.port
    elif route == "socks5":
        proxy = await raw_server(socks5(dripping()))
        options["proxy"] = f"socks5://127.0.0.1:{proxy.port}"
        end, url = proxy.port, "http://127.0.0.1:9"
    async with asks.Session(connections=2, **options) as s:

        async def make() -> None:
            r = await s.get(url + "/r0", timeout=CALL_TIMEOUT, connection_timeout=None)
            assert r.content == BODY

        await sweep(s, make, {end}, strike=strike, fresh=True)


@STRIKE
async def test_a_name_resolved_by_the_system(raw_server, strike):
    # "localhost" goes to getaddrinfo in a worker thread: a strike there
    # leaves the thread to finish on its own, and nothing else behind.
    server = await raw_server(dripping())
    async with asks.Session(connections=2) as s:
        make = getting(s, f"http://localhost:{server.port}")
        await sweep(s, make, {server.port}, strike=strike, fresh=True)
