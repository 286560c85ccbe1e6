"""``Session(http2=...)``: the values it takes, and what a session without it never loads."""

from __future__ import annotations

import subprocess
import sys

import pytest

import asks


@pytest.mark.parametrize("value", ["yes", 2, "h2", "prior_knowledge", None])
def test_http2_takes_only_true_false_or_prior_knowledge(value: object) -> None:
    with pytest.raises(ValueError, match="http2 must be True, False or 'prior-knowledge'"):
        asks.Session(http2=value)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [True, False, "prior-knowledge"])
async def test_each_accepted_value_makes_a_session(value: bool | str) -> None:
    async with asks.Session(http2=value) as s:
        assert s.pool_stats().open == 0


def test_http_1_1_sessions_and_the_import_never_load_h2() -> None:
    code = (
        "import sys, asks, curio\n"
        "async def main():\n"
        "    async with asks.Session() as s:\n"
        "        pass\n"
        "curio.run(main)\n"
        "print(sorted(m for m in sys.modules if m == 'h2' or m.startswith('h2.')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
