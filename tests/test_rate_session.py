"""Session(rate_limit=) and ``asks fetch --rate`` end to end, on loopback servers.

The limiter's clock and sleep are virtual (:mod:`tests.virtual_time`): the
servers record the virtual time each request arrived at, so the tests count
requests per window of that clock and never wait for the schedule itself.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import curio
import pytest

import asks
from asks._cli.arguments import parse_args
from asks._cli.fetch import _fetch_plan
from asks._transport.transport import Transport
from asks.errors import RequestTimeout
from tests.servers import read_request
from tests.session_helpers import cancel_once_the_kernel_sleeps
from tests.test_cli import CHILD_DEADLINE, arun_asks, json_lines
from tests.virtual_time import VirtualTime

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def limited(vt: VirtualTime, rate_limit: Any, **kwargs: Any) -> asks.Session:
    """A session whose rate limiter runs on *vt*'s clock."""
    session = asks.Session(rate_limit=rate_limit, **kwargs)
    limiter = session._rate_limiter
    assert limiter is not None
    limiter.clock = vt.clock
    limiter.sleep = vt.sleep
    return session


def recorder(
    vt: VirtualTime, seen: list[tuple[str, float]], routes: dict[str, bytes] | None = None
):
    """A handler noting (target, virtual time) of each request; OK unless routed."""

    async def handler(sock):
        while (got := await read_request(sock)) is not None:
            target = got[0].target.decode()
            seen.append((target, round(vt.now - 1000.0, 9)))
            await sock.sendall((routes or {}).get(target, OK))

    return handler


def redirect(location: str) -> bytes:
    return f"HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n".encode()


# -- what takes a token --------------------------------------------------------------


async def test_a_session_without_rate_limit_sends_straight_to_the_transport():
    async with asks.Session() as s:
        assert s._rate_limiter is None
        # Not wrapped: a plain session runs exactly the code it ran before.
        assert s._transport.send.__func__ is Transport.send  # type: ignore[attr-defined]


async def test_a_redirect_to_the_same_origin_takes_a_second_token(raw_server):
    vt = VirtualTime()
    seen: list[tuple[str, float]] = []
    server = await raw_server(recorder(vt, seen, {"/start": redirect("/end")}))
    async with limited(vt, 10) as s:
        [r] = await vt.run(lambda: s.get(server.url + "/start"))
    assert r.status_code == 200
    assert seen == [("/start", 0.0), ("/end", 0.1)]


async def test_a_redirect_to_another_origin_takes_a_token_of_that_origin(raw_server):
    vt = VirtualTime()
    seen: list[tuple[str, float]] = []
    there = await raw_server(recorder(vt, seen))
    here = await raw_server(recorder(vt, seen, {"/start": redirect(there.url + "/end")}))
    async with limited(vt, 1) as s:
        await vt.run(lambda: s.get(here.url + "/start"))
        # Each origin spent its first token at 0; the next to either waits 1 s.
        await vt.run(lambda: s.get(there.url + "/again"))
    assert seen == [("/start", 0.0), ("/end", 0.0), ("/again", 1.0)]


async def test_an_answered_auth_challenge_takes_a_second_token(raw_server):
    vt = VirtualTime()
    seen: list[tuple[str, float]] = []

    async def digest(sock):
        while (got := await read_request(sock)) is not None:
            seen.append((got[0].target.decode(), round(vt.now - 1000.0, 9)))
            if b"authorization" in dict(got[0].headers):
                await sock.sendall(OK)
            else:
                await sock.sendall(
                    b"HTTP/1.1 401 Unauthorized\r\n"
                    b'WWW-Authenticate: Digest realm="r", nonce="abc", qop="auth", '
                    b"algorithm=MD5\r\nContent-Length: 0\r\n\r\n"
                )

    server = await raw_server(digest)
    async with limited(vt, 4) as s:
        [r] = await vt.run(lambda: s.get(server.url + "/secret", auth=asks.DigestAuth(("u", "p"))))
    assert [h.status_code for h in r.history] == [401]
    assert seen == [("/secret", 0.0), ("/secret", 0.25)]


async def test_a_retry_after_the_server_closed_without_answering_takes_a_token(raw_server):
    vt = VirtualTime()
    seen: list[tuple[str, float]] = []
    first = True

    async def hang_up_once(sock):
        nonlocal first
        while (got := await read_request(sock)) is not None:
            seen.append((got[0].target.decode(), round(vt.now - 1000.0, 9)))
            if first:
                first = False
                return  # closes the connection: no answer
            await sock.sendall(OK)

    server = await raw_server(hang_up_once)
    async with limited(vt, 10) as s:
        [r] = await vt.run(lambda: s.get(server.url + "/", retries=1))
    assert r.status_code == 200
    assert seen == [("/", 0.0), ("/", 0.1)]


async def test_a_request_hook_runs_once_the_request_s_turn_has_come(raw_server):
    vt = VirtualTime()
    seen: list[tuple[str, float]] = []
    hooked: list[float] = []

    async def on_request(request: asks.Request) -> None:
        hooked.append(round(vt.now - 1000.0, 9))

    server = await raw_server(recorder(vt, seen))
    async with limited(vt, 2, event_hooks={"request": [on_request]}) as s:

        async def two() -> None:
            await s.get(server.url + "/1")
            await s.get(server.url + "/2")

        await vt.run(two)
    assert hooked == [0.0, 0.5]
    assert seen == [("/1", 0.0), ("/2", 0.5)]


# -- the rate observed by a real server ------------------------------------------------


async def test_tasks_of_one_session_stay_within_rate_and_burst_at_the_server(raw_server):
    vt = VirtualTime()
    seen: list[tuple[str, float]] = []
    server = await raw_server(recorder(vt, seen))
    async with limited(vt, asks.RateLimit(5, burst=3), connections=4) as s:
        results = await vt.run(*(lambda n=n: s.get(f"{server.url}/{n}") for n in range(30)))
        assert s.pool_stats().busy == 0
    assert [r.status_code for r in results] == [200] * 30
    times = sorted(t for _, t in seen)
    # Counted per second of the virtual clock: the burst of 3, then 5 a second.
    per_second = Counter(int(t) for t in times)
    assert per_second == {0: 7, 1: 5, 2: 5, 3: 5, 4: 5, 5: 3}
    # And in any window of one second, never more than burst + rate.
    for start in times:
        assert sum(start <= t < start + 1 for t in times) <= 3 + 5
    assert times[:3] == [0.0, 0.0, 0.0]
    assert times[-1] == pytest.approx((30 - 3) / 5)


async def test_two_origins_keep_their_own_schedules_under_load(raw_server):
    vt = VirtualTime()
    seen_a: list[tuple[str, float]] = []
    seen_b: list[tuple[str, float]] = []
    a = await raw_server(recorder(vt, seen_a))
    b = await raw_server(recorder(vt, seen_b))
    async with limited(vt, 2, connections=4) as s:
        jobs = [
            lambda n=n, url=url: s.get(f"{url}/{n}") for n in range(4) for url in (a.url, b.url)
        ]
        await vt.run(*jobs)
    assert sorted(t for _, t in seen_a) == [0.0, 0.5, 1.0, 1.5]
    assert sorted(t for _, t in seen_b) == [0.0, 0.5, 1.0, 1.5]


async def test_limits_by_host_name(raw_server):
    vt = VirtualTime()
    seen: list[tuple[str, float]] = []
    server = await raw_server(recorder(vt, seen))
    # The server is 127.0.0.1; "localhost" is another host name, unlimited here.
    async with limited(vt, {"127.0.0.1": 1, "localhost": None}) as s:
        await vt.run(*(lambda n=n: s.get(f"{server.url}/{n}") for n in range(3)))
    assert sorted(t for _, t in seen) == [0.0, 1.0, 2.0]


# -- timeouts and cancellation --------------------------------------------------------


async def test_the_wait_is_bounded_by_the_call_s_timeout_and_its_slot_goes_to_the_next(
    raw_server,
):
    vt = VirtualTime()
    seen: list[tuple[str, float]] = []
    server = await raw_server(recorder(vt, seen))
    async with limited(vt, 0.001) as s:  # one request every 1000 s
        await s.get(server.url + "/first")
        failures: list[BaseException] = []

        async def gives_up() -> None:
            try:
                await s.get(server.url + "/gives-up", timeout=0.01)
            except RequestTimeout as exc:
                failures.append(exc)

        impatient = await curio.spawn(gives_up)  # slot 1000
        await vt.wait_sleeping(1)
        patient = await curio.spawn(s.get, server.url + "/patient")  # slot 2000
        await vt.wait_sleeping(2)
        await impatient.join()
        assert len(failures) == 1
        assert "no response within 0.01 s" in str(failures[0])
        # The freed slot goes to the next request; the patient one keeps its own.
        await vt.run(lambda: s.get(server.url + "/next"), patient.join)
        stats = s.pool_stats()
        assert (stats.busy, stats.waiting, stats.connecting) == (0, 0, 0)
    assert seen == [("/first", 0.0), ("/next", 1000.0), ("/patient", 2000.0)]


async def test_a_cancelled_task_leaves_no_reservation_and_no_connection(raw_server):
    vt = VirtualTime()
    seen: list[tuple[str, float]] = []
    server = await raw_server(recorder(vt, seen))
    async with limited(vt, 10) as s:
        await s.get(server.url + "/first")
        waiter = await curio.spawn(s.get, server.url + "/cancelled")
        await vt.wait_sleeping(1)
        await waiter.cancel()
        assert s.pool_stats().busy == 0
        await vt.run(lambda: s.get(server.url + "/next"))
    assert seen == [("/first", 0.0), ("/next", 0.1)]


# -- the command line -----------------------------------------------------------------


def test_fetch_rate_option_reaches_the_plan():
    assert _fetch_plan(parse_args(["fetch", "-", "--rate", "2.5"])).rate == 2.5
    assert _fetch_plan(parse_args(["fetch", "-"])).rate is None


@pytest.mark.parametrize("value", ["0", "-1", "inf", "nan", "fast"])
def test_fetch_rate_must_be_a_positive_number(value, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse_args(["fetch", "-", "--rate", value])
    assert exit_info.value.code == 2
    assert "--rate" in capsys.readouterr().err


@CHILD_DEADLINE  # a hung child fails the test, not the deadline
async def test_fetch_rate_holds_requests_to_one_host_within_the_timeout(raw_server):
    seen: list[str] = []

    async def handler(sock):
        while (got := await read_request(sock)) is not None:
            seen.append(got[0].target.decode())
            await sock.sendall(OK)

    server = await raw_server(handler)
    listing = "".join(f"{server.url}/{n}\n" for n in range(3))
    # One request every 1000 s: the first goes, the others' turn is past --timeout.
    # (2 s, not less: the first URL's whole exchange, in a child just started on
    # a machine that may be loaded, must fit in it.)
    result = await arun_asks(
        "fetch", "-", "--rate", "0.001", "--timeout", "2", "--connections", "3",
        input=listing.encode(),
    )  # fmt: skip
    assert result.returncode == 1
    records = json_lines(result.stdout)
    assert sorted(r["status"] is not None for r in records) == [False, False, True]
    assert [r["error"].split(":")[0] for r in records if r["status"] is None] == [
        "RequestTimeout",
        "RequestTimeout",
    ]
    assert len(seen) == 1


def test_a_rate_slower_than_the_kernel_can_wait_in_one_go_does_not_crash_it():
    # One request a year: the second waits a year for its turn, longer than
    # curio's kernel can wait in one select (2**31 - 1 ms), which crashed it
    # with OverflowError.
    from asks._rate import RateLimiter
    from asks._urls import parse_url

    limiter = RateLimiter(asks.RateLimit(1 / (365 * 86400)))
    origin = parse_url("http://example.org/").origin

    async def two_requests() -> None:
        await limiter.acquire(origin)  # the burst: at once
        await limiter.acquire(origin)  # a year later

    cancel_once_the_kernel_sleeps(two_requests)
