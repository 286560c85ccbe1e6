"""The benchmarks in ``benchmarks/`` keep running as the code changes.

Speed is never asserted (docs/performance.md); these only prove each
script still works end to end, so a refactor cannot silently break the tools
the performance numbers come from.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def run(script: str, *args: str) -> str:
    return subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout


def test_micro_benchmark_measures_every_row():
    out = run("micro.py", "--n", "50", "--rounds", "1")
    for row in ("bare h11 loop (ceiling)", "asks connection layer", "asks Session.get"):
        line = next(line for line in out.splitlines() if line.startswith(row))
        us_per_request = float(line[len(row) :].split()[0])
        assert us_per_request > 0
