"""The test harness itself: the curio plugin, the leak checks and the servers.

These double as examples of how to write tests in this suite. Behaviour that
must make a test *fail* is checked by running a small test file in a child
pytest (``pytester``) with the plugin loaded.
"""

from __future__ import annotations

import http.client
import json
import os
import ssl
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import curio
import curio.io
import h11
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fixtures import RawServerFactory
from tests.servers import HttpbinProcess, RawServer, canned, read_request

ROOT = Path(__file__).resolve().parent.parent

OK_HI = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"


# --------------------------------------------------------------------------
# Async tests and async fixtures


async def test_async_test_runs_in_curio() -> None:
    task = await curio.current_task()
    assert task is not None
    assert await curio.timeout_after(1, curio.sleep(0)) is not None


@dataclass
class Journal:
    """Records events; its teardown (sync, so after every async fixture) checks them."""

    events: list[str] = field(default_factory=list)
    expected_at_end: list[str] | None = None


@pytest.fixture
def journal() -> Iterator[Journal]:
    journal = Journal()
    yield journal
    if journal.expected_at_end is not None:
        assert journal.events == journal.expected_at_end


@pytest.fixture
async def outer(journal: Journal) -> AsyncIterator[str]:
    await curio.sleep(0)  # really async: runs inside the test's kernel
    journal.events.append("outer up")
    yield "outer"
    await curio.sleep(0)
    journal.events.append("outer down")


@pytest.fixture
async def inner(outer: str, journal: Journal) -> AsyncIterator[str]:
    journal.events.append("inner up")
    yield f"inner on {outer}"
    journal.events.append("inner down")


async def test_async_generator_fixtures_set_up_in_order_and_torn_down_in_reverse(
    inner: str, journal: Journal
) -> None:
    assert inner == "inner on outer"
    assert journal.events == ["outer up", "inner up"]
    journal.events.append("test")
    journal.expected_at_end = ["outer up", "inner up", "test", "inner down", "outer down"]


@dataclass
class Counter:
    made: int = 0


@pytest.fixture
def counter() -> Counter:
    return Counter()


@pytest.fixture
async def shared(counter: Counter, tmp_path: Path) -> Path:
    counter.made += 1
    await curio.sleep(0)
    return tmp_path / "shared"


@pytest.fixture
async def left(shared: Path) -> Path:
    return shared


@pytest.fixture
async def right(shared: Path) -> Path:
    return shared


async def test_async_fixture_shared_by_two_fixtures_is_made_once(
    left: Path, right: Path, shared: Path, counter: Counter, tmp_path: Path
) -> None:
    assert left is right is shared
    assert shared.parent == tmp_path  # async fixtures can use sync ones
    assert counter.made == 1


class TestInAClass:
    @pytest.fixture
    async def prefix(self) -> str:
        return "method"

    async def test_async_method_and_method_fixture(self, prefix: str) -> None:
        assert prefix == "method"


@given(data=st.binary(max_size=64))
async def test_hypothesis_examples_each_run_in_a_kernel(data: bytes) -> None:
    await curio.sleep(0)
    assert len(data) <= 64


# --------------------------------------------------------------------------
# Failures the harness must produce (checked in a child pytest)

InnerRun = Callable[..., pytest.RunResult]


@pytest.fixture
def run_inner(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> InnerRun:
    """Run a test module in a child pytest that loads only our plugin."""
    pytester.makeconftest('pytest_plugins = ["tests.conftest"]')
    pytester.makeini(
        "[pytest]\naddopts = --strict-markers -p no:cacheprovider\nfilterwarnings = error\n"
    )
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    )

    def run(source: str, *args: str) -> pytest.RunResult:
        pytester.makepyfile(test_inner=source)
        return pytester.runpytest_subprocess(*args, timeout=120)

    return run


def test_deadline_fails_a_stuck_test_and_still_tears_down(run_inner: InnerRun) -> None:
    started = time.monotonic()
    result = run_inner(
        """
        import curio, pytest

        @pytest.fixture
        async def resource():
            yield
            print("TEARDOWN RAN")

        @pytest.mark.curio_timeout(0.3)
        async def test_stuck(resource):
            await curio.sleep(60)

        @pytest.mark.curio_timeout(0.3)
        async def test_stuck_in_its_own_timeout_block():
            async with curio.timeout_after(60):
                await curio.sleep(60)

        @pytest.mark.curio_timeout(5)
        async def test_own_timeout_is_not_the_deadline():
            with pytest.raises(curio.TaskTimeout):
                await curio.timeout_after(0.01, curio.sleep(60))
        """
    )
    result.assert_outcomes(failed=2, passed=1)
    result.stdout.fnmatch_lines(
        [
            "*_ test_stuck _*",
            "test did not finish within its deadline of 0.3 s*",
            '*File "*test_inner.py", line *, in test_stuck',
            "*await curio.sleep(60)",
            "*TEARDOWN RAN*",
        ]
    )
    assert time.monotonic() - started < 30


def test_leaked_tasks_fail_the_test(run_inner: InnerRun) -> None:
    result = run_inner(
        """
        import curio

        async def forever():
            await curio.sleep(60)

        async def test_leaks_a_task():
            await curio.spawn(forever)
            await curio.sleep(0)

        async def test_leaks_a_daemon_task():
            await curio.spawn(forever, daemon=True)

        async def test_cleans_up():
            task = await curio.spawn(forever)
            await task.cancel()
            done = await curio.spawn(curio.sleep, 0)
            await done.join()
        """
    )
    result.assert_outcomes(failed=2, passed=1)
    result.stdout.fnmatch_lines(
        [
            "*_ test_leaks_a_task _*",
            "1 task(s) spawned during the test were still running after it*",
            "*Task(id=*, name='forever', *test_inner.py*",
        ]
    )


def test_a_thread_left_running_by_a_cancelled_task_fails_its_own_test(
    run_inner: InnerRun,
) -> None:
    # Left alone, the thread's return would wake a closed kernel and raise
    # EBADF in the thread, which pytest pins on whichever test runs then
    # (here the thread is still blocked when the run ends).
    result = run_inner(
        """
        import threading, time, curio

        release = threading.Event()

        def blocked():
            release.wait(30)

        async def test_abandons_a_thread():
            await curio.ignore_after(0.05, curio.run_in_thread(blocked))

        async def test_waits_for_its_thread():
            await curio.run_in_thread(time.sleep, 0.01)
        """
    )
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(
        [
            "*_ test_abandons_a_thread _*",
            "1 thread(s) run by curio.run_in_thread were still running after the test*",
            "*blocked (*test_inner.py)",
        ]
    )
    result.stdout.no_fnmatch_line("*Errno 9*")


def test_leaked_file_descriptors_fail_the_test(run_inner: InnerRun) -> None:
    result = run_inner(
        """
        import socket, pytest

        kept = []

        def test_leaks_a_socket():
            kept.append(socket.socket())

        async def test_leaks_a_file(tmp_path):
            kept.append(open(tmp_path / "left-open.txt", "w"))

        @pytest.mark.fd_leak_ok
        def test_allowed_to_leak():
            kept.append(socket.socket())

        def test_closes_what_it_opens():
            with socket.socket():
                pass

        def test_zzz_cleanup():
            # Not a leak check: just keeps the child quiet at exit.
            for thing in kept:
                thing.close()
        """
    )
    result.assert_outcomes(passed=5, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_leaks_a_socket*",
            "test leaked 1 file descriptor(s):",
            "  fd * -> socket:[[]*[]]",
            "*ERROR at teardown of test_leaks_a_file*",
            "  fd * -> */left-open.txt",
        ]
    )


def test_unclosed_unreachable_socket_is_reported(run_inner: InnerRun) -> None:
    result = run_inner(
        """
        import socket

        def test_drops_a_socket():
            socket.socket()
        """
    )
    # Dropped during the call, so the warning fails the call, not the teardown.
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines_random(
        ["*ResourceWarning: unclosed <socket.socket*", "*PytestUnraisableExceptionWarning*"]
    )


def test_async_fixture_misuse_fails_clearly(run_inner: InnerRun) -> None:
    result = run_inner(
        """
        import pytest

        @pytest.fixture
        async def value():
            return 1

        @pytest.fixture
        def sync_wrapper(value):
            return value

        @pytest.fixture(scope="module")
        async def module_value():
            return 1

        @pytest.fixture
        async def yields_nothing():
            if False:
                yield

        def test_sync_test(value):
            pass

        async def test_through_sync_fixture(sync_wrapper):
            pass

        async def test_module_scoped(module_value):
            pass

        async def test_fixture_without_yield(yields_nothing):
            pass

        """
    )
    result.assert_outcomes(failed=2, errors=2)
    result.stdout.fnmatch_lines_random(
        [
            "*a sync test (make it async) cannot use async fixture(s) value*",
            "*sync fixture 'sync_wrapper' depends on async fixture 'value'*",
            "*async fixture 'module_value' has scope 'module'*",
            "*async fixture 'yields_nothing' did not yield*",
        ]
    )


def test_failures_still_tear_down_and_outcomes_pass_through(
    run_inner: InnerRun,
) -> None:
    result = run_inner(
        """
        import curio, pytest
        from tests.servers import canned

        @pytest.fixture
        async def resource():
            yield "resource"
            print("TORN DOWN AFTER FAILURE")

        async def test_fails(resource):
            assert resource == "something else"

        async def test_handler_bug(raw_server):
            async def buggy(sock):
                raise LookupError("bug in the test's own handler")

            server = await raw_server(buggy)
            sock = await curio.open_connection(*server.address)
            async with sock:
                assert await sock.recv(10) == b""  # the server closed on the crash

        async def test_skip_from_inside_the_kernel():
            await curio.sleep(0)
            pytest.skip("skip works in async tests")

        @pytest.mark.xfail(strict=True)
        async def test_expected_failure():
            await curio.sleep(0)
            assert False
        """
    )
    result.assert_outcomes(failed=2, skipped=1, xfailed=1)
    result.stdout.fnmatch_lines_random(
        [
            "E       AssertionError: assert 'resource' == 'something else'",
            "TORN DOWN AFTER FAILURE",
            "E       LookupError: bug in the test's own handler",
        ]
    )


# --------------------------------------------------------------------------
# RawServer


async def _exchange(sock: curio.io.Socket, request: bytes, expect: int) -> bytes:
    """Send ``request`` and read exactly ``expect`` bytes back."""
    await sock.sendall(request)
    received = b""
    while len(received) < expect:
        chunk = await sock.recv(expect - len(received))
        assert chunk, f"server closed after {received!r}"
        received += chunk
    return received


async def test_raw_server_sends_exact_bytes_with_keep_alive(
    raw_server: RawServerFactory,
) -> None:
    handler = canned(OK_HI)
    server = await raw_server(handler)
    assert server.url == f"http://127.0.0.1:{server.port}"

    sock = await curio.open_connection(*server.address)
    async with sock:
        get = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
        assert await _exchange(sock, get, len(OK_HI)) == OK_HI
        post = b"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
        assert await _exchange(sock, post, len(OK_HI)) == OK_HI
        assert server.accepted == 1
        assert server.open_connections == 1

    await server.wait_open_connections(0)
    assert [(r.method, r.target, body) for r, body in handler.requests] == [
        (b"GET", b"/a", b""),
        (b"POST", b"/b", b"hello"),
    ]


async def test_raw_server_closes_after_response_without_keep_alive(
    raw_server: RawServerFactory,
) -> None:
    server = await raw_server(canned(OK_HI, keep_alive=False))
    sock = await curio.open_connection(*server.address)
    async with sock:
        await sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        received = b""
        while chunk := await sock.recv(1024):
            received += chunk
    assert received == OK_HI


async def test_read_request_handles_pipelining_and_chunked_bodies(
    raw_server: RawServerFactory,
) -> None:
    seen: list[tuple[bytes, bytes]] = []

    async def handler(sock: curio.io.Socket) -> None:
        while (received := await read_request(sock)) is not None:
            request, body = received
            seen.append((request.target, body))
        await sock.sendall(b"bye")

    server = await raw_server(handler)
    sock = await curio.open_connection(*server.address)
    async with sock:
        # Two requests in one write: the second must not be lost.
        await sock.sendall(
            b"POST /chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
            b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        await sock.shutdown(curio.socket.SHUT_WR)
        assert await sock.recv(10) == b"bye"
    assert seen == [(b"/chunked", b"abcde"), (b"/next", b"")]


async def test_raw_server_with_tls(
    raw_server: RawServerFactory,
    server_ssl_context: ssl.SSLContext,
    client_ssl_context: ssl.SSLContext,
) -> None:
    server = await raw_server(canned(OK_HI), ssl_context=server_ssl_context)
    assert server.url.startswith("https://127.0.0.1:")
    sock = await curio.open_connection(
        *server.address, ssl=client_ssl_context, server_hostname="localhost"
    )
    async with sock:
        got = await _exchange(sock, b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", len(OK_HI))
    assert got == OK_HI


async def test_raw_server_records_peer_errors_without_failing(
    raw_server: RawServerFactory,
) -> None:
    server = await raw_server(canned(OK_HI))
    sock = await curio.open_connection(*server.address)
    async with sock:
        await sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nshort")
    await server.wait_open_connections(0)
    assert [type(exc) for exc in server.handler_errors] == [h11.RemoteProtocolError]


async def test_raw_server_closes_everything_it_owns() -> None:
    async def hold(sock: curio.io.Socket) -> None:
        await curio.sleep(60)

    async with RawServer(hold) as server:
        sock = await curio.open_connection(*server.address)
        async with sock:
            await server.wait_open_connections(1)
    # Leaving the block cancelled the handler and closed both sockets; the
    # task and fd leak checks would fail this test otherwise.
    assert server.open_connections == 0


# --------------------------------------------------------------------------
# httpbin in a child process


async def test_httpbin_get_over_http_with_keep_alive(httpbin: HttpbinProcess) -> None:
    assert httpbin.url == f"http://127.0.0.1:{httpbin.port}"
    host = f"127.0.0.1:{httpbin.port}"
    conn = h11.Connection(h11.CLIENT)
    sock = await curio.open_connection(*httpbin.address)
    async with sock:
        for _ in range(2):  # the same connection twice: the server keeps it alive
            request = h11.Request(method="GET", target="/get", headers=[("Host", host)])
            await sock.sendall(conn.send(request) + conn.send(h11.EndOfMessage()))
            status, body = None, b""
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    conn.receive_data(await sock.recv(65536))
                elif isinstance(event, h11.Response):
                    status = event.status_code
                elif isinstance(event, h11.Data):
                    body += event.data
                elif isinstance(event, h11.EndOfMessage):
                    break
            assert status == 200
            assert json.loads(body)["url"] == f"{httpbin.url}/get"
            conn.start_next_cycle()


def _https_get(url_host: str, port: int, context: ssl.SSLContext) -> tuple[int, bytes]:
    conn = http.client.HTTPSConnection(url_host, port, context=context, timeout=10)
    try:
        conn.request("GET", "/get")
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


async def test_httpbin_secure_get_over_https(
    httpbin_secure: HttpbinProcess, client_ssl_context: ssl.SSLContext
) -> None:
    assert httpbin_secure.url == f"https://127.0.0.1:{httpbin_secure.port}"
    status, body = await curio.run_in_thread(
        _https_get, "127.0.0.1", httpbin_secure.port, client_ssl_context
    )
    assert status == 200
    assert json.loads(body)["url"] == f"{httpbin_secure.url}/get"
