"""Bad input from the caller: CR, LF or NUL anywhere they could reach the wire.

reliability.md row 15: ValueError before any byte is sent. Shared helpers
and the invariants every case checks: tests/hostile_helpers.py.
"""

from __future__ import annotations

import pytest

import asks
from asks.auth import AuthRequest, PreResponseAuth
from asks.multipart import MultipartData
from tests.hostile_helpers import CALL_TIMEOUT, MODES, OK, assert_released, fetch
from tests.servers import canned

# --------------------------------------------------------------------------
# Row 15: the caller passes CR, LF or NUL


BAD_TEXT = ["\r\n", "\n", "\r", "\0"]


class _Returns(PreResponseAuth):
    """An auth object that adds the headers it was given."""

    def __init__(self, headers: dict[str, str]) -> None:
        self.headers = headers

    async def __call__(self, request: AuthRequest) -> dict[str, str]:
        return self.headers


def injection_calls(bad: str) -> list:
    """(id, Session kwargs, request kwargs, URL suffix, method) that each smuggle ``bad``."""
    return [
        ("method", {}, {}, "/", "GET" + bad + "X"),
        ("url-path", {}, {}, "/a" + bad + "X-Injected: 1", "GET"),
        ("url-query", {}, {}, "/a?q=1" + bad + "X-Injected: 1", "GET"),
        ("params-string", {}, {"params": "q=1" + bad + "X: 1"}, "/", "GET"),
        ("header-name", {}, {"headers": {"X-A" + bad + "X-B": "v"}}, "/", "GET"),
        ("header-value", {}, {"headers": {"X-A": "v" + bad + "X-B: 1"}}, "/", "GET"),
        ("session-header", {"headers": {"X-A": "v" + bad + "X-B: 1"}}, {}, "/", "GET"),
        ("cookie-name", {}, {"cookies": {"a" + bad + "b": "v"}}, "/", "GET"),
        ("cookie-value", {}, {"cookies": {"a": "v" + bad + "X: 1"}}, "/", "GET"),
        ("multipart-field-name", {}, {"multipart": {"f" + bad + "x": "v"}}, "/", "POST"),
        (
            "multipart-filename",
            {},
            {"multipart": {"f": MultipartData(b"x", basename="a" + bad + ".txt")}},
            "/",
            "POST",
        ),
        ("files-field-name", {}, {"files": {"f" + bad + "x": "v"}}, "/", "POST"),
        ("auth-header-name", {}, {"auth": _Returns({"X-A" + bad + "X-B": "v"})}, "/", "GET"),
        ("auth-header-value", {}, {"auth": _Returns({"X-A": "v" + bad + "X-B: 1"})}, "/", "GET"),
    ]


@MODES
@pytest.mark.parametrize(
    ("bad", "what"),
    [
        pytest.param(bad, case[0], id=f"{case[0]}-{bad!r}")
        for bad in BAD_TEXT
        for case in injection_calls(bad)
    ],
)
async def test_row15_control_characters_from_the_caller_are_value_error(
    raw_server, stream, bad, what
):
    handler = canned(OK)
    server = await raw_server(handler)
    (_, session_kwargs, call_kwargs, suffix, method) = next(
        case for case in injection_calls(bad) if case[0] == what
    )
    async with asks.Session(**session_kwargs) as s:
        with pytest.raises(ValueError):
            await s.request(
                method, server.url + suffix, stream=stream, timeout=CALL_TIMEOUT, **call_kwargs
            )
        assert_released(s)
    assert server.accepted == 0


@MODES
async def test_row15_session_header_added_later_is_checked_too(raw_server, stream):
    server = await raw_server(canned(OK))
    async with asks.Session() as s:
        s.headers.update({"X-Late": "v\r\nX-Injected: 1"})
        with pytest.raises(ValueError):
            await fetch(s, server.url, stream=stream)
        assert_released(s)
    assert server.accepted == 0
