"""The generic pool, driven with fake connections: no socket, only its questions.

The pool asks a connection whether it is available or expired, tells it
``claim`` and ``close_after_cycle``, and closes it; these fakes record every
one of those, so each test says exactly what the pool did and what it
never did (write a connection's state, build one itself).
"""

from __future__ import annotations

import functools
import itertools
import random
import time

import curio
import pytest

from asks._transport.interfaces import PoolWaitTimeout
from asks._transport.pool import ConnectionPool, HostLimitedPool, PoolStats

_numbers = itertools.count(1)


class FakeConnection:
    """A connection that answers the pool's questions from its attributes."""

    def __init__(self, key: object) -> None:
        self.pool_key = key
        self.number = next(_numbers)
        self.idle = False
        self.closed = False
        self.expired = False
        self.claims = 0
        self.retiring = False
        self.idle_since = 0.0

    def __repr__(self) -> str:
        return f"<fake {self.number} {self.pool_key}>"

    def is_available(self) -> bool:
        return self.idle and not self.closed

    def is_idle(self) -> bool:
        return self.idle

    def is_closed(self) -> bool:
        return self.closed

    def has_expired(self, now: float) -> bool:
        return self.expired

    def claim(self) -> None:
        self.claims += 1
        self.idle = False

    def close_after_cycle(self) -> None:
        self.retiring = True

    async def close(self) -> None:
        self.closed = True

    def finish(self) -> FakeConnection:
        """The cycle ends well: the connection is idle (what finish_cycle does)."""
        self.idle = True
        self.idle_since = time.monotonic()
        return self


class Opener:
    """The ``open_connection`` callable: records every connection it made."""

    def __init__(self, key: object) -> None:
        self.key = key
        self.made: list[FakeConnection] = []

    async def __call__(self) -> FakeConnection:
        conn = FakeConnection(self.key)
        self.made.append(conn)
        return conn


def pool(limit: int = 2) -> ConnectionPool[FakeConnection]:
    return ConnectionPool(limit, keepalive_expiry=60.0)


async def test_a_free_slot_opens_a_new_connection_and_counts_it():
    p, opener = pool(), Opener("a")
    conn = await p.checkout("a", opener)
    assert opener.made == [conn]
    assert p.stats() == PoolStats(limit=2, open=1, idle=0, busy=1, connecting=0, waiting=0)


async def test_an_available_connection_is_reused_and_claimed():
    p, opener = pool(), Opener("a")
    conn = await p.checkout("a", opener)
    await p.checkin(conn.finish())
    assert p.stats().idle == 1
    again = await p.checkout("a", opener)
    assert again is conn
    assert conn.claims == 1  # the pool told it; it set its own state
    assert len(opener.made) == 1


async def test_another_key_never_gets_the_connection():
    p = pool()
    conn = await p.checkout("a", Opener("a"))
    await p.checkin(conn.finish())
    other = Opener("b")
    assert await p.checkout("b", other) is other.made[0]
    assert p.stats().open == 2


async def test_an_expired_idle_connection_is_closed_and_its_slot_kept():
    p, opener = pool(limit=1), Opener("a")
    conn = await p.checkout("a", opener)
    await p.checkin(conn.finish())
    conn.expired = True
    new = await p.checkout("a", opener)
    assert conn.closed and new is not conn
    assert p.stats().open == 1


async def test_fresh_skips_idle_connections():
    p, opener = pool(limit=2), Opener("a")
    conn = await p.checkout("a", opener)
    await p.checkin(conn.finish())
    new = await p.checkout("a", opener, fresh=True)
    assert new is not conn and not conn.closed  # the idle one stays for others
    assert p.stats().open == 2


async def test_the_limit_closes_another_keys_idle_connection_for_a_slot():
    p = pool(limit=1)
    conn = await p.checkout("a", Opener("a"))
    await p.checkin(conn.finish())
    other = await p.checkout("b", Opener("b"))
    assert conn.closed
    assert other.pool_key == "b"
    assert p.stats().open == 1


async def test_the_connection_closed_for_a_slot_is_the_one_idle_longest():
    # A crawl keeps one idle connection per recent origin; a new origin's
    # request closes the one checked in longest ago, whatever its key.
    p = pool(limit=50)
    conns = [await p.checkout(f"k{i}", Opener(f"k{i}")) for i in range(50)]
    first = [conns[7], conns[3]]
    for conn in first + [c for c in conns if c not in first]:
        await p.checkin(conn.finish())
    closed: list[FakeConnection] = []
    for i in range(4):
        await p.checkout(f"new{i}", Opener(f"new{i}"))  # kept busy: the pool stays full
        closed += [c for c in conns if c.closed and c not in closed]
    assert closed == [conns[7], conns[3], conns[0], conns[1]]
    assert p.stats() == PoolStats(limit=50, open=50, idle=46, busy=4, connecting=0, waiting=0)


async def test_no_key_is_kept_once_its_idle_connections_are_gone():
    # Visiting a million hosts must not leave a million empty entries behind.
    p = pool(limit=3)
    for i in range(200):
        conn = await p.checkout(f"host{i}", Opener(f"host{i}"))
        await p.checkin(conn.finish())
    assert p.stats() == PoolStats(limit=3, open=3, idle=3, busy=0, connecting=0, waiting=0)
    assert len(p._idle) == 3
    again = await p.checkout("host199", Opener("host199"))
    assert not again.closed and len(p._idle) == 2
    await p.discard(again)
    await p.close()
    assert p._idle == {} and p.stats().open == 0


async def test_a_waiter_of_the_same_key_is_handed_the_connection():
    p, opener = pool(limit=1), Opener("a")
    conn = await p.checkout("a", opener)
    got: list[FakeConnection] = []

    async def wait() -> None:
        got.append(await p.checkout("a", opener))

    task = await curio.spawn(wait)
    while p.waiting == 0:
        await curio.sleep(0)
    assert p.stats().waiting == 1
    await p.checkin(conn.finish())
    await task.join()
    assert got == [conn]
    assert conn.claims == 1
    assert len(opener.made) == 1


async def test_a_waiter_for_a_fresh_connection_is_only_given_a_slot():
    # The transport's resend after a dead pooled connection asks for a new
    # one: a reused connection handed over would be just as suspect.
    p, opener = pool(limit=1), Opener("a")
    conn = await p.checkout("a", opener)
    got: list[FakeConnection] = []

    async def wait() -> None:
        got.append(await p.checkout("a", opener, fresh=True))

    task = await curio.spawn(wait)
    while p.waiting == 0:
        await curio.sleep(0)
    await p.checkin(conn.finish())
    await task.join()
    assert conn.closed
    assert got == [opener.made[1]]
    assert p.stats().open == 1


async def test_a_waiter_of_another_key_gets_the_slot_of_a_closed_connection():
    p = pool(limit=1)
    conn = await p.checkout("a", Opener("a"))
    other = Opener("b")
    got: list[FakeConnection] = []

    async def wait() -> None:
        got.append(await p.checkout("b", other))

    task = await curio.spawn(wait)
    while p.waiting == 0:
        await curio.sleep(0)
    await p.checkin(conn.finish())
    await task.join()
    assert conn.closed and got == other.made
    assert p.stats().open == 1


async def test_a_waiter_cancelled_before_anything_leaves_no_trace():
    p, opener = pool(limit=1), Opener("a")
    conn = await p.checkout("a", opener)
    task = await curio.spawn(p.checkout, "a", opener)
    while p.waiting == 0:
        await curio.sleep(0)
    await task.cancel()
    assert p.waiting == 0
    await p.checkin(conn.finish())
    assert p.stats().idle == 1


async def test_a_failed_open_gives_the_slot_back():
    p = pool(limit=1)

    async def refuse() -> FakeConnection:
        raise OSError("refused")

    with pytest.raises(OSError):
        await p.checkout("a", refuse)
    assert p.stats().open == 0


async def test_discard_closes_and_frees_the_slot_for_a_waiter():
    p, opener = pool(limit=1), Opener("a")
    conn = await p.checkout("a", opener)
    task = await curio.spawn(p.checkout, "a", opener)
    while p.waiting == 0:
        await curio.sleep(0)
    await p.discard(conn)
    new = await task.join()
    assert conn.closed and new is opener.made[1]
    assert p.stats().open == 1


async def test_close_closes_idle_ones_and_asks_busy_ones_to_close_after_their_cycle():
    p, opener = pool(limit=2), Opener("a")
    busy = await p.checkout("a", opener)
    idle = await p.checkout("a", opener)
    await p.checkin(idle.finish())
    await p.close()
    assert idle.closed
    assert not busy.closed and busy.retiring
    assert p.stats().idle == 0


async def test_a_connection_being_opened_when_the_pool_closes_closes_after_its_cycle():
    # Session.close() with a request still connecting: the connection it was
    # opening must not stay open in the pool after the close.
    p, opener = pool(limit=2), Opener("a")
    go = curio.Event()

    async def slow_open() -> FakeConnection:
        await go.wait()
        return await opener()

    task = await curio.spawn(p.checkout, "a", slow_open)
    while p.stats().connecting == 0:
        await curio.sleep(0)
    await p.close()
    await go.set()
    conn = await task.join()
    assert conn.retiring and not conn.closed
    # A connection opened after the close is an ordinary one again.
    later = await p.checkout("a", opener)
    assert not later.retiring


async def test_the_sweep_closes_expired_idle_connections():
    p, opener = pool(limit=2), Opener("a")
    p.keepalive_expiry = 0.0  # every checkout sweeps
    first = await p.checkout("a", opener)
    second = await p.checkout("a", opener)
    await p.checkin(first.finish())
    await p.checkin(second.finish())
    first.expired = True
    await curio.sleep(0.001)
    conn = await p.checkout("b", Opener("b"))
    assert first.closed and not second.closed
    assert conn.pool_key == "b"
    assert p.stats().open == 2


# -- connections_per_host: HostLimitedPool -------------------------------------


def host_pool(limit: int, per_host: int) -> HostLimitedPool[FakeConnection]:
    # Keys here are (host, variant) pairs; the variant stands for what else
    # a real key holds (route, TLS context): the host's limit spans them.
    return HostLimitedPool(limit, 60.0, per_host, host_of=lambda key: key[0])  # type: ignore[index]


async def until_waiting(p: ConnectionPool[FakeConnection], count: int) -> None:
    while p.waiting != count:
        await curio.sleep(0)


async def test_a_host_at_its_limit_waits_while_another_host_gets_a_slot():
    p = host_pool(limit=4, per_host=2)
    a = Opener(("a", 1))
    await p.checkout(("a", 1), a)
    await p.checkout(("a", 1), a)
    task = await curio.spawn(p.checkout, ("a", 1), a)
    await until_waiting(p, 1)
    b = Opener(("b", 1))
    assert await p.checkout(("b", 1), b) is b.made[0]  # at once: not behind a's waiter
    assert (p.host_open("a"), p.host_open("b")) == (2, 1)
    assert p.stats() == PoolStats(limit=4, open=3, idle=0, busy=3, connecting=0, waiting=1)
    await task.cancel()


async def test_a_waiter_whose_host_filled_up_is_passed_over_and_gets_its_hosts_next_slot():
    p = host_pool(limit=3, per_host=2)
    a, b, c = Opener(("a", 1)), Opener(("b", 1)), Opener(("c", 1))
    await p.checkout(("a", 1), a)
    b1 = await p.checkout(("b", 1), b)
    c1 = await p.checkout(("c", 1), c)
    order: list[str] = []

    async def want(name: str, opener: Opener) -> FakeConnection:
        conn = await p.checkout(opener.key, opener, fresh=True)
        order.append(name)
        return conn

    # Host a has 1 of its 2: these wait for the session-wide limit only.
    first_a = await curio.spawn(want, "a first", a)
    await until_waiting(p, 1)
    second_a = await curio.spawn(want, "a second", a)
    await until_waiting(p, 2)
    only_b = await curio.spawn(want, "b", b)
    await until_waiting(p, 3)

    await p.discard(c1)  # the first in line takes it: a is at 2 now
    await first_a.join()
    await p.discard(b1)  # "a second" came before "b", but a is full: b's turn
    await only_b.join()
    assert order == ["a first", "b"]
    assert p.waiting == 1 and p.host_open("a") == 2

    await p.discard(a.made[0])  # a's own slot: its passed-over waiter gets it
    await second_a.join()
    assert order == ["a first", "b", "a second"]
    assert (p.host_open("a"), p.host_open("b"), p.host_open("c")) == (2, 1, 0)
    assert p.stats().waiting == 0 and p.open == 3


async def test_a_waiter_of_a_full_host_is_handed_a_connection_of_its_key():
    p = host_pool(limit=4, per_host=1)
    a = Opener(("a", 1))
    conn = await p.checkout(("a", 1), a)
    task = await curio.spawn(p.checkout, ("a", 1), a)
    await until_waiting(p, 1)
    await p.checkin(conn.finish())
    assert await task.join() is conn
    assert len(a.made) == 1 and p.host_open("a") == 1


async def test_a_connection_of_the_host_under_another_key_goes_to_the_hosts_waiter():
    p = host_pool(limit=4, per_host=1)
    tls1, tls2 = Opener(("a", "tls1")), Opener(("a", "tls2"))
    conn = await p.checkout(("a", "tls1"), tls1)
    task = await curio.spawn(p.checkout, ("a", "tls2"), tls2)
    await until_waiting(p, 1)
    await p.checkin(conn.finish())
    assert await task.join() is tls2.made[0]
    assert conn.closed  # its slot went to the waiter, as a new connection
    assert p.host_open("a") == 1 and p.open == 1


async def test_an_idle_connection_of_the_host_under_another_key_gives_up_its_slot():
    p = host_pool(limit=4, per_host=1)
    tls1, tls2 = Opener(("a", "tls1")), Opener(("a", "tls2"))
    idle = await p.checkout(("a", "tls1"), tls1)
    await p.checkin(idle.finish())
    new = await p.checkout(("a", "tls2"), tls2)  # no wait: nobody would wake it
    assert idle.closed and new is tls2.made[0]
    assert p.host_open("a") == 1 and p.open == 1


async def test_the_session_limit_still_closes_another_hosts_idle_connection():
    p = host_pool(limit=2, per_host=2)
    a, b = Opener(("a", 1)), Opener(("b", 1))
    await p.checkout(("a", 1), a)
    idle = await p.checkout(("a", 1), a)
    await p.checkin(idle.finish())
    await p.checkout(("b", 1), b)
    assert idle.closed
    assert (p.host_open("a"), p.host_open("b"), p.open) == (1, 1, 2)


async def test_host_counts_drop_to_nothing_when_every_connection_is_gone():
    p = host_pool(limit=4, per_host=2)
    a, b = Opener(("a", 1)), Opener(("b", 1))
    conns = [await p.checkout(("a", 1), a), await p.checkout(("b", 1), b)]
    for conn in conns:
        await p.checkin(conn.finish())
    await p.close()
    assert p._host_open == {} and p._parked == {}
    assert p.stats() == PoolStats(limit=4, open=0, idle=0, busy=0, connecting=0, waiting=0)


async def test_a_failed_open_gives_its_hosts_slot_back():
    p = host_pool(limit=4, per_host=1)

    async def refuse() -> FakeConnection:
        raise OSError("refused")

    with pytest.raises(OSError):
        await p.checkout(("a", 1), refuse)
    assert p.host_open("a") == 0 and p.open == 0


async def test_a_cancelled_waiter_of_a_full_host_leaves_no_trace():
    p = host_pool(limit=4, per_host=1)
    a = Opener(("a", 1))
    conn = await p.checkout(("a", 1), a)
    task = await curio.spawn(p.checkout, ("a", 1), a)
    await until_waiting(p, 1)
    await task.cancel()
    assert p.waiting == 0
    await p.checkin(conn.finish())
    assert p.stats() == PoolStats(limit=4, open=1, idle=1, busy=0, connecting=0, waiting=0)
    assert p._parked == {}


def test_connections_per_host_below_one_is_refused():
    with pytest.raises(ValueError, match="connections_per_host"):
        host_pool(limit=4, per_host=0)


# -- pool_timeout ---------------------------------------------------------------


@pytest.mark.parametrize("make", [lambda: pool(limit=1), lambda: host_pool(limit=4, per_host=1)])
async def test_pool_timeout_gives_up_waiting_and_leaves_no_waiter(make):
    p = make()
    opener = Opener(("a", 1))
    conn = await p.checkout(("a", 1), opener)
    with pytest.raises(PoolWaitTimeout, match=r"pool_timeout=0\.01"):
        await p.checkout(("a", 1), opener, pool_timeout=0.01)
    assert p.waiting == 0
    await p.checkin(conn.finish())
    assert p.stats().idle == 1 and p.open == 1


async def test_pool_timeout_zero_fails_at_once_when_nothing_is_free():
    p, opener = pool(limit=1), Opener("a")
    await p.checkout("a", opener)
    with pytest.raises(PoolWaitTimeout):
        await p.checkout("a", opener, pool_timeout=0)
    assert p.waiting == 0


async def test_pool_timeout_does_not_apply_when_a_slot_is_free():
    p, opener = pool(limit=1), Opener("a")
    assert await p.checkout("a", opener, pool_timeout=0) is opener.made[0]


@pytest.mark.parametrize("make", [lambda: pool(limit=1), lambda: host_pool(limit=4, per_host=1)])
@pytest.mark.parametrize("handed", ["connection", "slot"])
async def test_what_is_handed_to_a_waiter_timing_out_that_moment_is_passed_on(make, handed):
    # The releaser and the waiter's deadline come due in the same scheduling
    # round, the releaser's first: it hands the waiter the connection (or
    # the slot) before the waiter runs and finds its time is up. The waiter
    # passes it on: to the next waiter here.
    # The two deadlines are set from clock readings taken around the
    # waiter's start, not as two short delays from different moments (a
    # waiter's 5 ms against a releaser's 1 ms started a few ms later: on a
    # loaded machine the waiter's came first). The waiter arms its deadline
    # after ``before`` and by ``armed``: the releaser's, ``before +
    # PATIENCE - 1 ms``, is due first; the kernel is held past the
    # waiter's, ``armed + PATIENCE`` at the latest. PATIENCE is the time the
    # rest of the set-up may take.
    patience = 0.5
    p = make()
    opener = Opener(("a", 1))
    conn = await p.checkout(("a", 1), opener)
    before = await curio.clock()
    timing_out = await curio.spawn(
        functools.partial(p.checkout, ("a", 1), opener, pool_timeout=patience)
    )
    await until_waiting(p, 1)
    armed = await curio.clock()
    next_in_line = await curio.spawn(p.checkout, ("a", 1), opener)
    await until_waiting(p, 2)

    waiting_at_release: list[int] = []

    async def release() -> None:
        await curio.sleep(before + patience - 0.001 - await curio.clock())
        waiting_at_release.append(p.waiting)  # 2: the first has not given up yet
        if handed == "connection":
            await p.checkin(conn.finish())
        else:
            await p.discard(conn)  # its slot is handed on

    releaser = await curio.spawn(release)
    await curio.sleep(0)  # the releaser starts its sleep
    # Both come due while the kernel is held here.
    time.sleep(max(0.0, armed + patience + 0.01 - time.monotonic()))  # noqa: ASYNC251
    await releaser.join()
    assert waiting_at_release == [2]
    with pytest.raises(curio.TaskError) as failed:
        await timing_out.join()
    assert isinstance(failed.value.__cause__, PoolWaitTimeout)
    got = await next_in_line.join()
    if handed == "connection":
        assert got is conn
    else:
        assert conn.closed and got is opener.made[1]
    assert p.waiting == 0 and p.open == 1


@pytest.mark.parametrize("seed", range(6))
async def test_many_tasks_over_hosts_and_keys_keep_both_limits_and_all_finish(seed):
    # Tasks of three hosts, two keys each, some asking for fresh connections,
    # some timing out or cancelled while they wait, connections given back
    # reusable or discarded at random: at every step no host is over its
    # limit, the host counts add up to the slots taken, and every task that
    # is not cancelled gets a connection in the end.
    rng = random.Random(seed)
    p = host_pool(limit=5, per_host=2)
    openers = {(host, tls): Opener((host, tls)) for host in "abc" for tls in (1, 2)}
    served = 0

    def check() -> None:
        assert p.open <= p.limit
        assert all(0 < n <= p.per_host for n in p._host_open.values())
        assert sum(p._host_open.values()) == p.open

    async def one(key: tuple[str, int], fresh: bool, timeout: float | None) -> None:
        nonlocal served
        try:
            conn = await p.checkout(key, openers[key], fresh=fresh, pool_timeout=timeout)
        except PoolWaitTimeout:
            check()
            return
        check()
        served += 1
        try:
            for _ in range(rng.randrange(3)):
                await curio.sleep(0)
        except curio.CancelledError:
            await p.discard(conn)  # as the transport does with a cancelled request
            raise
        if rng.random() < 0.3:
            await p.discard(conn)
        else:
            await p.checkin(conn.finish())
        check()

    tasks = []
    for _ in range(120):
        key = rng.choice(list(openers))
        fresh = rng.random() < 0.1
        timeout = 0.0 if rng.random() < 0.1 else None
        tasks.append(await curio.spawn(one, key, fresh, timeout))
        if rng.random() < 0.3:
            await curio.sleep(0)
    cancelled = rng.sample(tasks, 10)
    for task in cancelled:
        await task.cancel()
    async with curio.timeout_after(10):
        for task in tasks:
            try:
                await task.join()
            except curio.TaskError:
                assert task in cancelled
    check()
    assert p.waiting == 0
    assert served > 0
    assert p.open == p.idle  # nothing busy or in limbo: every slot holds an idle one


# -- the sharing pool (http2=): one deadline for the whole checkout ------------


class FakeSharedConnection(FakeConnection):
    """An HTTP/2 connection with one stream, which the test gives back."""

    multiplexed = True

    def is_available(self) -> bool:
        return not self.closed and self.claims == self.released

    released = 0

    def exchange(self) -> FakeSharedConnection:
        return self  # what checkout hands the request: the stream's exchange

    def is_finished(self) -> bool:
        return self.closed


async def test_pool_timeout_bounds_the_whole_sharing_checkout_not_each_wait():
    # B waits for the connection A opens (ALPN unknown), then for its one
    # stream. pool_timeout is B's whole wait: the stream it is given at
    # 0.8 s comes after B's 0.6 s, though within 0.6 s of the second wait.
    from asks._transport.sharing import SharingPool

    pool = SharingPool(4, keepalive_expiry=60.0, may_share=lambda key: True)
    made = []

    async def slow_open():
        await curio.sleep(0.4)
        conn = FakeSharedConnection("k")
        conn.claim()  # a new connection comes claimed by the request that opened it
        made.append(conn)
        return conn

    a = await curio.spawn(pool.checkout("k", slow_open))
    while "k" not in pool._opening:
        await curio.sleep(0)
    b = await curio.spawn(pool.checkout("k", slow_open, pool_timeout=0.6))
    await curio.sleep(0)  # B runs to its first wait: its deadline is armed
    # From B's start, not A's: a machine that stalls between the two cannot
    # push B's deadline past the stream's release.
    armed = time.monotonic()
    conn = await a.join()
    await curio.sleep(max(0.0, 0.8 - (time.monotonic() - armed)))
    conn.released += 1
    await pool.stream_released(conn)
    with pytest.raises(curio.TaskError) as caught:
        await b.join()
    assert isinstance(caught.value.__cause__, PoolWaitTimeout)
    assert "pool_timeout=0.6 s" in str(caught.value.__cause__)
    assert made == [conn]  # B never opened a connection of its own


async def _two_shared_connections(pool):
    """A and B of one origin, both shared and busy (B opened fresh, as for a refused stream)."""

    async def open_one():
        conn = FakeSharedConnection("k")
        conn.claim()  # a new connection comes claimed by the request that opened it
        return conn

    a = await pool.checkout("k", open_one)
    b = await pool.checkout("k", open_one, fresh=True)
    assert pool._shared["k"] == [a, b]
    return a, b, open_one


async def _end_all_streams(pool, conn):
    conn.released = conn.claims
    conn.idle = True
    await pool.stream_released(conn)


async def test_a_full_shared_connection_does_not_keep_a_request_from_an_idle_one():
    from asks._transport.sharing import SharingPool

    pool = SharingPool(4, keepalive_expiry=60.0, may_share=lambda key: True)
    a, b, open_one = await _two_shared_connections(pool)
    await _end_all_streams(pool, b)
    assert pool.idle == 1  # B went back; A is still full
    got = await curio.timeout_after(5, pool.checkout("k", open_one))
    assert got is b and pool.idle == 0
    assert pool._shared["k"] == [a, b]


async def test_an_idle_connection_whose_limit_rises_leaves_the_idle_list_for_its_waiter():
    # B idle, a request waiting for a stream of the origin, and B's server
    # raises its limit: B goes to the waiter, out of the idle list (filed
    # there too, it would be handed out again while busy, and filed twice).
    from asks._transport.sharing import SharingPool

    pool = SharingPool(4, keepalive_expiry=60.0, may_share=lambda key: True)
    _, b, _ = await _two_shared_connections(pool)
    await _end_all_streams(pool, b)
    waiter = await curio.spawn(pool._wait_for_stream("k", None))
    while not pool._stream_waiters.get("k"):
        await curio.sleep(0)
    await pool.streams_freed(b)
    assert await waiter.join() is b
    assert pool.idle == 0 and b not in pool._idle_order
    assert b in pool._shared["k"]
    # Its stream ends: filed once, and taken once.
    await _end_all_streams(pool, b)
    assert pool._idle["k"] == [b] and pool.idle == 1


# -- bounded over many keys (a scraper's session over many hosts) -------------


@pytest.mark.parametrize("make", [lambda: pool(limit=1), lambda: host_pool(limit=1, per_host=1)])
@pytest.mark.parametrize("give_back", ["checkin", "discard"])
async def test_waiters_of_many_keys_leave_no_bookkeeping_behind_while_the_pool_stays_busy(
    make, give_back
):
    # A session that is never out of waiters (more tasks than connections,
    # each URL of another host): every slot goes from one key's request to
    # the next one's through the shared queue. The per-key queues must not
    # keep an entry, and a served waiter, for each host seen.
    p = make()
    keys = [(f"h{n}.example", 1) for n in range(300)]
    conn = await p.checkout(keys[0], Opener(keys[0]))
    waiting = await curio.spawn(p.checkout, keys[1], Opener(keys[1]))
    await until_waiting(p, 1)
    for number in range(2, len(keys)):
        behind = await curio.spawn(p.checkout, keys[number], Opener(keys[number]))
        await until_waiting(p, 2)
        if give_back == "checkin":
            await p.checkin(conn.finish())
        else:
            await p.discard(conn)
        conn = await waiting.join()
        waiting = behind
        assert p.waiting == 1
        assert len(p._waiters_by_key) <= 1
    await waiting.cancel()
    assert len(p._waiters_by_key) == 0
    assert len(p._waiters) <= 1
    assert conn.pool_key == keys[-2]


@pytest.mark.parametrize("make", [lambda: pool(limit=1), lambda: host_pool(limit=1, per_host=1)])
async def test_a_cancelled_waiter_of_a_key_leaves_no_queue_for_it(make):
    p = make()
    held = await p.checkout(("a", 1), Opener(("a", 1)))
    for number in range(50):
        key = (f"h{number}.example", 1)
        task = await curio.spawn(p.checkout, key, Opener(key))
        await until_waiting(p, 1)
        await task.cancel()
        assert len(p._waiters_by_key) == 0
    await p.checkin(held.finish())
    assert p.stats().idle == 1


@pytest.mark.parametrize("starved", [False, True])
async def test_waiters_handed_connections_of_their_key_do_not_pile_up_in_the_shared_queue(
    starved,
):
    # One host hammered by more tasks than connections: each connection
    # given back goes to the next waiter of its key, from the key's queue.
    # The shared queue must not keep every waiter served that way - also
    # behind a waiter of another key that the preference for the key's own
    # waiters keeps waiting all along (starved).
    p = pool(limit=1)
    a = Opener("a")
    conn = await p.checkout("a", a)
    other = await curio.spawn(p.checkout, "b", Opener("b")) if starved else None
    await until_waiting(p, int(starved))
    waiting = await curio.spawn(p.checkout, "a", a)
    await until_waiting(p, 1 + starved)
    for _ in range(1000):
        behind = await curio.spawn(p.checkout, "a", a)
        await until_waiting(p, 2 + starved)
        await p.checkin(conn.finish())
        assert await waiting.join() is conn
        waiting = behind
        assert len(p._waiters) <= 128
        assert sum(len(q) for q in p._waiters_by_key.values()) <= 128
    assert len(a.made) == 1
    await waiting.cancel()
    if other is not None:
        await other.cancel()
    assert p.waiting == 0


@pytest.mark.parametrize("cancelled", [False, True])
async def test_stream_waiters_of_many_http2_origins_leave_no_queue_behind(cancelled):
    # An HTTP/2 crawl over many hosts, each with one full connection a
    # request waits for: once served (or gone), the host's queue goes too.
    from asks._transport.sharing import SharingPool

    pool = SharingPool(1000, keepalive_expiry=60.0, may_share=lambda key: True)
    for number in range(200):
        key = f"h{number}.example"

        async def open_one(key=key):
            conn = FakeSharedConnection(key)
            conn.claim()  # a new connection comes claimed by the request that opened it
            return conn

        conn = await pool.checkout(key, open_one)
        waiter = await curio.spawn(pool.checkout, key, open_one)
        while not pool._stream_waiters.get(key):
            await curio.sleep(0)
        if cancelled:
            await waiter.cancel()
        else:
            conn.released += 1
            await pool.stream_released(conn)  # the stream goes to the waiter
            assert await waiter.join() is conn
        await _end_all_streams(pool, conn)
        assert key not in pool._stream_waiters
    assert pool._stream_waiters == {}
    assert pool.idle == 200 and pool._shared == {}


async def test_parked_waiters_that_give_up_while_their_host_stays_busy_do_not_pile_up():
    # A host whose connections stay busy (long streams) and a caller trying
    # again and again with a short pool_timeout: each try is parked with the
    # host and gives up; no slot frees to pop them off the host's heap.
    p = host_pool(limit=4, per_host=1)
    a = Opener(("a", 1))
    held = await p.checkout(("a", 1), a)
    for _ in range(1000):
        with pytest.raises(PoolWaitTimeout):
            await p.checkout(("a", 1), a, pool_timeout=0)
        assert len(p._parked["a"]) <= 128
    assert p.waiting == 0
    await p.checkin(held.finish())
    assert p._parked == {} and p.idle == 1


async def test_stream_waiters_that_give_up_behind_one_that_waits_on_do_not_pile_up():
    from asks._transport.sharing import SharingPool

    pool = SharingPool(4, keepalive_expiry=60.0, may_share=lambda key: True)

    async def open_one():
        conn = FakeSharedConnection("k")
        conn.claim()  # a new connection comes claimed by the request that opened it
        return conn

    conn = await pool.checkout("k", open_one)
    patient = await curio.spawn(pool.checkout, "k", open_one)
    while not pool._stream_waiters.get("k"):
        await curio.sleep(0)
    for _ in range(1000):
        with pytest.raises(PoolWaitTimeout):
            await pool.checkout("k", open_one, pool_timeout=0)
        assert len(pool._stream_waiters["k"]) <= 128
    conn.released += 1
    await pool.stream_released(conn)
    assert await patient.join() is conn
    await _end_all_streams(pool, conn)
    assert pool._stream_waiters == {}
