"""Happy Eyeballs dialling (RFC 8305): asks._transport.happy_eyeballs.

Most tests drive ``connect_tcp`` with a resolver and a connector written here
(no network): each address is told to hang, fail, or connect, and the
connector logs when every attempt started, which ones were cancelled and
which sockets were closed. The fake sockets hold a real file descriptor each,
so ``/proc/self/fd`` shows a socket left open. The last tests dial real
loopback listeners with the default connector.
"""

from __future__ import annotations

import errno
import math
import os
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import curio
import curio.io
import curio.socket
import pytest

from asks._transport import happy_eyeballs
from asks._transport.happy_eyeballs import AddrInfo, connect_tcp, interleave

V6 = socket.AF_INET6
V4 = socket.AF_INET

# Documentation prefixes (RFC 3849, RFC 5737): never dialled, the connector
# below is a fake.
A6, B6, C6 = "2001:db8::a", "2001:db8::b", "2001:db8::c"
A4, B4, C4 = "192.0.2.1", "192.0.2.2", "192.0.2.3"


def info(host: str, port: int = 80) -> AddrInfo:
    if ":" in host:
        return (V6, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (host, port, 0, 0))
    return (V4, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (host, port))


def resolver_of(*hosts: str) -> Callable[[str, int], Awaitable[list[AddrInfo]]]:
    async def resolve(host: str, port: int) -> list[AddrInfo]:
        return [info(h, port) for h in hosts]

    return resolve


def fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


needs_proc = pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")


class FakeSocket:
    """What a connector hands back: holds a real descriptor until closed."""

    def __init__(self, host: str, before_close: Callable[[], Awaitable[None]] | None) -> None:
        self.host = host
        self.raw = socket.socket()
        self.closed = False
        self._before_close = before_close

    async def close(self) -> None:
        if self._before_close is not None:
            hook, self._before_close = self._before_close, None
            await hook()
        self.raw.close()
        self.closed = True


class Script:
    """A connector doing, per address, what the plan says.

    Actions: ``hang`` (never answers), ``refuse`` / ``unreachable`` (fail at
    once with that errno), ``connect`` (succeeds at once), ``gate`` (succeeds
    once ``gated`` attempts are all waiting, so they connect together),
    ``bug`` (raises a ValueError, as a broken connector would),
    ``own-timeout`` (the connector's own curio deadline expires).
    """

    def __init__(self, plan: dict[str, str], *, gated: int = 0) -> None:
        self.plan = plan
        self.gated = gated
        self.gate = curio.Event()
        self.waiting_at_gate = 0
        self.started: list[tuple[str, float]] = []
        self.cancelled: list[str] = []
        self.sockets: list[FakeSocket] = []
        self.tasks: list[Any] = []
        self.before_close: Callable[[], Awaitable[None]] | None = None
        self.all_started = curio.Event()

    def offsets(self) -> list[float]:
        """Start times relative to the first attempt's."""
        return [at - self.started[0][1] for _, at in self.started]

    def order(self) -> list[str]:
        return [host for host, _ in self.started]

    def open_sockets(self) -> list[FakeSocket]:
        return [sock for sock in self.sockets if not sock.closed]

    async def __call__(self, addrinfo: AddrInfo) -> FakeSocket:
        host = addrinfo[4][0]
        self.started.append((host, await curio.clock()))
        self.tasks.append(await curio.current_task())
        if len(self.started) == len(self.plan):
            await self.all_started.set()
        sock = FakeSocket(host, self.before_close)
        self.sockets.append(sock)
        action = self.plan[host]
        try:
            if action == "hang":
                await curio.Event().wait()
            elif action == "refuse":
                raise OSError(errno.ECONNREFUSED, f"Connect call failed {host}")
            elif action == "unreachable":
                raise OSError(errno.ENETUNREACH, f"Connect call failed {host}")
            elif action == "bug":
                raise ValueError("a connector bug")
            elif action == "own-timeout":
                async with curio.timeout_after(0):
                    await curio.Event().wait()
            elif action == "gate":
                self.waiting_at_gate += 1
                if self.waiting_at_gate == self.gated:
                    await self.gate.set()
                await self.gate.wait()
            else:
                assert action == "connect", action
        except BaseException as exc:
            # The connector's own duty (as the default one does): a failed or
            # cancelled attempt closes its socket.
            if isinstance(exc, curio.CancelledError):
                self.cancelled.append(host)
            await sock.close()
            raise
        return sock


# --------------------------------------------------------------------------
# The race


async def test_first_address_hangs_second_wins_after_the_delay() -> None:
    script = Script({A6: "hang", A4: "connect"})
    start = await curio.clock()
    sock = await connect_tcp(
        "dual.test", 80, delay=0.25, resolve=resolver_of(A6, A4), connect=script
    )
    elapsed = await curio.clock() - start

    assert sock.host == A4
    assert script.order() == [A6, A4]
    # The second attempt was started because the first had been given its
    # whole delay (it never failed), and not much later than that.
    second = script.offsets()[1]
    assert second >= 0.25 - 0.005, script.started
    assert second < 1.0, script.started
    assert elapsed < 2.0
    # The hanging loser was cancelled, its socket closed, its task over.
    assert script.cancelled == [A6]
    assert script.open_sockets() == [sock]
    assert all(task.terminated for task in script.tasks)
    await sock.close()


async def test_a_failure_starts_the_next_attempt_at_once() -> None:
    # A delay far beyond the bound below: only "at once" can pass.
    script = Script({A6: "refuse", A4: "connect"})
    start = await curio.clock()
    sock = await connect_tcp(
        "dual.test", 80, delay=5.0, resolve=resolver_of(A6, A4), connect=script
    )
    assert await curio.clock() - start < 2.0
    assert sock.host == A4
    assert script.order() == [A6, A4]
    assert script.offsets()[1] < 2.0
    assert script.open_sockets() == [sock]
    await sock.close()


async def test_a_failure_of_a_later_attempt_does_not_wait_for_another_delay() -> None:
    # A6 hangs, A4 starts after the delay and fails at once: B6 starts then,
    # not a second delay later; B6 wins and A6 is cancelled.
    script = Script({A6: "hang", A4: "refuse", B6: "connect"})
    sock = await connect_tcp(
        "dual.test", 80, delay=0.5, resolve=resolver_of(A6, B6, A4), connect=script
    )
    assert script.order() == [A6, A4, B6]
    _, second, third = script.offsets()
    assert second >= 0.5 - 0.005
    assert third - second < 0.5
    assert sock.host == B6
    assert script.cancelled == [A6]
    assert script.open_sockets() == [sock]
    await sock.close()


async def test_infinite_delay_dials_one_address_at_a_time() -> None:
    script = Script({A6: "refuse", A4: "connect"})
    sock = await connect_tcp(
        "dual.test", 80, delay=math.inf, resolve=resolver_of(A6, A4), connect=script
    )
    assert sock.host == A4
    assert script.order() == [A6, A4]
    await sock.close()


async def test_the_loser_is_closed_when_two_connect_at_the_same_moment() -> None:
    script = Script({A6: "gate", A4: "gate", B6: "hang"}, gated=2)
    sock = await connect_tcp(
        "dual.test", 80, delay=0, resolve=resolver_of(A6, B6, A4), connect=script
    )
    # Both gated attempts returned a connected socket in the same round.
    assert sorted(s.host for s in script.sockets[:2]) == sorted([A6, A4])
    assert sock.host in (A6, A4)
    assert script.open_sockets() == [sock]
    assert script.cancelled == [B6]
    assert all(task.terminated for task in script.tasks)
    await sock.close()


async def test_a_single_address_is_just_a_connect() -> None:
    script = Script({A4: "connect"})
    me = await curio.current_task()
    sock = await connect_tcp("one.test", 80, resolve=resolver_of(A4), connect=script)
    assert sock.host == A4
    # No race: the connector ran in the caller's own task.
    assert script.tasks == [me]
    await sock.close()


async def test_a_single_address_that_fails_names_it() -> None:
    script = Script({A4: "refuse"})
    with pytest.raises(ConnectionRefusedError, match=r"'one\.test' port 80: 192\.0\.2\.1:80: "):
        await connect_tcp("one.test", 80, resolve=resolver_of(A4), connect=script)
    assert script.open_sockets() == []


async def test_a_broken_connector_raises_its_error_and_the_rest_is_cancelled() -> None:
    script = Script({A6: "hang", A4: "bug"})
    with pytest.raises(ValueError, match="a connector bug"):
        await connect_tcp("dual.test", 80, delay=0.05, resolve=resolver_of(A6, A4), connect=script)
    assert script.cancelled == [A6]
    assert script.open_sockets() == []
    assert all(task.terminated for task in script.tasks)


@pytest.mark.curio_timeout(5)
async def test_a_connector_deadline_is_a_timed_out_address() -> None:
    # A connector with a curio timeout of its own ends with TaskTimeout, a
    # BaseException: that address lost (ETIMEDOUT), the race goes on.
    script = Script({A6: "own-timeout", A4: "connect"})
    sock = await connect_tcp(
        "dual.test", 80, delay=5.0, resolve=resolver_of(A6, A4), connect=script
    )
    assert sock.host == A4
    assert script.open_sockets() == [sock]
    await sock.close()
    script = Script({A6: "own-timeout", A4: "own-timeout"})
    with pytest.raises(TimeoutError) as caught:
        await connect_tcp("dual.test", 80, delay=5.0, resolve=resolver_of(A6, A4), connect=script)
    assert caught.value.errno == errno.ETIMEDOUT
    assert f"[{A6}]:80: [Errno {errno.ETIMEDOUT}] connect timed out" in str(caught.value)
    assert f"{A4}:80: [Errno {errno.ETIMEDOUT}] connect timed out" in str(caught.value)


# --------------------------------------------------------------------------
# Order


def test_interleaving_alternates_families_starting_with_the_first() -> None:
    mixed = [info(A6), info(B6), info(C6), info(A4)]
    assert [i[4][0] for i in interleave(mixed)] == [A6, A4, B6, C6]
    v4_first = [info(A4), info(B4), info(A6), info(C4), info(B6)]
    assert [i[4][0] for i in interleave(v4_first)] == [A4, A6, B4, B6, C4]
    # One family only: the resolver's order, untouched.
    assert interleave([info(C4), info(A4), info(B4)]) == [info(C4), info(A4), info(B4)]


async def test_attempts_follow_the_interleaved_order() -> None:
    script = Script({A6: "refuse", B6: "refuse", A4: "refuse", B4: "connect"})
    sock = await connect_tcp(
        "dual.test", 80, delay=5.0, resolve=resolver_of(A6, B6, A4, B4), connect=script
    )
    assert script.order() == [A6, A4, B6, B4]
    assert sock.host == B4
    await sock.close()


async def test_an_address_given_twice_is_dialled_once() -> None:
    # A6 hangs: its repeat must not spend another delay before B6 is tried.
    assert interleave([info(A6), info(A4), info(A6), info(A4)]) == [info(A6), info(A4)]
    script = Script({A6: "hang", B6: "connect"})
    sock = await connect_tcp(
        "dup.test", 80, delay=0.05, resolve=resolver_of(A6, A6, B6), connect=script
    )
    assert script.order() == [A6, B6]
    assert sock.host == B6
    assert script.open_sockets() == [sock]
    await sock.close()


# --------------------------------------------------------------------------
# Failure


async def test_all_failed_names_every_address_and_keeps_the_first_errno() -> None:
    script = Script({A6: "refuse", A4: "unreachable", B6: "unreachable"})
    with pytest.raises(OSError) as caught:
        await connect_tcp(
            "dual.test", 8080, delay=5.0, resolve=resolver_of(A6, B6, A4), connect=script
        )
    exc = caught.value
    assert exc.errno == errno.ECONNREFUSED
    assert isinstance(exc, ConnectionRefusedError)  # what the caller's mapping sees
    text = str(exc)
    assert "'dual.test' port 8080" in text
    # Every address in the order tried, each with its own error.
    assert text.index(f"[{A6}]:8080: ") < text.index(f"{A4}:8080: ") < text.index(f"[{B6}]:8080: ")
    assert text.count("Connection refused") == 0  # the fake's own words, not strerror
    assert f"Connect call failed {A4}" in text
    assert f"[Errno {errno.ENETUNREACH}] Connect call failed {B6}" in text
    assert f"[Errno {errno.ECONNREFUSED}] Connect call failed {A6}" in text
    assert script.open_sockets() == []


async def test_nothing_to_resolve_names_the_host() -> None:
    with pytest.raises(OSError, match=r"no address found for 'empty\.test'"):
        await connect_tcp("empty.test", 80, resolve=resolver_of(), connect=Script({}))


async def test_a_resolver_error_goes_out_as_it_is() -> None:
    async def fail(host: str, port: int) -> list[AddrInfo]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with pytest.raises(socket.gaierror):
        await connect_tcp("nowhere.test", 80, resolve=fail, connect=Script({}))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"port": 65536}, ValueError, "port"),
        ({"port": -1}, ValueError, "port"),
        ({"port": True}, ValueError, "port"),
        ({"delay": -0.1}, ValueError, "delay"),
        ({"delay": math.nan}, ValueError, "delay"),
        ({"source_address": ("127.0.0.1", 0), "connect": Script({})}, TypeError, "connector"),
    ],
)
async def test_wrong_arguments(kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    args: dict[str, Any] = {"port": 80, "resolve": resolver_of(A4)} | kwargs
    port = args.pop("port")
    with pytest.raises(error, match=match):
        await connect_tcp("x.test", port, **args)


# --------------------------------------------------------------------------
# Cancellation


@needs_proc
async def test_caller_timeout_mid_race_leaks_no_socket_and_no_task() -> None:
    script = Script({A6: "hang", A4: "hang", B6: "hang"})
    before = fd_count()
    with pytest.raises(curio.TaskTimeout):
        async with curio.timeout_after(0.3):
            await connect_tcp(
                "dual.test", 80, delay=0.05, resolve=resolver_of(A6, B6, A4), connect=script
            )
    # Normally all three had started (0.05 s apart) before the deadline; a
    # stalled machine may have started fewer. Every one started was cancelled.
    assert script.order() in ([A6], [A6, A4], [A6, A4, B6])
    assert sorted(script.cancelled) == sorted(script.order())
    assert script.open_sockets() == []
    assert all(task.terminated for task in script.tasks)
    assert fd_count() == before


@needs_proc
async def test_task_cancel_mid_race_leaks_no_socket_and_no_task() -> None:
    script = Script({A6: "hang", A4: "hang"})
    before = fd_count()
    task = await curio.spawn(
        connect_tcp("dual.test", 80, delay=0, resolve=resolver_of(A6, A4), connect=script)
    )
    await script.all_started.wait()
    await task.cancel()
    assert isinstance(task.exception, curio.TaskCancelled)
    assert sorted(script.cancelled) == sorted([A6, A4])
    assert script.open_sockets() == []
    assert all(t.terminated for t in script.tasks)
    assert fd_count() == before


@needs_proc
async def test_a_cancellation_during_the_clean_up_closes_the_winner_too() -> None:
    # Two connect together; closing the loser blocks until the caller's task
    # has been cancelled. The cancellation is deferred until the clean-up is
    # over, and then it must win: the caller never sees the winner, so it
    # must be closed too.
    script = Script({A6: "gate", A4: "gate"}, gated=2)
    closing, release = curio.Event(), curio.Event()

    async def hold_the_close() -> None:
        await closing.set()
        await release.wait()

    script.before_close = hold_the_close
    before = fd_count()
    task = await curio.spawn(
        connect_tcp("dual.test", 80, delay=0, resolve=resolver_of(A6, A4), connect=script)
    )
    await closing.wait()
    await task.cancel(blocking=False)
    await release.set()
    await task.wait()
    assert isinstance(task.exception, curio.TaskCancelled)
    assert len(script.sockets) == 2
    assert script.open_sockets() == []
    assert fd_count() == before


@needs_proc
async def test_a_second_cancellation_does_not_cut_the_clean_up_short() -> None:
    # The caller's deadline ends the race; while a loser is still closing,
    # the caller's task is cancelled as well. connect_tcp must still wait for
    # every attempt to end before it gives up, or a task and its socket would
    # outlive the call.
    script = Script({A6: "hang", A4: "hang"})
    closing, release = curio.Event(), curio.Event()

    async def hold_the_close() -> None:
        await closing.set()
        await release.wait()

    script.before_close = hold_the_close
    ended_with: list[list[bool]] = []

    async def caller() -> None:
        try:
            async with curio.timeout_after(0.5):
                await connect_tcp(
                    "dual.test", 80, delay=0, resolve=resolver_of(A6, A4), connect=script
                )
        finally:
            ended_with.append([task.terminated for task in script.tasks])

    before = fd_count()
    task = await curio.spawn(caller)
    await closing.wait()
    await task.cancel(blocking=False)
    await release.set()
    await task.wait()
    assert isinstance(task.exception, curio.TaskTimeout | curio.TaskCancelled)
    assert ended_with == [[True, True]]
    assert script.open_sockets() == []
    assert fd_count() == before


# --------------------------------------------------------------------------
# The default resolver


async def test_the_default_resolver_does_not_call_getaddrinfo_for_ip_literals(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[Any, ...]] = []

    def spy(*args: Any) -> list[Any]:
        calls.append(args)
        return [info(A4, args[1])]

    monkeypatch.setattr(socket, "getaddrinfo", spy)
    tcp = (socket.SOCK_STREAM, socket.IPPROTO_TCP, "")
    assert await happy_eyeballs.resolve("127.0.0.1", 80) == [(V4, *tcp, ("127.0.0.1", 80))]
    assert await happy_eyeballs.resolve("::1", 443) == [(V6, *tcp, ("::1", 443, 0, 0))]
    # A zone becomes the scope id (by number or by interface name).
    assert await happy_eyeballs.resolve("fe80::1%3", 80) == [(V6, *tcp, ("fe80::1", 80, 0, 3))]
    lo = socket.if_nametoindex("lo") if hasattr(socket, "if_nametoindex") else None
    if lo is not None:
        got = await happy_eyeballs.resolve("fe80::1%lo", 80)
        assert got == [(V6, *tcp, ("fe80::1", 80, 0, lo))]
    assert calls == []
    # A name does go to getaddrinfo, for TCP only.
    assert await happy_eyeballs.resolve("name.test", 8080) == [info(A4, 8080)]
    assert calls == [("name.test", 8080, 0, socket.SOCK_STREAM, socket.IPPROTO_TCP)]


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "0.0.0.0",
        "255.255.255.255",
        "10.0.0.300",
        "127.1",
        "010.0.0.1",
        "1.2.3",
        "1.2.3.4.",
        " 1.2.3.4",
        "::1",
        "::",
        "::ffff:1.2.3.4",
        "1::2::3",
        "fe80::1%3",
        "[::1]",
        "example.com",
        "1.2.3.4.example",
        "localhost",
        "",
    ],
)
async def test_an_ip_literal_is_told_from_a_name_as_ipaddress_tells_it(
    host: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The quick test (a regex, a colon) before ipaddress must agree with it:
    # what ipaddress parses never goes to getaddrinfo, nothing else skips it.
    import ipaddress

    looked_up: list[str] = []

    def spy(name: str, port: int, *args: Any) -> list[Any]:
        looked_up.append(name)
        return [info(A4, port)]

    monkeypatch.setattr(socket, "getaddrinfo", spy)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        literal = False
    else:
        literal = True
    await happy_eyeballs.resolve(host, 80)
    assert looked_up == ([] if literal else [host])


# --------------------------------------------------------------------------
# Real sockets on loopback, default connector


def _has_ipv6_loopback() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(V6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


async def _dial_where_only_one_listens(listen_family: int) -> tuple[str, ...]:
    """Dial ``::1`` then ``127.0.0.1`` on one port where only one listens.

    The other address's port is held bound without listening, so nothing
    can answer there: its attempt is refused.
    """
    listen_host = "::1" if listen_family == V6 else "127.0.0.1"
    other_family, other_host = (V4, "127.0.0.1") if listen_family == V6 else (V6, "::1")
    # The port is free on one address but may be taken on the other (test
    # suites running side by side on one machine): then another port.
    for _attempt in range(50):
        server = curio.socket.socket(listen_family, socket.SOCK_STREAM)
        holder = socket.socket(other_family, socket.SOCK_STREAM)
        server.bind((listen_host, 0))
        port = server.getsockname()[1]
        try:
            holder.bind((other_host, port))
            break
        except OSError:
            if other_family == V6 and not _has_ipv6_loopback():
                break  # no ::1 at all: that attempt fails when it dials
            holder.close()
            await server.close()
    else:
        pytest.fail(f"no port free on both {listen_host} and {other_host} in 50 tries")
    try:
        server.listen(4)
        sock = await connect_tcp(
            "dual.test", port, resolve=resolver_of("::1", "127.0.0.1"), delay=5.0
        )
        try:
            peer = sock.getpeername()
            nodelay = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
            accepted, _ = await server.accept()
            await accepted.close()
        finally:
            await sock.close()
        assert nodelay
        return tuple(peer)
    finally:
        holder.close()
        await server.close()


async def test_real_loopback_v6_refused_v4_listening() -> None:
    peer = await _dial_where_only_one_listens(V4)
    assert peer[0] == "127.0.0.1"


@pytest.mark.skipif(not _has_ipv6_loopback(), reason="no IPv6 loopback (::1) on this machine")
async def test_real_loopback_v6_listening_v4_refused() -> None:
    peer = await _dial_where_only_one_listens(V6)
    assert peer[0] == "::1"


async def test_real_loopback_refused_names_the_address() -> None:
    # A port held bound without listening: the connect is refused.
    with socket.socket(V4, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
        with pytest.raises(ConnectionRefusedError) as caught:
            await connect_tcp("127.0.0.1", port)
    assert f"'127.0.0.1' port {port}: 127.0.0.1:{port}: " in str(caught.value)


async def test_real_loopback_binds_the_source_address() -> None:
    server = curio.socket.socket(V4, socket.SOCK_STREAM)
    try:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        # 127.0.0.2 is loopback too (127/8) but never chosen unless bound.
        sock = await connect_tcp("127.0.0.1", port, source_address=("127.0.0.2", 0))
        try:
            accepted, client = await server.accept()
            await accepted.close()
            assert client[0] == "127.0.0.2"
            assert sock.getsockname() == client
        finally:
            await sock.close()
    finally:
        await server.close()
