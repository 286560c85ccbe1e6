"""Bulk fetch: ``asks fetch FILE``, a command line over :func:`asks.fetch_many`.

Everything about fetching many URLs (the bounded reading, the per-host
scheduling, robots.txt, shards, saving bodies) is the library's; this
module turns the options into a session and a ``fetch_many`` call, writes
each result as a JSON line as soon as it comes, and keeps the score for the
progress bar and the summary. ``--resume`` first reads the earlier output
(:mod:`.resume`) and hands the library only the URLs not done yet.

A URL is a record, never a stop: whatever happens to one URL becomes its
JSON line. Only the output itself failing (stdout closed, disk full, the
``--output-dir`` gone) or the list becoming unreadable stops the run.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import curio

from .._headers import TOKEN
from .._partition import shard_of
from ..crawl import FetchResult, SaveFailed, fetch_many, polite_session
from .arguments import request_kwargs, session_kwargs
from .exits import (
    EXIT_BROKEN_PIPE,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    UsageError,
    print_error,
    silence_stdout,
)
from .fetch_io import JsonlSink, LineTooLong, UrlSource, check_not_the_list, count_urls
from .output import NoProgress, Progress, fetch_progress, human_bytes, stderr_console
from .partials import remove_stale_partial_files
from .resume import DoneSet, prepare_resume
from .stopping import supervise

if TYPE_CHECKING:
    from rich.console import Console


@dataclass
class _Stats:
    """The running totals of a fetch, for the summary line."""

    started: float = field(default_factory=time.monotonic)
    done: int = 0
    ok: int = 0
    failed: int = 0
    skipped: int = 0
    nbytes: int = 0
    already: int = 0  # --resume: URLs done by the earlier run

    def add(self, result: FetchResult) -> None:
        """Count one finished URL."""
        self.done += 1
        self.nbytes += result.size
        if result.error is not None:
            self.failed += 1
        elif result.skipped is not None:
            self.skipped += 1
        else:
            self.ok += 1


class _Counts(Protocol):
    """The totals a summary line reads: one process's, or the whole run's."""

    started: float
    done: int
    ok: int
    failed: int
    skipped: int
    nbytes: int


def print_summary(
    console: Console,
    totals: _Counts,
    interrupted: bool,
    *,
    already: int = 0,
    processes: int | None = None,
) -> None:
    """The summary line on stderr: URLs, ok, failed, bytes, requests per second.

    Args:
        already: URLs done by an earlier run (``--resume``).
        processes: the worker count of a ``--processes`` run, said at the end.
    """
    from rich.text import Text

    elapsed = time.monotonic() - totals.started
    rate = totals.done / elapsed if elapsed > 0 else 0.0
    text = Text()
    text.append("asks fetch: ", style="bold")
    if interrupted:
        text.append("interrupted: ", style="bold yellow")
    text.append(f"{totals.done} URLs, ")
    text.append(f"{totals.ok} ok", style="green")
    text.append(", ")
    text.append(f"{totals.failed} failed", style="bold red" if totals.failed else "")
    text.append(
        f", {totals.nbytes} bytes ({human_bytes(totals.nbytes)}) in {elapsed:.2f} s, "
        f"{rate:.1f} req/s"
    )
    if totals.skipped:
        text.append(f", {totals.skipped} skipped (robots.txt)", style="yellow")
    if already:
        text.append(f", {already} already done")
    if processes is not None:
        text.append(f", {processes} processes")
    console.print(text)


@dataclass
class _FetchPlan:
    """Everything a fetch needs, checked before the kernel starts."""

    source: str
    method: str
    kwargs: dict[str, Any]
    request_headers: list[tuple[str, str]] | None
    keep_headers: tuple[str, ...]
    timeout: float | None
    connections: int
    connections_per_host: int | None
    rate: float | None
    session_kwargs: dict[str, Any]
    output_dir: Path | None
    jsonl: str
    quiet: bool
    shard: tuple[int, int] | None
    robots: bool
    resume: bool
    retry_failed: bool
    to_parent: bool


def _check_output_dir(path: str) -> Path:
    """``--output-dir``, created if need be and writable, rid of dead runs' ``.part`` files.

    Checked before any request (by ``--processes``'s parent, not its workers).
    """
    output_dir = Path(path)
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create --output-dir {path!r}: {exc}") from None
    if not os.access(output_dir, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write in --output-dir {path!r}: permission denied")
    # A run killed on the spot (kill -9, out of memory, a killed parent's
    # workers) left the bodies it was saving as .part files, which nothing
    # else would ever remove. Any run, not only --resume: such a file is
    # never a body, and a live writer's (its pid alive, or its lock held) stays.
    remove_stale_partial_files(path)
    return output_dir


def _fetch_plan(args: argparse.Namespace) -> _FetchPlan:
    """Check the arguments of ``fetch`` (creating ``--output-dir``) and gather them.

    For one process and for ``--processes``'s parent alike, before any request.
    """
    if args.retry_failed and not args.resume:
        raise UsageError("--retry-failed goes with --resume")
    if args.resume and args.jsonl == "-":
        raise UsageError("--resume reads the earlier output: give it with --jsonl FILE")
    check_not_the_list(args.source, args.jsonl)
    to_parent = getattr(args, "to_parent", False)
    output_dir = None
    if args.output_dir is not None:
        # A worker of --processes takes the directory the parent made. Made
        # again by a worker starting after it vanished, it would hide that
        # from the run, which must stop.
        output_dir = Path(args.output_dir) if to_parent else _check_output_dir(args.output_dir)
    kwargs = request_kwargs(args)
    headers = kwargs.pop("headers", None)
    if args.retry is None and args.retries is None:
        kwargs.pop("retries", None)  # the polite session's Retry applies
    if not TOKEN.fullmatch(args.method):
        raise UsageError(f"invalid --method {args.method!r}")
    return _FetchPlan(
        source=args.source,
        method=args.method,
        kwargs=kwargs,
        request_headers=headers,
        keep_headers=tuple(args.keep_header),
        timeout=args.timeout,
        connections=args.connections,
        connections_per_host=args.connections_per_host,
        rate=args.rate,
        session_kwargs=session_kwargs(args),
        output_dir=output_dir,
        jsonl=args.jsonl,
        quiet=args.quiet,
        shard=args.shard,
        robots=args.robots,
        resume=args.resume,
        retry_failed=args.retry_failed,
        to_parent=to_parent,
    )


def _keep(plan: _FetchPlan, done: DoneSet | None) -> Callable[[str], bool]:
    """Whether a URL of the list is for this run: in the shard, not done already."""
    shard = plan.shard

    def keep(url: str) -> bool:
        if shard is not None and shard_of(url, shard[1]) != shard[0]:
            return False
        return done is None or url not in done

    return keep


class _ListUnreadable(Exception):
    """Reading the URL list failed (the run stops: it cannot know what is left)."""

    def __init__(self, error: OSError | LineTooLong) -> None:
        super().__init__(str(error))
        self.error = error


async def _pending(source: UrlSource, done: DoneSet | None) -> AsyncIterator[str]:
    """The URLs of the list not done by an earlier run."""
    while True:
        try:
            url = await source.next_url()
        except (OSError, LineTooLong) as exc:
            raise _ListUnreadable(exc) from exc
        if url is None:
            return
        if done is None or url not in done:
            yield url


@dataclass
class _Outcome:
    """How the consuming loop ended, beyond the results written."""

    fatal: BaseException | None = None
    fatal_context: str = "writing the JSON lines"


async def _consume(
    plan: _FetchPlan,
    source: UrlSource,
    done: DoneSet | None,
    sink: JsonlSink,
    stats: _Stats,
    progress: Progress,
    outcome: _Outcome,
) -> None:
    """Run ``fetch_many`` and write each result as it comes."""
    session = polite_session(
        plan.connections,
        connections_per_host=plan.connections_per_host,
        rate_limit=plan.rate,
        **plan.session_kwargs,
    )
    with_file = plan.output_dir is not None
    async with session:
        urls = _pending(source, done)
        run = fetch_many(
            urls,
            session=session,
            concurrency=plan.connections,
            method=plan.method,
            headers=plan.keep_headers,
            output_dir=plan.output_dir,
            robots=plan.robots,
            shard=plan.shard,
            timeout=plan.timeout,
            request_headers=plan.request_headers,
            **plan.kwargs,
        )
        # Made by _fetch_plan (or --processes' parent) already: made again
        # after it vanished, it would hide that from the run, which must stop.
        run._save_only_where_found()
        try:
            async with run as results:
                async for result in results:
                    # Counted once its line is out, as --processes counts: a URL
                    # whose line the output refused is not done (--resume).
                    await sink.write(result.as_json(with_file=with_file))
                    stats.add(result)
                    progress.advance(1, failed=stats.failed)
        except _ListUnreadable as exc:
            outcome.fatal = exc.error
            outcome.fatal_context = "reading the URL list"
        except SaveFailed as exc:
            outcome.fatal = exc
            outcome.fatal_context = "saving the bodies in --output-dir"
        except OSError as exc:  # writing a line failed
            outcome.fatal = exc


async def _fetch(
    plan: _FetchPlan, source: UrlSource, sink: JsonlSink, done: DoneSet | None
) -> int:
    """The whole run in the kernel: bar, session, results, summary; the exit code."""
    console = stderr_console()
    progress: Progress = NoProgress()
    if not plan.quiet and sys.stderr.isatty():
        total = None if plan.source == "-" else count_urls(plan.source, _keep(plan, done))
        capture = plan.jsonl == "-" and sys.stdout.isatty()
        progress = fetch_progress(console, total, capture)
    stats = _Stats(already=len(done) if done is not None else 0)
    outcome = _Outcome()
    try:
        run = await supervise(lambda: _consume(plan, source, done, sink, stats, progress, outcome))
    finally:
        progress.finish()
    if not plan.quiet:
        print_summary(console, stats, run.interrupted, already=stats.already)
    if run.interrupted:
        return EXIT_INTERRUPTED
    if outcome.fatal is not None:
        if isinstance(outcome.fatal, BrokenPipeError):
            silence_stdout()
            return EXIT_BROKEN_PIPE
        print_error(f"{outcome.fatal_context}: {outcome.fatal}")
        return EXIT_FAILED
    return EXIT_OK if stats.failed == 0 else EXIT_FAILED


# Net allocations between two collections of the young generation (the
# interpreter's default: 700, 2,000 on 3.13).
YOUNG_THRESHOLD = 10_000


@contextlib.contextmanager
def tuned_collector() -> Iterator[None]:
    """The young generation collected every :data:`YOUNG_THRESHOLD` net allocations, inside.

    This process is the command's own, so it may tune the interpreter as a
    library must not. With thousands of URLs in flight (``--connections``),
    every request's objects outlive the default 700 allocations and are
    walked by collection after collection: at 5,000 in flight, a threshold of
    10,000 took a fifth of the CPU per request off (docs/performance.md, "Cost
    as concurrency grows"). It costs no memory to speak of, because asks leaves
    no reference cycles per request, per failure or per timeout: there is
    nothing for the collector to free. A threshold already higher, or the
    collector switched off (0), is left as it is; the old one comes back after.
    """
    previous = gc.get_threshold()
    if 0 < previous[0] < YOUNG_THRESHOLD:
        gc.set_threshold(YOUNG_THRESHOLD, *previous[1:])
    try:
        yield
    finally:
        gc.set_threshold(*previous)


def run_fetch(args: argparse.Namespace) -> int:
    """Run ``asks fetch`` from the parsed command line.

    Args:
        args: the parsed command line of ``fetch``.

    Returns:
        the exit code: 0 when every URL was fetched (whatever its status), 1
        when one failed or the output did, 130 after Ctrl-C, 141 for a
        closed stdout.

    Raises:
        UsageError: the list, ``--jsonl``, ``--output-dir``, ``--method``,
            ``--cacert`` or the output to resume cannot be used; all checked
            before any request.
    """
    plan = _fetch_plan(args)
    source = UrlSource.open(plan.source)
    try:
        done = prepare_resume(plan.jsonl, plan.retry_failed).done if plan.resume else None
        # A worker of --processes writes its lines to the parent's one-page
        # pipe, which select calls writable only while it is empty (Linux
        # counts a pipe's pages, not its bytes): waiting for that would hand
        # the parent one line per read. The parent reads it at all times, and
        # after a signal drops what its own output does not take, so a
        # write there never holds off the worker's Ctrl-C for long.
        sink = JsonlSink(plan.jsonl, append=plan.resume, wait_for_pipe=not plan.to_parent)
        try:
            with tuned_collector():
                result: int = curio.run(_fetch, plan, source, sink, done)
            return result
        finally:
            sink.close()
    finally:
        source.close()


__all__ = ["run_fetch"]
