"""asks.Retry (issue 24): the policy, its backoff and Retry-After, and the session loop.

The clock, the wall clock and the sleep of ``asks._retry`` are replaced by a
fake (the ``fake_time`` fixture), so no test waits for real seconds.
"""

from __future__ import annotations

import copy
import email.utils
import pickle
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import curio
import curio.kernel
import pytest

import asks
import asks._retry as retry_module
from asks._retry import parse_retry_after
from asks.errors import ConnectFailed, ServerClosedConnectionError
from tests.servers import read_request
from tests.session_helpers import cancel_once_the_kernel_sleeps

NOW = 1_800_000_000.0  # the fake wall clock


def answer(status: int, *extra: bytes, body: bytes = b"x") -> bytes:
    reason = {200: b"OK", 302: b"Found", 401: b"Unauthorized"}.get(status, b"Oops")
    head = b"HTTP/1.1 %d %s\r\nContent-Length: %d\r\n" % (status, reason, len(body))
    return head + b"".join(line + b"\r\n" for line in extra) + b"\r\n" + body


OK = answer(200, body=b"ok")


@dataclass
class Script:
    """A server that answers requests with the given responses, in order."""

    answers: list[bytes]
    connections: int = 0
    requests: list[tuple[str, str, bytes]] = field(default_factory=list)

    async def __call__(self, sock: Any) -> None:
        self.connections += 1
        while (got := await read_request(sock)) is not None:
            request, body = got
            self.requests.append((request.method.decode(), request.target.decode(), body))
            await sock.sendall(self.answers.pop(0))


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    fake = FakeTime()
    monkeypatch.setattr(retry_module, "clock", fake.clock)
    monkeypatch.setattr(retry_module, "sleep", fake.sleep)
    monkeypatch.setattr(retry_module, "wall_clock", lambda: NOW)
    # The jitter's upper bound: the backoff becomes predictable.
    monkeypatch.setattr(retry_module, "uniform", lambda low, high: high)
    return fake


# -- the policy ----------------------------------------------------------------


def test_retry_defaults_retry_idempotent_methods_on_429_502_503_504():
    policy = asks.Retry()
    assert policy.total == 3
    assert policy.status_forcelist == {429, 502, 503, 504}
    assert policy.allowed_methods == {"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"}
    assert policy.respect_retry_after is True
    assert asks.Retry(total=2) == asks.Retry(total=2)
    assert "total=2" in repr(asks.Retry(total=2))


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"total": -1}, ValueError),
        ({"total": 1.5}, TypeError),
        ({"total": True}, TypeError),
        ({"backoff_factor": -0.1}, ValueError),
        ({"backoff_factor": float("nan")}, ValueError),
        ({"backoff_max": -1}, ValueError),
        ({"max_retry_after": -1}, ValueError),
        ({"backoff_factor": "1"}, TypeError),
        ({"status_forcelist": (503, 99)}, ValueError),
        ({"status_forcelist": (600,)}, ValueError),
        ({"status_forcelist": ("503",)}, TypeError),
        ({"status_forcelist": 503}, TypeError),
        ({"allowed_methods": "GET"}, TypeError),
        ({"allowed_methods": (1,)}, TypeError),
        ({"backoff_jitter": "no"}, TypeError),
        ({"backoff_jitter": 0}, TypeError),
        ({"respect_retry_after": None}, TypeError),
    ],
)
def test_retry_refuses_bad_arguments(kwargs, error):
    with pytest.raises(error):
        asks.Retry(**kwargs)


def test_retry_is_immutable():
    policy = asks.Retry()
    with pytest.raises(AttributeError):
        policy.total = 5  # type: ignore[misc]


def test_retry_survives_copy_deepcopy_and_pickle():
    # A policy inside a deep-copied config, or sent to a worker process.
    policy = asks.Retry(total=5, backoff_factor=0.1, allowed_methods=("GET", "POST"))
    for copied in (
        copy.copy(policy),
        copy.deepcopy({"retries": policy})["retries"],
        pickle.loads(pickle.dumps(policy)),
    ):
        assert copied == policy
        assert copied.allowed_methods == {"GET", "POST"}
        with pytest.raises(AttributeError):
            copied.total = 1  # type: ignore[misc]


def test_backoff_grows_exponentially_capped_and_full_jitter_stays_within_bounds():
    exact = asks.Retry(backoff_factor=0.5, backoff_max=3, backoff_jitter=False)
    assert [exact.backoff(n) for n in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    jittered = asks.Retry(backoff_factor=0.5, backoff_max=3)
    random.seed(24)
    for n in range(6):
        samples = [jittered.backoff(n) for _ in range(200)]
        ceiling = min(3.0, 0.5 * 2**n)
        assert all(0 <= s <= ceiling for s in samples)
        assert max(samples) > ceiling / 2  # it really spreads over the range
    assert exact.backoff(5000) == 3.0  # no overflow on a long run


def test_retry_after_is_delay_seconds_or_an_http_date():
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(" 0 ") == 0.0
    date = email.utils.formatdate(NOW + 30, usegmt=True)
    assert parse_retry_after(date, now=NOW) == 30.0
    past = email.utils.formatdate(NOW - 30, usegmt=True)
    assert parse_retry_after(past, now=NOW) == 0.0
    # Hundreds of digits overflow a float: no wait to honour, not an endless one.
    assert parse_retry_after("9" * 400) is None
    assert parse_retry_after("9" * 300) == float("9" * 300)


@pytest.mark.parametrize(
    "value",
    [
        "Sun, 06 Nov 1994 08:49:37 GMT",  # IMF-fixdate
        "Sunday, 06-Nov-94 08:49:37 GMT",  # obsolete RFC 850
        "Sun Nov  6 08:49:37 1994",  # obsolete asctime: no zone, and UTC
        "Sun, 06 Nov 1994 08:49:37 -0000",  # RFC 5322's "UTC, local zone unknown"
    ],
)
def test_retry_after_accepts_every_http_date_format(value):
    # RFC 9110 section 5.6.7: a recipient MUST accept all three formats.
    then = 784111777.0  # 1994-11-06T08:49:37Z
    assert parse_retry_after(value, now=then - 90) == 90.0


@pytest.mark.parametrize("garbage", [None, "", "soon", "-5", "1.5", "١٢", "Mon, 99 Foo 2026"])
def test_retry_after_garbage_is_ignored(garbage):
    assert parse_retry_after(garbage, now=NOW) is None


# -- the session loop ------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 502, 503, 504])
async def test_each_status_in_the_forcelist_is_retried(raw_server, fake_time, status):
    script = Script([answer(status), OK])
    server = await raw_server(script)
    async with asks.Session() as s:
        r = await s.get(server.url + "/x", retries=asks.Retry(backoff_factor=0.25))
    assert r.status_code == 200
    assert [h.status_code for h in r.history] == [status]
    assert fake_time.sleeps == [0.25]


async def test_a_status_outside_the_forcelist_is_the_answer(raw_server, fake_time):
    server = await raw_server(Script([answer(500), OK]))
    async with asks.Session() as s:
        r = await s.get(server.url, retries=asks.Retry())
    assert r.status_code == 500
    assert fake_time.sleeps == []


async def test_backoff_doubles_until_total_is_spent_then_the_last_response_is_returned(
    raw_server, fake_time
):
    script = Script([answer(503, body=b"%d" % n) for n in range(4)])
    server = await raw_server(script)
    async with asks.Session() as s:
        r = await s.get(server.url, retries=asks.Retry(total=3, backoff_factor=1))
    assert r.status_code == 503
    assert r.content == b"3"
    assert [h.content for h in r.history] == [b"0", b"1", b"2"]
    assert fake_time.sleeps == [1.0, 2.0, 4.0]
    assert len(script.requests) == 4


async def test_retry_after_seconds_replaces_the_backoff(raw_server, fake_time):
    server = await raw_server(Script([answer(429, b"Retry-After: 7"), OK]))
    async with asks.Session(retries=asks.Retry()) as s:
        r = await s.get(server.url)
    assert r.status_code == 200
    assert fake_time.sleeps == [7.0]


async def test_retry_after_http_date_waits_until_then(raw_server, fake_time):
    date = email.utils.formatdate(NOW + 30, usegmt=True).encode()
    server = await raw_server(Script([answer(503, b"Retry-After: " + date), OK]))
    async with asks.Session(retries=asks.Retry()) as s:
        r = await s.get(server.url)
    assert r.status_code == 200
    assert fake_time.sleeps == [30.0]


async def test_retry_after_longer_than_max_retry_after_ends_the_retries(raw_server, fake_time):
    server = await raw_server(Script([answer(503, b"Retry-After: 301"), OK]))
    async with asks.Session(retries=asks.Retry(max_retry_after=300)) as s:
        r = await s.get(server.url)
    assert r.status_code == 503
    assert fake_time.sleeps == []


async def test_retry_after_ignored_when_not_respected(raw_server, fake_time):
    server = await raw_server(Script([answer(503, b"Retry-After: 50"), OK]))
    policy = asks.Retry(respect_retry_after=False, backoff_factor=2)
    async with asks.Session(retries=policy) as s:
        r = await s.get(server.url)
    assert r.status_code == 200
    assert fake_time.sleeps == [2.0]


async def test_the_deadline_beats_a_long_retry_after_at_once(raw_server, fake_time):
    server = await raw_server(Script([answer(503, b"Retry-After: 120"), OK]))
    async with asks.Session(retries=asks.Retry(max_retry_after=None)) as s:
        r = await s.get(server.url, timeout=5)
    assert r.status_code == 503  # the last response, without sleeping
    assert fake_time.sleeps == []
    assert fake_time.now == 100.0


async def test_the_deadline_beats_a_backoff_after_a_connection_failure(fake_time):
    listener = curio.socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    await listener.close()  # nothing listens there: connecting is refused
    async with asks.Session(retries=asks.Retry(backoff_factor=10)) as s:
        with pytest.raises(ConnectFailed):
            await s.get(f"http://127.0.0.1:{port}/", timeout=5)
    assert fake_time.sleeps == []


async def test_any_method_is_retried_when_the_connection_could_not_be_made(fake_time):
    listener = curio.socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    await listener.close()
    async with asks.Session() as s:
        with pytest.raises(ConnectFailed):
            await s.post(f"http://127.0.0.1:{port}/", data=b"d", retries=asks.Retry(total=2))
        assert s.pool_stats().open == 0
    assert fake_time.sleeps == [0.5, 1.0]


async def test_post_is_not_retried_after_its_body_was_sent(raw_server, fake_time):
    async def close_after_reading(sock):
        await read_request(sock)  # the whole body arrived; no answer

    server = await raw_server(close_after_reading)
    async with asks.Session(retries=asks.Retry()) as s:
        with pytest.raises(ServerClosedConnectionError):
            await s.post(server.url, data=b"pay once")
        script = Script([answer(503), OK])
        server2 = await raw_server(script)
        r = await s.post(server2.url, data=b"pay once")
    assert r.status_code == 503
    assert len(script.requests) == 1
    assert fake_time.sleeps == []


async def test_post_is_retried_when_the_caller_allows_it(raw_server, fake_time):
    script = Script([answer(503), OK])
    server = await raw_server(script)
    policy = asks.Retry(allowed_methods=("GET", "post"))
    async with asks.Session(retries=policy) as s:
        r = await s.post(server.url, data=b"again")
    assert r.status_code == 200
    assert [body for _, _, body in script.requests] == [b"again", b"again"]


async def test_a_get_the_server_closed_on_is_retried(raw_server, fake_time):
    connections = 0

    async def close_first(sock):
        nonlocal connections
        connections += 1
        if await read_request(sock) is not None and connections > 1:
            await sock.sendall(OK)

    server = await raw_server(close_first)
    async with asks.Session(retries=asks.Retry()) as s:
        r = await s.get(server.url)
    assert r.status_code == 200
    assert fake_time.sleeps == [0.5]


async def test_a_one_shot_body_is_never_sent_twice(raw_server, fake_time):
    script = Script([answer(503), OK])
    server = await raw_server(script)

    async def once() -> AsyncIterator[bytes]:
        yield b"only "
        yield b"once"

    policy = asks.Retry(allowed_methods=("POST",))
    async with asks.Session(retries=policy) as s:
        r = await s.post(server.url, data=once())
        assert r.status_code == 503  # the answer: the body cannot be replayed
        assert s.pool_stats().busy == 0
    assert [body for _, _, body in script.requests] == [b"only once"]
    assert fake_time.sleeps == []


async def test_a_retried_response_connection_is_reused(raw_server, fake_time):
    script = Script([answer(503), answer(502), OK])
    server = await raw_server(script)
    async with asks.Session(retries=asks.Retry()) as s:
        r = await s.get(server.url)
        assert r.status_code == 200
        assert s.pool_stats().open == 1
    assert script.connections == 1
    assert len(script.requests) == 3


async def test_stream_true_reads_the_retried_bodies_and_streams_the_last(raw_server, fake_time):
    script = Script([answer(503, body=b"busy"), answer(200, body=b"streamed")])
    server = await raw_server(script)
    async with asks.Session(retries=asks.Retry()) as s:
        r = await s.get(server.url, stream=True)
        assert isinstance(r, asks.StreamResponse)
        assert [h.content for h in r.history] == [b"busy"]
        chunks = [chunk async for chunk in r.body]
        assert b"".join(chunks) == b"streamed"
    assert script.connections == 1


async def test_a_retried_response_whose_body_is_cut_short_is_still_retried(raw_server, fake_time):
    connections = 0

    async def cut_then_ok(sock):
        nonlocal connections
        connections += 1
        while await read_request(sock) is not None:
            if connections == 1:
                # Busy, and gone before the body it announced.
                await sock.sendall(b"HTTP/1.1 503 Oops\r\nContent-Length: 100\r\n\r\nbusy")
                return
            await sock.sendall(OK)

    server = await raw_server(cut_then_ok)
    seen: list[int] = []

    async def on_response(response):
        seen.append(response.status_code)

    s = asks.Session(retries=asks.Retry(), event_hooks={"response": [on_response]})
    async with s:
        r = await s.get(server.url)
        assert r.status_code == 200
        assert r.history == []  # never received whole
        assert s.pool_stats().busy == 0
    assert seen == [200]
    assert connections == 2
    assert fake_time.sleeps == [0.5]


async def test_a_retried_response_over_max_body_size_is_still_retried(raw_server, fake_time):
    script = Script([answer(503, body=b"x" * 5000), OK])
    server = await raw_server(script)
    async with asks.Session(retries=asks.Retry(), max_body_size=1000) as s:
        r = await s.get(server.url)
        assert r.status_code == 200
        assert s.pool_stats().open == 1  # the cut one closed, the new one idle
    assert script.connections == 2


async def test_a_hook_raising_an_asks_error_on_a_retried_response_still_ends_the_call(
    raw_server, fake_time
):
    async def raise_for_status(response):
        response.raise_for_status()

    server = await raw_server(Script([answer(503), OK]))
    s = asks.Session(retries=asks.Retry(), event_hooks={"response": [raise_for_status]})
    async with s:
        with pytest.raises(asks.errors.BadStatus):
            await s.get(server.url)
    assert fake_time.sleeps == []


async def test_nothing_leaks_when_a_retry_sleep_is_cancelled(raw_server, monkeypatch):
    sleeping = curio.Event()

    async def sleep_until_cancelled(seconds: float) -> None:
        await sleeping.set()
        await curio.Event().wait()

    monkeypatch.setattr(retry_module, "sleep", sleep_until_cancelled)
    server = await raw_server(Script([answer(503), OK]))
    s = asks.Session(retries=asks.Retry())
    task = await curio.spawn(s.get, server.url)
    await sleeping.wait()
    await task.cancel()
    stats = s.pool_stats()
    assert (stats.busy, stats.connecting, stats.waiting) == (0, 0, 0)
    await s.close()
    assert s.pool_stats().open == 0
    await server.wait_open_connections(0)


async def test_retries_int_form_keeps_its_meaning_and_the_per_call_value_wins(raw_server):
    connections = 0

    async def close_first(sock):
        nonlocal connections
        connections += 1
        if await read_request(sock) is not None and connections % 2 == 0:
            await sock.sendall(answer(503))

    server = await raw_server(close_first)
    async with asks.Session(retries=0) as s:
        with pytest.raises(ServerClosedConnectionError):
            await s.get(server.url)
        r = await s.get(server.url, retries=1)
        assert r.status_code == 503  # an int never retries a status
        assert r.history == []


@pytest.mark.parametrize(
    ("value", "error"), [(-1, ValueError), ("3", TypeError), (True, TypeError)]
)
async def test_bad_retries_values_are_refused(value, error):
    with pytest.raises(error):
        asks.Session(retries=value)
    async with asks.Session() as s:
        with pytest.raises(error):
            await s.get("http://127.0.0.1:1/", retries=value)


# -- event hooks -----------------------------------------------------------------


def chain_then_busy(seen: list[str]):
    """/start redirects to /secret, which wants Digest, then is busy once."""
    busy = [answer(503, b"Retry-After: 1")]

    async def handler(sock):
        while (got := await read_request(sock)) is not None:
            request = got[0]
            auth = dict(request.headers).get(b"authorization")
            target = request.target.decode()
            seen.append(target)
            if target == "/start":
                await sock.sendall(answer(302, b"Location: /secret"))
            elif auth is None:
                await sock.sendall(
                    answer(
                        401,
                        b'WWW-Authenticate: Digest realm="r", nonce="abc123", qop="auth", '
                        b"algorithm=MD5",
                    )
                )
            elif busy:
                await sock.sendall(busy.pop())
            else:
                await sock.sendall(OK)

    return handler


async def test_hooks_see_each_request_and_response_of_a_redirect_auth_and_retry_chain(
    raw_server, fake_time
):
    seen: list[str] = []
    server = await raw_server(chain_then_busy(seen))
    log: list[tuple[str, Any]] = []

    async def on_request(request):
        log.append(("request", request.url.rsplit("/", 1)[1]))

    async def on_response(response):
        log.append(("response", response.status_code))

    hooks = {"request": [on_request], "response": [on_response]}
    async with asks.Session(event_hooks=hooks, retries=asks.Retry()) as s:
        r = await s.get(server.url + "/start", auth=asks.DigestAuth(("bob", "pw")))
    assert r.status_code == 200
    assert [h.status_code for h in r.history] == [302, 401, 503]
    assert log == [
        ("request", "start"),
        ("response", 302),
        ("request", "secret"),
        ("response", 401),
        ("request", "secret"),
        ("response", 503),
        ("request", "secret"),
        ("response", 200),
    ]
    assert fake_time.sleeps == [1.0]


async def test_a_failing_hook_during_a_retry_leaks_nothing(raw_server, fake_time):
    class Boom(Exception):
        pass

    async def explode_on_busy(response):
        if response.status_code == 503:
            raise Boom

    server = await raw_server(Script([answer(503), OK]))
    s = asks.Session(event_hooks={"response": [explode_on_busy]}, retries=asks.Retry())
    with pytest.raises(Boom):
        await s.get(server.url, stream=True)
    assert s.pool_stats().busy == 0
    assert fake_time.sleeps == []
    await s.close()
    await server.wait_open_connections(0)


async def test_a_call_int_retries_overrides_the_session_retry_policy(raw_server, fake_time):
    script = Script([answer(503), OK])
    server = await raw_server(script)
    async with asks.Session(retries=asks.Retry()) as s:
        r = await s.get(server.url, retries=0)
    assert r.status_code == 503
    assert len(script.requests) == 1
    assert fake_time.sleeps == []


def test_a_wait_longer_than_the_kernel_can_keep_in_one_go_does_not_crash_it():
    # A Retry-After of 35 days, honoured (max_retry_after=None): curio's
    # kernel waits for its nearest deadline in one select, which cannot wait
    # longer than 2**31 - 1 ms, and crashed with OverflowError.
    cancel_once_the_kernel_sleeps(lambda: retry_module.sleep(3_000_000.0))
