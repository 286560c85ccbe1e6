"""The ``asks`` command line: one request, or a bulk fetch of many URLs.

Run as ``python -m asks`` or ``asks`` (the console script)::

    asks get https://example.com/                   # the body on stdout
    asks post https://httpbin.org/anything --json '{"a": 1}' -i
    asks get https://example.com/big.iso -o big.iso  # with a progress bar
    asks fetch urls.txt --connections 20 --output-dir pages > results.jsonl

``rich`` (the ``cli`` extra: ``pip install 'asks[cli]'``) draws the progress
bars and the coloured output. It is imported only here, and only once the
arguments are read, so ``import asks`` never imports it.

Exit codes: 0 for a 1xx/2xx/3xx final response (``fetch``: every URL
fetched, whatever its status), 4 for 4xx, 5 for 5xx, 1 for a failed request
(``fetch``: at least one URL failed), 2 for bad arguments, 130 after Ctrl-C,
141 when stdout is a closed pipe.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import signal
import socket
import ssl
import stat
import sys
import tempfile
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType
from typing import IO, TYPE_CHECKING, Any, Generic, Protocol, TypeVar
from urllib.parse import urlsplit

import curio
import curio.io

from ._version import __version__
from .auth import AuthBase, BasicAuth, DigestAuth
from .errors import AsksException
from .response_objects import BaseResponse, StreamResponse
from .sessions import Session

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID

__all__ = ["build_parser", "main", "safe_filename"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_CLIENT_ERROR = 4
EXIT_SERVER_ERROR = 5
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141

METHODS = ("get", "head", "post", "put", "delete", "patch", "options")

_RICH_MISSING = (
    "the asks command line needs the 'rich' package; install it with: pip install 'asks[cli]'"
)

T = TypeVar("T")


class UsageError(Exception):
    """A problem with the command line found after parsing (exit code 2)."""


# --------------------------------------------------------------------------
# Argument types


def _header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    name = name.strip()
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected 'Name: value', got {text!r}")
    return name, value.strip()


def _pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected key=value, got {text!r}")
    return key, value


def _json_item(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key or key == ":":
        raise argparse.ArgumentTypeError(f"expected key=value or key:=JSON, got {text!r}")
    if key.endswith(":"):
        return key[:-1], _json_value(value)
    return key, value


def _json_value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"invalid JSON {text!r}: {exc}") from None


def _credentials(text: str) -> tuple[str, str]:
    user, sep, password = text.partition(":")
    if not sep:
        raise argparse.ArgumentTypeError("expected user:password")
    return user, password


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds: {text!r}")
    return value


def _count(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}: {text!r}")
        return value

    return parse


# --------------------------------------------------------------------------
# The parser

_EPILOG = """\
exit codes: 0 success (a 1xx-3xx response; fetch: every URL fetched), 4 a 4xx
response, 5 a 5xx response, 1 a failed request (fetch: any URL failed), 2 bad
arguments, 130 interrupted (Ctrl-C), 141 stdout closed (broken pipe)."""


def _connection_options() -> argparse.ArgumentParser:
    """Options shared by every command: headers, limits, TLS."""
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("connection options")
    group.add_argument(
        "-H",
        "--header",
        dest="headers",
        action="append",
        type=_header,
        default=[],
        metavar="'NAME: VALUE'",
        help="send this header (repeatable)",
    )
    group.add_argument(
        "--timeout",
        type=_seconds,
        metavar="S",
        help="seconds for the whole transfer of one URL: request, redirects and body",
    )
    group.add_argument(
        "--connect-timeout",
        type=_seconds,
        metavar="S",
        help="seconds to establish each connection (DNS, TCP, TLS; default 60)",
    )
    group.add_argument(
        "--retries",
        type=_count(0),
        default=1,
        metavar="N",
        help="extra attempts after a connection-level failure (default 1)",
    )
    group.add_argument(
        "--no-follow", action="store_true", help="do not follow redirects (3xx is the answer)"
    )
    group.add_argument(
        "--max-redirects",
        type=_count(0),
        default=20,
        metavar="N",
        help="fail after following N redirects (default 20)",
    )
    group.add_argument(
        "--cacert",
        metavar="FILE",
        help="trust the CA certificate(s) in this PEM file for https "
        "(certificates are always verified)",
    )
    group.add_argument(
        "--quiet", action="store_true", help="no progress bar (and for fetch, no summary)"
    )
    return common


def _request_options() -> argparse.ArgumentParser:
    """Options of a single request: query, body, auth, output."""
    single = argparse.ArgumentParser(add_help=False)
    group = single.add_argument_group("request options")
    group.add_argument(
        "-q",
        "--query",
        action="append",
        type=_pair,
        default=[],
        metavar="KEY=VALUE",
        help="add a query parameter (repeatable)",
    )
    body = group.add_mutually_exclusive_group()
    body.add_argument(
        "--json", dest="json_doc", type=_json_value, metavar="JSON", help="send this JSON body"
    )
    body.add_argument(
        "-j",
        "--json-item",
        action="append",
        type=_json_item,
        metavar="KEY=VALUE",
        help="build a JSON object body: key=string or key:=JSON (repeatable)",
    )
    body.add_argument(
        "-d",
        "--data",
        action="append",
        type=_pair,
        metavar="KEY=VALUE",
        help="send a form field, application/x-www-form-urlencoded (repeatable)",
    )
    body.add_argument("--data-raw", metavar="STRING", help="send this text as the body (UTF-8)")
    body.add_argument(
        "--data-file", metavar="PATH", help="stream this file as the body ('-': stdin)"
    )
    group.add_argument(
        "--auth", type=_credentials, metavar="USER:PASSWORD", help="HTTP Basic authentication"
    )
    group.add_argument(
        "--digest", action="store_true", help="use Digest authentication for --auth"
    )
    group.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="write the body to FILE ('-': stdout) with a progress bar on stderr; "
        "an existing file is replaced only once the whole body arrived",
    )
    group.add_argument(
        "-i",
        "--include",
        action="store_true",
        help="print the status line and headers of each response to stderr",
    )
    group.add_argument(
        "--no-decompress",
        action="store_true",
        help="write the body as received (do not undo Content-Encoding)",
    )
    return single


def _fetch_options(fetch: argparse.ArgumentParser) -> None:
    fetch.add_argument(
        "source",
        nargs="?",
        default="-",
        metavar="FILE",
        help="the URLs, one per line; blank lines and lines starting with # are skipped "
        "(default '-': stdin)",
    )
    fetch.add_argument(
        "--connections",
        type=_count(1),
        default=10,
        metavar="N",
        help="connections (and worker tasks) at once, over all hosts (default 10)",
    )
    fetch.add_argument(
        "--method", default="GET", metavar="METHOD", help="HTTP method (default GET)"
    )
    fetch.add_argument(
        "--output-dir",
        metavar="DIR",
        help="save each body in DIR under a safe name made from its URL",
    )
    fetch.add_argument(
        "--jsonl",
        default="-",
        metavar="OUT",
        help="write one JSON line per URL to OUT (default '-': stdout)",
    )
    fetch.set_defaults(timeout=60.0)


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser of the ``asks`` command.

    Returns:
        an :class:`argparse.ArgumentParser` with one sub-command per method,
        ``request`` and ``fetch``.
    """
    parser = argparse.ArgumentParser(
        prog="asks",
        description="An HTTP/1.1 client on curio: one request, or a bulk fetch.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"asks {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = _connection_options()
    single = _request_options()
    for name in METHODS:
        sub = commands.add_parser(
            name,
            parents=[common, single],
            help=f"send a {name.upper()} request and write the body to stdout",
            epilog=_EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sub.add_argument("url", metavar="URL")
        sub.set_defaults(method=name.upper())
    request = commands.add_parser(
        "request",
        parents=[common, single],
        help="send a request with any method",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    request.add_argument("method", metavar="METHOD")
    request.add_argument("url", metavar="URL")
    fetch = commands.add_parser(
        "fetch",
        parents=[common],
        help="fetch many URLs through one session, writing a JSON line for each",
        description="Fetch every URL of FILE through one session with N connections, "
        "writing one JSON line per URL: url, status, bytes, elapsed, error "
        "(and file, with --output-dir).",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _fetch_options(fetch)
    return parser


# --------------------------------------------------------------------------
# Small helpers


def _error(message: str) -> None:
    """Print a one-line error on stderr."""
    one_line = " ".join(str(message).split())
    print(f"asks: error: {one_line}", file=sys.stderr, flush=True)


def _explain(exc: BaseException) -> str:
    """The message of *exc* on one line, with the system's words for its errno.

    curio reports a refused connection as ``[Errno 111] Connect call failed``;
    "Connection refused" is what a user looks for.
    """
    text = " ".join(str(exc).split())
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, OSError) and cause.errno:
            reason = os.strerror(cause.errno)
            if reason.lower() not in text.lower():
                text = f"{text} ({reason})"
            break
        cause = cause.__cause__
    return text


def _describe(exc: BaseException) -> str:
    """``Kind: message`` on one line, naming the public asks error class."""
    kind = type(exc)
    public = next((c for c in kind.__mro__ if c.__module__ == "asks.errors"), kind)
    text = _explain(exc)
    return f"{public.__name__}: {text}" if text else public.__name__


def _file_mode() -> int:
    """The mode a new file gets under the current umask (mkstemp makes 0600)."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def _status_exit(status: int) -> int:
    if status >= 500:
        return EXIT_SERVER_ERROR
    if status >= 400:
        return EXIT_CLIENT_ERROR
    return EXIT_OK


def _silence_stdout() -> None:
    # The reader went away; point fd 1 at /dev/null so that the interpreter's
    # final flush of sys.stdout does not fail a second time.
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def _ssl_context(cacert: str | None) -> ssl.SSLContext | None:
    if cacert is None:
        return None
    try:
        return ssl.create_default_context(cafile=cacert)
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot load --cacert {cacert!r}: {exc}") from None


def _common_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """Request keywords of the options every command shares."""
    kwargs: dict[str, Any] = {
        "retries": args.retries,
        "follow_redirects": not args.no_follow,
        "max_redirects": args.max_redirects,
    }
    if args.headers:
        kwargs["headers"] = list(args.headers)
    if args.connect_timeout is not None:
        kwargs["connection_timeout"] = args.connect_timeout
    return kwargs


def _deadline(seconds: float | None) -> contextlib.AbstractAsyncContextManager[Any]:
    if seconds is None:
        return contextlib.nullcontext()
    return curio.timeout_after(seconds)  # type: ignore[no-any-return]


def _stderr_console() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def _human_bytes(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if count < 1024 or unit == "TiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    raise AssertionError("unreachable")


# --------------------------------------------------------------------------
# Ctrl-C


class _SigintWatch:
    """Turns the first SIGINT into something a task can wait for.

    The handler only writes a byte to a socket pair, which wakes the kernel
    out of its ``select``; a second SIGINT raises ``KeyboardInterrupt`` as
    usual, for when the clean stop itself hangs.
    """

    def __init__(self) -> None:
        self.fired = False
        self._reader: Any = None
        self._writer: socket.socket | None = None
        self._previous: Any = None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.fired:
            raise KeyboardInterrupt
        self.fired = True
        if self._writer is not None:
            with contextlib.suppress(OSError):
                self._writer.send(b"\0")

    async def wait(self) -> None:
        """Return once SIGINT arrived."""
        await self._reader.recv(1)

    async def __aenter__(self) -> _SigintWatch:
        reader, self._writer = socket.socketpair()
        self._writer.setblocking(False)
        self._reader = curio.io.Socket(reader)
        self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        previous = self._previous if self._previous is not None else signal.SIG_DFL
        signal.signal(signal.SIGINT, previous)
        await self._reader.close()
        if self._writer is not None:
            self._writer.close()


@dataclass
class _Outcome(Generic[T]):
    result: T | None
    interrupted: bool


async def _supervise(
    work: Callable[[], Awaitable[T]], stop: Callable[[], Awaitable[Any]] | None = None
) -> _Outcome[T]:
    """Run *work* until it returns, SIGINT arrives, or *stop* returns.

    Whichever comes first cancels the others; cancelling *work* runs its
    clean-up (closing the session, removing partial files).
    """
    async with _SigintWatch() as sigint, curio.TaskGroup(wait=any) as group:
        task = await group.spawn(work)
        await group.spawn(sigint.wait)
        if stop is not None:
            await group.spawn(stop)
    if group.completed is task:
        if task.exception is not None:
            raise task.exception
        return _Outcome(task.result, False)
    return _Outcome(None, sigint.fired)


# --------------------------------------------------------------------------
# Progress bars


class _Progress(Protocol):
    def advance(self, amount: int, **fields: Any) -> None: ...

    def finish(self) -> None: ...


class _NoProgress:
    def advance(self, amount: int, **fields: Any) -> None:
        pass

    def finish(self) -> None:
        pass


class _RichProgress:
    """One rich progress task on stderr."""

    def __init__(self, progress: Progress, description: str, total: int | None) -> None:
        self._progress = progress
        progress.start()
        self._task: TaskID = progress.add_task(description, total=total, failed=0)

    def advance(self, amount: int, **fields: Any) -> None:
        self._progress.update(self._task, advance=amount, **fields)

    def finish(self) -> None:
        self._progress.stop()


def _download_progress(console: Console, name: str, total: int | None) -> _Progress:
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    progress = Progress(
        TextColumn("[bold blue]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        redirect_stdout=False,
        redirect_stderr=False,
    )
    return _RichProgress(progress, name, total)


def _fetch_progress(console: Console, total: int | None, capture_stdout: bool) -> _Progress:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    progress = Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("[red]{task.fields[failed]} failed"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        # JSON lines for a terminal are printed above the bar, not through it.
        redirect_stdout=capture_stdout,
        redirect_stderr=False,
    )
    return _RichProgress(progress, "fetching", total)


# --------------------------------------------------------------------------
# One request


@dataclass
class _SinglePlan:
    method: str
    url: str
    kwargs: dict[str, Any]
    ssl_context: ssl.SSLContext | None
    timeout: float | None
    output: str | None
    include: bool
    decompress: bool
    show_progress: bool


def _auth(args: argparse.Namespace) -> AuthBase | None:
    if args.auth is None:
        if args.digest:
            raise UsageError("--digest needs --auth USER:PASSWORD")
        return None
    if args.digest:
        return DigestAuth(args.auth)
    return BasicAuth(args.auth)


def _body_kwargs(args: argparse.Namespace, stack: contextlib.ExitStack) -> dict[str, Any]:
    if args.json_doc is not None:
        return {"json": args.json_doc}
    if args.json_item:
        return {"json": dict(args.json_item)}
    if args.data:
        form: dict[str, list[str]] = {}
        for key, value in args.data:
            form.setdefault(key, []).append(value)
        return {"data": form}
    if args.data_raw is not None:
        return {"data": args.data_raw}
    if args.data_file is not None:
        if args.data_file == "-":
            return {"data": _upload(sys.stdin.buffer)}
        try:
            return {"data": _upload(stack.enter_context(open(args.data_file, "rb")))}
        except OSError as exc:
            raise UsageError(f"cannot read --data-file {args.data_file!r}: {exc}") from None
    return {}


def _upload(source: IO[bytes]) -> Any:
    """A body for *source*: the file itself if its size is known, else its chunks.

    A regular file with a size is sent with Content-Length. Pipes, terminals
    and files that report no size (``/proc``, devices) are streamed chunked,
    read in a thread so that the kernel (and Ctrl-C) stays responsive.
    """
    try:
        info = os.fstat(source.fileno())
    except (OSError, ValueError):
        info = None
    if info is not None and stat.S_ISREG(info.st_mode) and info.st_size > 0:
        return source
    return _chunks(source)


async def _chunks(source: IO[bytes]) -> AsyncIterator[bytes]:
    while chunk := await curio.run_in_thread(source.read, 65536):
        yield chunk


def _single_plan(args: argparse.Namespace, stack: contextlib.ExitStack) -> _SinglePlan:
    kwargs = _common_kwargs(args)
    if args.query:
        kwargs["params"] = list(args.query)
    auth = _auth(args)
    if auth is not None:
        kwargs["auth"] = auth
    kwargs.update(_body_kwargs(args, stack))
    output = args.output
    show_progress = (
        output is not None
        and not args.quiet
        and sys.stderr.isatty()
        and (output != "-" or not sys.stdout.isatty())
    )
    return _SinglePlan(
        method=args.method,
        url=args.url,
        kwargs=kwargs,
        ssl_context=_ssl_context(args.cacert),
        timeout=args.timeout,
        output=output,
        include=args.include,
        decompress=not args.no_decompress,
        show_progress=show_progress,
    )


class _BodyTarget:
    """Where a body goes: stdout, or a file replaced only when the body is whole."""

    def __init__(self, output: str | None) -> None:
        self.is_stdout = output in (None, "-")
        self.name = "stdout" if self.is_stdout else str(output)
        self._path = None if self.is_stdout else Path(str(output))
        self._temp: Path | None = None
        self._file: IO[bytes] | None = None

    def open(self) -> IO[bytes]:
        if self._path is None:
            return sys.stdout.buffer
        try:
            mode = os.stat(self._path).st_mode
        except FileNotFoundError:
            mode = None
        if mode is not None and not stat.S_ISREG(mode):
            # /dev/null, a FIFO...: write in place, never rename over it.
            self._file = open(self._path, "wb")  # noqa: SIM115
            return self._file
        directory = self._path.parent
        fd, temp = tempfile.mkstemp(dir=directory, prefix=f".{self._path.name}.", suffix=".part")
        self._temp = Path(temp)
        with contextlib.suppress(OSError):
            os.fchmod(fd, _file_mode())
        self._file = os.fdopen(fd, "wb")
        return self._file

    def commit(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._temp is not None and self._path is not None:
            os.replace(self._temp, self._path)
            self._temp = None

    def abort(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._temp is not None:
            with contextlib.suppress(OSError):
                self._temp.unlink()
            self._temp = None


def _print_head(console: Console, response: BaseResponse) -> None:
    from rich.text import Text

    status = response.status_code
    colour = "green" if status < 300 else "yellow" if status < 400 else "red"
    line = Text(f"HTTP/{response.http_version} ")
    line.append(f"{status} {response.reason_phrase}".rstrip(), style=f"bold {colour}")
    console.print(line)
    for name, value in response.headers.multi_items():
        text = Text()
        text.append(name, style="cyan")
        text.append(f": {value}")
        console.print(text)
    console.print()


def _expected_size(response: StreamResponse, decompress: bool) -> int | None:
    if decompress and response.headers.get("content-encoding"):
        return None  # the decoded size is not announced
    try:
        size = int(response.headers.get("content-length", ""))
    except ValueError:
        return None
    return size if size >= 0 else None


async def _write_body(plan: _SinglePlan, response: StreamResponse, console: Console) -> None:
    body = response.body
    body.decompress_data = plan.decompress
    target = _BodyTarget(plan.output)
    progress: _Progress = _NoProgress()
    out = target.open()
    try:
        if plan.show_progress:
            size = _expected_size(response, plan.decompress)
            progress = _download_progress(console, os.path.basename(target.name), size)
        async for chunk in body:
            out.write(chunk)
            if target.is_stdout:
                out.flush()
            progress.advance(len(chunk))
        out.flush()
        target.commit()
    except BaseException:
        target.abort()
        raise
    finally:
        progress.finish()


async def _exchange(plan: _SinglePlan, session: Session, console: Console) -> int:
    try:
        response = await session.request(plan.method, plan.url, stream=True, **plan.kwargs)
    except AsksException:
        raise  # a TLSCertVerificationError is also a ValueError (ssl makes it one)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"invalid request: {exc}") from None
    async with response:
        if plan.include:
            for earlier in response.history:
                _print_head(console, earlier)
            _print_head(console, response)
        await _write_body(plan, response, console)
    return _status_exit(response.status_code)


async def _single(plan: _SinglePlan) -> int:
    """Make the request; every expected failure becomes an exit code here."""
    console = _stderr_console()
    where = f"{plan.method.upper()} {plan.url}"
    try:
        async with Session(ssl_context=plan.ssl_context) as session:
            try:
                async with _deadline(plan.timeout):
                    return await _exchange(plan, session, console)
            except curio.TaskTimeout:
                _error(f"{where}: no complete response within {plan.timeout:g} s")
                return EXIT_FAILED
    except UsageError as exc:
        _error(str(exc))
        return EXIT_USAGE
    except AsksException as exc:
        _error(_explain(exc) or _describe(exc))
        return EXIT_FAILED
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except OSError as exc:
        _error(f"writing {plan.output or 'stdout'}: {exc}")
        return EXIT_FAILED
    except Exception as exc:  # a library bug: still one line, not a traceback
        _error(f"{where}: unexpected {_describe(exc)}")
        return EXIT_FAILED


def _run_single(args: argparse.Namespace) -> int:
    with contextlib.ExitStack() as stack:
        plan = _single_plan(args, stack)
        outcome: _Outcome[int] = curio.run(_supervise, lambda: _single(plan))
    if outcome.interrupted or outcome.result is None:
        return EXIT_INTERRUPTED
    return outcome.result


# --------------------------------------------------------------------------
# Bulk fetch

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_EXTENSION = re.compile(r"\.[A-Za-z0-9]{1,8}$")
_STEM_LIMIT = 80


def safe_filename(url: str) -> str:
    """A file name for the body of *url* that is safe to create in any directory.

    The name keeps a readable part of the host and path, limited to
    ``[A-Za-z0-9._-]`` (so no separator, no ``..`` component, no hidden
    file), and ends with a hash of the whole URL, so different URLs get
    different names. A short extension of the last path segment is kept.

    Args:
        url: the URL as given.

    Returns:
        e.g. ``example.com_docs_index-3f2a9c0d1e7b.html``.
    """
    digest = hashlib.sha256(url.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    try:
        parts = urlsplit(url)
        segments = [s for s in parts.path.split("/") if s not in ("", ".", "..")]
        readable = "/".join([parts.hostname or "", *segments])
        last = segments[-1] if segments and not parts.path.endswith("/") else ""
    except ValueError:
        readable, last = url, ""
    match = _EXTENSION.search(last)
    extension = match.group(0).lower() if match else ""
    stem = _UNSAFE.sub("_", readable[: len(readable) - len(extension)])
    stem = stem.strip("._-")[:_STEM_LIMIT].rstrip("._-") or "index"
    return f"{stem}-{digest}{extension}"


@dataclass
class FetchRecord:
    """What ``asks fetch`` reports for one URL."""

    url: str
    status: int | None
    bytes: int
    elapsed: float
    error: str | None
    file: str | None = None

    def as_json(self, with_file: bool) -> str:
        """The record as one JSON line (without the newline)."""
        data: dict[str, Any] = {
            "url": self.url,
            "status": self.status,
            "bytes": self.bytes,
            "elapsed": self.elapsed,
            "error": self.error,
        }
        if with_file:
            data["file"] = self.file
        return json.dumps(data)


@dataclass
class _Stats:
    started: float = field(default_factory=time.monotonic)
    done: int = 0
    ok: int = 0
    failed: int = 0
    nbytes: int = 0

    def add(self, record: FetchRecord) -> None:
        self.done += 1
        self.nbytes += record.bytes
        if record.error is None:
            self.ok += 1
        else:
            self.failed += 1


class _UrlSource:
    """URLs read from a file descriptor, one per line, without blocking the kernel."""

    def __init__(self, fd: int, owned: bool) -> None:
        self._fd = fd
        self._owned = owned
        self._lines: deque[bytes] = deque()
        self._partial = b""
        self._eof = False
        self._first = True

    @classmethod
    def open(cls, source: str) -> _UrlSource:
        if source == "-":
            return cls(sys.stdin.fileno(), owned=False)
        try:
            fd = os.open(source, os.O_RDONLY)
        except OSError as exc:
            raise UsageError(f"cannot read the URL list {source!r}: {exc}") from None
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            os.close(fd)
            raise UsageError(f"cannot read the URL list {source!r}: it is a directory")
        return cls(fd, owned=True)

    def _url(self, raw: bytes) -> str | None:
        text = raw.decode("utf-8", "replace")
        if self._first:
            self._first = False
            text = text.removeprefix("\ufeff")
        text = text.strip()
        if not text or text.startswith("#"):
            return None
        return text

    async def next_url(self) -> str | None:
        """The next URL, or None at the end of the input."""
        while True:
            while self._lines:
                url = self._url(self._lines.popleft())
                if url is not None:
                    return url
            if self._eof:
                return None
            data = await curio.run_in_thread(os.read, self._fd, 65536)
            if not data:
                self._eof = True
                self._lines.append(self._partial)
                self._partial = b""
                continue
            pieces = (self._partial + data).split(b"\n")
            self._partial = pieces.pop()
            self._lines.extend(pieces)

    def close(self) -> None:
        if self._owned:
            os.close(self._fd)
            self._owned = False


def _count_urls(path: str) -> int | None:
    """How many URLs a regular file holds (for the progress bar), else None."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return None
        count = 0
        with open(path, "rb") as lines:
            for raw in lines:
                text = raw.decode("utf-8", "replace").strip().removeprefix("\ufeff").strip()
                if text and not text.startswith("#"):
                    count += 1
        return count
    except OSError:
        return None


class _JsonlSink:
    """One JSON line per URL, flushed at once so an interrupted run keeps them."""

    def __init__(self, target: str) -> None:
        self._file: IO[str] | None = None
        if target != "-":
            try:
                self._file = open(target, "w", encoding="utf-8")  # noqa: SIM115
            except OSError as exc:
                raise UsageError(f"cannot write --jsonl {target!r}: {exc}") from None

    def write(self, line: str) -> None:
        # sys.stdout is looked up each time: a progress bar may have wrapped it.
        out = self._file if self._file is not None else sys.stdout
        out.write(line + "\n")
        out.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


@dataclass
class _FetchJob:
    session: Session
    method: str
    kwargs: dict[str, Any]
    timeout: float | None
    connections: int
    output_dir: Path | None
    sink: _JsonlSink
    stats: _Stats
    progress: _Progress
    stop: Any  # curio.Event: set when the run cannot go on (output failed)
    file_mode: int = 0o644
    fatal: BaseException | None = None
    fatal_context: str = "writing the JSON lines"


async def _save_body(job: _FetchJob, url: str, response: StreamResponse) -> tuple[int, str]:
    assert job.output_dir is not None
    name = safe_filename(url)
    fd, temp = tempfile.mkstemp(dir=job.output_dir, prefix=f".{name}.", suffix=".part")
    received = 0
    try:
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), job.file_mode)
            async for chunk in response.body:
                out.write(chunk)
                received += len(chunk)
        os.replace(temp, job.output_dir / name)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    return received, name


async def _count_body(response: StreamResponse) -> int:
    received = 0
    async for chunk in response.body:
        received += len(chunk)
    return received


async def _fetch_one(job: _FetchJob, url: str) -> FetchRecord:
    started = time.monotonic()
    received = 0
    saved: str | None = None
    status: int | None = None
    error: str | None = None
    try:
        async with _deadline(job.timeout):
            response = await job.session.request(job.method, url, stream=True, **job.kwargs)
            async with response:
                if job.output_dir is not None:
                    received, saved = await _save_body(job, url, response)
                else:
                    received = await _count_body(response)
            status = response.status_code
    except curio.TaskTimeout:
        error = f"RequestTimeout: no complete response within {job.timeout:g} s"
    except Exception as exc:  # one bad URL must not stop the others
        error = _describe(exc)
    elapsed = round(time.monotonic() - started, 6)
    return FetchRecord(url, status if error is None else None, received, elapsed, error, saved)


async def _report(job: _FetchJob, record: FetchRecord) -> bool:
    job.stats.add(record)
    job.progress.advance(1, failed=job.stats.failed)
    try:
        job.sink.write(record.as_json(with_file=job.output_dir is not None))
    except OSError as exc:
        job.fatal = exc
        await job.stop.set()
        return False
    return True


async def _worker(job: _FetchJob, queue: Any) -> None:
    while (url := await queue.get()) is not None:
        record = await _fetch_one(job, url)
        if not await _report(job, record):
            return


async def _fetch_all(job: _FetchJob, source: _UrlSource) -> None:
    """N workers take URLs from a bounded queue that the reader fills."""
    queue = curio.Queue(maxsize=2 * job.connections)
    async with curio.TaskGroup() as workers:
        for _ in range(job.connections):
            await workers.spawn(_worker, job, queue)
        try:
            while (url := await source.next_url()) is not None:
                await queue.put(url)
        except OSError as exc:
            job.fatal = exc
            job.fatal_context = "reading the URL list"
        for _ in range(job.connections):
            await queue.put(None)


def _print_summary(console: Console, stats: _Stats, interrupted: bool) -> None:
    from rich.text import Text

    elapsed = time.monotonic() - stats.started
    rate = stats.done / elapsed if elapsed > 0 else 0.0
    text = Text()
    text.append("asks fetch: ", style="bold")
    if interrupted:
        text.append("interrupted: ", style="bold yellow")
    text.append(f"{stats.done} URLs, ")
    text.append(f"{stats.ok} ok", style="green")
    text.append(", ")
    text.append(f"{stats.failed} failed", style="bold red" if stats.failed else "")
    text.append(
        f", {stats.nbytes} bytes ({_human_bytes(stats.nbytes)}) in {elapsed:.2f} s, "
        f"{rate:.1f} req/s"
    )
    console.print(text)


@dataclass
class _FetchPlan:
    source: str
    method: str
    kwargs: dict[str, Any]
    timeout: float | None
    connections: int
    ssl_context: ssl.SSLContext | None
    output_dir: Path | None
    jsonl: str
    quiet: bool


def _fetch_plan(args: argparse.Namespace) -> _FetchPlan:
    output_dir: Path | None = None
    if args.output_dir is not None:
        output_dir = Path(args.output_dir)
        try:
            output_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot create --output-dir {args.output_dir!r}: {exc}") from None
    return _FetchPlan(
        source=args.source,
        method=args.method,
        kwargs=_common_kwargs(args),
        timeout=args.timeout,
        connections=args.connections,
        ssl_context=_ssl_context(args.cacert),
        output_dir=output_dir,
        jsonl=args.jsonl,
        quiet=args.quiet,
    )


async def _fetch(plan: _FetchPlan, source: _UrlSource, sink: _JsonlSink) -> int:
    console = _stderr_console()
    progress: _Progress = _NoProgress()
    if not plan.quiet and sys.stderr.isatty():
        total = None if plan.source == "-" else _count_urls(plan.source)
        capture = plan.jsonl == "-" and sys.stdout.isatty()
        progress = _fetch_progress(console, total, capture)
    stats = _Stats()
    stop = curio.Event()
    try:
        session = Session(connections=plan.connections, ssl_context=plan.ssl_context)
        async with session:
            job = _FetchJob(
                session=session,
                method=plan.method,
                kwargs=plan.kwargs,
                timeout=plan.timeout,
                connections=plan.connections,
                output_dir=plan.output_dir,
                sink=sink,
                stats=stats,
                progress=progress,
                stop=stop,
                file_mode=_file_mode(),
            )
            outcome = await _supervise(lambda: _fetch_all(job, source), stop.wait)
    finally:
        progress.finish()
    if not plan.quiet:
        _print_summary(console, stats, outcome.interrupted)
    if outcome.interrupted:
        return EXIT_INTERRUPTED
    if job.fatal is not None:
        if isinstance(job.fatal, BrokenPipeError):
            _silence_stdout()
            return EXIT_BROKEN_PIPE
        _error(f"{job.fatal_context}: {job.fatal}")
        return EXIT_FAILED
    return EXIT_OK if stats.failed == 0 else EXIT_FAILED


def _run_fetch(args: argparse.Namespace) -> int:
    plan = _fetch_plan(args)
    if not plan.method or not re.fullmatch(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+", plan.method):
        raise UsageError(f"invalid --method {plan.method!r}")
    source = _UrlSource.open(plan.source)
    try:
        sink = _JsonlSink(plan.jsonl)
        try:
            result: int = curio.run(_fetch, plan, source, sink)
            return result
        finally:
            sink.close()
    finally:
        source.close()


# --------------------------------------------------------------------------
# Entry point


def _have_rich() -> bool:
    try:
        import rich  # noqa: F401
    except ImportError:
        return False
    return True


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``asks`` command line.

    Args:
        argv: the arguments after the program name; ``None`` reads ``sys.argv``.

    Returns:
        the exit code: 0 success, 1 failed request, 2 bad arguments, 4 a 4xx
        response, 5 a 5xx response, 130 interrupted, 141 broken pipe.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if not _have_rich():
        _error(_RICH_MISSING)
        return EXIT_FAILED
    try:
        if args.command == "fetch":
            return _run_fetch(args)
        return _run_single(args)
    except UsageError as exc:
        _error(str(exc))
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
