"""``asks.Retry``: when a call tries again, and how long it waits first.

The session asks two questions of one call's :class:`RetryBudget`: "retry
this response / this error?" and "how long to wait?". Everything about the
answer lives here: which statuses and methods qualify, the exponential
backoff with full jitter, ``Retry-After`` (RFC 9110 section 10.2.3) and the
call's deadline.

The clock and the sleep are module-level (:data:`clock`, :func:`sleep`) so
tests replace them and never wait for real seconds.
"""

from __future__ import annotations

import datetime
import email.utils
import math
import random
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ._numbers import check_int, check_number, is_int
from ._request import IDEMPOTENT
from ._transport.deadlines import kernel_sleep
from .errors import ServerClosedConnectionError

if TYPE_CHECKING:
    from collections.abc import Callable

    from ._headers import ResponseHeaders
    from .errors import AsksException

__all__ = ["Retry", "RetryBudget", "clock", "parse_retry_after", "sleep"]

_DEFAULT_STATUSES = (429, 502, 503, 504)

# Replaced by tests: the monotonic clock deadlines are measured with, and
# the wall clock an HTTP-date Retry-After is compared with.
clock: Callable[[], float] = time.monotonic
wall_clock: Callable[[], float] = time.time
uniform: Callable[[float, float], float] = random.uniform


async def sleep(seconds: float) -> None:
    """Wait before a retry (tests replace it).

    A wait longer than curio's kernel can keep in one go (a server's
    ``Retry-After`` of months, with ``max_retry_after=None``) is slept in
    pieces: in one, it would crash the kernel (``_transport.deadlines``).
    """
    await kernel_sleep(seconds)


def _non_negative(name: str, value: object, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if not check_number(value, f"Retry {name}") >= 0:  # also refuses NaN
        raise ValueError(f"Retry {name} must be 0 or more, not {value!r}")


class Retry:
    """A retry policy: pass it as ``retries=`` to a Session or a call.

    Retried: a connection that could not be made (any method: nothing was
    sent); a connection the server closed before answering, and a response
    whose status is in ``status_forcelist``, for methods in
    ``allowed_methods`` only (RFC 9110 section 9.2.2: repeating those cannot
    change what they do). A one-shot body (an async iterator) is never sent
    twice. Each retried response is kept in the final response's
    ``history``. The call's ``timeout`` bounds the whole call, waits
    included: a wait that would end past it is not started, and the call
    ends at once with the last response or error.

    Args:
        total: the most retries of one call (0: none).
        backoff_factor: the wait before retry *n* (from 0) is a random
            duration between 0 and ``backoff_factor * 2**n`` seconds ("full
            jitter"), at most ``backoff_max``.
        backoff_max: the longest backoff wait, in seconds.
        backoff_jitter: ``True`` (full jitter, the default) or ``False``
            (wait exactly ``backoff_factor * 2**n``).
        status_forcelist: statuses that are retried.
        allowed_methods: methods retried after a status or a closed
            connection (upper case); default the idempotent methods.
        respect_retry_after: wait as long as a retried response's
            ``Retry-After`` says (seconds or an HTTP date) instead of the
            backoff.
        max_retry_after: the longest ``Retry-After`` honoured, in seconds; a
            longer one ends the retries with that response.

    Raises:
        ValueError: a negative number, a status outside 100-599.
        TypeError: a value of the wrong kind.
    """

    __slots__ = (
        "allowed_methods",
        "backoff_factor",
        "backoff_jitter",
        "backoff_max",
        "max_retry_after",
        "respect_retry_after",
        "status_forcelist",
        "total",
    )

    total: int
    backoff_factor: float
    backoff_max: float
    backoff_jitter: bool
    status_forcelist: frozenset[int]
    allowed_methods: frozenset[str]
    respect_retry_after: bool
    max_retry_after: float | None

    def __init__(
        self,
        total: int = 3,
        *,
        backoff_factor: float = 0.5,
        backoff_max: float = 60.0,
        backoff_jitter: bool = True,
        status_forcelist: Iterable[int] = _DEFAULT_STATUSES,
        allowed_methods: Iterable[str] = IDEMPOTENT,
        respect_retry_after: bool = True,
        max_retry_after: float | None = 300.0,
    ) -> None:
        check_int(total, "Retry total")
        _non_negative("total", total)
        _non_negative("backoff_factor", backoff_factor)
        _non_negative("backoff_max", backoff_max)
        _non_negative("max_retry_after", max_retry_after, allow_none=True)
        for name, flag in (
            ("backoff_jitter", backoff_jitter),
            ("respect_retry_after", respect_retry_after),
        ):
            # A typo such as backoff_jitter="no" must not mean True.
            if not isinstance(flag, bool):
                raise TypeError(f"Retry {name} must be True or False, not {flag!r}")
        if isinstance(status_forcelist, str | bytes) or not isinstance(status_forcelist, Iterable):
            raise TypeError("Retry status_forcelist must be a collection of status codes")
        statuses = frozenset(status_forcelist)
        for status in statuses:
            if not is_int(status):
                raise TypeError(f"Retry status_forcelist holds {status!r}, not a status code")
            if not 100 <= status <= 599:
                raise ValueError(f"Retry status_forcelist holds {status}, not a status 100-599")
        if isinstance(allowed_methods, str | bytes) or not isinstance(allowed_methods, Iterable):
            raise TypeError("Retry allowed_methods must be a collection of method names")
        methods = frozenset(allowed_methods)
        for method in methods:
            if not isinstance(method, str) or not method:
                raise TypeError(f"Retry allowed_methods holds {method!r}, not a method name")
        set_ = object.__setattr__
        set_(self, "total", total)
        set_(self, "backoff_factor", float(backoff_factor))
        set_(self, "backoff_max", float(backoff_max))
        set_(self, "backoff_jitter", backoff_jitter)
        set_(self, "status_forcelist", statuses)
        set_(self, "allowed_methods", frozenset(m.upper() for m in methods))
        set_(self, "respect_retry_after", respect_retry_after)
        set_(
            self,
            "max_retry_after",
            None if max_retry_after is None else float(max_retry_after),
        )

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("asks.Retry is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("asks.Retry is immutable")

    def _key(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    # Why: copy, deepcopy and pickle restore slots with setattr, which an
    # immutable Retry refuses ("asks.Retry is immutable"): a policy inside
    # a config that is deep-copied, or sent to a worker process, failed.
    def __getstate__(self) -> tuple[object, ...]:
        return self._key()

    def __setstate__(self, state: tuple[object, ...]) -> None:
        for name, value in zip(self.__slots__, state, strict=True):
            object.__setattr__(self, name, value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Retry):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (
            f"Retry(total={self.total}, backoff_factor={self.backoff_factor}, "
            f"backoff_max={self.backoff_max}, backoff_jitter={self.backoff_jitter}, "
            f"status_forcelist={tuple(sorted(self.status_forcelist))}, "
            f"allowed_methods={tuple(sorted(self.allowed_methods))}, "
            f"respect_retry_after={self.respect_retry_after}, "
            f"max_retry_after={self.max_retry_after})"
        )

    def backoff(self, retry_number: int) -> float:
        """Seconds to wait before retry *retry_number* (0 for the first).

        Args:
            retry_number: how many retries came before this one.

        Returns:
            ``uniform(0, min(backoff_max, backoff_factor * 2**n))`` with
            jitter, the upper bound without.
        """
        # Capped before the power can overflow a float.
        ceiling = min(self.backoff_max, self.backoff_factor * 2.0 ** min(retry_number, 1000))
        return uniform(0.0, ceiling) if self.backoff_jitter else ceiling


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds to wait (RFC 9110 section 10.2.3).

    Args:
        value: the header value: delay-seconds or an HTTP-date.
        now: the wall-clock time to measure a date from (default: now).

    Returns:
        seconds (a date in the past is 0), or None for a missing or
        malformed value.
    """
    if value is None:
        return None
    value = value.strip()
    if value.isdigit() and value.isascii():
        seconds = float(value)
        # Hundreds of digits are infinity as a float: no wait to honour
        # (an infinite sleep, with no max_retry_after), so malformed.
        return seconds if seconds != math.inf else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        # No zone: the obsolete asctime form ("Sun Nov  6 08:49:37 1994"),
        # which RFC 9110 section 5.6.7 says a recipient MUST accept and is
        # UTC like every HTTP-date, or "-0000" (RFC 5322: UTC, local zone
        # unknown). Refusing them fell back to a short backoff.
        when = when.replace(tzinfo=datetime.timezone.utc)
    if now is None:
        now = wall_clock()
    return max(0.0, when.timestamp() - now)


class RetryBudget:
    """The retries of one call: what is left, and the deadline.

    Args:
        policy: the call's :class:`Retry`.
        deadline: the :data:`clock` time the call's ``timeout`` ends at, or
            None.
    """

    __slots__ = ("deadline", "policy", "status_forcelist", "used")

    def __init__(self, policy: Retry, deadline: float | None) -> None:
        self.policy = policy
        self.deadline = deadline
        self.used = 0
        self.status_forcelist = policy.status_forcelist

    @classmethod
    def of(cls, policy_or_budget: Retry | RetryBudget, deadline: float | None) -> RetryBudget:
        """The call's budget: *policy_or_budget* itself once it is one.

        Args:
            policy_or_budget: the call's policy, or its budget.
            deadline: as for the constructor.

        Returns:
            the budget.
        """
        if isinstance(policy_or_budget, RetryBudget):
            return policy_or_budget
        return cls(policy_or_budget, deadline)

    def _fits(self, delay: float) -> bool:
        return self.deadline is None or clock() + delay < self.deadline

    def after_response(
        self, method: str, replayable: bool, headers: ResponseHeaders
    ) -> float | None:
        """Seconds to wait before retrying a response, or None: no retry.

        Args:
            method: the request's method.
            replayable: the request's body can be sent again (a one-shot
                body never is: the response is then the answer).
            headers: the headers of a response whose status is in
                ``status_forcelist``.

        Returns:
            the wait, or None when the budget, the method, the body, the
            ``Retry-After`` bound or the deadline says no.
        """
        policy = self.policy
        if self.used >= policy.total or method not in policy.allowed_methods or not replayable:
            return None
        delay = None
        if policy.respect_retry_after:
            delay = parse_retry_after(headers.get("retry-after"))
            if delay is not None and (
                policy.max_retry_after is not None and delay > policy.max_retry_after
            ):
                return None
        if delay is None:
            delay = policy.backoff(self.used)
        if not self._fits(delay):
            return None
        self.used += 1
        return delay

    def after_error(
        self, method: str, replayable: bool, error: AsksException, nothing_sent: bool
    ) -> float | None:
        """Seconds to wait before retrying after *error*, or None: re-raise it.

        Args:
            method: the request's method.
            replayable: the request's body can be sent again.
            error: the translated failure.
            nothing_sent: the connection could not be made, so no byte of
                the request left (any method may be retried).

        Returns:
            the wait, or None.
        """
        policy = self.policy
        if self.used >= policy.total:
            return None
        if not nothing_sent:
            # The request may have reached the server: only a method that
            # can be repeated safely, with a body that can be sent again.
            if not isinstance(error, ServerClosedConnectionError):
                return None
            if method not in policy.allowed_methods or not replayable:
                return None
        delay = policy.backoff(self.used)
        if not self._fits(delay):
            return None
        self.used += 1
        return delay
