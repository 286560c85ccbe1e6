"""The per-origin rate limiter (issue 24), on its own: an injected clock and sleep.

Nothing here waits for real time: :class:`tests.virtual_time.VirtualTime`
moves the clock. End-to-end behaviour through a Session is in
``test_rate_session.py``.
"""

from __future__ import annotations

import math

import curio
import pytest

import asks
from asks._rate import _SWEEP_MIN, RateLimit, RateLimiter, parse_rate_limit
from asks._urls import Origin
from tests.virtual_time import VirtualTime

A = Origin("http", "a.example", 80)
B = Origin("http", "b.example", 80)


def limiter_with(vt: VirtualTime, default: RateLimit | None, **hosts: RateLimit | None):
    limiter = RateLimiter(default, hosts, clock=vt.clock, sleep=vt.sleep)
    return limiter


async def times_of(vt: VirtualTime, limiter: RateLimiter, origins: list[Origin]) -> list[float]:
    """One task acquiring each origin in turn: the virtual time each one went."""
    went: list[float] = []

    async def job() -> None:
        for origin in origins:
            await limiter.acquire(origin)
            went.append(vt.now - 1000.0)

    await vt.run(job)
    return went


# -- the shape ----------------------------------------------------------------


def test_rate_limit_defaults_to_a_burst_of_one():
    limit = asks.RateLimit(10)
    assert (limit.per_second, limit.burst, limit.interval) == (10.0, 1, 0.1)
    assert limit == RateLimit(10.0, burst=1)
    assert hash(limit) == hash(RateLimit(10.0))
    assert repr(RateLimit(0.2, burst=3)) == "RateLimit(0.2, burst=3)"
    assert RateLimit(10) != RateLimit(10, burst=2)


@pytest.mark.parametrize("per_second", [0, -1, math.nan, math.inf])
def test_rate_limit_refuses_a_rate_that_is_not_positive_and_finite(per_second):
    with pytest.raises(ValueError, match="above 0 and finite"):
        RateLimit(per_second)


@pytest.mark.parametrize("per_second", ["10", True, None, [1]])
def test_rate_limit_refuses_a_rate_that_is_not_a_number(per_second):
    with pytest.raises(TypeError, match="requests per second"):
        RateLimit(per_second)


@pytest.mark.parametrize(
    ("burst", "error"), [(0, ValueError), (1.5, TypeError), (True, TypeError)]
)
def test_rate_limit_refuses_a_bad_burst(burst, error):
    with pytest.raises(error, match="burst"):
        RateLimit(1, burst=burst)


def test_a_number_means_that_many_per_second_evenly_spaced():
    limiter = parse_rate_limit(4)
    assert limiter is not None
    assert limiter.limit_for(A) == RateLimit(4, burst=1)


def test_no_rate_limit_means_no_limiter():
    assert parse_rate_limit(None) is None
    assert parse_rate_limit({"slow.example": None, "*": None}) is None


def test_a_mapping_sets_limits_by_host_name_with_star_for_the_rest():
    limiter = parse_rate_limit(
        {
            "API.Example.com": 2,
            "faß.de": RateLimit(1, burst=2),
            "[::1]": 3,
            "open.example": None,
            "*": RateLimit(10, burst=5),
        }
    )
    assert limiter is not None
    # Any scheme and port of a named host; names as URLs spell them.
    assert limiter.limit_for("https://api.example.com:8443/x") == RateLimit(2)
    assert limiter.limit_for("http://xn--fa-hia.de/") == RateLimit(1, burst=2)
    assert limiter.limit_for("http://[::1]:8080/") == RateLimit(3)
    assert limiter.limit_for("http://open.example/") is None
    assert limiter.limit_for("http://other.example/") == RateLimit(10, burst=5)


def test_a_mapping_without_star_leaves_other_hosts_unlimited():
    limiter = parse_rate_limit({"slow.example": 1})
    assert limiter is not None
    assert limiter.limit_for("http://slow.example/") == RateLimit(1)
    assert limiter.limit_for("http://fast.example/") is None


@pytest.mark.parametrize(
    ("value", "error", "match"),
    [
        ("fast", TypeError, "requests per second or an asks.RateLimit"),
        ({"a.example": "fast"}, TypeError, r"rate_limit\['a.example'\]"),
        ({3: 1}, TypeError, "host names"),
        ({"a.example:8080": 1}, ValueError, "not a host name"),
        ({"a.example/path": 1}, ValueError, "a host name only"),
        ({"user@a.example": 1}, ValueError, "a host name only"),
        (0, ValueError, "above 0"),
    ],
)
def test_session_refuses_a_bad_rate_limit(value, error, match):
    with pytest.raises(error, match=match):
        asks.Session(rate_limit=value)


# -- token accounting ------------------------------------------------------------


async def test_one_request_per_interval_after_the_first():
    vt = VirtualTime()
    limiter = limiter_with(vt, RateLimit(10))
    went = await times_of(vt, limiter, [A] * 5)
    assert went == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])
    assert vt.slept == pytest.approx([0.1] * 4)


async def test_waiters_of_many_tasks_share_one_bucket_and_go_in_arrival_order():
    vt = VirtualTime()
    limiter = limiter_with(vt, RateLimit(4))
    went: list[tuple[int, float]] = []

    def task(n: int):
        async def job() -> None:
            await limiter.acquire(A)
            went.append((n, vt.now - 1000.0))

        return job

    await vt.run(*(task(n) for n in range(6)))
    # Each slot was reserved on arrival: one request every 0.25 s, in order.
    assert [n for n, _ in went] == list(range(6))
    assert [t for _, t in went] == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0, 1.25])
    # Each waiter slept once, straight to its slot (no wake-ups to re-check).
    assert sorted(vt.slept) == pytest.approx([0.25, 0.5, 0.75, 1.0, 1.25])


async def test_a_burst_goes_at_once_then_the_rate_applies():
    vt = VirtualTime()
    limiter = limiter_with(vt, RateLimit(10, burst=3))
    went = await times_of(vt, limiter, [A] * 5)
    assert went == pytest.approx([0.0, 0.0, 0.0, 0.1, 0.2])


async def test_a_burst_refills_at_the_rate_while_quiet():
    vt = VirtualTime()
    limiter = limiter_with(vt, RateLimit(10, burst=3))
    await times_of(vt, limiter, [A] * 3)  # the burst spent at 0.0
    await vt.advance(0.1)  # one token back
    went = await times_of(vt, limiter, [A] * 2)
    assert went == pytest.approx([0.1, 0.2])
    await vt.advance(10)  # a long quiet spell: the whole burst, no more
    went = await times_of(vt, limiter, [A] * 4)
    assert went == pytest.approx([10.2] * 3 + [10.3])


async def test_two_origins_do_not_share_a_bucket():
    vt = VirtualTime()
    limiter = limiter_with(vt, RateLimit(1))
    went = await times_of(vt, limiter, [A, B, A, B])
    # A and B each go at once the first time and one second later the next.
    assert went == pytest.approx([0.0, 0.0, 1.0, 1.0])
    assert limiter.bucket_count() == 2


async def test_an_unlimited_origin_never_waits_and_keeps_no_bucket():
    vt = VirtualTime()
    limiter = limiter_with(vt, None, **{"a.example": RateLimit(1)})
    went = await times_of(vt, limiter, [B] * 5)
    assert went == [0.0] * 5
    assert vt.slept == []
    assert limiter.bucket_count() == 0


# -- cancelled waiters ------------------------------------------------------------


async def test_a_cancelled_last_waiter_gives_its_slot_back():
    vt = VirtualTime()
    limiter = limiter_with(vt, RateLimit(10))
    await limiter.acquire(A)  # 0.0
    waiter = await curio.spawn(limiter.acquire, A)  # reserves 0.1
    await vt.wait_sleeping(1)
    await waiter.cancel()
    # The next request gets 0.1, not 0.2: the slot was not lost.
    went = await times_of(vt, limiter, [A])
    assert went == pytest.approx([0.1])


async def test_a_cancelled_waiter_in_the_middle_leaves_a_hole_the_next_request_takes():
    vt = VirtualTime()
    limiter = limiter_with(vt, RateLimit(10))
    await limiter.acquire(A)  # 0.0
    went: dict[str, float] = {}

    async def wait(name: str) -> None:
        await limiter.acquire(A)
        went[name] = vt.now - 1000.0

    second = await curio.spawn(wait, "second")  # 0.1
    await vt.wait_sleeping(1)
    third = await curio.spawn(wait, "third")  # 0.2
    await vt.wait_sleeping(2)
    await second.cancel()
    # The third keeps its slot; the next to arrive takes the freed 0.1, and
    # the one after it goes on from the schedule (0.3).
    await vt.run(lambda: wait("fourth"), lambda: wait("fifth"), third.join)
    assert went == pytest.approx({"fourth": 0.1, "third": 0.2, "fifth": 0.3})


async def test_a_hole_already_past_is_not_filled_late():
    vt = VirtualTime()
    limiter = limiter_with(vt, RateLimit(10))
    await limiter.acquire(A)  # 0.0
    second = await curio.spawn(limiter.acquire, A)  # 0.1
    await vt.wait_sleeping(1)
    third = await curio.spawn(limiter.acquire, A)  # 0.2
    await vt.wait_sleeping(2)
    await second.cancel()
    await vt.advance(0.15)  # the hole at 0.1 is past
    await third.cancel()  # the last: unreserved, the schedule is back at 0.2
    went = await times_of(vt, limiter, [A, A])
    # Going at 0.15 would be 0.05 from 0.2: the late hole is dropped.
    assert went == pytest.approx([0.2, 0.3])


async def test_many_cancelled_waiters_do_not_block_the_origin():
    vt = VirtualTime()
    limiter = limiter_with(vt, RateLimit(1))
    await limiter.acquire(A)  # 0
    waiters = []
    for n in range(1, 21):  # slots 1 .. 20
        waiters.append(await curio.spawn(limiter.acquire, A))
        await vt.wait_sleeping(n)
    for waiter in waiters:  # all time out together, in arrival order
        await waiter.cancel()
    went = await times_of(vt, limiter, [A, A, A])
    # The origin serves new requests from the next slot (1 s after the last
    # request that went), not 20 s from now.
    assert went == pytest.approx([1.0, 2.0, 3.0])


# -- changing a rate at run time (robots.txt Crawl-delay) --------------------------


async def test_set_rate_changes_one_origin_from_the_next_request_on():
    vt = VirtualTime()
    limiter = limiter_with(vt, RateLimit(10))
    went = await times_of(vt, limiter, [A, A])
    assert went == pytest.approx([0.0, 0.1])
    limiter.set_rate("http://a.example/robots.txt", 0.2)  # Crawl-delay: 5
    assert limiter.limit_for(A) == RateLimit(0.2)
    assert limiter.limit_for(B) == RateLimit(10)
    went = await times_of(vt, limiter, [A, A, B, B])
    # The next slot was 0.2 on the old schedule; then one every 5 s. B is untouched.
    assert went == pytest.approx([0.2, 5.2, 5.2, 5.3])


async def test_set_rate_none_lifts_the_limit_and_clear_rate_restores_the_session_s():
    vt = VirtualTime()
    limiter = limiter_with(vt, RateLimit(1))
    limiter.set_rate(A, None)
    assert await times_of(vt, limiter, [A, A, A]) == [0.0] * 3
    limiter.clear_rate(A)
    assert limiter.limit_for(A) == RateLimit(1)
    assert await times_of(vt, limiter, [A, A]) == pytest.approx([0.0, 1.0])


async def test_set_rate_with_a_burst_and_on_an_origin_without_a_configured_limit():
    vt = VirtualTime()
    limiter = limiter_with(vt, None, **{"b.example": RateLimit(1)})
    limiter.set_rate(A, 1, burst=2)
    assert await times_of(vt, limiter, [A, A, A]) == pytest.approx([0.0, 0.0, 1.0])


def test_set_rate_refuses_a_bad_rate():
    limiter = RateLimiter(RateLimit(1))
    with pytest.raises(ValueError, match="above 0"):
        limiter.set_rate(A, 0)
    with pytest.raises(ValueError, match="burst"):
        limiter.set_rate(A, 1, burst=0)
    with pytest.raises(ValueError):
        limiter.set_rate("ftp://a.example/", 1)
    assert limiter.limit_for(A) == RateLimit(1)


# -- bounded state --------------------------------------------------------------


async def test_buckets_of_idle_origins_are_dropped_so_state_stays_bounded():
    vt = VirtualTime()
    limiter = limiter_with(vt, RateLimit(10))
    most = 0
    for n in range(5 * _SWEEP_MIN):
        await limiter.acquire(Origin("http", f"h{n}.example", 80))
        most = max(most, limiter.bucket_count())
        await vt.advance(0.05)  # each bucket is full again 0.1 s after its request
    assert most <= _SWEEP_MIN
    assert vt.slept == []


async def test_busy_buckets_are_kept_through_a_sweep():
    vt = VirtualTime()
    limiter = limiter_with(vt, RateLimit(1))
    for n in range(_SWEEP_MIN + 1):  # all within one interval: none is full
        await limiter.acquire(Origin("http", f"h{n}.example", 80))
    assert limiter.bucket_count() == _SWEEP_MIN + 1
    # Still on their schedule: a second request to the first one waits.
    went = await times_of(vt, limiter, [Origin("http", "h0.example", 80)])
    assert went == pytest.approx([1.0])


async def test_a_set_rate_survives_its_idle_bucket_being_dropped():
    vt = VirtualTime()
    limiter = limiter_with(vt, RateLimit(10))
    limiter.set_rate(A, 0.5)
    await limiter.acquire(A)
    await vt.advance(100)
    for n in range(_SWEEP_MIN + 1):
        await limiter.acquire(Origin("http", f"h{n}.example", 80))
    assert A not in limiter._buckets  # swept: it was full
    went = await times_of(vt, limiter, [A, A])
    assert went == pytest.approx([100.0, 102.0])


async def test_held_rates_take_the_slowest_and_a_hold_that_changes_nothing_keeps_the_bucket():
    # What robots.txt delays go through: held beside the session's limit.
    vt = VirtualTime()
    limiter = limiter_with(vt, RateLimit(1))
    await limiter.acquire(A)
    bucket = limiter._buckets[A]
    generation = bucket.generation
    limiter.hold_rate(A, 2.0)  # faster than the session allows: the session's stays
    assert limiter.limit_for(A) == RateLimit(1)
    assert bucket.generation == generation  # the schedule (and its holes) untouched
    limiter.hold_rate(A, 0.5)
    limiter.hold_rate(A, 0.5)  # another run, the same delay
    assert limiter.limit_for(A) == RateLimit(0.5)
    assert bucket.interval == 2.0
    limiter.release_rate(A, 0.5)
    assert limiter.limit_for(A) == RateLimit(0.5)  # the other run's hold is still there
    limiter.release_rate(A, 0.5)
    limiter.release_rate(A, 2.0)
    assert limiter.limit_for(A) == RateLimit(1) and limiter._held == {}
    assert bucket.interval == 1.0
    limiter.release_rate(A, 2.0)  # nothing held: nothing happens
    assert limiter.limit_for(A) == RateLimit(1)
