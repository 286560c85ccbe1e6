"""The transport's own resend, and re-queueing, on fake connections.

The rule (docs/sessions.md, RFC 9110 section 9.2.2): a request whose reused
connection turned out dead before a single response byte is sent again at
most once, on a newly opened connection - never on another reused one,
which may be just as dead - and only when sending it again cannot change
what it does. A connection that cannot take the request after all sends it
back to the pool, which is neither a failure nor a retry.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

import pytest

from asks._content import MISSING, encode_body
from asks._headers import Headers
from asks._request import Call
from asks._transport.interfaces import ConnectionNotAvailable, PeerClosedEarly
from asks._transport.pool import ConnectionPool
from asks._transport.transport import Transport
from asks._urls import parse_url

_numbers = itertools.count(1)


class FakeConnection:
    """Answers ``handle`` by its script: "ok", "dead", "read-then-dead", "started-then-dead",
    "busy"."""

    def __init__(self, key: object, pool: ConnectionPool[Any], script: str, reused: bool) -> None:
        self.pool_key = key
        self.number = next(_numbers)
        self._pool = pool
        self.script = script
        self.reused = reused
        self.response_started = False
        self.idle = False
        self.closed = False
        self.idle_since = time.monotonic()
        self.handled: list[bytes] = []
        self.timeout: float | None = None  # the connection timeout it was opened under

    def is_available(self) -> bool:
        return self.idle

    def is_idle(self) -> bool:
        return self.idle

    def is_closed(self) -> bool:
        return self.closed

    def has_expired(self, now: float) -> bool:
        return False  # dead, but the stale check cannot see it (a race)

    def claim(self) -> None:
        self.idle = False

    def close_after_cycle(self) -> None:
        pass

    async def close(self) -> None:
        self.closed = True

    async def abort(self) -> None:
        await self._pool.discard(self)

    async def handle(self, method: bytes, target: bytes, wire: Any, body: Any, stream: Any = None):
        self.handled.append(method)
        if self.script == "dead":
            raise PeerClosedEarly(before_response=True)
        if self.script == "read-then-dead":
            if stream is not None:
                await stream.__anext__()  # the body's first piece went out,
                await stream.aclose()  # then the send failed (as http11 closes it)
            raise PeerClosedEarly(before_response=True)
        if self.script == "started-then-dead":
            self.response_started = True
            raise PeerClosedEarly(before_response=False)
        if self.script == "busy":
            self.script = "ok"
            await self._pool.checkin(self.idled())
            raise ConnectionNotAvailable
        return "head", "headers"

    def idled(self) -> FakeConnection:
        self.idle = True
        return self


class FakeDialer:
    """Opens connections that behave as ``scripts`` says, in order."""

    def __init__(self, scripts: list[str]) -> None:
        self.scripts = scripts
        self.opened: list[FakeConnection] = []
        self.keys: dict[object, object] = {}

    def pool_key(self, origin: object) -> object:
        return origin

    async def connect(self, origin, key, timeout, pool) -> FakeConnection:
        conn = FakeConnection(key, pool, self.scripts.pop(0), reused=False)
        conn.timeout = timeout
        self.opened.append(conn)
        return conn


def call(method: str = "GET", data: Any = None, url: str = "http://example/") -> Call:
    body = None if data is None else encode_body(data, MISSING, None, None, "utf-8")
    return Call(method, parse_url(url), Headers(), body, None)


async def transport_with_idle(scripts: list[str], idle: list[str]) -> tuple[Transport, FakeDialer]:
    """A transport whose pool holds reused idle connections scripted ``idle``."""
    pool: ConnectionPool[Any] = ConnectionPool(4, 60.0)
    dialer = FakeDialer(scripts)
    transport = Transport(pool, dialer)  # type: ignore[arg-type]
    key = parse_url("http://example/").origin
    for script in idle:
        conn = FakeConnection(key, pool, script, reused=True)
        pool.open += 1
        pool._all.add(conn)
        await pool.checkin(conn.idled())
    return transport, dialer


async def test_a_dead_reused_connection_is_resent_once_on_a_new_one():
    # Two reused connections, both dead: the resend must not try the second.
    transport, dialer = await transport_with_idle(["ok"], idle=["dead", "dead"])
    the_call = call()
    conn, head, _, _ = await transport.send(the_call, (), None)
    assert head == "head"
    assert conn is dialer.opened[0] and not conn.reused
    assert the_call.resent
    assert transport.pool.stats().idle == 1  # the untried reused one is left alone


async def test_the_resend_happens_at_most_once_per_request():
    transport, dialer = await transport_with_idle(["dead"], idle=["dead"])
    with pytest.raises(PeerClosedEarly):
        await transport.send(call(), (), None)
    assert len(dialer.opened) == 1


async def test_a_request_already_resent_is_not_resent_again():
    # The session's own retries call the transport again for the same
    # request: its one silent resend is spent.
    transport, dialer = await transport_with_idle(["ok"], idle=["dead"])
    the_call = call()
    the_call.resent = True
    with pytest.raises(PeerClosedEarly):
        await transport.send(the_call, (), None)
    assert dialer.opened == []


@pytest.mark.parametrize(
    ("method", "data"),
    [("POST", b"x"), ("PATCH", b"x"), ("POST", None)],
    ids=["post", "patch", "post-without-body"],
)
async def test_a_non_idempotent_request_is_never_resent(method, data):
    transport, dialer = await transport_with_idle(["ok"], idle=["dead"])
    with pytest.raises(PeerClosedEarly):
        await transport.send(call(method, data), (), None)
    assert dialer.opened == []


async def test_a_one_shot_body_read_from_is_never_resent():
    async def once():
        yield b"x"

    transport, dialer = await transport_with_idle(["ok"], idle=["read-then-dead"])
    with pytest.raises(PeerClosedEarly):
        await transport.send(call("PUT", once()), (), None)
    assert dialer.opened == []


async def test_a_one_shot_body_never_read_is_resent_like_any_other():
    # The connection died before the source gave a byte (a dead pooled
    # connection refusing the head): nothing of it is spent, so it can go.
    async def once():
        yield b"x"

    transport, dialer = await transport_with_idle(["ok"], idle=["dead"])
    _, head, _, _ = await transport.send(call("PUT", once()), (), None)
    assert head == "head"
    assert len(dialer.opened) == 1


async def test_a_response_that_had_started_is_never_resent():
    transport, dialer = await transport_with_idle(["ok"], idle=["started-then-dead"])
    with pytest.raises(PeerClosedEarly):
        await transport.send(call(), (), None)
    assert dialer.opened == []


async def test_a_new_connection_that_dies_is_not_resent():
    transport, dialer = await transport_with_idle(["dead", "ok"], idle=[])
    with pytest.raises(PeerClosedEarly):
        await transport.send(call(), (), None)
    assert len(dialer.opened) == 1


async def test_a_connection_that_cannot_take_the_request_sends_it_back_to_the_pool():
    transport, dialer = await transport_with_idle(["ok"], idle=["busy"])
    the_call = call("POST", b"x")  # even a POST: nothing was sent
    conn, head, _, _ = await transport.send(the_call, (), None)
    assert head == "head"
    assert not the_call.resent  # not a retry
    assert dialer.opened == []  # served by the same connection, taken again
    assert conn.handled == [b"POST", b"POST"]


async def test_each_new_connection_is_opened_under_its_own_calls_connection_timeout():
    # The opener handed to the pool is kept per origin, route and timeout
    # (not made per request): a call with another connection_timeout to the
    # same origin must not get the opener, and so the timeout, of the last.
    transport, _dialer = await transport_with_idle(["ok", "ok", "ok"], idle=[])
    first, _, _, _ = await transport.send(call(), (), 5.0)
    second, _, _, _ = await transport.send(call(), (), 0.5)  # the first is still busy
    await first.abort()
    await second.abort()
    third, _, _, _ = await transport.send(call(), (), 5.0)
    assert [c.timeout for c in (first, second, third)] == [5.0, 0.5, 5.0]
    assert len(transport._openers) == 2


async def test_the_kept_openers_stay_bounded_over_many_origins():
    transport, dialer = await transport_with_idle(["ok"] * 600, idle=[])
    for number in range(600):
        conn, _, _, _ = await transport.send(call(url=f"http://host{number}.example/"), (), 5.0)
        await conn.abort()
    assert 0 < len(transport._openers) <= 256
    assert [c.pool_key.host for c in dialer.opened[-2:]] == ["host598.example", "host599.example"]
