"""Per-origin rate limits: ``Session(rate_limit=...)``.

A rate limit spaces the requests a session sends to one origin (scheme,
host, port): ``RateLimit(10)`` lets one request go every 0.1 s;
``RateLimit(10, burst=5)`` lets five go at once after a quiet spell, then
one every 0.1 s. Every task of the session shares one bucket per origin. A
request never fails for want of a token: it waits for its turn, and only
the call's ``timeout`` bounds that wait.

The bucket is the generic cell rate algorithm in its virtual scheduling form
(GCRA, as ATM networks and many API gateways police rates): each origin
keeps one number, the *theoretical arrival time* of the next request. A
request arriving reserves the next slot there and then, synchronously, and
sleeps until it; so waiters are served in the order they arrived, with no
queue to keep and no task to wake them. That makes the state per origin two
floats, and a bucket whose slots are all in the past is the same as no
bucket at all: such buckets are dropped (see :meth:`RateLimiter._sweep`),
so a scraper over a million hosts keeps only the ones it used within the
last burst's worth of time.

A waiter that is cancelled (its call's ``timeout``, or its task) gives its
slot back: the last one reserved is simply unreserved; one in the middle
becomes a *hole* the next request takes, so later waiters keep their slots
and a crowd of timed-out waiters cannot block the origin for the time it
would have taken to serve them.

Zero cost without a limit: :func:`install` wraps the transport's ``send``
of the one session that has a limit, as ``_hooks.install`` does for hooks.
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeAlias

from ._numbers import check_int, check_number
from ._transport.deadlines import kernel_sleep
from ._urls import Origin, parse_url

if TYPE_CHECKING:
    from .sessions import Session

__all__ = [
    "RateLimit",
    "RateLimitInput",
    "RateLimiter",
    "install",
    "limiter_of",
    "parse_rate_limit",
]

# Below this many buckets nothing is swept; above it, a sweep runs each time
# the number of buckets doubles (so its cost per new bucket stays constant).
_SWEEP_MIN = 1024


class RateLimit:
    """Requests per second to one origin, with a burst.

    Args:
        per_second: the sustained rate, e.g. ``10`` (one request every 0.1 s)
            or ``0.2`` (one every 5 s, a robots.txt ``Crawl-delay: 5``).
        burst: how many requests may go at once after a quiet spell; the
            default 1 spaces every request evenly, so no window of
            ``1 / per_second`` seconds ever holds two.

    Raises:
        TypeError: *per_second* not a number, *burst* not an int.
        ValueError: *per_second* not positive and finite, *burst* below 1.
    """

    __slots__ = ("_burst", "_per_second")

    def __init__(self, per_second: float, *, burst: int = 1) -> None:
        check_number(per_second, "RateLimit per_second", "a number of requests per second")
        if not (per_second > 0 and math.isfinite(per_second)):
            raise ValueError(f"requests per second must be above 0 and finite, not {per_second}")
        check_int(burst, "burst", "a whole number")
        if burst < 1:
            raise ValueError(f"burst must be at least 1, not {burst}")
        self._per_second = float(per_second)
        self._burst = burst

    @property
    def per_second(self) -> float:
        """The sustained rate in requests per second."""
        return self._per_second

    @property
    def burst(self) -> int:
        """How many requests may go at once after a quiet spell."""
        return self._burst

    @property
    def interval(self) -> float:
        """Seconds between two requests at the sustained rate."""
        return 1.0 / self._per_second

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RateLimit):
            return NotImplemented
        return (self._per_second, self._burst) == (other._per_second, other._burst)

    def __hash__(self) -> int:
        return hash((self._per_second, self._burst))

    def __repr__(self) -> str:
        return f"RateLimit({self._per_second:g}, burst={self._burst})"


RateLimitInput: TypeAlias = "float | RateLimit | Mapping[str, float | RateLimit | None] | None"


class _Bucket:
    """One origin's schedule: GCRA's theoretical arrival time, and holes."""

    __slots__ = ("generation", "holes", "interval", "tat", "tolerance")

    def __init__(self, limit: RateLimit, now: float) -> None:
        self.tat = now  # the next free slot; at or before now: a full bucket
        self.holes: list[float] = []  # slots given back by cancelled waiters (a heap)
        self.generation = 0
        self.interval = 0.0
        self.tolerance = 0.0
        self.retune(limit)

    def retune(self, limit: RateLimit) -> None:
        self.interval = limit.interval
        # GCRA's tolerance: how far ahead of the schedule a request may be.
        self.tolerance = (limit.burst - 1) * self.interval
        # Holes were spaced for the old rate; reservations made under it
        # stay (the new rate counts from the schedule as it stands).
        self.holes.clear()
        self.generation += 1

    def reserve(self, now: float) -> tuple[float, float | None]:
        """The time a request arriving *now* may go, reserved for it.

        Returns:
            that time, and the schedule it leaves behind (None when the slot
            was a hole).
        """
        holes = self.holes
        while holes:
            at = heapq.heappop(holes)
            if at >= now:
                return at, None
            # A hole in the past is gone: filling it now would put this
            # request closer than one interval to the slot after it.
        tat = self.tat
        start = tat if tat > now else now
        self.tat = after = start + self.interval
        at = start - self.tolerance
        return (at if at > now else now), after

    def give_back(self, at: float, after: float | None, generation: int) -> None:
        """Return the slot *at* of a waiter that will not send."""
        if generation != self.generation:
            return  # reserved under a rate since replaced: the slot just goes unused
        if after is not None and after == self.tat:
            self.tat = after - self.interval  # the last one reserved
        else:
            heapq.heappush(self.holes, at)


class RateLimiter:
    """A session's rate limits: the configured ones and a bucket per origin.

    Args:
        default: the limit of every origin not named otherwise (None: no limit).
        hosts: limits by host name (any scheme and port), None for no limit.
        clock: seconds, monotonic (tests inject their own).
        sleep: an async function sleeping that many seconds (likewise).
    """

    def __init__(
        self,
        default: RateLimit | None,
        hosts: Mapping[str, RateLimit | None] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = kernel_sleep,
    ) -> None:
        self.clock = clock
        self.sleep = sleep
        self._default = default
        self._hosts: dict[str, RateLimit | None] = dict(hosts or {})
        self._origins: dict[Origin, RateLimit | None] = {}  # set_rate's, kept until cleared
        # Rates origins asked for (robots.txt Crawl-delay), one entry per
        # holder: each run that read the origin's robots.txt holds its own
        # until it lets go, so one run ending never lifts another's, nor a
        # set_rate of the caller's (see hold_rate).
        self._held: dict[Origin, list[float]] = {}
        self._buckets: dict[Origin, _Bucket] = {}
        self._sweep_at = _SWEEP_MIN

    def limit_for(self, origin: Origin | str) -> RateLimit | None:
        """The limit requests to *origin* (an origin or a URL) are held to now."""
        origin = _as_origin(origin)
        if origin in self._origins:
            limit = self._origins[origin]
        else:
            limit = self._hosts.get(origin.host, self._default)
        held = self._held.get(origin)
        if held:
            # The slowest wins: an origin's own request for a rate asks for
            # at least that spacing, never for more than the caller allows.
            slowest = min(held)
            if limit is None or limit.per_second > slowest:
                return RateLimit(slowest)
        return limit

    def hold_rate(self, origin: Origin, per_second: float) -> None:
        """Hold *origin* to at most *per_second* until :meth:`release_rate`.

        For rates an origin asks for (robots.txt ``Crawl-delay``): the
        slowest of those held and the session's own limit for the origin
        applies. Each hold is released once; holds do not replace or
        clear :meth:`set_rate`'s setting.
        """
        RateLimit(per_second)  # checked as a rate
        before = self.limit_for(origin)
        self._held.setdefault(origin, []).append(per_second)
        self._retune_if_changed(origin, before)

    def release_rate(self, origin: Origin, per_second: float) -> None:
        """Let go of one :meth:`hold_rate` of *origin* at *per_second*."""
        held = self._held.get(origin)
        if held is None or per_second not in held:
            return
        before = self.limit_for(origin)
        held.remove(per_second)
        if not held:
            del self._held[origin]
        self._retune_if_changed(origin, before)

    def _retune_if_changed(self, origin: Origin, before: RateLimit | None) -> None:
        # A retune forgets the bucket's holes and the slots its waiters
        # would give back: not for a hold that changes nothing (a slower
        # limit of the session's, a second run holding the same delay).
        limit = self.limit_for(origin)
        if limit != before:
            self._retune(origin, limit)

    def set_rate(self, origin: Origin | str, per_second: float | None, burst: int = 1) -> None:
        """Hold one origin to a rate from now on, e.g. from robots.txt ``Crawl-delay``.

        Requests already waiting keep their slots; the next request is
        scheduled from the origin's schedule as it stands, at the new rate.
        The setting is kept (unlike buckets, it is not dropped when idle)
        until :meth:`clear_rate`.

        Args:
            origin: an :class:`~asks._urls.Origin` or any URL of the origin.
            per_second: requests per second; None lifts the limit for it.
            burst: as for :class:`RateLimit`.

        Raises:
            ValueError: a bad URL, rate or burst (see :class:`RateLimit`).
        """
        origin = _as_origin(origin)
        limit = None if per_second is None else RateLimit(per_second, burst=burst)
        self._origins[origin] = limit
        self._retune(origin, self.limit_for(origin))

    def clear_rate(self, origin: Origin | str) -> None:
        """Forget :meth:`set_rate` for *origin*: the session's limits apply again."""
        origin = _as_origin(origin)
        if self._origins.pop(origin, _MISSING) is not _MISSING:
            self._retune(origin, self.limit_for(origin))

    def _retune(self, origin: Origin, limit: RateLimit | None) -> None:
        bucket = self._buckets.get(origin)
        if bucket is None:
            return
        if limit is None:
            del self._buckets[origin]
        else:
            bucket.retune(limit)

    def bucket_count(self) -> int:
        """How many origins have a bucket now (for tests and ``pool_stats``-like checks)."""
        return len(self._buckets)

    async def acquire(self, origin: Origin) -> None:
        """Wait until a request to *origin* may go; it then counts as sent.

        Raises:
            curio.CancelledError: cancelled while waiting (a ``timeout``):
                the slot is given back first.
        """
        bucket = self._buckets.get(origin)
        if bucket is None:
            limit = self.limit_for(origin)
            if limit is None:
                return
            bucket = self._new_bucket(origin, limit)
        now = self.clock()
        if bucket.holes:
            at, after = bucket.reserve(now)
        else:
            # bucket.reserve's schedule step, inlined: this runs for every
            # request of a limited session (benchmarks/opcodes.py).
            tat = bucket.tat
            start = tat if tat > now else now
            bucket.tat = after = start + bucket.interval
            at = start - bucket.tolerance
        if at <= now:
            return
        generation = bucket.generation
        try:
            await self.sleep(at - now)
        except BaseException:
            bucket.give_back(at, after, generation)
            raise

    def _new_bucket(self, origin: Origin, limit: RateLimit) -> _Bucket:
        now = self.clock()
        if len(self._buckets) >= self._sweep_at:
            self._sweep(now)
        bucket = self._buckets[origin] = _Bucket(limit, now)
        return bucket

    def _sweep(self, now: float) -> None:
        # A bucket whose next slot is not in the future is full: a new one
        # would behave the same, so it need not be kept. (Holes are always
        # before the schedule, so a full bucket has no future holes.)
        self._buckets = {o: b for o, b in self._buckets.items() if b.tat > now}
        self._sweep_at = max(_SWEEP_MIN, 2 * len(self._buckets))


_MISSING: Any = object()


def _as_origin(origin: Origin | str) -> Origin:
    if isinstance(origin, Origin):
        return origin
    return parse_url(origin).origin


def _as_limit(value: object, what: str) -> RateLimit:
    if isinstance(value, RateLimit):
        return value
    return RateLimit(
        check_number(value, what, "a number of requests per second or an asks.RateLimit")
    )


def _host_key(host: object) -> str:
    """A host name as URLs spell it: lower case, IDNA, IPv6 without brackets."""
    if not isinstance(host, str) or not host:
        raise TypeError(f"rate_limit keys are host names or '*', not {host!r}")
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        url = parse_url(f"http://[{bare}]/" if ":" in bare else f"http://{host}/")
    except ValueError:
        raise ValueError(f"rate_limit key {host!r} is not a host name") from None
    if url.target != "/" or url.port != 80 or url.userinfo:
        raise ValueError(f"rate_limit key {host!r}: a host name only (no port, path or user)")
    return url.host


def parse_rate_limit(value: object) -> RateLimiter | None:
    """``rate_limit=`` as given to ``Session``, checked; None for no limit.

    Accepted: a number (requests per second per origin, burst 1), a
    :class:`RateLimit`, or a mapping from host names to either (or None: no
    limit), with ``"*"`` for every host not named.

    Raises:
        TypeError: a value or key of the wrong type.
        ValueError: a rate not above 0, a burst below 1, a key that is not a
            host name.
    """
    if value is None:
        return None
    if isinstance(value, Mapping):
        default: RateLimit | None = None
        hosts: dict[str, RateLimit | None] = {}
        for key, limit in value.items():
            checked = None if limit is None else _as_limit(limit, f"rate_limit[{key!r}]")
            if key == "*":
                default = checked
            else:
                hosts[_host_key(key)] = checked
        if default is None and not any(hosts.values()):
            return None
        return RateLimiter(default, hosts)
    return RateLimiter(_as_limit(value, "rate_limit"))


def install(session: Session, limiter: RateLimiter) -> None:
    """Make every request *session* sends wait for its origin's slot first.

    Every request the session hands the transport takes a slot: each
    redirect, each auth retry, each ``retries`` attempt. The transport's own
    silent resend of a request that met a dead pooled connection does not
    (the server never saw the first). The slot is taken before a connection
    is checked out, so waiting for it never holds a connection.
    """
    transport = session._transport
    send = transport.send
    acquire = limiter.acquire

    async def send_when_allowed(
        call: Any,
        wire: tuple[tuple[bytes, bytes], ...],
        connection_timeout: float | None,
        *rest: Any,
    ) -> Any:
        await acquire(call.url.origin)
        return await send(call, wire, connection_timeout, *rest)

    transport.send = send_when_allowed  # type: ignore[method-assign,assignment]


def limiter_of(session: Session) -> RateLimiter:
    """The rate limiter of *session*, installed now (with no limit) if it had none.

    ``fetch_many(robots=True)`` feeds each origin's ``Crawl-delay`` to
    :meth:`RateLimiter.set_rate`; a session made without ``rate_limit=``
    gets a limiter whose only limits are those settings, so its other
    origins still go unhindered.

    Args:
        session: the session.

    Returns:
        its limiter (the same object on every call).
    """
    limiter = session._rate_limiter
    if limiter is None:
        limiter = session._rate_limiter = RateLimiter(None)
        install(session, limiter)
    return limiter
