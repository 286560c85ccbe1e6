"""Blocking calls in threads (asks._transport.threads): DNS lookups go there.

The case that matters: a lookup abandoned by its task (a timeout, a
cancellation) that returns after ``curio.run()`` is over. Through
``curio.run_in_thread`` it woke the closed kernel and its thread raised
``OSError: [Errno 9] Bad file descriptor`` on stderr, in a program that had
moved on (the last CI run failed on it: pytest pins a thread's exception on
whatever test runs then).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import curio
import pytest

import asks
from asks._transport.threads import run_blocking


@pytest.fixture
def thread_errors(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[BaseException]]:
    """Exceptions that escape any thread, kept instead of printed."""
    errors: list[BaseException] = []

    def keep(args: Any) -> None:
        errors.append(args.exc_value)

    monkeypatch.setattr(threading, "excepthook", keep)
    yield errors


async def test_a_call_returns_its_result_and_raises_its_exception() -> None:
    assert await run_blocking(divmod, 7, 2) == (3, 1)
    with pytest.raises(ZeroDivisionError):
        await run_blocking(divmod, 1, 0)
    got = await run_blocking(threading.current_thread, name="asks-test")
    assert got.name == "asks-test" and got.daemon and got is not threading.current_thread()


def test_a_lookup_cancelled_mid_way_ends_quietly_after_the_kernel_is_gone(
    monkeypatch: pytest.MonkeyPatch, thread_errors: list[BaseException], no_fd_leak: None
) -> None:
    asked = threading.Event()
    release = threading.Event()
    real = socket.getaddrinfo
    lookups: list[threading.Thread] = []

    def slow(host: str, *rest: Any) -> Any:
        lookups.append(threading.current_thread())
        asked.set()
        release.wait(30)  # a resolver that takes its time
        return real("127.0.0.1", *rest)

    monkeypatch.setattr(socket, "getaddrinfo", slow)

    async def main() -> None:
        task = await curio.spawn(asks.get, "http://slow-dns.test:9/")
        await curio.run_in_thread(asked.wait, 30)
        await task.cancel()  # the lookup is still running

    curio.run(main)  # the kernel and its notification socket are closed now
    (lookup,) = lookups
    release.set()
    lookup.join(30)
    assert not lookup.is_alive()
    assert thread_errors == []
    assert lookup.name == "asks-resolver" and lookup.daemon
    # (curio's worker thread, which the lookup used to take, woke the closed
    # kernel here: OSError EBADF, twice.)


async def test_the_resolver_still_answers_and_fails_as_getaddrinfo_does(
    monkeypatch: pytest.MonkeyPatch, no_fd_leak: None
) -> None:
    def fake(host: str, port: int, *rest: Any) -> Any:
        if host == "nowhere.test":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("127.0.0.1", port))]

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    from asks._transport.backend import resolve

    assert await resolve("name.test", 81) == [
        (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("127.0.0.1", 81))
    ]
    with pytest.raises(socket.gaierror):
        await resolve("nowhere.test", 80)
