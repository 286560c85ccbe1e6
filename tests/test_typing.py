"""The public API as a type checker in user code sees it.

``tests/typing/user_code.py`` is checked with ``mypy --strict``: each line
marked with a revealed type must reveal it, each marked with an error text
must be an error containing it, and nothing else may be reported. At run
time the keywords are still checked by name (``asks.sessions._KWARGS``);
the set must be the one the types declare.
"""

from __future__ import annotations

import re
from pathlib import Path

import mypy.api
import pytest

import asks
import asks.sessions
from asks import _keywords

USER_CODE = Path(__file__).parent / "typing" / "user_code.py"
_MARK = re.compile(r"#\s*(R|E):\s*(.+?)\s*$")
_REPORT = re.compile(r"^[^:]+:(\d+): (error|note): (.*)$")


def _expected() -> dict[int, tuple[str, str]]:
    marks = {}
    for number, line in enumerate(USER_CODE.read_text().splitlines(), start=1):
        match = _MARK.search(line)
        if match:
            marks[number] = (match.group(1), match.group(2))
    return marks


def test_mypy_strict_sees_every_keyword_and_the_stream_overloads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # asks from this checkout, wherever pytest runs (an editable install's
    # import hook is invisible to mypy).
    monkeypatch.setenv("MYPYPATH", str(USER_CODE.parent.parent.parent))
    stdout, stderr, _status = mypy.api.run(
        [
            "--strict",
            # The project's settings wherever pytest runs: mypy looks for
            # them in the working directory only.
            "--config-file",
            str(USER_CODE.parent.parent.parent / "pyproject.toml"),
            "--no-error-summary",
            "--hide-error-context",
            "--cache-dir",
            str(tmp_path / "cache"),
            str(USER_CODE),
        ]
    )
    assert stderr == ""
    reveals: dict[int, str] = {}
    errors: dict[int, list[str]] = {}
    for line in stdout.splitlines():
        match = _REPORT.match(line)
        assert match, line
        number, kind, text = int(match.group(1)), match.group(2), match.group(3)
        if kind == "note" and text.startswith("Revealed type is "):
            revealed = text.removeprefix("Revealed type is ").strip('"')
            reveals[number] = revealed.removeprefix("asks.response_objects.")
        elif kind == "error":
            errors.setdefault(number, []).append(text)
    expected = _expected()
    assert sum(kind == "R" for kind, _ in expected.values()) >= 10
    for number, (kind, text) in expected.items():
        if kind == "R":
            assert reveals.pop(number, None) == text, f"line {number}"
        else:
            found = errors.pop(number, [])
            assert any(text in message for message in found), (number, found)
    assert reveals == {}
    assert errors == {}, "unexpected mypy errors"


def _keys(typed_dict: type) -> set[str]:
    # The annotations are strings (TYPE_CHECKING imports); the names suffice.
    return set(typed_dict.__annotations__)


def test_the_run_time_keyword_check_matches_the_typed_keywords() -> None:
    # Session.request's **kwargs: RequestKeywords, plus stream (its overloads).
    assert _keys(_keywords.RequestKeywords) | {"stream"} == asks.sessions._KWARGS
    # A verb adds request()'s own keyword parameters.
    assert _keys(_keywords.VerbKeywords) - _keys(_keywords.RequestKeywords) == {
        "path",
        "retries",
        "connection_timeout",
    }
    # The one-shot functions: a call's keywords and the temporary session's.
    assert _keys(_keywords.OneShotKeywords) - _keys(_keywords.RequestKeywords) == {
        "retries",
        "connection_timeout",
        "ssl_context",
        "uds",
    }


@pytest.mark.parametrize("verb", ["get", "head", "post", "put", "delete", "options", "patch"])
async def test_an_unknown_keyword_is_still_a_type_error_naming_it(verb: str) -> None:
    async with asks.Session() as s:
        with pytest.raises(TypeError, match="strem"):
            await getattr(s, verb)("http://127.0.0.1:1/", strem=True)
    with pytest.raises(TypeError, match="strem"):
        await getattr(asks, verb)("http://127.0.0.1:1/", strem=True)
