"""Timeouts a caller gives, as deadlines curio's kernel can keep.

curio waits for its nearest deadline in one ``select`` call of its kernel,
and epoll takes that wait in milliseconds as a C ``int``: a deadline more
than 2**31 - 1 ms (24.8 days) away, or infinitely far, makes the select
raise ``OverflowError`` the moment every task waits for it - and the whole
kernel crashes, every task of the program with it, not just the request.
A NaN deadline never expires and poisons curio's time queue the same way.

So every timeout a caller hands asks (``timeout``, ``connection_timeout``,
``pool_timeout``, ``r.body(timeout=...)``, ``fetch_many``'s) goes through
:func:`kernel_seconds` before it reaches ``curio.timeout_after``.
"""

from __future__ import annotations

import curio

from .._numbers import check_number

__all__ = ["LONGEST", "kernel_seconds", "kernel_sleep"]

# Seconds (23 days): below the 2**31 - 1 ms one select can wait. A timeout
# beyond it is "no timeout" for any request, and then curio keeps none.
LONGEST = 2_000_000.0


def kernel_seconds(seconds: float | None, name: str) -> float | None:
    """*seconds* as a deadline for ``curio.timeout_after``; None for no deadline.

    ``math.inf`` and anything beyond :data:`LONGEST` mean no deadline (None);
    0 and negative values stay as they are (the deadline has passed).

    Raises:
        ValueError: *seconds* is NaN.
        TypeError: *seconds* is not a number (it cannot be compared).
    """
    if seconds is None:
        return None
    seconds = check_number(seconds, name, "a number of seconds or None")
    if seconds != seconds:
        raise ValueError(f"{name} must be a number of seconds or None, not NaN")
    if seconds > LONGEST:
        return None
    return seconds


async def kernel_sleep(seconds: float) -> None:
    """``curio.sleep(seconds)``, in pieces the kernel can keep when it is longer.

    A server's ``Retry-After`` of months (with ``max_retry_after=None``) or a
    rate limit of one request a month would, slept in one go, crash the
    kernel as above.
    """
    while seconds > LONGEST:
        await curio.sleep(LONGEST)
        seconds -= LONGEST
    await curio.sleep(seconds)
