"""TCP dialling with Happy Eyeballs (RFC 8305).

A host with several addresses (typically IPv6 and IPv4) is dialled by a race
rather than one address after another: a dead or black-holed address costs
``delay`` seconds, not a whole connect timeout.

The rules, with the RFC sections they come from:

* The resolved addresses are interleaved by family: the family of the first
  address first, then alternating, each family keeping the resolver's order
  (section 4; the resolver already sorted them by RFC 6724).
* The first attempt starts at once; each further attempt starts ``delay``
  seconds after the previous one started (section 5, "Connection Attempt
  Delay", 250 ms recommended), or at once when an attempt fails, since a
  failed attempt no longer holds anything back.
* The first attempt to connect wins; every other attempt is cancelled and
  every other socket closed, including one that connected at the same moment
  (section 5: "all other connections attempts that have not yet succeeded
  SHOULD be canceled").

Not done: the asynchronous resolution of section 3 (AAAA and A queried apart,
dialling before both answered). ``getaddrinfo`` answers with both families at
once, and a resolver passed in may do better.

Everything runs under the caller's deadline and cancellation: the attempts
are tasks of one curio ``TaskGroup`` that is emptied, and every loser closed,
before any exception (the caller's ``TaskTimeout`` or ``TaskCancelled``
included) leaves :func:`connect_tcp`. No task outlives the call.
"""

from __future__ import annotations

import errno
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import curio
import curio.io

from .._numbers import is_int
from . import backend
from .backend import AddrInfo, resolve
from .trap_cycles import break_trap_cycle

__all__ = ["AddrInfo", "Connector", "Resolver", "connect_tcp", "interleave", "resolve"]

Resolver = Callable[[str, int], Awaitable[Sequence[AddrInfo]]]
"""``async (host, port) -> addresses``, in the order to prefer them."""

Connector = Callable[[AddrInfo], Awaitable[Any]]
"""``async (addrinfo) -> connected socket``.

It closes its socket on any failure, cancellation included, and reports a
failure as ``OSError``. In a race, a curio ``TaskTimeout`` of its own counts
as that address timing out (ETIMEDOUT); any other exception ends the race.
"""

# RFC 8305 section 5: "A simple implementation can have a fixed delay for how
# long to wait before starting the next connection attempt. [...] The
# recommended value for a default delay is 250 milliseconds."
DEFAULT_DELAY = 0.25


async def connect_tcp(
    host: str,
    port: int,
    *,
    source_address: tuple[str, int] | None = None,
    delay: float = DEFAULT_DELAY,
    resolve: Resolver | None = None,
    connect: Connector | None = None,
) -> curio.io.Socket:
    """Open a TCP connection to *host*:*port*, racing its addresses.

    Args:
        host: A host name or an IP literal (IPv6 without brackets).
        port: The TCP port, 0-65535.
        source_address: ``(host, port)`` to bind before connecting; only for
            the default connector (a custom *connect* binds by itself).
        delay: Seconds between the start of one attempt and the next
            (RFC 8305 section 5). ``math.inf`` dials one address at a time.
        resolve: Gives the addresses of a host; by default
            :func:`backend.resolve` (IP literals as they are, names by
            ``socket.getaddrinfo`` in a worker thread).
        connect: Connects one address; by default
            :func:`backend.connect_address` (TCP_NODELAY, bound to
            *source_address* if given).

    Returns:
        The connected socket of the first attempt that succeeded; every other
        attempt has been cancelled and its socket closed.

    Raises:
        OSError: No address connected. It has the errno of the first failure
            (so it is the matching subclass, e.g. ``ConnectionRefusedError``)
            and its message names every address tried and its error. Also
            raised, naming the host, when the resolver found no address, and
            as the resolver raised it (e.g. ``socket.gaierror``).
        ValueError: *port* or *delay* out of range.
        TypeError: *source_address* given together with a custom *connect*.
    """
    if not is_int(port) or not 0 <= port <= 65535:
        raise ValueError(f"port must be an integer in 0-65535, not {port!r}")
    if not delay >= 0:  # also refuses NaN
        raise ValueError(f"delay must be a number of seconds >= 0, not {delay!r}")
    if connect is None:
        connect = _default_connector(source_address)
    elif source_address is not None:
        raise TypeError("source_address is for the default connector; bind in your connector")
    # The backend's resolver, looked up at each call (tests replace it).
    infos = await (resolve or backend.resolve)(host, port)
    if not infos:
        raise OSError(f"no address found for {host!r}")
    ordered = interleave(infos)
    if len(ordered) == 1:
        # Nothing to race: no task, no timer.
        try:
            return await connect(ordered[0])
        except OSError as exc:
            raise _all_failed(host, port, [(ordered[0], exc)]) from exc
    return await _race(host, port, ordered, delay, connect)


def interleave(infos: Sequence[AddrInfo]) -> list[AddrInfo]:
    """Order addresses for dialling as RFC 8305 section 4 says.

    Args:
        infos: ``getaddrinfo`` entries in the resolver's order of preference.

    Returns:
        The same entries, alternating between address families, starting with
        the family of the first entry; the order within a family is kept. An
        address given twice is kept once, in its first place.
    """
    # Families in order of first appearance; with the usual two this is "the
    # first address's family, then the other" (First Address Family Count 1).
    by_family: dict[int, list[AddrInfo]] = {}
    seen: set[tuple[Any, ...]] = set()
    for info in infos:
        # A resolver may answer one address twice (a name listed twice in
        # /etc/hosts, a DNS answer with a repeated record): dialling it again
        # only spends another attempt delay on an address already being
        # tried, before the next one (RFC 8305 section 4 orders distinct
        # addresses). The first of each is kept, in its place.
        if info[4] in seen:
            continue
        seen.add(info[4])
        by_family.setdefault(info[0], []).append(info)
    queues = list(by_family.values())
    ordered: list[AddrInfo] = []
    for rank in range(max(len(queue) for queue in queues)):
        ordered.extend(queue[rank] for queue in queues if rank < len(queue))
    return ordered


def _default_connector(source_address: tuple[str, int] | None) -> Connector:
    async def connect(info: AddrInfo) -> curio.io.Socket:
        return await backend.connect_address(info, source_address)

    return connect


@dataclass(eq=False)
class _Attempt:
    """One address being dialled, and how it ended (written by its task)."""

    info: AddrInfo
    sock: Any = None
    error: BaseException | None = None
    done: bool = False
    seen: bool = False


async def _attempt(attempt: _Attempt, connect: Connector, wake: curio.Event) -> None:
    try:
        # Assigned as soon as connect returns: there is no blocking point
        # between a connected socket and the record of it, so a cancellation
        # cannot lose it (the connector closes it if cancelled inside).
        attempt.sock = await connect(attempt.info)
    except curio.TaskTimeout as exc:
        # The connector's own deadline (the caller's cannot reach this task):
        # that address timed out, an ordinary loss.
        break_trap_cycle(exc)
        attempt.error = TimeoutError(errno.ETIMEDOUT, f"connect timed out ({exc})")
    except BaseException as exc:
        # The race judges an Exception (OSError is an ordinary loss). Anything
        # else is our own cancellation in the clean-up: it ends the task.
        attempt.error = exc
        if not isinstance(exc, Exception):
            raise
    finally:
        # Also when cancelled (in the clean-up, nobody is waiting then):
        # whatever ended the attempt, the race must hear of it.
        attempt.done = True
        await wake.set()


async def _race(
    host: str, port: int, infos: list[AddrInfo], delay: float, connect: Connector
) -> Any:
    attempts: list[_Attempt] = []
    failures: list[tuple[AddrInfo, OSError]] = []
    wake = curio.Event()
    group = curio.TaskGroup()
    winner: _Attempt | None = None
    try:
        next_start = 0.0
        start_now = True
        while True:
            for attempt in attempts:
                if attempt.done and not attempt.seen:
                    attempt.seen = True
                    if attempt.error is None:
                        winner = attempt
                        break
                    if not isinstance(attempt.error, OSError):
                        raise attempt.error  # a bug, not a refusal: losers closed below
                    failures.append((attempt.info, attempt.error))
                    start_now = True
            if winner is not None:
                return winner.sock
            more = len(attempts) < len(infos)
            if not more and len(failures) == len(attempts):
                assert failures
                raise _all_failed(host, port, failures) from failures[0][1]
            now = await curio.clock()
            if more and (start_now or now >= next_start):
                started = _Attempt(infos[len(attempts)])
                attempts.append(started)
                await group.spawn(_attempt, started, connect, wake)
                start_now = False
                next_start = now + delay
                continue
            # Scanning above and clearing here have no blocking point between
            # them, so a completion cannot slip in unseen.
            wake.clear()
            if more and math.isfinite(next_start):
                await curio.ignore_after(next_start - now, wake.wait())
            else:
                await wake.wait()
    finally:
        # The caller's cancellation (or timeout) must not cut the clean-up
        # short: a deferred one is raised at the caller's next blocking call.
        async with curio.disable_cancellation():
            await group.cancel_remaining()
            await group.join()
            for attempt in attempts:
                if attempt.sock is not None and attempt is not winner:
                    await backend.close_quietly(attempt.sock)
        if winner is not None:
            # A cancellation that came during the clean-up was deferred; it
            # wins over the socket, which must not be left to nobody.
            try:
                await curio.check_cancellation()
            except BaseException:
                await backend.close_quietly(winner.sock)
                raise


def _all_failed(host: str, port: int, failures: list[tuple[AddrInfo, OSError]]) -> OSError:
    tried = "; ".join(f"{_show(info[4])}: {exc}" for info, exc in failures)
    message = f"could not connect to {host!r} port {port}: {tried}"
    first = failures[0][1].errno
    # OSError(errno, text) becomes the errno's subclass (PEP 3151), so a
    # refusal still reads as ConnectionRefusedError to the caller.
    error = OSError(first, message) if first is not None else OSError(message)
    # How many addresses were tried: the dialler names each only when
    # there were several (one address is named by the dialler already).
    error.attempts = len(failures)  # type: ignore[attr-defined]
    return error


def _show(sockaddr: tuple[Any, ...]) -> str:
    host, port = sockaddr[0], sockaddr[1]
    return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
