"""A small curio plugin for pytest, written for this test-suite.

Why not pytest-curio: it depends on the ``curio`` distribution, which does not
import on Python 3.12+ (there we install ``curio-compat``, same import name, so
pip cannot satisfy pytest-curio); it shares one kernel across the whole
session, so a test that leaves a task or a socket behind poisons the next one;
it has no async fixtures; and it warns on pytest 9, which ``filterwarnings =
error`` turns into failures.

What this plugin gives:

* every ``async def test_*`` runs in a fresh ``curio.Kernel()``;
* fixtures written as ``async def`` (returning or yielding) work; they are
  function-scoped, may depend on sync fixtures and on each other, and are set
  up and torn down inside the test's kernel run (so sockets and tasks they make
  live in the same kernel as the test);
* a deadline for async fixture set-up plus test body (20 s, or
  ``@pytest.mark.curio_timeout(seconds)``), turned into a clear failure that
  shows where the test was waiting; tearing the async fixtures down gets a
  budget of the same length of its own, so it still runs after a timeout;
* a test fails if a task it spawned is still alive when it is over, or if a
  ``curio.run_in_thread`` call it made still runs (its task was cancelled);
* ``no_fd_leak``: a test fails if it leaves a file descriptor open.
  ``@pytest.mark.fd_leak_ok`` opts a test out.

Limits: an async fixture cannot be requested by a sync test or a sync fixture
(this includes an autouse async fixture meeting a sync test); both fail with a
message saying so. ``request.getfixturevalue`` inside a test returns the
unresolved placeholder for an async fixture, so request async fixtures as
arguments. Hypothesis ``@given`` async tests run every example in its
own kernel and may only use sync fixtures.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import inspect
import os
import socket
import sys
import threading
import time
import traceback
from collections.abc import AsyncGenerator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import curio
import pytest

pytest_plugins = ["pytester", "tests.fixtures", "tests.real.fixtures", "tests.real.h2_fixtures"]

DEFAULT_TIMEOUT = 20.0
# A task that ignores cancellation must not turn a failing test into a hang.
_CANCEL_GRACE = 5.0

_CURIO_DIR = os.path.dirname(curio.__file__)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "fd_leak_ok: the test may leave file descriptors open (skips the no_fd_leak check)",
    )
    # Registered in pyproject already; repeated here so that the plugin also
    # works on its own (the meta-tests load it into a bare pytester project).
    if not any(line.startswith("curio_timeout") for line in config.getini("markers")):
        config.addinivalue_line(
            "markers", "curio_timeout(seconds): per-test deadline for a curio test"
        )


# --------------------------------------------------------------------------
# Async fixtures


@dataclass(eq=False)
class AsyncFixture:
    """What pytest caches for an async fixture until the test's kernel runs it.

    ``eq=False`` keeps identity hashing: one instance per fixture per test, so
    fixtures that share a dependency receive the very same value.
    """

    name: str
    func: Callable[..., Any]
    kwargs: dict[str, Any]

    def __repr__(self) -> str:
        return f"<async fixture {self.name!r}, only usable from an async test>"


class HarnessFailure(Exception):
    """A failure found by the harness itself; reported without a traceback."""


class FixtureError(HarnessFailure):
    pass


class DeadlineExceeded(HarnessFailure):
    pass


class LeakedTasks(HarnessFailure):
    pass


class LeakedThreads(HarnessFailure):
    pass


def _is_async(func: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(func) or inspect.isasyncgenfunction(func)


@pytest.hookimpl(tryfirst=True)
def pytest_fixture_setup(
    fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
) -> object | None:
    if not _is_async(fixturedef.func):
        # A sync fixture handed a placeholder would fail somewhere obscure.
        for argname in fixturedef.argnames:
            if isinstance(request.getfixturevalue(argname), AsyncFixture):
                pytest.fail(
                    f"sync fixture {fixturedef.argname!r} depends on async fixture "
                    f"{argname!r}; make {fixturedef.argname!r} async too",
                    pytrace=False,
                )
        return None

    if fixturedef.scope != "function":
        pytest.fail(
            f"async fixture {fixturedef.argname!r} has scope {fixturedef.scope!r}; "
            "async fixtures must be function-scoped (each test has its own kernel)",
            pytrace=False,
        )
    # Private, but it is what pytest itself uses to bind fixtures defined as
    # methods of a test class to the test's instance.
    from _pytest.fixtures import resolve_fixture_function

    kwargs = {name: request.getfixturevalue(name) for name in fixturedef.argnames}
    placeholder = AsyncFixture(
        fixturedef.argname, resolve_fixture_function(fixturedef, request), kwargs
    )
    # Returning a value from a firstresult hook skips pytest's own set-up,
    # which is what normally fills the cache.
    fixturedef.cached_result = (placeholder, fixturedef.cache_key(request), None)
    return placeholder


class _FixtureRunner:
    """Sets up async fixtures inside the kernel and tears them down in reverse."""

    def __init__(self) -> None:
        self._values: dict[AsyncFixture, Any] = {}
        self._active: list[tuple[str, AsyncGenerator[Any, None]]] = []

    async def resolve(self, value: Any) -> Any:
        if not isinstance(value, AsyncFixture):
            return value
        if value in self._values:
            return self._values[value]
        kwargs = {name: await self.resolve(arg) for name, arg in value.kwargs.items()}
        if inspect.isasyncgenfunction(value.func):
            agen = value.func(**kwargs)
            try:
                result = await agen.__anext__()
            except StopAsyncIteration:
                raise FixtureError(f"async fixture {value.name!r} did not yield") from None
            self._active.append((value.name, agen))
        else:
            result = await value.func(**kwargs)
        self._values[value] = result
        return result

    async def teardown(self, seconds: float) -> list[BaseException]:
        errors: list[BaseException] = []
        deadline = await curio.clock() + seconds
        while self._active:
            name, agen = self._active.pop()
            # One deadline for the whole teardown, re-armed per fixture because
            # curio delivers an expired timeout only once.
            remaining = max(deadline - await curio.clock(), 0.0)
            timeout = curio.timeout_after(remaining)
            try:
                async with timeout:
                    await agen.__anext__()
            except StopAsyncIteration:
                continue
            except curio.TaskTimeout as exc:
                if not timeout.expired:
                    errors.append(exc)
                    continue
                errors.append(
                    DeadlineExceeded(
                        f"teardown of async fixture {name!r} did not finish within "
                        f"{seconds:g} s; it was waiting in:\n{_where(exc)}"
                    )
                )
            except BaseException as exc:
                errors.append(exc)
            else:
                await agen.aclose()
                errors.append(FixtureError(f"async fixture {name!r} yielded more than once"))
        return errors


# --------------------------------------------------------------------------
# Running a test in a kernel


def _deadline_for(item: pytest.Item) -> float:
    marker = item.get_closest_marker("curio_timeout")
    if marker is None:
        return DEFAULT_TIMEOUT
    seconds = marker.args[0] if marker.args else marker.kwargs.get("seconds")
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or seconds <= 0:
        pytest.fail(
            f"@pytest.mark.curio_timeout needs a positive number of seconds, got {seconds!r}",
            pytrace=False,
        )
    return float(seconds)


def _where(exc: BaseException) -> str:
    """The test-side frames an exception passed through, skipping curio and us."""
    frames = [
        frame
        for frame in traceback.extract_tb(exc.__traceback__)
        if not frame.filename.startswith(_CURIO_DIR) and frame.filename != __file__
    ]
    return "".join(traceback.format_list(frames[-6:])) or "  (no frame outside curio)\n"


def _task_table(kernel: Any) -> Mapping[int, Any]:
    # curio keeps every live task in Kernel._tasks (id -> Task) and removes it
    # when the task terminates; curio-compat does the same. There is no public
    # API for it, so fail loudly rather than silently skip the check.
    table = getattr(kernel, "_tasks", None)
    if not isinstance(table, dict):
        raise RuntimeError("curio.Kernel has no _tasks table; update tests/conftest.py")
    return table


async def _reap_leaked_tasks(kernel: Any, before: set[int]) -> list[BaseException]:
    me = await curio.current_task()
    table = _task_table(kernel)
    # Newest first, as curio's own shutdown does: children before parents.
    leaked = sorted(
        (task for tid, task in table.items() if tid not in before and task is not me),
        key=lambda task: task.id,
        reverse=True,
    )
    if not leaked:
        return []
    # Describe before cancelling: afterwards there is no stack left to show.
    described = "\n".join(f"  {task}" for task in leaked)
    for task in leaked:
        await curio.ignore_after(_CANCEL_GRACE, task.cancel())
    return [
        LeakedTasks(
            f"{len(leaked)} task(s) spawned during the test were still running after it "
            f"(they have been cancelled now):\n{described}"
        )
    ]


def _curio_calls(before: set[threading.Thread]) -> dict[threading.Thread, str | None]:
    """Threads started since *before* that are inside a ``curio.run_in_thread`` call.

    Each maps to the function it still runs, or to None once that function
    has returned (the thread is waking the kernel and going idle). An idle
    curio worker thread, waiting for its next call, is not listed.
    """
    frames = sys._current_frames()
    calls: dict[threading.Thread, str | None] = {}
    for thread in threading.enumerate():
        if thread in before or thread.ident is None:
            continue
        frame = frames.get(thread.ident)
        callee = None
        while frame is not None:
            code = frame.f_code
            if code.co_name == "run_callable" and code.co_filename.startswith(_CURIO_DIR):
                future = frame.f_locals.get("future")
                returned = hasattr(future, "_result") or hasattr(future, "_exception")
                name = "?" if callee is None else f"{callee.co_name} ({callee.co_filename})"
                calls[thread] = None if returned else name
                break
            callee = code
            frame = frame.f_back
    return calls


def _wait_for_thread_calls(before: set[threading.Thread]) -> list[BaseException]:
    """Let the test's ``run_in_thread`` calls end; report those that do not.

    A task cancelled out of ``run_in_thread`` leaves its thread running. When
    that thread's call returns, curio wakes the task's kernel through a socket
    which, the test over, is closed: ``OSError: [Errno 9]`` is raised in the
    thread, and pytest pins it on whatever test runs then. Caught here, it is
    the guilty test that fails, naming what the thread runs. Waiting also lets
    a call that has just returned finish waking the kernel before it closes.
    """
    deadline = time.monotonic() + _CANCEL_GRACE
    while (calls := _curio_calls(before)) and time.monotonic() < deadline:
        time.sleep(0.005)  # threads, not tasks: nothing to wait on but time
    running = [name for name in calls.values() if name is not None]
    if not running:  # none, or only calls that returned and are finishing
        return []
    return [
        LeakedThreads(
            f"{len(running)} thread(s) run by curio.run_in_thread were still running "
            "after the test (a task was cancelled while its thread ran):\n"
            + "\n".join(f"  {name}" for name in running)
        )
    ]


async def _drive(
    kernel: Any,
    testfunc: Callable[..., Any],
    funcargs: Mapping[str, Any],
    argnames: Sequence[str],
    seconds: float,
) -> list[BaseException]:
    """The test's main task: fixtures, test, teardown, leak check.

    Everything raised is returned rather than raised: pytest's outcome
    exceptions (skip, fail, xfail) are BaseExceptions, and curio lets those
    escape its scheduler loop instead of ending the task with them.
    """
    before = set(_task_table(kernel))
    threads_before = set(threading.enumerate())
    runner = _FixtureRunner()
    errors: list[BaseException] = []
    deadline = curio.timeout_after(seconds)
    try:
        async with deadline:
            # All of funcargs, not just argnames: autouse fixtures may be async.
            values = {name: await runner.resolve(value) for name, value in funcargs.items()}
            await testfunc(**{name: values[name] for name in argnames})
    except curio.TaskTimeout as exc:
        if deadline.expired:
            errors.append(
                DeadlineExceeded(
                    f"test did not finish within its deadline of {seconds:g} s "
                    "(change it with @pytest.mark.curio_timeout(seconds)); "
                    f"it was waiting in:\n{_where(exc)}"
                )
            )
        else:
            errors.append(exc)
    except BaseException as exc:
        errors.append(exc)
    errors += await runner.teardown(seconds)
    errors += await _reap_leaked_tasks(kernel, before)
    errors += _wait_for_thread_calls(threads_before)
    return errors


def _run_in_fresh_kernel(
    testfunc: Callable[..., Any],
    funcargs: Mapping[str, Any],
    argnames: Sequence[str],
    seconds: float,
) -> None:
    __tracebackhide__ = True
    with curio.Kernel() as kernel:
        errors = kernel.run(_drive, kernel, testfunc, funcargs, argnames, seconds)
    if not errors:
        return
    first, rest = errors[0], errors[1:]
    for other in rest:
        note = "".join(traceback.format_exception_only(type(other), other)).rstrip()
        if isinstance(first, HarnessFailure):
            first.args = (f"{first}\nalso: {note}",)
        elif hasattr(first, "add_note"):
            first.add_note(f"also: {note}")
        else:  # Python 3.10: stderr is captured and shown with the failure.
            print(f"also: {note}", file=sys.stderr)
    if isinstance(first, HarnessFailure):
        pytest.fail(str(first), pytrace=False)
    raise first


def _reject_async_fixtures(item: pytest.Function, what: str) -> None:
    names = [name for name, value in item.funcargs.items() if isinstance(value, AsyncFixture)]
    if names:
        pytest.fail(f"{what} cannot use async fixture(s) {', '.join(names)}", pytrace=False)


def _wrap_hypothesis(item: pytest.Function) -> None:
    """Make an async ``@given`` test run each example in a fresh kernel."""
    hypothesis_handle = getattr(item.obj, "hypothesis", None)
    inner = getattr(hypothesis_handle, "inner_test", None)
    if inner is None or not inspect.iscoroutinefunction(inner):
        return
    # The fixtures would live in one kernel, the examples each in another.
    _reject_async_fixtures(item, "a hypothesis test")
    seconds = _deadline_for(item)

    @functools.wraps(inner)
    def run_example(**kwargs: Any) -> None:
        __tracebackhide__ = True
        _run_in_fresh_kernel(inner, kwargs, list(kwargs), seconds)

    hypothesis_handle.inner_test = run_example


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    _wrap_hypothesis(pyfuncitem)
    testfunc = pyfuncitem.obj
    if not inspect.iscoroutinefunction(testfunc):
        _reject_async_fixtures(pyfuncitem, "a sync test (make it async)")
        return None  # pytest's own implementation runs it
    argnames = pyfuncitem._fixtureinfo.argnames
    _run_in_fresh_kernel(testfunc, dict(pyfuncitem.funcargs), argnames, _deadline_for(pyfuncitem))
    return True


# --------------------------------------------------------------------------
# File descriptor leaks

_FD_DIR = "/proc/self/fd"


def open_fds() -> dict[int, str]:
    """Open descriptors of this process and what each one points to."""
    fds: dict[int, str] = {}
    for name in os.listdir(_FD_DIR):
        # OSError: the directory handle listdir itself used, closed by now.
        with contextlib.suppress(OSError):
            fds[int(name)] = os.readlink(f"{_FD_DIR}/{name}")
    return fds


def _tcp_endpoints() -> dict[str, str]:
    """Socket inode -> "local -> remote (state)" for IPv4 TCP sockets."""
    states = {"01": "ESTABLISHED", "06": "TIME_WAIT", "08": "CLOSE_WAIT", "0A": "LISTEN"}
    endpoints: dict[str, str] = {}

    def addr(hexaddr: str) -> str:
        ip, port = hexaddr.split(":")
        return f"{socket.inet_ntoa(bytes.fromhex(ip)[::-1])}:{int(port, 16)}"

    try:
        with open("/proc/self/net/tcp") as table:
            next(table)
            for line in table:
                fields = line.split()
                state = states.get(fields[3], fields[3])
                endpoints[fields[9]] = f"{addr(fields[1])} -> {addr(fields[2])} ({state})"
    except (OSError, ValueError, IndexError, StopIteration):
        pass
    return endpoints


def describe_fds(fds: Mapping[int, str]) -> str:
    endpoints = _tcp_endpoints()
    lines = []
    for fd, target in sorted(fds.items()):
        extra = ""
        if target.startswith("socket:["):
            extra = endpoints.get(target[len("socket:[") : -1], "")
        lines.append(f"  fd {fd} -> {target} {extra}".rstrip())
    return "\n".join(lines)


@pytest.fixture(autouse=True)
def no_fd_leak(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail the test if it leaves a file descriptor open.

    Autouse and function-scoped, so it is set up before the test's other
    function fixtures and torn down after them; async fixtures are torn down
    inside the test call, earlier still. Session fixtures (the httpbin
    subprocesses) are set up before it and are not counted.
    """
    if request.node.get_closest_marker("fd_leak_ok") or not os.path.isdir(_FD_DIR):
        yield
        return
    before = open_fds()
    yield
    after = open_fds()
    leaked = {fd: target for fd, target in after.items() if before.get(fd) != target}
    if leaked:
        # An unreachable socket still holds its descriptor until collected,
        # and closes then with a ResourceWarning that pytest reports against
        # this test: collecting now keeps it attributed here. Only when a
        # descriptor is left: once mypy or hypothesis have filled the heap, a
        # full collection costs up to 0.7 s, and it ran after every test.
        gc.collect()
        after = open_fds()
        leaked = {fd: target for fd, target in after.items() if before.get(fd) != target}
    if leaked:
        pytest.fail(
            f"test leaked {len(leaked)} file descriptor(s):\n{describe_fds(leaked)}",
            pytrace=False,
        )
