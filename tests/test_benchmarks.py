"""The benchmarks in ``benchmarks/`` keep running as the code changes.

Speed is never asserted (docs/performance.md); these only prove each
script still works end to end, so a refactor cannot silently break the tools
the performance numbers come from.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
from pathlib import Path

import pytest

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


def test_opcode_count_is_the_same_every_run_and_names_asks_functions():
    # The point of counting instructions: unlike a timing, the count does
    # not move between two runs of the same tree.
    first, second = (run("opcodes.py", "--n", "40", "--top", "50") for _ in range(2))
    assert first == second
    lines = [line for line in first.splitlines() if not line.startswith("warning:")]
    blank = lines.index("")
    totals = {k.strip(): v for k, v in (line.rsplit(None, 1) for line in lines[1:blank])}
    bare = float(totals["bare h11 loop (ceiling)"])
    whole = float(totals["asks Session.get"])
    assert bare > 0 and whole > 0
    # The forward-proxy row does more than a direct Session.get, never less.
    assert float(totals["through a forward proxy"]) > whole
    summary = lines[blank + 1]
    difference = float(summary.rsplit(None, 1)[1])
    assert summary.startswith("Session.get minus the bare loop:")
    assert abs(difference - (whole - bare)) <= 1  # each total is rounded
    deltas = {
        where: float(delta) for delta, where in (line.split() for line in lines[blank + 2 :])
    }
    # The transport's send (checkout, the request, its head) is asks' own work.
    assert deltas["asks/_transport/transport.py:send"] > 0
    if sys.version_info[:2] == (3, 12):
        # 3.12's opcode tracing drops part of h11's work from the counts
        # (benchmarks/opcodes.py); the script must say so.
        assert first.splitlines()[1].startswith("warning: CPython 3.12")
    else:
        # A small body never becomes h11 events in asks (the body fast
        # path), so h11's body reader runs only in the bare loop.
        assert deltas["h11/_readers.py:__call__"] < 0


def test_e2e_benchmark_help_lists_its_options():
    proc = subprocess.run(
        [sys.executable, str(BENCHMARKS / "e2e.py"), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "--scenarios" in proc.stdout


def test_e2e_benchmark_runs_ceiling_and_asks_without_errors():
    # The Python server, so the test needs no nginx; a few requests per peer.
    proc = subprocess.run(
        [
            sys.executable,
            str(BENCHMARKS / "e2e.py"),
            *("--server", "python", "--peers", "ceiling,asks", "--scenarios", "seq,upload"),
            *("--n-seq", "20", "--n-upload", "3", "--rounds", "1"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # | peer | throughput | x ceiling | CPU | CPU x ceiling | errors | failed runs | spread |
    rows = [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in proc.stdout.splitlines()
        if line.startswith(("| ceiling ", "| asks "))
    ]
    assert sorted(row[0] for row in rows) == ["asks", "asks", "ceiling", "ceiling"]
    for row in rows:
        assert row[5] == "0", row  # errors
        assert row[6] == "0/1", row  # failed runs
        assert float(row[1].replace(",", "")) > 0, row


def test_uds_benchmark_measures_both_routes():
    # Against the tests' own nginx (tests/real/), a few requests each.
    out = run("uds.py", "--n", "20", "--rounds", "1")
    rows = {line.split()[0]: line for line in out.splitlines() if line.startswith("  ")}
    assert set(rows) == {"loopback", "Unix", "ratio"}
    assert float(rows["ratio"].split()[-1]) > 0


def test_h2_ceiling_benchmark_measures_asks_and_h2_alone():
    out = run("h2_ceiling.py", "--n", "50", "--concurrency", "5", "--rounds", "1")
    rows = {line.split("|")[1].strip(): line for line in out.splitlines() if line.startswith("| ")}
    assert {"h2 alone", "asks"} <= set(rows)
    assert float(rows["asks"].split("|")[3]) > 0


def test_h2_latency_benchmark_runs_all_three_shapes():
    out = run("h2_latency.py", "--n", "10", "--concurrency", "5", "--delay", "1", "--rounds", "1")
    rows = [line.split("|") for line in out.splitlines() if line.startswith("| ")][1:]
    protocols = {row[1].strip(): row[2].strip() for row in rows if not row[1].startswith("-")}
    assert protocols == {
        "HTTP/2, one connection": "HTTP/2",
        "HTTP/1.1, connections=1": "HTTP/1.1",
        "HTTP/1.1, connections=50": "HTTP/1.1",
    }


@pytest.mark.parametrize("client", ["asks", "bare"])
def test_concurrency_cost_benchmark_reports_each_level(client: str) -> None:
    out = run(
        "concurrency_cost.py",
        *("--n", "200", "--concurrency", "5,20", "--rounds", "1", "--client", client),
    )
    assert out.startswith(f"{client}: 200 small GETs per run")
    rows = [line.split("|") for line in out.splitlines() if line.startswith("| ")][1:]
    assert [row[1].strip() for row in rows] == ["5", "20"]
    assert float(rows[0][4]) == 1.0


def test_concurrency_cost_benchmark_runs_under_the_collector_thresholds_given() -> None:
    # The tuning docs/performance.md measures for thousands of requests in flight.
    out = run(
        "concurrency_cost.py",
        *("--n", "200", "--concurrency", "5", "--rounds", "1", "--gc-threshold", "10000,50,100"),
    )
    assert out.splitlines()[0].endswith("; gc thresholds 10000,50,100")
    default = run("concurrency_cost.py", *("--n", "200", "--concurrency", "5", "--rounds", "1"))
    # (The interpreter's own: 700,10,10 up to 3.12, 2000,10,10 on 3.13.)
    own = ",".join(map(str, gc.get_threshold()))
    assert default.splitlines()[0].endswith(f"; gc thresholds {own}")


def test_crawl_benchmark_runs_asks_and_the_bare_stack(tmp_path: Path) -> None:
    # The quick form: 2,000 URLs over 50 loopback origins of a private nginx,
    # through asks with one and two processes and through the bare h11 +
    # curio crawl (the stack's floor). The aiohttp peer is left out: aiohttp
    # is not a test dependency.
    out = tmp_path / "runs.json"
    text = run(
        "crawl_nginx.py", "--quick", "--clients", "asks-p1,asks-p2,h11-curio", "--json", str(out)
    )
    assert "PROBLEM" not in text
    assert "asks-p1 / h11-curio: " in text
    runs = json.loads(out.read_text())
    assert sorted(r["client"] for r in runs) == ["asks-p1", "asks-p2", "h11-curio"]
    for record in runs:
        # nginx counted every URL once, and the output has each once with a 200.
        assert record["requests"] == record["lines"] == record["ok"] == 2000
        assert record["problems"] == []
        assert record["tree_rss"] > 0 and record["cpu"] > 0
