"""How kept TLS sessions are copied (asks/_transport/tls_sessions.py), against nginx.

Where OpenSSL's own ``SSL_SESSION_dup`` can be reached (CPython on Linux or
macOS with OpenSSL 1.1.1+, as here) sessions are copied in memory; anywhere
else, or if the check of CPython's object layout fails, the standard
library's copies serve. Both must resume, neither may leak a session, and
two connections opened at once must each resume with a copy of their own.
"""

from __future__ import annotations

import gc
import ssl
import sys
import sysconfig
import uuid
from collections.abc import Iterator
from typing import Any

import curio
import pytest

import asks
from asks._transport import tls_sessions
from tests.real.nginx import Nginx

CALL_TIMEOUT = 10

# Where this module expects the in-memory copies (every CI machine of the
# project is one of these).
EXPECT_NATIVE = (
    sys.implementation.name == "cpython"
    and sys.platform != "win32"
    and ssl.OPENSSL_VERSION.startswith("OpenSSL ")
    and ssl.OPENSSL_VERSION_INFO >= (1, 1, 1)
    and sys.version_info[:2] in tls_sessions._TESTED_PYTHONS
    and not sysconfig.get_config_var("Py_GIL_DISABLED")
)


def token() -> str:
    return uuid.uuid4().hex[:10]


def kept(s: asks.Session) -> list[Any]:
    """The sessions the session's dialler keeps (one per place)."""
    return [session for _, session in s._dialer._tls_sessions.values()]


@pytest.fixture
def stdlib_copies(monkeypatch: pytest.MonkeyPatch) -> None:
    """The standard library's copies only, as where libssl cannot be reached."""
    monkeypatch.setattr(tls_sessions, "_checked", True)
    monkeypatch.setattr(tls_sessions, "_lib", None)


class Counting:
    """Counts the copies libssl makes for asks and the ones it frees."""

    def __init__(self, lib: Any) -> None:
        self.dups = self.frees = 0
        self._dup, self._free = lib.dup, lib.free

    def dup(self, handle: int) -> int:
        self.dups += 1
        copy: int = self._dup(handle)
        return copy

    def free(self, handle: int) -> None:
        self.frees += 1
        self._free(handle)


@pytest.fixture
def counting(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counting]:
    assert tls_sessions.native()
    lib = tls_sessions._lib
    assert lib is not None
    counter = Counting(lib)
    monkeypatch.setattr(lib, "dup", counter.dup)
    monkeypatch.setattr(lib, "free", counter.free)
    yield counter


async def resumed(s: asks.Session, url: str) -> bool:
    r = await s.get(url, timeout=CALL_TIMEOUT)
    assert r.status_code == 200
    assert r.headers["connection"] == "close"
    return bool(r.headers["x-tls-resumed"] == "r")


def test_openssl_copies_sessions_here() -> None:
    assert tls_sessions.native() is EXPECT_NATIVE


@pytest.mark.parametrize("listener", ["tls", "tls12"])
async def test_in_memory_copies_resume(
    nginx: Nginx, client_ssl_context: ssl.SSLContext, listener: str
) -> None:
    path = f"/close/{token()}"
    async with asks.Session(ssl_context=client_ssl_context) as s:
        assert not await resumed(s, nginx.url(listener, path + "/1"))
        assert all(type(k) is tls_sessions.NativeSession for k in kept(s)) and kept(s)
        assert await resumed(s, nginx.url(listener, path + "/2"))
        assert await resumed(s, nginx.url(listener, path + "/3"))
    reused = [entry.ssl_session_reused for entry in nginx.access_log.entries(path)]
    assert reused == [".", "r", "r"]


@pytest.mark.parametrize("listener", ["tls", "tls12"])
async def test_the_standard_librarys_copies_resume_too(
    nginx: Nginx, client_ssl_context: ssl.SSLContext, listener: str, stdlib_copies: None
) -> None:
    path = f"/close/{token()}"
    async with asks.Session(ssl_context=client_ssl_context) as s:
        assert not await resumed(s, nginx.url(listener, path + "/1"))
        assert [type(k) for k in kept(s)] == [ssl.SSLSession]
        assert await resumed(s, nginx.url(listener, path + "/2"))
        assert await resumed(s, nginx.url(listener, path + "/3"))


async def test_a_layout_check_that_fails_turns_copies_back_to_the_standard_library(
    nginx: Nginx, client_ssl_context: ssl.SSLContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As if the SSL* read from CPython's object were not that socket's: the
    # SSL_CTX OpenSSL reports for it is not the context's. Nothing is done
    # with it, and from then on the standard library copies.
    assert tls_sessions.native()
    lib = tls_sessions._lib
    assert lib is not None
    monkeypatch.setattr(tls_sessions, "_lib", lib)  # restored after the test
    monkeypatch.setattr(lib, "get_ssl_ctx", lambda handle: 0)
    path = f"/close/{token()}"
    async with asks.Session(ssl_context=client_ssl_context) as s:
        assert not await resumed(s, nginx.url("tls", path + "/1"))
        assert not tls_sessions.native()
        assert [type(k) for k in kept(s)] == [ssl.SSLSession]
        assert await resumed(s, nginx.url("tls", path + "/2"))


async def test_every_copy_is_freed(
    nginx: Nginx, client_ssl_context: ssl.SSLContext, counting: Counting
) -> None:
    path = f"/close/{token()}"
    async with asks.Session(ssl_context=client_ssl_context) as s:
        for n in range(4):
            assert await resumed(s, nginx.url("tls", f"{path}/{n}")) is (n > 0)
    # Each connection: its own copy to offer (freed at once, the connection
    # holds it) and the copy taken when it closed.
    assert counting.dups == 3 + 4
    del s
    gc.collect()
    assert counting.frees == counting.dups


async def test_connections_opened_at_once_each_resume_with_their_own_copy(
    nginx: Nginx, client_ssl_context: ssl.SSLContext, counting: Counting
) -> None:
    path = f"/close/{token()}"
    async with asks.Session(ssl_context=client_ssl_context, connections=4) as s:
        assert not await resumed(s, nginx.url("tls", path + "/first"))
        results: list[bool] = []

        async def one(n: int) -> None:
            results.append(await resumed(s, nginx.url("tls", f"{path}/{n}")))

        async with curio.TaskGroup() as g:
            for n in range(4):
                await g.spawn(one, n)
    assert results == [True] * 4
    entries = nginx.access_log.entries(path)
    assert len({entry.connection for entry in entries}) == 5
    assert counting.dups >= 4 + 1  # four copies offered, at least one taken back


async def test_a_session_openssl_refuses_to_set_means_a_full_handshake(
    nginx: Nginx, client_ssl_context: ssl.SSLContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SSL_set_session failing leaves an error in OpenSSL's queue; it is
    # cleared, so the handshake that follows (a full one) is not failed by it.
    assert tls_sessions.native()
    lib = tls_sessions._lib
    assert lib is not None
    cleared: list[None] = []
    clear = lib.clear_errors
    monkeypatch.setattr(lib, "set_session", lambda handle, session: 0)
    monkeypatch.setattr(lib, "clear_errors", lambda: cleared.append(clear()))
    path = f"/close/{token()}"
    async with asks.Session(ssl_context=client_ssl_context) as s:
        assert not await resumed(s, nginx.url("tls", path + "/1"))
        assert not await resumed(s, nginx.url("tls", path + "/2"))
        assert len(cleared) == 1


def test_a_python_release_ci_has_not_run_keeps_the_standard_librarys_copies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The layout of CPython's _ssl objects is relied on only where CI ran it.
    assert (tls_sessions._load() is not None) is EXPECT_NATIVE
    monkeypatch.setattr(tls_sessions, "_TESTED_PYTHONS", ())
    assert tls_sessions._load() is None
