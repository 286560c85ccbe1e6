"""A pytest plugin for testing code that uses asks: curio tests and a mock server.

Load it from your ``conftest.py`` (or with ``pytest -p asks.pytest_plugin``)::

    pytest_plugins = ["asks.pytest_plugin"]

and write tests as ``async def``::

    from asks.testing import MockServer, Reply


    async def test_create_user(mock_server: MockServer) -> None:
        mock_server.add("POST", "/users", Reply.json({"id": 2}, status=201))
        assert await create_user(mock_server.url, "ada") == 2

What it gives:

* every ``async def test_*`` runs in a fresh ``curio.Kernel()``, so what one
  test leaves behind (a task, a socket) cannot disturb the next;
* a deadline for each async test, 30 s by default or
  ``@pytest.mark.asks_timeout(seconds)``: a test that waits for an answer
  that never comes fails, saying so, instead of hanging the run;
* the ``mock_server`` fixture: a :class:`~asks.testing.MockServer`, started
  in the test's kernel before the test body runs and stopped after it (a
  handler's exception is raised then, so the test fails). Any fixture that
  returns a :class:`~asks.testing.MockServer` not yet started gets the same
  treatment, so ``MockServer(ssl_context=...)`` for HTTPS is one fixture
  away.

Fixtures themselves are plain (sync) pytest fixtures; set up what needs the
kernel inside the test. The plugin is not loaded by merely installing asks
(it registers no entry point), and pytest is not a dependency of asks: only
this module imports it.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Mapping
from typing import Any

import curio
import pytest

from ._numbers import is_number
from .testing import MockServer

__all__ = ["DEFAULT_TIMEOUT", "mock_server"]

DEFAULT_TIMEOUT = 30.0
"""Seconds an async test may run unless ``@pytest.mark.asks_timeout`` says otherwise."""


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``asks_timeout`` marker (``--strict-markers`` knows it)."""
    config.addinivalue_line(
        "markers", "asks_timeout(seconds): deadline of an async test run by asks.pytest_plugin"
    )


@pytest.fixture
def mock_server() -> MockServer:
    """A :class:`~asks.testing.MockServer`, running while the async test runs."""
    return MockServer()


def _deadline(item: pytest.Function) -> float:
    marker = item.get_closest_marker("asks_timeout")
    if marker is None:
        return DEFAULT_TIMEOUT
    seconds = marker.args[0] if marker.args else marker.kwargs.get("seconds")
    if not is_number(seconds) or seconds <= 0:
        raise pytest.UsageError(
            f"@pytest.mark.asks_timeout needs a positive number of seconds, got {seconds!r}"
        )
    return float(seconds)


async def _run(
    test: Callable[..., Any], kwargs: Mapping[str, Any], servers: list[MockServer], seconds: float
) -> BaseException | None:
    """The test's main task; what it raised is returned, not raised.

    pytest's outcomes (``pytest.skip``, ``pytest.fail``, ``xfail``) are
    BaseExceptions, and curio lets those escape its scheduler instead of
    ending the task with them; outside the kernel they are raised as usual.
    """
    deadline = curio.timeout_after(seconds)
    exceeded = (
        f"async test did not finish within {seconds:g} s "
        "(change it with @pytest.mark.asks_timeout(seconds))"
    )
    started = await curio.clock()
    try:
        async with deadline, contextlib.AsyncExitStack() as stack:
            for server in servers:
                await stack.enter_async_context(server)
            await test(**kwargs)
    except curio.TaskTimeout as exc:
        if not deadline.expired:
            own: BaseException = exc  # a timeout block of the test's own
            return own
        return _DeadlineExceeded(exceeded)
    except BaseException as exc:
        return exc
    # A test that caught the deadline's TaskTimeout (code under test catching
    # timeouts), or blocked without awaiting, ends normally after its deadline:
    # curio only logs that. It still ran too long, so it fails.
    if await curio.clock() > started + seconds:
        return _DeadlineExceeded(
            f"{exceeded} (it ran on past the deadline: the deadline's TaskTimeout "
            "was caught, or the test blocked without awaiting)"
        )
    return None


class _DeadlineExceeded(Exception):
    """An async test ran past its deadline; reported without a traceback."""


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run an ``async def`` test in a fresh curio kernel; leave others to pytest."""
    test = pyfuncitem.obj
    if not inspect.iscoroutinefunction(test):
        return None
    names = pyfuncitem._fixtureinfo.argnames
    kwargs = {name: pyfuncitem.funcargs[name] for name in names}
    # Every MockServer a fixture made and nobody started (a started one has
    # a port), each once even if several fixtures share it.
    servers: list[MockServer] = []
    for value in pyfuncitem.funcargs.values():
        if isinstance(value, MockServer) and value._port is None and value not in servers:
            servers.append(value)
    seconds = _deadline(pyfuncitem)
    with curio.Kernel() as kernel:
        error: BaseException | None = kernel.run(_run, test, kwargs, servers, seconds)
    if isinstance(error, _DeadlineExceeded):
        pytest.fail(str(error), pytrace=False)
    if error is not None:
        raise error
    return True
