"""Bytecode instructions per request, by function: a count that does not drift.

Timings on a shared machine move by a tenth or more between runs, so a change
worth one microsecond cannot be seen in them. The interpreter can instead
report every bytecode instruction it executes (``sys.settrace`` with
``f_trace_opcodes``). This script counts them per request, on the scripted
socket of ``micro.py`` (no network, nothing waits), for the bare h11 loop and
for a whole ``Session.get``, and lists which functions the difference is
made of. Run it on two trees and the counts differ only where the code does.

    python benchmarks/opcodes.py            # totals, then the top functions
    python benchmarks/opcodes.py --top 40

CPython 3.12 (3.12.1 here) under-counts: part of h11's work goes missing
from the counts of one row and not the other, so that the bare loop comes out
above ``Session.get``. 3.10, 3.11 and 3.13 agree with each other. The script
says so when run on 3.12; use another version.

A count is not a time: one instruction may be a dictionary lookup or a call
into C that parses a whole response head. But the instructions asks adds on
top of the bare loop are nearly all its own small ones, so fewer of them is
less time (here 100 of them cost about 0.9 us in micro.py, 1.5 us end to end).
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
from collections.abc import Awaitable, Callable
from types import FrameType
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import functools

import curio
import micro

Key = tuple[str, str]

ROWS: dict[str, Callable[[int], Awaitable[float]]] = {
    "bare h11 loop (ceiling)": micro.bare_h11,
    "asks Session.get": micro.session_get,
    "  through a forward proxy": functools.partial(
        micro.session_get, proxy="http://proxy.bench:3128"
    ),
}


# A file is named from the last of these in its path: installed packages by
# their own directory (h11/..., curio/...), the project's by its own.
_SHORTEN = (("/site-packages/", ""), ("/asks/", "asks/"), ("/benchmarks/", "benchmarks/"))


def _where(frame: FrameType) -> Key:
    code = frame.f_code
    path = code.co_filename.replace(os.sep, "/")
    for marker, prefix in _SHORTEN:
        if marker in path:
            path = prefix + path.rsplit(marker, 1)[1]
            break
    return path, code.co_name


async def count(fn: Callable[[int], Awaitable[float]], n: int) -> collections.Counter[Key]:
    """Instructions executed by each function during ``fn(n)``."""
    counts: collections.Counter[Key] = collections.Counter()

    def local(frame: FrameType, event: str, arg: Any) -> Any:
        if event == "opcode":
            counts[_where(frame)] += 1
        return local

    def on_call(frame: FrameType, event: str, arg: Any) -> Any:
        frame.f_trace_opcodes = True
        return local

    sys.settrace(on_call)
    try:
        await fn(n)
    finally:
        sys.settrace(None)
    return counts


async def per_request(fn: Callable[[int], Awaitable[float]], n: int) -> dict[Key, float]:
    # Two runs of different lengths: their difference is the requests alone,
    # without the setup (a session, a first request, the socket).
    short = await count(fn, n // 4)
    long = await count(fn, n)
    requests = n - n // 4
    return {k: (long[k] - short[k]) / requests for k in long.keys() | short.keys()}


async def main(args: argparse.Namespace) -> None:
    print(f"python {sys.version.split()[0]}, instructions per request (n={args.n})")
    if sys.version_info[:2] == (3, 12):
        print("warning: CPython 3.12 misses part of these counts; use 3.10, 3.11 or 3.13")
    results = {name: await per_request(fn, args.n) for name, fn in ROWS.items()}
    base, asks = results["bare h11 loop (ceiling)"], results["asks Session.get"]
    for name, result in results.items():
        print(f"{name:28} {sum(result.values()):8.0f}")
    # Negative rows are work the bare loop does and asks does not (h11's
    # events for a small body, see asks/_transport/http11_body.py).
    print(f"\nSession.get minus the bare loop: {sum(asks.values()) - sum(base.values()):+.0f}")
    delta = {k: asks.get(k, 0.0) - base.get(k, 0.0) for k in asks.keys() | base.keys()}
    for (path, func), d in sorted(delta.items(), key=lambda kv: (-abs(kv[1]), kv[0]))[: args.top]:
        if abs(d) >= 0.5:
            print(f"{d:+8.1f}  {path}:{func}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="requests counted")
    parser.add_argument("--top", type=int, default=25, help="functions listed")
    curio.run(main, parser.parse_args())
