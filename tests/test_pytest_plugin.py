"""asks.pytest_plugin, run in a child pytest that loads it and nothing of ours."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

USER_TESTS = """
import socket

import curio
import pytest

import asks
from asks.testing import MockServer, Reply

SEEN = {}


async def test_runs_in_a_curio_kernel():
    assert await curio.current_task() is not None


async def test_mock_server_is_running(mock_server):
    mock_server.add("GET", "/hi", Reply.text("hello"))
    r = await asks.get(mock_server.url + "/hi")
    assert r.text == "hello"
    SEEN["port"] = mock_server.port


def test_the_mock_server_was_stopped_after_the_test():
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", SEEN["port"]), timeout=5).close()


@pytest.fixture
def two():
    return MockServer()


async def test_a_fixture_of_ones_own_is_started_too(two, mock_server):
    assert two.url != mock_server.url


async def test_a_failing_handler_fails_the_test(mock_server):
    async def broken(request):
        raise KeyError("handler bug")

    mock_server.add("GET", "/", broken)
    r = await asks.get(mock_server.url + "/")
    assert r.status_code == 500


@pytest.mark.asks_timeout(0.2)
async def test_stuck():
    await curio.sleep(30)


async def test_own_timeout_is_the_tests():
    with pytest.raises(curio.TaskTimeout):
        async with curio.timeout_after(0.01):
            await curio.sleep(30)


async def test_skips():
    pytest.skip("not today")


def test_sync_tests_are_left_to_pytest():
    assert True
"""


def test_the_plugin_in_a_users_suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    pytester.makeconftest('pytest_plugins = ["asks.pytest_plugin"]')
    pytester.makeini(
        "[pytest]\naddopts = --strict-markers -p no:cacheprovider\nfilterwarnings = error\n"
    )
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    )
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:randomly", timeout=120)
    result.assert_outcomes(passed=6, failed=2, skipped=1)
    output = result.stdout.str()
    assert "test_a_failing_handler_fails_the_test" in output
    assert "KeyError: 'handler bug'" in output
    assert "async test did not finish within 0.2 s" in output
    assert "@pytest.mark.asks_timeout(seconds)" in output


def test_a_bad_deadline_is_a_usage_error(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
):
    pytester.makeconftest('pytest_plugins = ["asks.pytest_plugin"]')
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    )
    pytester.makepyfile(
        test_user="import pytest\n\n@pytest.mark.asks_timeout(-1)\nasync def test_x():\n    pass\n"
    )
    result = pytester.runpytest_subprocess(timeout=120)
    assert (
        "asks_timeout needs a positive number of seconds"
        in result.stdout.str() + result.stderr.str()
    )


def test_importing_asks_does_not_import_pytest():
    code = "import sys, asks, asks.testing; print('pytest' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.strip() == "False", out.stderr


SWALLOWING_TESTS = """
import time

import curio
import pytest


@pytest.mark.asks_timeout(0.2)
async def test_catches_the_deadline():
    try:
        await curio.sleep(30)
    except curio.TaskTimeout:
        pass  # code under test that catches timeouts and carries on


@pytest.mark.asks_timeout(0.2)
async def test_blocks_past_the_deadline():
    time.sleep(0.3)  # no await: the deadline cannot interrupt it


@pytest.mark.asks_timeout(0.2)
async def test_catches_its_own_timeout_within_the_deadline():
    try:
        async with curio.timeout_after(0.01):
            await curio.sleep(30)
    except curio.TaskTimeout:
        pass
"""


def test_a_test_that_outlives_its_deadline_fails_even_if_it_caught_it(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
):
    pytester.makeconftest('pytest_plugins = ["asks.pytest_plugin"]')
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    )
    pytester.makepyfile(test_user=SWALLOWING_TESTS)
    result = pytester.runpytest_subprocess(
        "-p", "no:randomly", "-p", "no:cacheprovider", timeout=120
    )
    result.assert_outcomes(passed=1, failed=2)
    output = result.stdout.str()
    assert "FAILED test_user.py::test_catches_the_deadline" in output
    assert "FAILED test_user.py::test_blocks_past_the_deadline" in output
    assert "ran on past the deadline" in output
