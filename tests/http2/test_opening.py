"""Requests that wait for a connection of an ``http2=True`` session being opened.

Until ALPN answers, a new connection may turn out HTTP/2, so the other
requests to its origin wait for it rather than open their own (most would
be closed unused). When that connection cannot be made, every request that
waited fails with its error at once: a host that does not answer costs one
``connection_timeout``, not one per request one after another.
"""

from __future__ import annotations

import curio
import pytest

import asks
from asks.errors import ConnectFailed, PoolTimeout, RequestTimeout
from tests.hostile_helpers import assert_released, cyclic_garbage, drain
from tests.session_helpers import connect_starts

CALLS = 5


async def gather_errors(session: asks.Session, url: str, **kwargs) -> list[BaseException]:
    """Start CALLS concurrent GETs of *url*; the exception each ended with."""

    async def attempt() -> BaseException:
        # Caught here, not left to crash the task: curio logs a crashed
        # task, and the log record would keep the error (and what it holds)
        # alive, hiding any reference cycle from the test below.
        try:
            await session.get(url, **kwargs)
        except Exception as exc:
            return exc
        raise AssertionError("the call succeeded")

    # Tasks of their own, not a TaskGroup: its first failure would cancel the rest.
    tasks = [await curio.spawn(attempt()) for _ in range(CALLS)]
    return [await task.join() for task in tasks]


async def test_a_host_whose_tls_never_answers_is_dialled_once_for_all_waiters(
    raw_server, client_ssl_context
):
    # Accepts, then never says a word: the TLS handshake cannot finish.
    server = await raw_server(drain)
    starts, trace = connect_starts()
    async with asks.Session(http2=True, ssl_context=client_ssl_context, trace=trace) as s:
        errors = await gather_errors(
            s, f"https://127.0.0.1:{server.port}/", connection_timeout=0.3
        )
        assert_released(s)
    assert all(isinstance(e, RequestTimeout) for e in errors), errors
    assert all("not connected within 0.3 s" in str(e) for e in errors)
    # One dial, whose failure every waiter shared (they used to dial one
    # after another, each after the previous one had timed out).
    assert starts == ["connect.start"]
    assert server.accepted == 1
    # Each caller has an exception object of its own.
    assert len({id(e) for e in errors}) == CALLS


async def test_a_waiter_with_another_connection_timeout_dials_itself_after_a_timeout(
    raw_server, client_ssl_context
):
    # The first request gives up after its 0.2 s; the one waiting for that
    # connection allows 5 s of its own, so the timeout is not its answer:
    # it dials itself (a refusal or a TLS failure would have been).
    server = await raw_server(drain)
    starts, trace = connect_starts()
    url = f"https://127.0.0.1:{server.port}/"
    async with asks.Session(http2=True, ssl_context=client_ssl_context, trace=trace) as s:
        first = await curio.spawn(s.get(url, connection_timeout=0.2))
        while not starts:
            await curio.sleep(0)
        second = await curio.spawn(s.get(url, connection_timeout=5))
        with pytest.raises(curio.TaskError) as caught:
            await first.join()
        assert "not connected within 0.2 s" in str(caught.value.__cause__)
        # The second is now dialling on its own, not failed with the first.
        while len(starts) < 2 and not second.terminated:
            await curio.sleep(0)
        assert not second.terminated, second.exception
        await second.cancel()
        assert_released(s)
    assert server.accepted == 2


async def test_a_refused_origin_fails_every_waiter_with_connect_failed(client_ssl_context):
    listener = curio.socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    await listener.close()  # nothing listens there now: refused
    starts, trace = connect_starts()
    async with asks.Session(http2=True, ssl_context=client_ssl_context, trace=trace) as s:
        errors = await gather_errors(s, f"https://127.0.0.1:{port}/", retries=1)
        assert_released(s)
    assert all(isinstance(e, ConnectFailed) for e in errors), errors
    # Each call's one retry is its own, so the retries met at a second dial
    # and shared it too.
    assert starts == ["connect.start"] * 2


async def test_a_waiter_past_its_pool_timeout_is_a_pool_timeout_naming_it(
    raw_server, client_ssl_context
):
    # The dial outlasts the waiters' pool_timeout: they give up waiting
    # (PoolTimeout), the request that dials runs to its connection_timeout.
    server = await raw_server(drain)
    async with asks.Session(http2=True, ssl_context=client_ssl_context, pool_timeout=0.05) as s:
        errors = await gather_errors(
            s, f"https://127.0.0.1:{server.port}/", connection_timeout=0.5
        )
        assert_released(s)
    kinds = sorted(type(e).__name__ for e in errors)
    assert kinds == ["PoolTimeout"] * (CALLS - 1) + ["RequestTimeout"]
    assert all("pool_timeout=0.05 s" in str(e) for e in errors if isinstance(e, PoolTimeout))
    assert server.accepted == 1


async def test_a_cancelled_dial_is_not_shared_a_waiter_dials_instead(
    raw_server, client_ssl_context
):
    # The request that dials is cancelled, which says nothing about the
    # origin: the request that waited for its connection dials itself.
    server = await raw_server(drain)
    starts, trace = connect_starts()
    async with asks.Session(http2=True, ssl_context=client_ssl_context, trace=trace) as s:
        pool = s._pool
        url = f"https://127.0.0.1:{server.port}/"
        first = await curio.spawn(s.get(url, connection_timeout=0.3))
        while not starts:
            await curio.sleep(0)
        second = await curio.spawn(s.get(url, connection_timeout=0.3))
        while pool._awaiting_alpn == 0:
            await curio.sleep(0)
        await first.cancel()
        with pytest.raises(curio.TaskError) as caught:
            await second.join()
        assert isinstance(caught.value.__cause__, RequestTimeout)
        assert_released(s)
    assert starts == ["connect.start"] * 2
    assert server.accepted == 2


async def test_a_shared_failure_leaves_no_reference_cycle(client_ssl_context):
    # A crawl over HTTP/2 meets many hosts that refuse: each failure shared
    # with its waiters must be freed by reference counting, not left to the
    # garbage collector with the frames it holds.
    listener = curio.socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    await listener.close()
    url = f"https://127.0.0.1:{port}/"
    async with asks.Session(http2=True, ssl_context=client_ssl_context) as s:
        with cyclic_garbage(
            lambda o: (
                type(o).__name__ == "_Opening"
                or (isinstance(o, BaseException) and f"127.0.0.1:{port}" in str(o))
            )
        ) as held:
            for _ in range(3):
                assert await failure_kinds(s, url) == ["ConnectFailed"] * CALLS
        assert_released(s)
    assert held == []


async def failure_kinds(session: asks.Session, url: str) -> list[str]:
    """CALLS concurrent GETs of *url*: the name of the error each ended with.

    Only the names are kept: an error kept past its task (as gather_errors
    keeps them) holds frames that CPython 3.13 frees only by collection, a
    cycle that is not asks'.
    """

    async def attempt() -> str:
        try:
            await session.get(url, retries=0)
        except Exception as exc:
            return type(exc).__name__
        return "no error"

    tasks = [await curio.spawn(attempt()) for _ in range(CALLS)]
    return [await task.join() for task in tasks]
