"""The generic pool, driven with fake connections: no socket, only its questions.

The pool asks a connection whether it is available or expired, tells it
``claim`` and ``close_after_cycle``, and closes it; these fakes record every
one of those, so each test says exactly what the pool did and what it
never did (write a connection's state, build one itself).
"""

from __future__ import annotations

import itertools
import time

import curio
import pytest

from asks._transport.pool import ConnectionPool, PoolStats

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
